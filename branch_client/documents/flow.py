"""A document at the terminal, from the specialist's request to the corrected page on the hub.

    placing    the kiosk shows the document camera's live view with the page's outline, found
               a few times a second on the small view, so the resident can place the page
    capturing  a still at full resolution (the resident's 「この向きで撮る」, or the specialist's
               second request)
    processing page found, straightened, lighting evened out, compressed for reading
               (:func:`branch_client.scan.pipeline.process`, off the event loop)
    uploading  the corrected page and the original to the hub over HTTP, each with its SHA-256;
               retried with backoff, and a retry of the same bytes never makes a second copy
    done       the hub announces ``document.added``

A still with no page in view, a blank page, a corrupt picture: ``error`` with the scanner's code,
and the kiosk goes back to placing so the resident can try again. The specialist's marks on a
page (``document.mark``) are kept for the kiosk to show with that page.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import hashlib
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import numpy as np
from aiortc.mediastreams import VideoStreamTrack

import signaling as sig
from branch_client.devices import DeviceError
from branch_client.devices.document_camera import DocumentCamera
from branch_client.kiosk.local_media import FrameTap

log = logging.getLogger(__name__)

OUTLINE_EVERY_S = 0.3
UPLOAD_TRIES = 5
BACK_TO_PLACING_S = 3.0


class DocumentFlow:
    def __init__(
        self,
        camera: DocumentCamera | None,
        hub_url: str,
        token: str,
        send: Callable[[sig.Message], Awaitable[bool]],
    ) -> None:
        self.camera = camera
        self.hub_url = hub_url
        self.token = token
        self._send = send
        self.view = FrameTap("document", max_width=960)
        self.state: dict[str, Any] | None = None
        self.pages: collections.OrderedDict[str, bytes] = collections.OrderedDict()
        self.mark: dict[str, Any] | None = None
        self._session: str | None = None
        self._group: str | None = None
        self._groups: dict[str, int] = {}
        self._pending: dict[tuple[str, int], bytes] = {}
        self._task: asyncio.Task[None] | None = None
        self._outline: asyncio.Task[None] | None = None
        self._shot = asyncio.Event()
        self._preview: VideoStreamTrack | None = None

    # -- what the hub and the kiosk ask --------------------------------------------------------

    async def request(self, session_id: str, group: str | None) -> None:
        """The specialist asks for a page; asked again while placing, it takes the shot."""
        if self._task is not None and not self._task.done() and self._session == session_id:
            if self.state and self.state.get("step") == "placing":
                self._shot.set()
            return
        if self._session != session_id:
            self._groups = {}
            self.pages.clear()
            self.mark = None
        self._session = session_id
        self._group = group or f"g-{len(self._groups) + 1}"
        self._shot.clear()
        self._task = asyncio.create_task(self._run(session_id), name="document")

    def shoot(self) -> bool:
        """The resident's 「この向きで撮る」."""
        if not (self.state and self.state.get("step") == "placing"):
            return False
        self._shot.set()
        return True

    def on_mark(self, message: sig.DocumentMark) -> None:
        self.mark = (
            None
            if message.clear
            else {
                "document_id": message.document_id,
                "x": message.x,
                "y": message.y,
                "w": message.w,
                "h": message.h,
                "has_page": message.document_id in self.pages,
            }
        )

    def on_added(self, message: sig.DocumentAdded) -> None:
        """The hub stored a page we uploaded: keep it by its id, for the kiosk to show marks on."""
        data = self._pending.pop((message.group, message.page), None)
        if data is not None:
            self.pages[message.document_id] = data
            while len(self.pages) > 20:
                self.pages.popitem(last=False)

    async def stop(self) -> None:
        for task in (self._task, self._outline):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._task = self._outline = None
        self._stop_preview()
        self.state = None
        self.mark = None

    # -- the flow ------------------------------------------------------------------------------

    async def _report(self, sid: str, step: str, *, error: str | None = None) -> None:
        outline = self.state.get("outline") if self.state else None
        self.state = {"kind": "document", "step": step, "error": error, "outline": outline}
        await self._send(sig.DocumentStatus(session_id=sid, step=step, error=error))

    def _start_preview(self) -> None:
        if self.camera is None or self._preview is not None:
            return
        self._preview = self.camera.preview()
        self.view.attach(self._preview)
        self._outline = asyncio.create_task(self._find_outline(), name="document-outline")

    def _stop_preview(self) -> None:
        if self._outline is not None:
            self._outline.cancel()
            self._outline = None
        self.view.attach(None)
        if self._preview is not None:
            self._preview.stop()
            self._preview = None

    async def _find_outline(self) -> None:
        """The page's outline on the live view, for the kiosk to draw over it."""
        from branch_client.scan.errors import ScanError
        from branch_client.scan.pipeline import detect_image

        while True:
            await asyncio.sleep(OUTLINE_EVERY_S)
            frame = self.view.latest()
            if frame is None or self.state is None:
                continue
            img = await asyncio.to_thread(frame.to_ndarray, format="bgr24")
            try:
                found = await asyncio.to_thread(detect_image, np.ascontiguousarray(img))
            except ScanError:
                outline = None
            else:
                outline = [[round(float(x)), round(float(y))] for x, y in found.corners]
            if self.state is not None:
                self.state["outline"] = outline
                self.state["frame"] = [img.shape[1], img.shape[0]]

    async def _run(self, sid: str) -> None:
        if self.camera is None:
            await self._report(sid, "error", error="camera_unavailable")
            return
        try:
            while True:
                self._start_preview()
                await self._report(sid, "placing")
                self._shot.clear()
                await self._shot.wait()
                if await self._one_page(sid):
                    break
                await asyncio.sleep(BACK_TO_PLACING_S)
        finally:
            self._stop_preview()
        await asyncio.sleep(2.0)
        self.state = None

    async def _one_page(self, sid: str) -> bool:
        from branch_client.scan.errors import ScanError
        from branch_client.scan.pipeline import process

        assert self.camera is not None
        await self._report(sid, "capturing")
        self._stop_preview()  # a real document camera is one device: the still needs it
        try:
            still = await asyncio.to_thread(self.camera.capture)
        except DeviceError as exc:
            await self._report(sid, "error", error="camera_unavailable")
            log.warning("session %s: document camera: %s", sid, exc)
            return False
        await self._report(sid, "processing")
        try:
            result = await asyncio.to_thread(process, still)
        except ScanError as exc:
            log.info("session %s: document not taken: %s", sid, exc.code)
            await self._report(sid, "error", error=exc.code)
            return False
        group = self._group or "g-1"
        page = self._groups.get(group, 0) + 1
        await self._report(sid, "uploading")
        self._pending[(group, page)] = result.page  # before: the hub announces it mid-upload
        try:
            await self._upload(sid, group, page, "corrected", result.page, result.page_mime)
            await self._upload(sid, group, page, "original", result.original, result.original_mime)
        except _UploadFailed as exc:
            log.warning("session %s: upload failed: %s", sid, exc)
            await self._report(sid, "error", error="upload_failed")
            return False
        self._groups[group] = page
        await self._report(sid, "done")
        return True

    async def _upload(
        self, sid: str, group: str, page: int, variant: str, data: bytes, mime: str
    ) -> None:
        """PUT with the content's SHA-256; the same bytes again are a no-op on the hub."""
        url = f"{self.hub_url}/api/documents/{sid}/{group}/{page}/{variant}"
        headers = {
            "Authorization": f"Bearer {self.token}",
            "Content-Type": mime,
            "X-Content-SHA256": hashlib.sha256(data).hexdigest(),
        }
        last = ""
        timeout = aiohttp.ClientTimeout(total=60)
        async with aiohttp.ClientSession(timeout=timeout) as http:
            for attempt in range(UPLOAD_TRIES):
                try:
                    async with http.put(url, data=data, headers=headers) as res:
                        if res.status in (200, 201):
                            return
                        last = f"HTTP {res.status}: {(await res.text())[:200]}"
                        if 400 <= res.status < 500 and res.status not in (408, 429):
                            break  # the hub refuses these bytes: retrying will not help
                except (aiohttp.ClientError, TimeoutError) as exc:
                    last = str(exc) or type(exc).__name__
                await asyncio.sleep(0.25 * 2**attempt)
        raise _UploadFailed(last)


class _UploadFailed(Exception):
    pass
