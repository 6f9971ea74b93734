"""Message delivery between peers, across hub processes, through Redis pub/sub.

Every connected peer has a channel (:func:`hub.redis_keys.peer_channel`:
``mdg:to:terminal:{id}``, ``mdg:to:staff:{username}``). A hub process subscribes to the channels
of the peers connected to it and forwards what arrives to their sockets; sending to a peer is a
PUBLISH, wherever that peer is connected. One path for all deliveries, so a terminal on one hub
process and a browser on another talk as if side by side.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from typing import Final

import redis.asyncio as aioredis
from aiohttp import web
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

from hub import redis_keys

log = logging.getLogger(__name__)

Deliver = Callable[[str], Awaitable[None]]


class Relay:
    def __init__(self, redis: aioredis.Redis, hub_id: str) -> None:
        self._redis = redis
        self._pubsub = redis.pubsub(ignore_subscribe_messages=True)
        self._local: dict[str, set[Deliver]] = {}
        self._control = redis_keys.hub_channel(hub_id)
        self._task: asyncio.Task[None] | None = None
        self._membership = asyncio.Lock()

    async def start(self) -> None:
        await self._pubsub.subscribe(self._control)
        self._task = asyncio.create_task(self._pump(), name="relay-pump")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self._pubsub.aclose()

    async def attach(self, channel: str, deliver: Deliver) -> None:
        # Subscribing and unsubscribing take turns: a peer that drops and comes straight back to
        # this process must not have the old socket's UNSUBSCRIBE reach Redis after the new
        # socket's SUBSCRIBE, which would leave the peer deaf here for good.
        async with self._membership:
            first = channel not in self._local
            self._local.setdefault(channel, set()).add(deliver)
            if first:
                await self._pubsub.subscribe(channel)

    async def detach(self, channel: str, deliver: Deliver) -> None:
        async with self._membership:
            sinks = self._local.get(channel)
            if sinks is None:
                return
            sinks.discard(deliver)
            if not sinks:
                del self._local[channel]
                with contextlib.suppress(RedisConnectionError, RedisTimeoutError):
                    await self._pubsub.unsubscribe(channel)

    async def publish(self, channel: str, text: str) -> int:
        """Send ``text`` to every socket on ``channel``; returns how many hub processes heard."""
        return int(await self._redis.publish(channel, text))

    @property
    def connections(self) -> int:
        return sum(len(s) for s in self._local.values())

    async def _pump(self) -> None:
        backoff = 0.1
        while True:
            try:
                message = await self._pubsub.get_message(timeout=1.0)
                backoff = 0.1
            except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                log.warning("relay: Redis unreachable (%s); retrying in %.1fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, 5.0)
                continue
            if message is None or message.get("type") != "message":
                continue
            for deliver in list(self._local.get(message["channel"], ())):
                try:
                    await deliver(message["data"])
                except (ConnectionError, RuntimeError) as exc:
                    log.info("relay: dropping a message for a closing socket: %s", exc)


RELAY: Final = web.AppKey("relay", Relay)
