"""The intake against a real Redis that fsyncs every write: idempotent submission, claiming,
finishing and returning, taking over from a consumer that went away, dead letters."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import redis.asyncio as aioredis

from hub.intake.queue import GROUP, Intake, IntakeError, State
from madoguchi.local_deployment import RedisServer
from tests.hub.intake.samples import durable_redis

IDLE_S = 0.3


@pytest.fixture(scope="module")
def durable(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    yield from durable_redis(Path(tmp_path_factory.mktemp("intake-redis")))


@pytest.fixture
async def redis(durable: RedisServer) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(durable.url, decode_responses=True)
    await client.flushall()
    yield client
    await client.aclose()


@pytest.fixture
def intake(redis: aioredis.Redis) -> Intake:
    return Intake(redis, claim_idle_s=IDLE_S, max_deliveries=3)


async def _submit(intake: Intake, n: int, session: str = "s-1") -> list[str]:
    entries = []
    for i in range(n):
        submitted = await intake.submit(f'{{"n": {i}}}', f"app-{i}", session_id=session)
        entries.append(submitted.entry_id)
    return entries


async def test_a_redis_that_does_not_fsync_every_write_is_refused(redis_url: str) -> None:
    client = aioredis.from_url(redis_url, decode_responses=True)  # the suite's: everysec
    try:
        with pytest.raises(IntakeError, match="appendfsync always") as caught:
            await Intake(client).submit("{}", "app-1")
        assert caught.value.code == "not_durable"
        assert await client.exists("mdg:intake:stream") == 0
    finally:
        await client.aclose()


async def test_the_same_application_id_lands_once(intake: Intake, redis: aioredis.Redis) -> None:
    first = await intake.submit('{"a": 1}', "app-1", session_id="s-1", digest="d1")
    again = await intake.submit('{"a": 1}', "app-1", session_id="s-1", digest="d1")
    assert first.created and not again.created
    assert again.entry_id == first.entry_id
    racing = await asyncio.gather(
        *(intake.submit('{"b": 1}', "app-2", digest="d2") for _ in range(20))
    )
    assert sum(s.created for s in racing) == 1
    assert len({s.entry_id for s in racing}) == 1
    assert await redis.xlen(intake.stream) == 2
    with pytest.raises(IntakeError) as caught:
        await intake.submit('{"a": 2}', "app-1", digest="other")
    assert caught.value.code == "application_id_reused"
    status = await intake.status("app-1")
    assert status is not None and status.state is State.QUEUED
    assert status.session_id == "s-1" and status.entry_id == first.entry_id


async def test_claim_then_done(intake: Intake, redis: aioredis.Redis) -> None:
    entries = await _submit(intake, 3)
    claimed = await intake.claim_next("bo-1")
    assert claimed is not None
    assert claimed.status.entry_id == entries[0]  # oldest first
    assert claimed.record == {"n": 0}
    assert (claimed.status.state, claimed.status.consumer) == (State.CLAIMED, "bo-1")
    assert claimed.status.deliveries == 1
    done = await intake.done(entries[0], by="yamada")
    assert done.state is State.DONE and done.by == "yamada"
    assert [s for s, _ in done.history] == ["queued", "claimed", "done"]
    assert (await redis.xpending(intake.stream, GROUP))["pending"] == 0
    # A repeated done (the answer was lost) changes nothing.
    assert (await intake.done(entries[0], by="yamada")).history == done.history
    assert [s.application_id for s in await intake.list(State.QUEUED)] == ["app-1", "app-2"]
    assert await intake.counts() == {
        "queued": 2,
        "claimed": 0,
        "done": 1,
        "returned": 0,
        "dead": 0,
    }


async def test_return_keeps_the_reason_for_the_session(intake: Intake) -> None:
    entries = await _submit(intake, 2, session="s-9")
    await intake.claim_next("bo-1")
    with pytest.raises(IntakeError) as caught:
        await intake.return_(entries[0], "   ")
    assert caught.value.code == "bad_reason"
    returned = await intake.return_(entries[0], "口座番号の確認が必要です", by="yamada")
    assert returned.state is State.RETURNED and returned.reason == "口座番号の確認が必要です"
    notices = await intake.for_session("s-9")
    assert [(s.application_id, s.state, s.reason) for s in notices] == [
        ("app-0", State.RETURNED, "口座番号の確認が必要です"),
        ("app-1", State.QUEUED, ""),
    ]


@pytest.mark.parametrize(
    ("steps", "message"),
    [
        (["done"], "application app-0 is queued: 'done' is not allowed"),
        (["claim", "done", "return"], "application app-0 is done: 'return' is not allowed"),
        (["claim", "return", "done"], "application app-0 is returned: 'done' is not allowed"),
    ],
)
async def test_illegal_steps_are_refused_naming_state_and_event(
    intake: Intake, steps: list[str], message: str
) -> None:
    (entry,) = await _submit(intake, 1)
    for step in steps[:-1]:
        if step == "claim":
            assert await intake.claim_next("bo-1") is not None
        elif step == "done":
            await intake.done(entry)
        else:
            await intake.return_(entry, "不備")
    with pytest.raises(IntakeError, match=message) as caught:
        if steps[-1] == "done":
            await intake.done(entry)
        else:
            await intake.return_(entry, "不備")
    assert caught.value.code == "illegal_transition"


async def test_unknown_entries_and_ids(intake: Intake) -> None:
    for bad in ("1-1", "not-an-entry"):
        with pytest.raises(IntakeError) as caught:
            await intake.done(bad)
        assert caught.value.code == "no_such_application"
    with pytest.raises(IntakeError) as caught:
        await intake.submit("{}", "../../etc")
    assert caught.value.code == "bad_application_id"
    with pytest.raises(IntakeError):
        await intake.entry_id_of("app-404")
    assert await intake.claim_next("bo-1") is None


async def test_an_entry_left_by_a_dead_consumer_is_taken_over(intake: Intake) -> None:
    (entry,) = await _submit(intake, 1)
    first = await intake.claim_next("bo-crashed")
    assert first is not None
    assert await intake.claim_next("bo-2") is None  # not idle long enough yet
    await asyncio.sleep(IDLE_S + 0.1)
    second = await intake.claim_next("bo-2")
    assert second is not None and second.status.entry_id == entry
    assert (second.status.consumer, second.status.deliveries) == ("bo-2", 2)
    assert [s for s, _ in second.status.history] == ["queued", "claimed", "claimed"]
    # The first consumer finishing late still counts, once.
    assert (await intake.done(entry, by="bo-crashed")).state is State.DONE
    await asyncio.sleep(IDLE_S + 0.1)
    assert await intake.claim_next("bo-3") is None


async def test_an_entry_delivered_too_often_goes_to_the_dead_letters(
    intake: Intake, redis: aioredis.Redis
) -> None:
    entries = await _submit(intake, 2)
    for delivery in (1, 2, 3):
        claimed = await intake.claim_next(f"bo-{delivery}")
        assert claimed is not None and claimed.status.entry_id == entries[0]
        assert claimed.status.deliveries == delivery
        await asyncio.sleep(IDLE_S + 0.1)
    # The fourth delivery would exceed max_deliveries=3: dead-lettered, and the next is handed.
    nxt = await intake.claim_next("bo-4")
    assert nxt is not None and nxt.status.entry_id == entries[1]
    assert nxt.dead_lettered == ("app-0",)
    dead = await intake.list(State.DEAD)
    assert [(s.application_id, s.deliveries) for s in dead] == [("app-0", 4)]
    assert [s for s, _ in dead[0].history] == ["queued", "claimed", "claimed", "claimed", "dead"]
    letters = await redis.xrange(intake.dead_stream)
    assert [(f["application_id"], f["entry_id"]) for _, f in letters] == [("app-0", entries[0])]
    pending = await redis.xpending_range(intake.stream, GROUP, "-", "+", 10)
    assert [p["message_id"] for p in pending] == [entries[1]]
    # A supervisor may still close it when the work was done after all.
    assert (await intake.return_(entries[0], "受付不能（書類不備）")).state is State.RETURNED


async def test_list_all_states_newest_change_first(intake: Intake) -> None:
    entries = await _submit(intake, 3)
    await intake.claim_next("bo-1")
    await intake.done(entries[0])
    everything = await intake.list()
    assert everything[0].application_id == "app-0"
    assert {s.application_id for s in everything} == {"app-0", "app-1", "app-2"}
    assert len(await intake.list(limit=2)) == 2


async def test_the_group_comes_back_after_the_stream_is_gone(
    intake: Intake, redis: aioredis.Redis
) -> None:
    await _submit(intake, 1)
    assert await intake.claim_next("bo-1") is not None
    await redis.flushall()
    await _submit(intake, 1)
    claimed = await intake.claim_next("bo-1")
    assert claimed is not None and claimed.status.application_id == "app-0"


async def test_a_supervisor_sees_the_dead_letters(intake: Intake, redis: aioredis.Redis) -> None:
    from hub.sessions.router import load_rules
    from hub.supervision.figures import Supervision, load_thresholds

    await _submit(intake, 1)
    for delivery in (1, 2, 3):
        await intake.claim_next(f"bo-{delivery}")
        await asyncio.sleep(IDLE_S + 0.1)
    await intake.claim_next("bo-4")  # dead-letters it
    picture = await Supervision(redis, load_rules(), load_thresholds()).intake_picture()
    assert picture["counts"]["dead"] == 1
    assert [(d["application_id"], d["deliveries"]) for d in picture["dead"]] == [("app-0", 4)]
    assert set(picture["dead"][0]) == {
        "application_id",
        "session_id",
        "submitted_by",
        "deliveries",
        "since",
    }  # ids and who: no contents
