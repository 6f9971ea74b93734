"""Typed application state of the hub (``web.AppKey``s), in one place."""

from __future__ import annotations

import weakref

import redis.asyncio as aioredis
from aiohttp import web

from hub.config import HubConfig
from hub.relay import Relay
from hub.store import Store

CONFIG = web.AppKey("config", HubConfig)
REDIS = web.AppKey("redis", aioredis.Redis)
STORE = web.AppKey("store", Store)
RELAY = web.AppKey("relay", Relay)
SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("sockets")

LOGIN_COOKIE = "mdg_login"
