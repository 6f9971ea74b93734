"""Why a photograph of a document could not be used: one error with a stable code."""

from __future__ import annotations

from typing import Literal

ScanErrorCode = Literal[
    "no_document",
    "blank_page",
    "not_an_image",
    "corrupt_image",
    "image_too_large",
    "unsupported_format",
]


class ScanError(Exception):
    """A still cannot be turned into a page. ``code`` is stable, for the terminal and the UI:

    ``no_document``
        nothing page-like is in view (an empty desk, or the page runs off the frame);
    ``blank_page``
        a page was found but carries nothing (or the whole frame is one flat colour);
    ``not_an_image``
        the bytes are not a picture at all (text, a PDF, random data);
    ``corrupt_image``
        the bytes start like a picture we read but cannot be decoded (truncated, damaged);
    ``image_too_large``
        the picture declares more pixels than :data:`branch_client.scan.pipeline.MAX_PIXELS`,
        refused from its header, before decoding;
    ``unsupported_format``
        a picture, but in a format we do not take (GIF, BMP, HEIC, ...).

    The message is for people and logs; it never contains the document's content.
    """

    def __init__(self, code: ScanErrorCode, message: str) -> None:
        super().__init__(message)
        self.code: ScanErrorCode = code
