from __future__ import annotations

from pathlib import Path

import pytest

from branch_client.config import BranchConfig, ConfigError


def test_token_never_prints() -> None:
    config = BranchConfig.from_env({}, hub_url="http://hub:8800", token="kita-01.s3cret")
    assert "s3cret" not in repr(config) and "s3cret" not in str(config.token)
    assert config.token.value == "kita-01.s3cret"


def test_missing_settings_are_named() -> None:
    with pytest.raises(ConfigError, match="MADOGUCHI_HUB_URL"):
        BranchConfig.from_env({})
    with pytest.raises(ConfigError, match="MADOGUCHI_TERMINAL_TOKEN"):
        BranchConfig.from_env({"MADOGUCHI_HUB_URL": "http://hub"})
    with pytest.raises(ConfigError, match="MADOGUCHI_KIOSK_PORT"):
        BranchConfig.from_env(
            {
                "MADOGUCHI_HUB_URL": "http://hub",
                "MADOGUCHI_TERMINAL_TOKEN": "t",
                "MADOGUCHI_KIOSK_PORT": "x",
            }
        )
    with pytest.raises(ConfigError, match="http"):
        BranchConfig.from_env({}, hub_url="ftp://hub", token="t")


def test_ice_hosts_from_the_environment() -> None:
    config = BranchConfig.from_env(
        {
            "MADOGUCHI_HUB_URL": "http://hub",
            "MADOGUCHI_TERMINAL_TOKEN": "t",
            "MADOGUCHI_ICE_HOSTS": "127.0.0.1, ::1",
        }
    )
    assert config.ice_hosts == ("127.0.0.1", "::1")


def test_devices_are_synthetic_an_index_or_a_file(tmp_path: Path) -> None:
    base = {"hub_url": "http://hub", "token": "t"}
    assert BranchConfig.from_env({}, **base).camera == "synthetic"
    assert BranchConfig.from_env({}, camera="0", audio="default", **base).camera == "0"
    video = tmp_path / "face.avi"
    video.write_bytes(b"")
    assert BranchConfig.from_env({}, camera=str(video), **base).camera == str(video)
    with pytest.raises(ConfigError, match="MADOGUCHI_CAMERA"):
        BranchConfig.from_env({}, camera="/nonexistent", **base)
    with pytest.raises(ConfigError, match="MADOGUCHI_AUDIO"):
        BranchConfig.from_env({"MADOGUCHI_AUDIO": " "}, **base)
