"""The staff pages' texts (lib/texts.<lang>.js): every language has every key, with the same
placeholders, and every key the markup and the scripts name is there; and every file the pages
and modules name is served."""

from __future__ import annotations

import re

from staff_console import STATIC_DIR
from tests.static_pages import (
    called_keys,
    disagreements,
    load_tables,
    markup_keys,
    unresolved,
)

TABLES = load_tables(STATIC_DIR / "lib")
# const t = textsOf("case"): the section a module's t reads.
SECTION = re.compile(r'textsOf\("(\w+)"\)')


def test_every_language_has_every_key_with_the_same_placeholders() -> None:
    assert disagreements(TABLES) == []


def test_the_console_markup_names_only_keys_the_console_section_has() -> None:
    keys = markup_keys((STATIC_DIR / "index.html").read_text(encoding="utf-8"))
    assert keys, "index.html names no texts"
    for lang, table in TABLES.items():
        assert keys - set(table["console"]) == set(), lang


def test_every_literal_key_a_module_asks_for_is_in_its_section() -> None:
    checked = 0
    for module in sorted(STATIC_DIR.glob("*.js")):
        script = module.read_text(encoding="utf-8")
        sections = SECTION.findall(script)
        if not sections:
            continue
        assert len(set(sections)) == 1, f"{module.name} reads several sections: {sections}"
        wanted = called_keys(script, "t")
        groups = called_keys(script, "word") | ({"errors"} if "errorText(" in script else set())
        for lang, table in TABLES.items():
            section = table[sections[0]]
            assert wanted - set(section) == set(), (module.name, lang)
            assert {g for g in groups if not isinstance(section.get(g), dict)} == set(), (
                module.name,
                lang,
            )
        checked += 1
    assert checked >= 5  # console, case, viewer, intake, dashboard


def test_every_file_a_page_or_module_names_is_there() -> None:
    assert unresolved(STATIC_DIR) == []
