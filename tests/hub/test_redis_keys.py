"""The key names are the stored data's format: each builder gives today's name, the Lua gets the
same prefixes, no other module spells a key, and the intake's prefix stays configurable."""

from __future__ import annotations

import re
from pathlib import Path

import redis.asyncio as aioredis

from hub import redis_keys as rk
from hub.intake.queue import Intake

ROOT = Path(__file__).resolve().parents[2]


def test_every_family_keeps_its_name() -> None:
    assert rk.session("s-1") == "mdg:session:s-1"
    assert rk.terminal_session("kita-01") == "mdg:terminal_session:kita-01"
    assert rk.queue("juumin") == "mdg:q:juumin"
    assert rk.queue("@suzuki") == "mdg:q:@suzuki"
    assert rk.specialist("suzuki") == "mdg:specialist:suzuki"
    assert rk.available("juumin") == "mdg:avail:juumin"
    assert rk.skill_members("juumin") == "mdg:skill_members:juumin"
    assert rk.deadlines() == "mdg:deadlines"
    assert rk.handle_times("zei") == "mdg:handle:zei"
    assert rk.ticket_counter("kita", "20261204") == "mdg:ticketno:kita:20261204"
    assert rk.day_index("20261204") == "mdg:day:20261204"
    assert rk.terminal("kita-01") == "mdg:terminal:kita-01"
    assert rk.terminal_token("ab12") == "mdg:terminal_token:ab12"
    assert rk.branch_terminals("kita") == "mdg:branch_terminals:kita"
    assert rk.enroll_code("ab12") == "mdg:enroll_code:ab12"
    assert rk.enroll_attempts("127.0.0.1") == "mdg:enroll_attempts:127.0.0.1"
    assert rk.account("suzuki") == "mdg:account:suzuki"
    assert rk.accounts_pattern() == "mdg:account:*"
    assert rk.username_of("mdg:account:suzuki") == "suzuki"
    assert rk.username_of("mdg:login:x") == ""
    assert rk.login("tok") == "mdg:login:tok"
    assert rk.logins_of("suzuki") == "mdg:logins_of:suzuki"
    assert rk.presence() == "mdg:presence"
    assert rk.peer_channel("terminal", "kita-01") == "mdg:to:terminal:kita-01"
    assert rk.peer_channel("staff", "suzuki") == "mdg:to:staff:suzuki"
    assert rk.hub_channel("h1") == "mdg:hub:h1"
    assert rk.personal("s-1") == "mdg:personal:s-1"
    assert rk.draft("s-1") == "mdg:draft:s-1"
    assert rk.audit_stream() == "mdg:audit"
    assert rk.document("d-1") == "mdg:doc:d-1"
    assert rk.session_documents("s-1") == "mdg:session_docs:s-1"
    assert rk.document_expiry() == "mdg:doc_expiry"
    assert rk.documents_lock("s-1") == "mdg:lock:docs:s-1"
    assert rk.document_retention_lock() == "mdg:lock:doc_retention"
    intake = rk.IntakeKeys()
    assert intake.stream() == "mdg:intake:stream"
    assert intake.dead() == "mdg:intake:dead"
    assert intake.application("a-1") == "mdg:intake:app:a-1"
    assert intake.state("queued") == "mdg:intake:state:queued"
    assert intake.session("s-1") == "mdg:intake:session:s-1"
    assert rk.IntakeKeys("t:").application("a-1") == "t:app:a-1"


def test_the_lua_gets_the_prefixes_the_builders_use() -> None:
    builders = {
        "session": rk.session,
        "terminal_session": rk.terminal_session,
        "queue": rk.queue,
        "specialist": rk.specialist,
        "available": rk.available,
        "skill_members": rk.skill_members,
        "handle_times": rk.handle_times,
        "account": rk.account,
    }
    whole = {"deadlines": rk.deadlines(), "presence": rk.presence()}
    assert set(rk.ROUTING_LUA) == set(builders) | set(whole)
    for name, build in builders.items():
        assert rk.ROUTING_LUA[name] + "x" == build("x"), name
    for name, key in whole.items():
        assert rk.ROUTING_LUA[name] == key, name
    intake = rk.IntakeKeys("P:")
    assert "P:" + rk.INTAKE_LUA["stream"] == intake.stream()
    assert "P:" + rk.INTAKE_LUA["dead"] == intake.dead()
    assert "P:" + rk.INTAKE_LUA["application"] + "a" == intake.application("a")
    assert "P:" + rk.INTAKE_LUA["state"] + "done" == intake.state("done")
    assert "P:" + rk.INTAKE_LUA["session"] + "s" == intake.session("s")


def test_no_other_module_spells_a_key() -> None:
    quoted = re.compile(r"""["']mdg:""")
    offenders = []
    for package in ("hub", "bench"):
        for path in sorted((ROOT / package).rglob("*.py")):
            if path == ROOT / "hub" / "redis_keys.py":
                continue
            for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
                if quoted.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    for path in sorted((ROOT / "hub" / "lua").rglob("*.lua")):
        if "mdg:" in path.read_text("utf-8"):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


async def test_the_intake_keeps_to_its_configured_prefix(redis_url: str) -> None:
    redis = aioredis.from_url(redis_url, decode_responses=True)
    try:
        intake = Intake(redis, prefix="other:intake:", require_durable=False)
        submitted = await intake.submit('{"forms": []}', "app-1", session_id="s-1", now=100.0)
        claimed = await intake.claim_next("clerk", now=101.0)
        assert claimed is not None and claimed.status.application_id == "app-1"
        await intake.done(submitted.entry_id, by="clerk", now=102.0)
        keys = sorted(await redis.keys("*"))
        assert keys == [
            "other:intake:app:app-1",
            "other:intake:session:s-1",
            "other:intake:state:done",
            "other:intake:stream",
        ]
        assert await Intake(redis, require_durable=False).status("app-1") is None
        status = await intake.status("app-1")
        assert status is not None and status.state.value == "done"
    finally:
        await redis.aclose()
