"""Sealing personal data: authenticated, bound to its place, key never printed."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from hub.config import HubConfig
from hub.personal.vault import DataKey, Vault, VaultError, load_or_create_key_file

KEY = DataKey.generate()


@given(st.text(max_size=500), st.text(min_size=1, max_size=40))
def test_what_is_sealed_opens_in_its_place(text: str, context: str) -> None:
    vault = Vault(KEY)
    sealed = vault.seal_text(text, context)
    assert len(text) < 8 or text not in sealed
    assert vault.open_text(sealed, context) == text


def test_sealing_twice_gives_different_bytes() -> None:
    vault = Vault(KEY)
    assert vault.seal(b"123456789018", "card:s-1") != vault.seal(b"123456789018", "card:s-1")


def test_a_value_moved_to_another_session_does_not_open() -> None:
    vault = Vault(KEY)
    sealed = vault.seal(b"123456789018", "card:s-1")
    with pytest.raises(VaultError) as err:
        vault.open(sealed, "card:s-2")
    assert err.value.code == "damaged"


def test_another_key_is_named_as_such() -> None:
    sealed = Vault(KEY).seal(b"x", "c")
    with pytest.raises(VaultError) as err:
        Vault(DataKey.generate()).open(sealed, "c")
    assert err.value.code == "wrong_key"


@pytest.mark.parametrize("damage", [lambda b: b[:-1], lambda b: b[:10], lambda b: b"\x02" + b[1:]])
def test_damaged_values_are_refused(damage) -> None:  # type: ignore[no-untyped-def]
    sealed = Vault(KEY).seal(b"hello", "c")
    with pytest.raises(VaultError):
        Vault(KEY).open(damage(sealed), "c")
    flipped = bytearray(sealed)
    flipped[-1] ^= 1
    with pytest.raises(VaultError):
        Vault(KEY).open(bytes(flipped), "c")
    with pytest.raises(VaultError):
        Vault(KEY).open_text("not base64!", "c")


def test_the_key_never_prints() -> None:
    assert KEY.to_text() not in repr(KEY) and KEY.to_text() not in str(KEY)
    config = HubConfig(redis_url="redis://x", data_key=KEY.to_text())
    assert KEY.to_text() not in repr(config)


def test_key_text_round_trip_and_errors() -> None:
    assert DataKey.from_text(KEY.to_text()).raw == KEY.raw
    with pytest.raises(ValueError):
        DataKey.from_text("c2hvcnQ=")  # 5 bytes
    with pytest.raises(ValueError):
        DataKey.from_text("***")


def test_a_key_file_is_made_once_private(tmp_path: Path) -> None:
    path = tmp_path / "hub" / "data.key"
    first = load_or_create_key_file(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key_file(path).raw == first.raw
