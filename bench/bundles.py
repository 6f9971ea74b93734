"""Application bundles as the staff console sends them to ``POST /api/intake/applications``:
the intake benchmark's payloads and the intake and form tests' samples, in one place.

:func:`tennyu_bundle` (転入 with children and National Health Insurance: four forms) carries
input as residents and cards give it (hiragana and half-width kana, a full-width postal code,
old-style kanji), so that validation normalises for real; :func:`certificate_bundle` (住民票の写し)
is one form. Both are valid, and each call returns a fresh copy to change at will.
"""

from __future__ import annotations

import copy
from typing import Any

MY_NUMBER = "123456789018"  # check digit 8
SIGNATURE = {
    "width": 300,
    "height": 100,
    "strokes": [[[10 + i * 3, 50 + (i % 7) * 4] for i in range(60)], [[150, 50], [200, 50]]],
}
"""A signature as the kiosk's pad sends it: a stroke of sixty points, then a short line."""

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
