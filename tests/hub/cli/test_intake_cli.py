"""``madoguchi intake list|show|claim|done|return``, in-process and once as a real command."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis

from hub.intake.queue import Intake
from madoguchi import cli
from madoguchi.local_deployment import RedisServer
from tests.hub.intake.samples import durable_redis


@pytest.fixture(scope="module")
def durable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    yield from durable_redis(Path(tmp_path_factory.mktemp("intake-cli-redis")))


def _run(url: str, action: Any) -> Any:
    async def go() -> Any:
        client = aioredis.from_url(url, decode_responses=True)
        try:
            return await action(Intake(client))
        finally:
            await client.aclose()

    return asyncio.run(go())


@pytest.fixture
def url(durable: RedisServer) -> str:
    """Two queued applications, from a flushed database."""

    async def seed(intake: Intake) -> None:
        await intake.redis.flushall()
        for n in (1, 2):
            record = {"life_event": "shoumeisho", "procedures": ["juuminhyou_koufu"], "n": n}
            await intake.submit(json.dumps(record), f"app-{n}", submitted_by="suzuki")

    _run(durable.url, seed)
    return durable.url


def madoguchi(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, Any, str]:
    status = cli.main(list(argv))
    out, err = capsys.readouterr()
    try:
        data = json.loads(out)
    except ValueError:
        data = out
    return status, data, err


def test_list_claim_done_return(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, listed, _ = madoguchi(
        capsys, "intake", "list", "--state", "queued", "--redis", url, "--json"
    )
    assert status == 0
    assert [a["application_id"] for a in listed["applications"]] == ["app-1", "app-2"]
    assert listed["counts"]["queued"] == 2

    status, claimed, _ = madoguchi(
        capsys, "intake", "claim", "--consumer", "bo-cli", "--redis", url, "--json"
    )
    assert status == 0
    application = claimed["application"]
    assert (application["application_id"], application["consumer"]) == ("app-1", "bo-cli")
    assert application["record"]["n"] == 1

    status, done, _ = madoguchi(capsys, "intake", "done", "app-1", "--redis", url, "--json")
    assert (status, done["state"]) == (0, "done")
    assert done["by"].startswith("cli-")

    madoguchi(capsys, "intake", "claim", "--redis", url, "--json")
    entry = _run(url, lambda intake: intake.entry_id_of("app-2"))
    status, text, _ = madoguchi(
        capsys, "intake", "return", entry, "--reason", "添付書類が足りません", "--redis", url
    )
    assert status == 0 and text.strip() == "app-2 returned: 添付書類が足りません"

    status, shown, _ = madoguchi(capsys, "intake", "show", entry, "--redis", url, "--json")
    assert (shown["application_id"], shown["state"]) == ("app-2", "returned")
    assert shown["record"]["procedures"] == ["juuminhyou_koufu"]

    status, text, _ = madoguchi(capsys, "intake", "list", "--redis", url)
    assert status == 0
    lines = text.splitlines()
    assert lines[0].startswith("app-2  returned") and "添付書類が足りません" in lines[0]
    assert lines[-1] == "(queued 0, claimed 0, done 1, returned 1, dead 0)"
    status, text, _ = madoguchi(capsys, "intake", "claim", "--redis", url)
    assert (status, text.strip()) == (0, "nothing to claim")


def test_refusals(url: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, body, _ = madoguchi(capsys, "intake", "done", "app-1", "--redis", url, "--json")
    assert status == 1
    assert body["error"] == "illegal_transition" and "queued" in body["message"]
    status, body, _ = madoguchi(capsys, "intake", "done", "app-404", "--redis", url, "--json")
    assert (status, body["error"]) == (1, "no_such_application")
    status, _, err = madoguchi(capsys, "intake", "show", "9-9", "--redis", url)
    assert status == 1 and err.startswith("madoguchi: no entry 9-9")
    status, body, _ = madoguchi(
        capsys, "intake", "list", "--redis", "redis://127.0.0.1:1/0", "--json"
    )
    assert (status, body["error"]) == (1, "store_unavailable")


def test_no_redis_configured(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MADOGUCHI_REDIS_URL", raising=False)
    status, _, err = madoguchi(capsys, "intake", "list")
    assert status == 2 and "MADOGUCHI_REDIS_URL" in err


def test_as_a_real_command(url: str) -> None:
    env = {**os.environ, "MADOGUCHI_REDIS_URL": url}
    done = subprocess.run(
        [sys.executable, "-m", "madoguchi", "intake", "claim", "--consumer", "bo-proc", "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["application"]["consumer"] == "bo-proc"
