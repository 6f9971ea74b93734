"""The record of a submitted application as a PDF in Japanese: for each form its title, every
field with its value and where the value came from (card, staff, resident, life event), and the
resident's signature drawn from its strokes. The font is embedded (subset), so the file reads
the same on any machine of a closed network.

Fonts, first found wins: IPAex Gothic (Debian ``fonts-ipaexfont-gothic``; TrueType, quick to
embed, JIS X 0213 kanji), then Noto Sans CJK JP (``fonts-noto-cjk``; a CFF collection, about
three times slower to embed). With both present, Noto fills in characters IPAex lacks.

Drawing takes 50-250 ms of CPU per application: the hub runs it in a worker process
(:func:`write_record_pdf`), away from its event loop. The My Number is masked in the record.
"""

from __future__ import annotations

import logging
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta, timezone
from functools import cache
from pathlib import Path
from typing import Any, Final

from fpdf import FPDF
from fpdf.enums import WrapMode, XPos, YPos
from fpdf.fonts import FontFace

from hub.catalog.procedures import Catalog, FieldSpec, Procedure
from hub.errors import Unavailable
from hub.forms.validation import mask_my_number, to_wareki

log = logging.getLogger(__name__)

FONT_CANDIDATES: Final = (
    Path("/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf"),
    Path("/usr/share/fonts/truetype/fonts-japanese-gothic.ttf"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
)
FALLBACK_FONT: Final = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")
JST: Final = timezone(timedelta(hours=9), "JST")
PROVENANCE_JA: Final = {
    "card": "カード",
    "staff": "職員入力",
    "resident": "本人入力",
    "preset": "手続選択",
}


class PdfError(Unavailable):
    """The record cannot be drawn (503); ``code``: ``no_japanese_font``."""


def find_font() -> Path:
    for path in FONT_CANDIDATES:
        if path.exists():
            return path
    raise PdfError(
        "no_japanese_font",
        "no Japanese font: install fonts-ipaexfont-gothic or fonts-noto-cjk (make setup-demo)",
    )


@cache
def _coverage(path: Path) -> frozenset[int]:
    from fontTools.ttLib import TTFont

    font = TTFont(str(path), fontNumber=0, lazy=True)
    try:
        return frozenset(font.getBestCmap() or {})
    finally:
        font.close()


def pdf_path(data_dir: Path, application_id: str) -> Path:
    return data_dir / "intake" / f"{application_id}.pdf"


def write_application_pdf(record: Mapping[str, Any], catalog: Catalog, data_dir: Path) -> Path:
    """Render and store the record's PDF under ``data_dir/intake/``; written to a temporary
    file first, so a crash never leaves half a PDF under the final name."""
    path = pdf_path(data_dir, str(record["application_id"]))
    path.parent.mkdir(parents=True, exist_ok=True)
    data = render_application(record, catalog)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".pdf-", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_record_pdf(record: Mapping[str, Any], data_dir: Path) -> Path:
    """:func:`write_application_pdf` with the shipped catalog (for a worker process)."""
    from hub.catalog.procedures import load_catalog

    return write_application_pdf(record, load_catalog(), data_dir)


class _Record(FPDF):
    footer_text = ""

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font(size=7)
        self.set_text_color(110)
        self.cell(0, 5, f"{self.footer_text}    {self.page_no()}", align="R")


def render_application(
    record: Mapping[str, Any], catalog: Catalog, *, font: Path | None = None
) -> bytes:
    """The PDF of an intake record (as :func:`hub.forms.validation.submission_record` makes it, with
    ``application_id``, ``submitted_at`` and ``submitted_by`` added)."""
    font = font or find_font()
    pdf = _Record(orientation="P", unit="mm", format="A4")
    pdf.set_auto_page_break(True, margin=16)
    pdf.set_margins(15, 15, 15)
    pdf.set_creator("Madoguchi")
    pdf.set_lang("ja")
    pdf.add_font("jp", "", str(font), collection_font_number=0)
    text = _all_text(record, catalog)
    if font != FALLBACK_FONT and FALLBACK_FONT.exists():
        if any(ord(c) not in _coverage(font) for c in text if not c.isspace()):
            pdf.add_font("jpfallback", "", str(FALLBACK_FONT), collection_font_number=0)
            pdf.set_fallback_fonts(["jpfallback"])
    pdf.set_font("jp", size=10)
    application_id = str(record.get("application_id", ""))
    pdf.set_title(f"申請 {application_id}")
    pdf.footer_text = f"申請番号 {application_id}"
    forms = _dict(record.get("forms"))
    procedures = [str(p) for p in record.get("procedures") or forms]
    for pid in procedures:
        _form_page(pdf, record, catalog.procedures.get(pid), pid, _dict(forms.get(pid)), catalog)
    if not procedures:
        pdf.add_page()
        pdf.cell(text="（書類なし）")
    return bytes(pdf.output())


def _dict(value: Any) -> dict[str, Any]:
    """A mapping read from a stored record, or an empty one when it is something else."""
    return value if isinstance(value, dict) else {}


def _all_text(record: Mapping[str, Any], catalog: Catalog) -> str:
    parts: list[str] = [str(v) for v in _walk(record)]
    for pid in record.get("procedures") or ():
        procedure = catalog.procedures.get(str(pid))
        if procedure:
            parts.append(procedure.ja)
            parts.extend(f.ja + "".join(o.ja for o in f.options) for f in procedure.fields)
    return "".join(parts)


def _walk(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [x for v in value.values() for x in _walk(v)]
    if isinstance(value, list):
        return [x for v in value for x in _walk(v)]
    return [value] if isinstance(value, str) else []


def _submitted_at(record: Mapping[str, Any]) -> str:
    raw = record.get("submitted_at")
    try:
        when = datetime.fromtimestamp(float(raw), JST) if raw is not None else None
    except (TypeError, ValueError, OverflowError):
        when = None
    if when is None:
        return "-"
    return f"{to_wareki(when.date())} {when:%H:%M}（{when:%Y-%m-%d %H:%M} JST）"


def _form_page(
    pdf: _Record,
    record: Mapping[str, Any],
    procedure: Procedure | None,
    pid: str,
    values: Mapping[str, Any],
    catalog: Catalog,
) -> None:
    pdf.add_page()
    pdf.set_text_color(0)
    pdf.set_font(size=16)
    pdf.multi_cell(0, 9, procedure.ja if procedure else pid, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_font(size=9)
    pdf.set_text_color(90)
    pdf.multi_cell(0, 5, procedure.en if procedure else "", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(2)
    event = catalog.life_events.get(str(record.get("life_event", "")))
    entries = _dict(record.get("entries"))
    meta = [
        ("申請番号", str(record.get("application_id", ""))),
        ("受付日時", _submitted_at(record)),
        ("ライフイベント", event.ja if event else str(record.get("life_event", ""))),
        ("受付担当", str(record.get("submitted_by", ""))),
        ("セッション", str(record.get("session_id", ""))),
        (
            "書かない窓口",
            f"紙なら{entries.get('paper', '-')}項目 → 本人の記入{entries.get('resident', '-')}項目"
            f"（{entries.get('forms', '-')}書類）",
        ),
    ]
    pdf.set_text_color(0)
    for label, text in meta:
        pdf.set_font(size=8)
        pdf.cell(30, 5, label)
        pdf.set_font(size=9)
        pdf.multi_cell(0, 5, text, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(3)
    form_marks = _dict(_dict(record.get("provenance")).get(pid))
    rows: list[tuple[str, str, str]] = []
    fields: Sequence[FieldSpec] = procedure.fields if procedure else ()
    known = {f.id for f in fields}
    for spec in fields:
        value = values.get(spec.id)
        rows.append(
            (
                f"{spec.ja}\n{spec.en}",
                _format(spec, value, catalog),
                PROVENANCE_JA.get(str(form_marks.get(spec.id, "")), "")
                if value is not None
                else "",
            )
        )
    for fid, value in values.items():  # fields the catalog no longer has
        if fid not in known:
            rows.append((fid, str(value), str(form_marks.get(fid, ""))))
    pdf.set_font(size=9)
    heading = FontFace(emphasis=None, fill_color=(235, 235, 235))
    with pdf.table(
        col_widths=(55, 100, 25),
        headings_style=heading,
        line_height=5,
        text_align=("LEFT", "LEFT", "CENTER"),
        wrapmode=WrapMode.WORD,
        padding=1.2,
    ) as table:
        table.row(("項目", "内容", "入力元"))
        for row in rows:
            table.row(row)
    signed = procedure.signature if procedure else True
    if signed:
        _signature(pdf, _dict(record.get("signature")) or None)


def _format(spec: FieldSpec, value: Any, catalog: Catalog) -> str:
    if value is None or value == "" or value == []:
        return ""
    if spec.type == "date" and isinstance(value, str):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            return value
        return f"{to_wareki(day)}（{day.isoformat()}）"
    if spec.type == "select":
        option = spec.option(str(value))
        return option.ja if option else str(value)
    if spec.type == "boolean":
        return "はい" if value is True else "いいえ"
    if spec.type == "my_number":
        return mask_my_number(str(value))
    if spec.type == "household" and isinstance(value, list):
        lines = []
        for i, member in enumerate(value, 1):
            if not isinstance(member, dict):
                continue
            parts = [
                _format(column, member.get(column.id), catalog)
                for column in catalog.household_member
                if member.get(column.id) not in (None, "")
            ]
            lines.append(f"{i}. " + "　".join(parts))
        return "\n".join(lines)
    return str(value)


def _signature(pdf: _Record, signature: Mapping[str, Any] | None) -> None:
    box_w, box_h = 90.0, 30.0
    if pdf.get_y() + box_h + 12 > pdf.h - 16:
        pdf.add_page()
    pdf.ln(4)
    pdf.set_font(size=9)
    pdf.cell(0, 6, "署名（端末の画面に本人が記入）", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    x0, y0 = pdf.l_margin, pdf.get_y()
    pdf.set_draw_color(150)
    pdf.set_line_width(0.2)
    pdf.rect(x0, y0, box_w, box_h)
    strokes = signature.get("strokes") if signature else None
    width, height = (signature.get("width"), signature.get("height")) if signature else (0, 0)
    if isinstance(strokes, list) and isinstance(width, int) and isinstance(height, int):
        scale = min((box_w - 4) / max(width, 1), (box_h - 4) / max(height, 1))
        pdf.set_draw_color(0, 0, 120)
        pdf.set_line_width(0.4)
        for stroke in strokes:
            if not isinstance(stroke, list):
                continue
            points = [
                (x0 + 2 + float(p[0]) * scale, y0 + 2 + float(p[1]) * scale)
                for p in stroke
                if isinstance(p, list) and len(p) == 2
            ]
            if len(points) == 1:
                points.append((points[0][0] + 0.3, points[0][1]))
            if len(points) >= 2:
                pdf.polyline(points)
    else:
        pdf.set_xy(x0 + 3, y0 + box_h / 2 - 3)
        pdf.set_text_color(120)
        pdf.cell(text="（署名なし）")
    pdf.set_draw_color(0)
    pdf.set_text_color(0)
    pdf.set_xy(pdf.l_margin, y0 + box_h + 2)
