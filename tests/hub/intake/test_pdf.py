"""The PDF record: it parses, embeds its Japanese font, and reads back in Japanese."""

from __future__ import annotations

import asyncio
import io
import time
from concurrent.futures.process import BrokenProcessPool
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from pypdf import PdfReader

from hub.catalog.procedures import load_catalog
from hub.forms.validation import parse_submission, submission_record, validate_submission
from hub.intake import pdf
from hub.intake.api import PdfWorker
from tests.hub.intake.samples import MY_NUMBER, tennyu_bundle

CATALOG = load_catalog()
NOTO = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc")


def _record() -> dict[str, Any]:
    submission = parse_submission(tennyu_bundle(), CATALOG)
    validated = validate_submission(submission, today=date(2024, 4, 10))
    assert validated.ok
    return {
        "application_id": "0b9a4a8e-1111-4222-8333-444455556666",
        "session_id": "sess-1",
        "submitted_by": "suzuki",
        "submitted_at": time.mktime((2024, 4, 10, 10, 30, 0, 0, 0, -1)),
        **submission_record(submission, validated),
    }


def _text(data: bytes) -> str:
    """The text of every page, without the spaces (and, from a CFF font, NULs) pypdf puts
    between CJK characters."""
    text = "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)
    return text.replace("\x00", "").replace(" ", "")


@pytest.mark.parametrize("font", [None, NOTO])
def test_the_record_reads_back_in_japanese(font: Path | None) -> None:
    data = pdf.render_application(_record(), CATALOG, font=font)
    assert data.startswith(b"%PDF-")
    reader = PdfReader(io.BytesIO(data))
    assert len(reader.pages) >= 4  # a page or more per form
    fonts = set()
    for page in reader.pages:
        for ref in page["/Resources"]["/Font"].values():
            descendant = ref.get_object()["/DescendantFonts"][0].get_object()
            descriptor = descendant["/FontDescriptor"].get_object()
            fonts.update(k for k in ("/FontFile2", "/FontFile3") if k in descriptor)
    assert fonts, "the Japanese font is embedded"
    text = _text(data)
    for expected in (
        "住民異動届（転入届）",
        "国民健康保険資格取得・喪失届",
        "児童手当認定請求書",
        "令和6年4月1日（2024-04-01）",
        "髙﨑ハイツ",
        "資格取得（加入）",  # the preset option, in words
        "カード",
        "本人入力",
        "手続選択",
        "署名",
        "●●●●●●●●9018",
    ):
        assert expected in text, expected
    assert MY_NUMBER not in text


def test_the_pdf_is_written_whole_under_the_data_dir(tmp_path: Path) -> None:
    record = _record()
    path = pdf.write_application_pdf(record, CATALOG, tmp_path)
    assert path == tmp_path / "intake" / f"{record['application_id']}.pdf"
    assert path.read_bytes().startswith(b"%PDF-") and path.stat().st_size > 5000
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary left


def test_a_stored_record_with_odd_contents_still_renders() -> None:
    record = {
        "application_id": "x",
        "procedures": ["gone_procedure", "zei_shoumei"],
        "forms": {"gone_procedure": {"a": "値"}, "zei_shoumei": {"copies": 2, "name": "𠮷田 一"}},
        "signature": {"width": 10, "height": 10, "strokes": [[[1, 1]], "nonsense"]},
        "submitted_at": "yesterday",
    }
    text = _text(pdf.render_application(record, CATALOG))
    assert "gone_procedure" in text and "値" in text and "税証明交付請求書" in text
    assert "𠮷田一" in text  # not in IPAex: drawn with the fallback font


def test_no_font_is_a_clear_error(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setattr(pdf, "FONT_CANDIDATES", (tmp_path / "none.ttf",))
    with pytest.raises(pdf.PdfError, match="fonts-ipaexfont-gothic") as caught:
        pdf.find_font()
    assert caught.value.code == "no_japanese_font"


async def test_the_pdf_worker_process_is_replaced_when_it_dies(tmp_path: Path) -> None:
    worker = PdfWorker(tmp_path)
    try:
        record = _record()
        assert (await worker.render(record)).exists()
        pool = worker._pool
        assert pool is not None
        for process in list(pool._processes.values()):  # the worker, killed -9
            process.kill()
            process.join()
        outcomes = []
        for _ in range(2):  # the first may learn of the death, the next gets a new worker
            try:
                outcomes.append(await worker.render({**record, "application_id": "again"}))
            except BrokenProcessPool:
                outcomes.append(None)
        assert outcomes[-1] == tmp_path / "intake" / "again.pdf" and outcomes[-1].exists()
        (tmp_path / "intake" / f"{record['application_id']}.pdf").unlink()
        assert worker.schedule(record) and worker.pending == 1
        for _ in range(200):
            if not worker.pending:
                break
            await asyncio.sleep(0.05)
        assert (tmp_path / "intake" / f"{record['application_id']}.pdf").exists()
    finally:
        worker.close()
