"""What the browser pages' files must agree on, for the kiosk's and the staff pages' tests.

Every script and style a page names, and every module a script imports, must be a file the server
serves (a typo there is a blank page, found otherwise only by the browser tests).

A page's texts are one table per language, ``texts.<lang>.js``: a module whose default export is
written as JSON (after leading ``//`` comments), so that the browser imports it with the page's
other modules and these tests read it with :func:`json.loads`. A table is nested objects of
strings; a string may hold ``{name}`` placeholders that the page fills in. Every language must
have the same keys, each with the same placeholders, or one language shows a raw key or drops a
number. The pages' markup names keys in ``data-i18n*`` attributes and their scripts in calls such
as ``t("key")``: those keys must exist too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

# <script src="/static/x.js">, <link href="/static/x.css">: the pages name their files by URL.
PAGE_FILE = re.compile(r'(?:src|href)="/static/([^"]+)"')
# import { a } from "./x.js";  import "./x.js";
IMPORT = re.compile(r"""^\s*import\b[^"']*["']([^"']+)["']""", re.MULTILINE)
# // comments, then export default { ...JSON... };
TABLE_MODULE = re.compile(r"(?:\s*//[^\n]*\n)*\s*export default (\{.*\});?\s*", re.DOTALL)
PLACEHOLDER = re.compile(r"\{(\w+)\}")
# data-i18n="key", data-i18n-alt="key", data-i18n-label="key", data-i18n-placeholder="key"
MARKUP_KEY = re.compile(r'data-i18n(?:-[a-z]+)?="([^"]+)"')


def read_table(path: Path) -> dict[str, Any]:
    """The table a ``texts.<lang>.js`` module exports (failing, naming the file, when it is not
    ``export default`` followed by a JSON object)."""
    match = TABLE_MODULE.fullmatch(path.read_text(encoding="utf-8"))
    assert match, f"{path.name}: not comments, then `export default {{...}};`"
    try:
        table = json.loads(match.group(1))
    except ValueError as exc:
        raise AssertionError(f"{path.name}: the table is not JSON: {exc}") from None
    assert isinstance(table, dict), f"{path.name}: the table is not an object"
    return table


def load_tables(folder: Path) -> dict[str, dict[str, Any]]:
    """Every ``texts.<lang>.js`` in ``folder``, by language code: Japanese and English at
    least, the languages every page offers."""
    tables = {
        path.name.split(".")[1]: read_table(path) for path in sorted(folder.glob("texts.*.js"))
    }
    assert {"ja", "en"} <= set(tables), f"{folder}: texts for {sorted(tables)} only"
    return tables


def flatten(table: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Each text under its path of keys joined by ``/`` (keys may hold dots themselves)."""
    out: dict[str, str] = {}
    for key, value in table.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(flatten(value, f"{path}/"))
        else:
            assert isinstance(value, str), f"{path} is neither a text nor a group of texts"
            out[path] = value
    return out


def disagreements(tables: dict[str, dict[str, Any]]) -> list[str]:
    """Every key one language lacks, and every text whose placeholders differ between
    languages, as sentences (empty when the tables agree)."""
    flat = {lang: flatten(table) for lang, table in tables.items()}
    every = set().union(*flat.values())
    problems = []
    for key in sorted(every):
        missing = [lang for lang, texts in flat.items() if key not in texts]
        if missing:
            problems.append(f"{key} is missing in {', '.join(missing)}")
            continue
        shapes = {
            lang: sorted(set(PLACEHOLDER.findall(texts[key]))) for lang, texts in flat.items()
        }
        if len({tuple(s) for s in shapes.values()}) > 1:
            problems.append(f"{key} has different placeholders: {shapes}")
    return problems


def markup_keys(html: str) -> set[str]:
    """The keys a page's markup names in its ``data-i18n*`` attributes."""
    return set(MARKUP_KEY.findall(html))


def called_keys(script: str, function: str) -> set[str]:
    """The literal keys a script passes to ``function`` (e.g. ``t`` also matches ``this.t``)."""
    return set(re.findall(rf'\b{re.escape(function)}\(\s*"([^"]+)"', script))


def unresolved(static: Path) -> list[str]:
    """Every file a page (``*.html``) or a module (``*.js``) under ``static`` names that is not
    there, as ``naming file -> name`` (empty when all resolve). ``/static/`` is ``static``."""
    problems = []
    for page in sorted(static.rglob("*.html")):
        for name in PAGE_FILE.findall(page.read_text(encoding="utf-8")):
            if not (static / name).is_file():
                problems.append(f"{page.relative_to(static)} -> /static/{name}")
    for module in sorted(static.rglob("*.js")):
        for name in IMPORT.findall(module.read_text(encoding="utf-8")):
            if not name.startswith("."):
                problems.append(f"{module.relative_to(static)} -> {name} (not a relative path)")
            elif not (module.parent / name).resolve().is_file():
                problems.append(f"{module.relative_to(static)} -> {name}")
    return problems
