"""Typed application state of the hub (``web.AppKey``s), in one place."""

from __future__ import annotations

import weakref
from typing import TYPE_CHECKING

import redis.asyncio as aioredis
from aiohttp import web

from hub.config import HubConfig
from hub.forms.drafts import Drafts
from hub.personal.card_data import PersonalData
from hub.realtime.relay import Relay
from hub.sessions.dispatch import Dispatch
from hub.sessions.router import Rules
from hub.sessions.service import Sessions
from hub.sessions.store import Store

if TYPE_CHECKING:  # hub.documents.store reads these keys: a type-only import, against the cycle
    from hub.documents.store import Documents

CONFIG = web.AppKey("config", HubConfig)
REDIS = web.AppKey("redis", aioredis.Redis)
STORE = web.AppKey("store", Store)
RELAY = web.AppKey("relay", Relay)
RULES = web.AppKey("rules", Rules)
DISPATCH = web.AppKey("dispatch", Dispatch)
SESSIONS = web.AppKey("sessions", Sessions)
PERSONAL = web.AppKey("personal", PersonalData)
DRAFTS = web.AppKey("drafts", Drafts)
DOCUMENTS: web.AppKey[Documents] = web.AppKey("documents")
LOCAL_PEERS: web.AppKey[dict[str, int]] = web.AppKey("local_peers")
"""``role:id`` of the peers connected to this process, with how many sockets each has."""
SOCKETS: web.AppKey[weakref.WeakSet[web.WebSocketResponse]] = web.AppKey("sockets")

LOGIN_COOKIE = "mdg_login"
