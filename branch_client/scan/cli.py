"""``madoguchi scan detect IMAGE`` and ``madoguchi scan process IMAGE -o OUT``.

``detect`` prints where the page is: with ``--json`` one object ``{"corners": [[x, y] x 4],
"confidence": c}`` (source pixels, top-left, top-right, bottom-right, bottom-left as the document
reads, rounded to 0.1). ``process`` writes the straightened page (JPEG) to ``-o`` and, with
``--original``, a copy of the input. A refusal prints ``{"error": code}`` with ``--json``
(``madoguchi: …`` on stderr otherwise) and exits 1; an unreadable or unwritable file exits 2.

The image code (and OpenCV) is imported only when a command runs, so building the ``madoguchi``
parser stays cheap on machines without OpenCV.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any


def add_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``scan`` (``detect``, ``process``) to the ``madoguchi`` subcommands."""
    scan = sub.add_parser("scan", help="find and straighten a document in a photograph")
    commands = scan.add_subparsers(dest="scan_command", required=True, metavar="COMMAND")

    p = commands.add_parser("detect", help="print the page's corners and the confidence")
    p.add_argument("image", type=Path, help="JPEG, PNG, WebP or TIFF photograph")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_detect)

    p = commands.add_parser("process", help="write the straightened, evened-out page")
    p.add_argument("image", type=Path, help="JPEG, PNG, WebP or TIFF photograph")
    p.add_argument("-o", "--output", type=Path, required=True, help="where to write the page")
    p.add_argument("--original", type=Path, help="also keep a copy of the photograph here")
    p.add_argument("--json", action="store_true", help="machine-readable output")
    p.set_defaults(func=run_process)


def _emit(args: argparse.Namespace, data: dict[str, Any], text: str) -> None:
    print(json.dumps(data, ensure_ascii=False) if args.json else text)


def _refuse(args: argparse.Namespace, code: str, message: str, status: int) -> int:
    if args.json:
        print(json.dumps({"error": code}))
    print(f"madoguchi: {message}", file=sys.stderr)
    return status


def _read(args: argparse.Namespace) -> bytes | None:
    try:
        return bytes(args.image.read_bytes())
    except OSError as exc:
        _refuse(args, "unreadable", f"cannot read {args.image}: {exc.strerror}", 2)
        return None


def run_detect(args: argparse.Namespace) -> int:
    from branch_client.scan.errors import ScanError
    from branch_client.scan.pipeline import decode_image, detect_image

    data = _read(args)
    if data is None:
        return 2
    try:
        found = detect_image(decode_image(data))
    except ScanError as exc:
        return _refuse(args, exc.code, str(exc), 1)
    corners = [[round(float(x), 1), round(float(y), 1)] for x, y in found.corners]
    text = "  ".join(f"({x}, {y})" for x, y in corners)
    _emit(
        args,
        {"corners": corners, "confidence": found.confidence},
        f"corners (TL, TR, BR, BL): {text}\nconfidence: {found.confidence}",
    )
    return 0


def run_process(args: argparse.Namespace) -> int:
    from branch_client.scan.errors import ScanError
    from branch_client.scan.pipeline import process

    data = _read(args)
    if data is None:
        return 2
    try:
        result = process(data)
    except ScanError as exc:
        return _refuse(args, exc.code, str(exc), 1)
    try:
        args.output.write_bytes(result.page)
        if args.original is not None:
            args.original.write_bytes(result.original)
    except OSError as exc:
        return _refuse(args, "unwritable", f"cannot write: {exc}", 2)
    corners = [[round(x, 1), round(y, 1)] for x, y in result.corners]
    _emit(
        args,
        {
            "output": str(args.output),
            "mime": result.page_mime,
            "width": result.width,
            "height": result.height,
            "bytes": len(result.page),
            "sha256": result.sha256,
            "corners": corners,
            "confidence": result.confidence,
        },
        f"{args.output}: {result.width}x{result.height} {result.page_mime}, "
        f"{len(result.page)} bytes (confidence {result.confidence})",
    )
    return 0
