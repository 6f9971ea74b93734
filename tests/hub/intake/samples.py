"""Bundles as the console sends them, a Redis that fsyncs every write, and a specialist in a
session: what the intake tests share."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench.intake import open_session as bench_open_session
from madoguchi.local_deployment import RedisServer

MY_NUMBER = "123456789018"  # check digit 8
SIGNATURE = {
    "width": 300,
    "height": 100,
    "strokes": [[[10, 50], [50, 20], [90, 60], [130, 30]], [[150, 50], [200, 50]]],
}

_TENNYU: dict[str, Any] = {
    "life_event": "tennyu",
    "answers": {"with_children": True, "national_health_insurance": True},
    "shared": {
        "name": "山田 太郎",
        "name_kana": "やまだ たろう",
        "birth_date": "昭和60年1月2日",
        "sex": "male",
        "my_number": MY_NUMBER,
        "address": "東京都千代田区霞が関1-2-3 髙﨑ハイツ101",
        "previous_address": "大阪府大阪市北区中之島1-3-20",
        "postal_code": "１００－００１３",
        "phone": "090-1234-5678",
        "head_of_household": "山田 太郎",
        "relationship": "本人",
        "move_date": "R6.4.1",
        "household": [
            {
                "name": "山田 太郎",
                "name_kana": "ヤマダ タロウ",
                "birth_date": "1985-01-02",
                "sex": "male",
                "relationship": "世帯主",
            },
            {
                "name": "山田 花子",
                "name_kana": "ﾔﾏﾀﾞ ﾊﾅｺ",
                "birth_date": "平成2年3月4日",
                "sex": "female",
                "relationship": "妻",
            },
        ],
        "children": [
            {
                "name": "山田 一郎",
                "name_kana": "ヤマダ イチロウ",
                "birth_date": "令和2年5月6日",
                "sex": "male",
                "relationship": "子",
            }
        ],
    },
    "forms": {
        "tennyu_todoke": {"card_continued_use": True},
        "jidou_teate": {
            "pension": "kousei",
            "bank_name": "みどり銀行",
            "bank_branch": "本店",
            "account_type": "futsuu",
            "account_number": "1234567",
            "account_holder_kana": "ヤマダ タロウ",
        },
        "kodomo_iryou": {"insurance_type": "kokuho", "insurance_number": "12345"},
    },
    "provenance": {
        "shared": {
            "name": "card",
            "birth_date": "card",
            "sex": "card",
            "my_number": "card",
            "previous_address": "card",
            "phone": "resident",
        },
        "forms": {"jidou_teate": {"account_number": "resident"}},
    },
    "signature": SIGNATURE,
}

_CERTIFICATE: dict[str, Any] = {
    "life_event": "shoumeisho",
    "shared": {
        "name": "佐藤 花子",
        "birth_date": "平成元年1月8日",
        "address": "北海道札幌市中央区北1条西2丁目",
        "phone": "011-123-4567",
    },
    "forms": {
        "juuminhyou_koufu": {
            "certificate": "juuminhyou",
            "scope": "self",
            "copies": 2,
            "purpose": "work",
        }
    },
    "provenance": {"shared": {"name": "card", "birth_date": "card", "address": "card"}},
    "signature": SIGNATURE,
}


def tennyu_bundle() -> dict[str, Any]:
    """転入 with children and National Health Insurance: four forms, valid."""
    return copy.deepcopy(_TENNYU)


def certificate_bundle() -> dict[str, Any]:
    """住民票の写し only: one form, valid."""
    return copy.deepcopy(_CERTIFICATE)


def durable_redis(tmp: Path) -> Iterator[RedisServer]:
    """A private Redis with appendonly yes and appendfsync always, as the intake needs."""
    server = RedisServer(tmp, appendfsync="always")
    server.start()
    try:
        yield server
    finally:
        server.stop()


async def open_session(
    redis_url: str, specialist: str, session_id: str, terminal_id: str = "kita-01"
) -> None:
    """A connected session at branch ``kita`` with ``specialist`` serving it."""
    await bench_open_session(redis_url, specialist, session_id, terminal_id, "kita")
