"""Documents at the terminal against the real hub app: each bad still is a clear error and the
resident can try again; a good one is corrected, uploaded and announced, with nothing stored
twice and nothing half-stored."""

from __future__ import annotations

import io
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
from aiohttp.test_utils import TestServer
from PIL import Image

import signaling as sig
from branch_client.scan.synthetic import generate
from branch_client.terminal import Terminal
from tests.branch_client.conftest import in_call, running_terminal, until


def jpeg(img: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(img[:, :, ::-1])).save(out, "JPEG", quality=90)
    return out.getvalue()


@pytest.fixture
def stand(tmp_path: Path) -> Path:
    """The stills the document camera will give, in this order."""
    folder = tmp_path / "stand"
    folder.mkdir()
    (folder / "1-blank.png").write_bytes(jpeg(np.full((1200, 1600, 3), 200, np.uint8)))
    good = jpeg(generate(11, 1600, 1200)[0])
    (folder / "2-truncated.jpg").write_bytes(good[: len(good) // 3])
    (folder / "3-not-a-picture.bin").write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 8)
    (folder / "4-page.jpg").write_bytes(good)
    return folder


@pytest.fixture
async def terminal_with_stand(
    hub: tuple[TestServer, str], stand: Path, loopback_ice: None
) -> AsyncIterator[Terminal]:
    async with running_terminal(hub, doc_camera=str(stand)) as term:
        yield term


async def test_bad_stills_say_why_and_a_good_one_lands_once(
    hub: tuple[TestServer, str],
    terminal_with_stand: Terminal,
    tmp_path: Path,
) -> None:
    server, _ = hub
    terminal = terminal_with_stand
    async with in_call(server, terminal) as (staff, sid):
        await staff.send(sig.DocumentCapture(session_id=sid))
        await staff.next_of(sig.DocumentStatus, lambda m: m.step == "placing")
        errors = []
        for _ in range(3):
            await until(
                lambda: (terminal.documents.state or {}).get("step") == "placing", "placing"
            )
            assert terminal.documents.shoot()
            failed = await staff.next_of(sig.DocumentStatus, lambda m: m.step == "error")
            errors.append(failed.error)
        assert errors == ["blank_page", "corrupt_image", "not_an_image"]
        await until(lambda: (terminal.documents.state or {}).get("step") == "placing", "placing")
        assert terminal.documents.shoot()
        added = await staff.next_of(sig.DocumentAdded)
        assert added.group == "g-1" and added.page == 1 and added.width > 300
        await staff.next_of(sig.DocumentStatus, lambda m: m.step == "done")
        assert added.document_id in terminal.documents.pages or await _eventually(
            lambda: added.document_id in terminal.documents.pages
        )
    stored = list((tmp_path / "documents").rglob("*"))
    files = [p for p in stored if p.is_file()]
    # One corrected page and its original; no temporary or half-written file left.
    assert len(files) == 2, files
    assert not any(p.name.startswith(".") or p.suffix == ".tmp" for p in files)


async def _eventually(predicate: object) -> bool:
    await until(predicate, "the page to be kept")
    return True
