"""The intake's HTTP routes through the real hub app on loopback, on a Redis that fsyncs every
write: submit (idempotent, validated, only from the session's specialist), the PDF record, and
the back office's claim / done / return."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis.asyncio as aioredis
from aiohttp.test_utils import TestClient, TestServer

from hub.accounts.store import add_account
from hub.app import create_app
from hub.config import HubConfig
from hub.intake.pdf import pdf_path
from madoguchi.local_deployment import RedisServer
from tests.hub.intake.samples import (
    MY_NUMBER,
    certificate_bundle,
    durable_redis,
    open_session,
    tennyu_bundle,
)

PASSWORD = "correct horse battery"
SESSION = "sess-1"

Client = TestClient[Any, Any]


@pytest.fixture(scope="module")
def durable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    yield from durable_redis(Path(tmp_path_factory.mktemp("intake-api-redis")))


ACCOUNTS = (
    ("suzuki", "specialist", {"skills": ["juumin"]}),
    ("tanaka", "specialist", {"skills": ["juumin"]}),
    ("yamada", "backoffice", {}),
    ("takahashi", "supervisor", {}),
    ("sato", "branch_staff", {"branch_id": "kita"}),
)


async def _seed(url: str, accounts: Any = ACCOUNTS) -> None:
    client = aioredis.from_url(url, decode_responses=True)
    try:
        await client.flushall()
        for username, role, profile in accounts:
            await add_account(client, username, PASSWORD, role, username.title(), **profile)
    finally:
        await client.aclose()
    await open_session(url, "suzuki", SESSION)


@pytest.fixture(scope="module")
def seeded(durable: RedisServer) -> RedisServer:
    """Accounts (hashing passwords is slow on purpose) and the session, once per module."""
    asyncio.run(_seed(durable.url))
    return durable


async def _forget_applications(url: str) -> None:
    client = aioredis.from_url(url, decode_responses=True)
    try:
        stale = [key async for key in client.scan_iter("mdg:intake:*")]
        if stale:
            await client.delete(*stale)
    finally:
        await client.aclose()


async def _hub(url: str, data_dir: Path) -> Client:
    config = HubConfig(redis_url=url, data_dir=data_dir, hub_id="hub-test")
    client: Client = TestClient(TestServer(create_app(config)))
    await client.start_server()
    return client


@pytest.fixture
async def hub(seeded: RedisServer, tmp_path: Path) -> AsyncIterator[Client]:
    await _forget_applications(seeded.url)
    client = await _hub(seeded.url, tmp_path)
    yield client
    await client.close()


def _origin(client: Client) -> dict[str, str]:
    return {"Origin": f"http://{client.host}:{client.port}"}


async def _login(client: Client, user: str) -> None:
    client.session.cookie_jar.clear()
    res = await client.post(
        "/api/login", json={"username": user, "password": PASSWORD}, headers=_origin(client)
    )
    assert res.status == 200, await res.text()


async def _post(client: Client, path: str, body: Any = None) -> tuple[int, Any]:
    res = await client.post(path, json=body, headers=_origin(client))
    return res.status, await res.json()


async def _get(client: Client, path: str) -> tuple[int, Any]:
    res = await client.get(path)
    return res.status, await res.json()


def _application(bundle: dict[str, Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "application_id": str(uuid.uuid4()),
        "session_id": SESSION,
        "bundle": bundle or tennyu_bundle(),
        **extra,
    }


async def test_the_catalog_is_for_staff(hub: Client) -> None:
    assert (await hub.get("/api/intake/catalog")).status == 401
    await _login(hub, "sato")
    status, body = await _get(hub, "/api/intake/catalog")
    assert status == 200
    assert "tennyu_todoke" in {p["id"] for p in body["procedures"]}


async def test_validate_answers_the_layout_the_issues_and_the_figure(hub: Client) -> None:
    await _login(hub, "suzuki")
    bundle = tennyu_bundle()
    bundle["shared"]["phone"] = "12"
    status, body = await _post(hub, "/api/intake/validate", {"bundle": bundle})
    assert status == 200
    assert not body["ok"]
    assert [(f["field"], f["code"]) for f in body["fields"]] == [("phone", "bad_phone")]
    assert body["entries"]["forms"] == 4
    assert "name" in [s["key"] for s in body["bundle"]["shared"]]
    status, body = await _post(hub, "/api/intake/validate", {"bundle": {"life_event": "x"}})
    assert (status, body["error"]) == (422, "unknown_life_event")


async def test_submit_is_idempotent_and_answers_the_same_entry(
    hub: Client, durable: RedisServer
) -> None:
    await _login(hub, "suzuki")
    application = _application()
    status, first = await _post(hub, "/api/intake/applications", application)
    assert status == 201, first
    assert first["created"] and first["state"] == "queued"
    assert first["entries"]["resident"] == 3 and first["entries"]["paper"] > 70
    status, again = await _post(hub, "/api/intake/applications", application)
    assert status == 200
    assert again["entry_id"] == first["entry_id"] and not again["created"]
    changed = {**application, "bundle": certificate_bundle()}
    status, body = await _post(hub, "/api/intake/applications", changed)
    assert (status, body["error"]) == (409, "application_id_reused")
    client = aioredis.from_url(durable.url, decode_responses=True)
    try:
        entries = await client.xrange("mdg:intake:stream")
    finally:
        await client.aclose()
    assert [e[1]["application_id"] for e in entries] == [application["application_id"]]


async def test_an_invalid_bundle_gets_field_errors(hub: Client) -> None:
    await _login(hub, "suzuki")
    bundle = tennyu_bundle()
    del bundle["shared"]["name"]
    bundle["shared"]["move_date"] = "平成31年5月1日"
    status, body = await _post(hub, "/api/intake/applications", _application(bundle))
    assert status == 422
    assert body["error"] == "invalid_bundle"
    assert {(f["form"], f["field"], f["code"]) for f in body["fields"]} == {
        (None, "name", "required"),
        (None, "move_date", "era_out_of_range"),
    }
    assert all(f["ja"] and f["en"] for f in body["fields"])
    status, body = await _post(
        hub, "/api/intake/applications", _application({"life_event": "tennyu", "forms": 3})
    )
    assert (status, body["error"]) == (422, "bad_bundle")


@pytest.mark.parametrize(
    ("user", "change", "status", "code"),
    [
        ("tanaka", {}, 403, "not_your_session"),
        ("suzuki", {"session_id": "sess-404"}, 404, "no_such_session"),
        ("suzuki", {"application_id": "APP-1"}, 400, "bad_application_id"),
        ("suzuki", {"bundle": []}, 400, "bad_bundle"),
        ("yamada", {}, 403, "not_allowed"),
    ],
)
async def test_who_may_submit_what(
    hub: Client, user: str, change: dict[str, Any], status: int, code: str
) -> None:
    await _login(hub, user)
    got, body = await _post(hub, "/api/intake/applications", {**_application(), **change})
    assert (got, body["error"]) == (status, code)


async def test_submissions_need_a_login_a_same_origin_page_and_a_sane_size(hub: Client) -> None:
    got, body = await _post(hub, "/api/intake/applications", _application())
    assert (got, body["error"]) == (401, "unauthenticated")
    await _login(hub, "suzuki")
    res = await hub.post("/api/intake/applications", json=_application())
    assert res.status == 403 and (await res.json())["error"] == "cross_origin"
    huge = _application()
    huge["bundle"]["documents"] = ["x" * 60] * 10_000
    res = await hub.post("/api/intake/applications", json=huge, headers=_origin(hub))
    assert res.status == 413 and (await res.json())["error"] == "too_large"


async def test_the_pdf_record_is_written_and_served(hub: Client, tmp_path: Path) -> None:
    await _login(hub, "suzuki")
    application = _application(certificate_bundle())
    status, _ = await _post(hub, "/api/intake/applications", application)
    assert status == 201
    path = pdf_path(tmp_path, application["application_id"])
    for _ in range(100):
        if path.exists():
            break
        await asyncio.sleep(0.05)
    assert path.read_bytes().startswith(b"%PDF-")
    res = await hub.get(f"/api/intake/applications/{application['application_id']}/pdf")
    assert res.status == 200 and res.content_type == "application/pdf"
    assert (await res.read()).startswith(b"%PDF-")
    # Drawn again on request when the file is gone.
    path.unlink()
    await _login(hub, "yamada")
    res = await hub.get(f"/api/intake/applications/{application['application_id']}/pdf")
    assert res.status == 200 and (await res.read()).startswith(b"%PDF-")
    await _login(hub, "tanaka")  # neither the submitter nor the back office
    res = await hub.get(f"/api/intake/applications/{application['application_id']}/pdf")
    assert res.status == 403


async def test_the_back_office_claims_finishes_and_returns(hub: Client) -> None:
    await _login(hub, "suzuki")
    first, second = _application(), _application(certificate_bundle())
    for application in (first, second):
        status, _ = await _post(hub, "/api/intake/applications", application)
        assert status == 201
    assert (await _post(hub, "/api/intake/claim"))[0] == 403

    await _login(hub, "yamada")
    status, listed = await _get(hub, "/api/intake/applications?state=queued")
    assert status == 200
    assert [a["application_id"] for a in listed["applications"]] == [
        first["application_id"],
        second["application_id"],
    ]
    assert listed["counts"]["queued"] == 2
    status, claimed = await _post(hub, "/api/intake/claim")
    assert status == 200
    application = claimed["application"]
    assert application["application_id"] == first["application_id"]
    assert application["consumer"] == "yamada" and application["state"] == "claimed"
    record = application["record"]
    assert record["submitted_by"] == "suzuki" and record["session_id"] == SESSION
    assert record["forms"]["tennyu_todoke"]["move_date"] == "2024-04-01"
    done = await _post(hub, f"/api/intake/applications/{first['application_id']}/done")
    assert done[0] == 200 and done[1]["state"] == "done" and done[1]["by"] == "yamada"

    status, claimed = await _post(hub, "/api/intake/claim")
    assert claimed["application"]["application_id"] == second["application_id"]
    path = f"/api/intake/applications/{second['application_id']}/return"
    assert (await _post(hub, path, {"reason": ""}))[1]["error"] == "bad_reason"
    status, returned = await _post(hub, path, {"reason": "本人確認書類の写しが不鮮明です"})
    assert status == 200 and returned["state"] == "returned"
    status, body = await _post(hub, f"/api/intake/applications/{second['application_id']}/done")
    assert (status, body["error"]) == (409, "illegal_transition")
    assert (await _post(hub, "/api/intake/claim"))[1] == {
        "application": None,
        "dead_lettered": [],
    }
    status, body = await _post(hub, f"/api/intake/applications/{uuid.uuid4()}/done")
    assert (status, body["error"]) == (404, "no_such_application")
    assert (await _get(hub, "/api/intake/applications?state=lost"))[0] == 400

    # The notice the session shows, to its specialist and to the branch.
    for user in ("suzuki", "sato"):
        await _login(hub, user)
        status, notice = await _get(hub, f"/api/intake/sessions/{SESSION}")
        assert status == 200
        assert [(a["state"], a["reason"]) for a in notice["applications"]] == [
            ("done", ""),
            ("returned", "本人確認書類の写しが不鮮明です"),
        ]
    await _login(hub, "tanaka")
    assert (await _get(hub, f"/api/intake/sessions/{SESSION}"))[0] == 403

    await _login(hub, "takahashi")
    status, one = await _get(hub, f"/api/intake/applications/{second['application_id']}")
    assert status == 200 and one["reason"] == "本人確認書類の写しが不鮮明です"
    assert one["record"]["procedures"] == ["juuminhyou_koufu"]
    # The Individual Number is for the back office that processes it; others see it masked.
    path = f"/api/intake/applications/{first['application_id']}"
    for user, number in (("takahashi", "●●●●●●●●9018"), ("suzuki", "●●●●●●●●9018")):
        await _login(hub, user)
        status, one = await _get(hub, path)
        assert one["record"]["forms"]["jidou_teate"]["my_number"] == number
    await _login(hub, "yamada")
    status, one = await _get(hub, path)
    assert one["record"]["forms"]["jidou_teate"]["my_number"] == MY_NUMBER


async def test_a_redis_that_does_not_fsync_refuses_submissions(
    redis_url: str, tmp_path: Path
) -> None:
    await _seed(redis_url, ACCOUNTS[:1])
    client = await _hub(redis_url, tmp_path)  # the suite's Redis: appendfsync everysec
    try:
        await _login(client, "suzuki")
        status, body = await _post(client, "/api/intake/applications", _application())
        assert (status, body["error"]) == (503, "intake_not_durable")
        assert "appendfsync always" in body["message"]
    finally:
        await client.close()
