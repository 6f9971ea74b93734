"""From bytes to a page: every refusal has its code (and oversized pictures are refused from
their header), a blank page or frame is ``blank_page``, and a good still comes back
straightened, evened out and encoded, with the original kept."""

from __future__ import annotations

import hashlib
import io
import struct
import time
import zlib

import cv2
import numpy as np
import pytest
from PIL import Image

from branch_client.scan.enhance import encode_for_reading, flatten_lighting
from branch_client.scan.errors import ScanError
from branch_client.scan.pipeline import MAX_PIXELS, decode_image, detect_image, process
from branch_client.scan.synthetic import background_only, generate
from branch_client.scan.warp import page_size

W, H = 1600, 1200


def jpeg(img: np.ndarray, quality: int = 92) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return bytes(buf.tobytes())


def code_of(data: bytes) -> str:
    with pytest.raises(ScanError) as caught:
        process(data)
    return caught.value.code


def png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def png_header(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` RGB pixels and carries (almost) none."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n"
        + png_chunk(b"IHDR", ihdr)
        + png_chunk(b"IDAT", idat)
        + png_chunk(b"IEND", b"")
    )


def jpeg_declaring(width: int, height: int) -> bytes:
    """A small real JPEG whose frame header (SOF0) is patched to declare another size."""
    data = bytearray(jpeg(np.full((16, 16, 3), 128, dtype=np.uint8)))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


@pytest.mark.parametrize("fmt", ["JPEG", "PNG", "WEBP", "TIFF"])
def test_decodes_the_formats_we_take(fmt: str) -> None:
    rgb = np.zeros((30, 40, 3), dtype=np.uint8)
    rgb[:, :20] = (255, 0, 0)  # red on the left
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
    img = decode_image(buf.getvalue())
    assert img.shape == (30, 40, 3)
    assert img[15, 5, 2] > 200 and img[15, 5, 0] < 60  # BGR: red is the last channel
    assert img[15, 35].max() < 60


def test_turns_the_picture_as_its_exif_says() -> None:
    buf = io.BytesIO()
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    Image.new("RGB", (40, 30), (10, 200, 10)).save(buf, "JPEG", exif=exif)
    assert decode_image(buf.getvalue()).shape == (40, 30, 3)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"hello, this is a text file\n" * 10,
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n",
        bytes(np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8)),
        b"<html><body>not a picture</body></html>",
    ],
    ids=["empty", "text", "pdf", "random", "html"],
)
def test_what_is_not_a_picture(data: bytes) -> None:
    assert code_of(data) == "not_an_image"


def test_pictures_in_formats_we_do_not_take() -> None:
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "GIF")
    assert code_of(buf.getvalue()) == "unsupported_format"
    buf = io.BytesIO()
    Image.new("RGB", (8, 8)).save(buf, "BMP")
    assert code_of(buf.getvalue()) == "unsupported_format"
    assert code_of(b"\x00\x00\x00\x18ftypheic" + b"\x00" * 64) == "unsupported_format"


def test_truncated_and_damaged_pictures_are_corrupt() -> None:
    img, _, _ = generate(5, 800, 600)
    data = jpeg(img)
    assert code_of(data[: len(data) // 2]) == "corrupt_image"
    assert code_of(data[:-200]) == "corrupt_image"
    assert code_of(data[:40]) == "corrupt_image"  # the header itself is cut
    _ok, buf = cv2.imencode(".png", img)
    png = bytearray(buf.tobytes())
    png[len(png) // 2 : len(png) // 2 + 64] = b"\x00" * 64  # inside the compressed pixels
    assert code_of(bytes(png)) == "corrupt_image"
    assert code_of(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40) == "corrupt_image"


def test_huge_pictures_are_refused_from_their_header() -> None:
    side = 10_000  # 100 megapixels declared, a few hundred bytes sent
    assert side * side > MAX_PIXELS
    for data in (png_header(side, side), jpeg_declaring(12_000, 9_000)):
        assert len(data) < 2000
        started = time.perf_counter()
        assert code_of(data) == "image_too_large"
        assert time.perf_counter() - started < 0.5  # nothing was decoded
    # just under the limit is not refused for its size (it has no pixels: corrupt)
    assert code_of(png_header(5000, 5000)) == "corrupt_image"


def test_a_desk_without_a_page_is_no_document() -> None:
    assert code_of(jpeg(background_only(4, W, H))) == "no_document"


def test_a_flat_frame_is_blank() -> None:
    assert code_of(jpeg(np.full((H, W, 3), 200, dtype=np.uint8))) == "blank_page"
    with pytest.raises(ScanError) as caught:
        detect_image(np.zeros((H, W, 3), dtype=np.uint8))
    assert caught.value.code == "blank_page"


@pytest.mark.parametrize("seed", [5, 1])  # an A4 page, a card
def test_a_page_with_nothing_on_it_is_blank(seed: int) -> None:
    img, _, _ = generate(seed, W, H, content=False)
    assert code_of(jpeg(img)) == "blank_page"


def test_a_good_still_becomes_a_straight_page() -> None:
    img, truth, kind = generate(5, W, H)
    assert kind == "a4"
    data = jpeg(img)
    result = process(data)
    assert result.page_mime == "image/jpeg" and result.original_mime == "image/jpeg"
    assert result.original == data
    assert result.original_sha256 == hashlib.sha256(data).hexdigest()
    assert result.sha256 == hashlib.sha256(result.page).hexdigest()
    assert (result.original_width, result.original_height) == (W, H)
    assert np.abs(np.array(result.corners) - truth).max() < 10
    assert 0.5 <= result.confidence <= 1.0
    page = cv2.imdecode(np.frombuffer(result.page, np.uint8), cv2.IMREAD_COLOR)
    assert page.shape == (result.height, result.width, 3)
    assert (result.width, result.height) == page_size(np.array(result.corners))
    assert 1.35 < result.height / result.width < 1.48  # A4 is 1.414
    # evened out: the paper is white nearly everywhere, the print black
    gray = cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    assert np.median(gray) > 235
    assert np.percentile(gray, 0.5) < 90
    assert "bytes" in repr(result) and len(repr(result)) < 200


def test_small_print_survives_the_reading_encoding() -> None:
    """8-point print at about 10 px/mm, as the 12 MP camera sees an A4 page: after encoding, the
    strokes are where they were (little error over the print, none of it lost)."""
    from PIL import ImageDraw

    from branch_client.scan.synthetic import _font

    page = Image.new("RGB", (900, 200), (255, 255, 255))
    draw = ImageDraw.Draw(page)
    font = _font(round(8 * 25.4 / 72 * 10))  # 8 pt at 10 px/mm
    for i, line in enumerate(
        ("この写しは、住民基本台帳の原本と相違ない", "令和7年6月1日 個人番号 1234")
    ):
        draw.text((10, 20 + i * 60), line, font=font, fill=(20, 20, 20))
    original = np.asarray(page)[:, :, ::-1].copy()
    decoded = cv2.imdecode(np.frombuffer(encode_for_reading(original), np.uint8), 1)
    err = np.abs(decoded.astype(float) - original.astype(float))
    ink = cv2.dilate((original.min(axis=2) < 128).astype(np.uint8), np.ones((5, 5), np.uint8))
    assert err[ink > 0].mean() < 12
    mse = float((err**2).mean())
    assert 10 * np.log10(255**2 / mse) > 32  # PSNR in dB
    assert ((decoded.min(axis=2) < 128) == (original.min(axis=2) < 128)).mean() > 0.99


def test_flattening_keeps_a_card_s_colours() -> None:
    card = np.zeros((300, 480, 3), dtype=np.uint8)
    card[:] = (150, 60, 40)  # dark blue plastic (BGR)
    card[:60] = (30, 160, 230)  # an orange band
    cv2.putText(card, "ZAIRYU", (20, 180), cv2.FONT_HERSHEY_SIMPLEX, 2, (255, 255, 255), 4)
    shade = np.linspace(0.7, 1.0, 480, dtype=np.float32)[None, :, None]
    lit = (card * shade).astype(np.uint8)
    out = flatten_lighting(lit)
    # the band stays orange and the plastic blue, the shading is less
    assert out[30, 240, 2] > out[30, 240, 0] + 100
    assert out[250, 240, 0] > out[250, 240, 2] + 50
    before = abs(float(lit[250, 20, 0]) - float(lit[250, 460, 0]))
    after = abs(float(out[250, 20, 0]) - float(out[250, 460, 0]))
    assert after < before
