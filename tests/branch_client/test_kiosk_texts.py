"""The kiosk's texts (texts.<lang>.js beside kiosk.js): every language has every key, with the
same placeholders, and every key the markup and kiosk.js name is there; and every file the page
and its modules name is served."""

from __future__ import annotations

from branch_client.kiosk.server import STATIC_DIR as KIOSK_DIR
from tests.static_pages import called_keys, disagreements, load_tables, markup_keys, unresolved

TABLES = load_tables(KIOSK_DIR)


def test_every_language_has_every_key_with_the_same_placeholders() -> None:
    assert disagreements(TABLES) == []


def test_the_markup_and_the_script_name_only_keys_the_tables_have() -> None:
    keys = markup_keys((KIOSK_DIR / "index.html").read_text(encoding="utf-8"))
    keys |= called_keys((KIOSK_DIR / "kiosk.js").read_text(encoding="utf-8"), "t")
    assert len(keys) > 40
    for lang, table in TABLES.items():
        assert keys - set(table) == set(), lang


def test_every_file_the_page_or_a_module_names_is_there() -> None:
    assert unresolved(KIOSK_DIR) == []
