"""Reference data the hub ships with, read from the JSON files beside this module.

``skills.json`` lists what a specialist can handle: each skill has a stable ``key`` (stored in
accounts and used by routing) and its names in Japanese and English for screens. Adding a skill
is a data change here, not a code change.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

SKILL_KEY = re.compile(r"[a-z][a-z0-9_]{0,31}")


class CatalogError(Exception):
    """A catalog file is malformed. The message names the file and the entry."""


@dataclass(frozen=True)
class Skill:
    key: str
    ja: str
    en: str


def load_skills() -> dict[str, Skill]:
    """Every skill by key, in the file's order."""
    return {skill.key: skill for skill in _skills()}


@cache
def _skills() -> tuple[Skill, ...]:
    text = resources.files(__name__).joinpath("data", "skills.json").read_text(encoding="utf-8")
    return parse_skills(text, "skills.json")


def parse_skills(text: str, source: str) -> tuple[Skill, ...]:
    """The skills in a catalog file's text; raises CatalogError naming ``source`` and the entry."""
    try:
        data = json.loads(text)
    except ValueError as exc:
        raise CatalogError(f"{source}: not JSON: {exc}") from None
    entries = data.get("skills") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise CatalogError(f'{source}: expected {{"skills": [...]}}')
    skills: list[Skill] = []
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        where = f"{source}: skills[{i}]"
        if not isinstance(entry, dict) or set(entry) != {"key", "ja", "en"}:
            raise CatalogError(f"{where}: expected an object with key, ja and en")
        key, ja, en = entry["key"], entry["ja"], entry["en"]
        if not isinstance(key, str) or not SKILL_KEY.fullmatch(key):
            raise CatalogError(f"{where}: key {key!r} is not [a-z][a-z0-9_]{{0,31}}")
        if key in seen:
            raise CatalogError(f"{where}: duplicate key {key!r}")
        if not (isinstance(ja, str) and ja.strip() and isinstance(en, str) and en.strip()):
            raise CatalogError(f"{where}: ja and en are non-empty strings")
        seen.add(key)
        skills.append(Skill(key, ja, en))
    if not skills:
        raise CatalogError(f"{source}: no skills")
    return tuple(skills)
