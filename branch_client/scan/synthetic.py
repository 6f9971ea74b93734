"""A simulated document camera: photographs of papers on desks, with the true page corners.

:func:`generate` renders one scene from a seed: an A4 certificate (``a4``), an ID-card-sized
card (``card``) or a till receipt (``receipt``), drawn with Pillow in Noto CJK, laid on a
procedural desk (light or dark solid, wood, fabric, a check or a cutting mat), turned, tilted in
perspective, lit unevenly, sometimes half in a hand's soft shadow and sometimes with a thumb
over one edge (hiding at most one corner), then blurred, given sensor noise and JPEG artefacts.
The demo's document camera and the scan tests and benchmark use it. A 12 MP scene takes about
0.7 s on one core of the development machine, one at 2000x1500 about 0.15 s.

Determinism and resolution: every choice about the scene (kind, text, colours, where the page
lies, the light, the thumb) comes from the seed alone, in units of the frame, so
``generate(s, 4000, 3000)`` and ``generate(s, 2000, 1500)`` show the same scene, and their
corners ``c`` correspond as ``(c + 0.5) / 2 - 0.5`` (pixel centres at integers). Only the sensor
noise, drawn per pixel, differs. The accuracy benchmark uses that to run many scenes at a
quarter of the pixels.

Corners are in pixel coordinates with pixel centres at integers (OpenCV's convention), ordered
as the document reads: its top-left, top-right, bottom-right, bottom-left, wherever those land
in the frame (a page lying upside down has its top-left corner at the bottom right).

What varies, and how far: the page is turned up to 30 degrees either way, and one scene in
seven a further quarter, half or three-quarter turn; the camera's tilt moves each corner up to
about 14 % of the half-diagonal; the light falls off by up to 45 % across the frame, plus
vignetting; three scenes in ten have a thumb, four in ten a soft shadow taking 25-50 % of the
light. A light desk is 5-40 % darker than white paper, but tinted certificate paper and pale
cards can come within a few per cent of it, and a dark card can lie on a dark cloth: some
scenes are hard on purpose. Cards have rounded corners (3 mm); their true corners are those of
the rectangle their straight edges make.
"""

from __future__ import annotations

import functools
import math
from pathlib import Path
from typing import Literal

import cv2
import numpy as np
from PIL import Image, ImageDraw, ImageFont

Kind = Literal["a4", "card", "receipt"]
KINDS: tuple[Kind, ...] = ("a4", "card", "receipt")

# Physical sizes in millimetres (width, height) as the document reads.
A4_MM = (210.0, 297.0)
CARD_MM = (85.6, 54.0)
RECEIPT_WIDTH_MM = 80.0
MM_PER_PT = 25.4 / 72

# Where Noto CJK lives on Debian/Ubuntu, Fedora and Arch. Without it the text renders in Pillow's
# built-in font (CJK glyphs become boxes): the scenes still look like documents to a detector.
_FONT_DIRS = (
    "/usr/share/fonts/opentype/noto",
    "/usr/share/fonts/google-noto-cjk",
    "/usr/share/fonts/noto-cjk",
)
_SANS = "NotoSansCJK-Regular.ttc"
_SERIF = "NotoSerifCJK-Regular.ttc"
_SANS_JP, _MONO_JP = 0, 5  # face indices in the collection

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

# -- text -------------------------------------------------------------------------------------

TITLES = (
    "転出証明書",
    "住民票の写し",
    "印鑑登録証明書",
    "戸籍全部事項証明書",
    "納税証明書",
    "所得課税証明書",
    "住民異動届",
)
SURNAMES = ("佐藤", "鈴木", "高橋", "田中", "伊藤", "渡辺", "山本", "中村", "小林", "加藤")
GIVEN_NAMES = ("太郎", "花子", "一郎", "美咲", "健太", "陽菜", "翔", "さくら", "大輔", "結衣")
PLACES = (
    "東京都新宿区西新宿二丁目8番1号",
    "大阪府大阪市北区中之島一丁目3番20号",
    "北海道札幌市中央区北一条西二丁目",
    "神奈川県横浜市中区港町一丁目1番地",
    "福岡県福岡市中央区天神一丁目8番1号",
    "愛知県名古屋市中区三の丸三丁目1番1号",
)
LABELS = (
    "氏名",
    "生年月日",
    "性別",
    "住所",
    "本籍",
    "筆頭者",
    "世帯主",
    "続柄",
    "住民となった日",
    "転出先",
    "転出予定日",
    "個人番号",
)
SMALL_PRINT = (
    "この写しは、住民基本台帳の原本と相違ないことを証明する。",
    "本証明書は、偽造防止のため特殊な用紙を使用しています。",
    "複写すると「複写」の文字が浮き出ます。",
    "転入届は、新しい住所に住み始めた日から14日以内に届け出てください。",
    "この証明書の有効期限は、発行の日から3か月です。",
    "記載事項に誤りがある場合は、市民課窓口までお申し出ください。",
    "個人番号の記載は、法令で定められた事務に限り使用できます。",
)
SHOPS = ("ファミリーマート", "セブン-イレブン", "市役所売店", "ローソン", "薬局まちなか")
ITEMS = (
    "おにぎり 鮭",
    "緑茶 500ml",
    "収入印紙",
    "ボールペン",
    "封筒 長形3号",
    "切手 84円",
    "コピー代",
    "のど飴",
    "クリアファイル",
)
ERAS = ("令和6年", "令和7年", "令和8年")


@functools.lru_cache(maxsize=8)
def _font_file(name: str) -> str | None:
    for folder in _FONT_DIRS:
        path = Path(folder) / name
        if path.is_file():
            return str(path)
    return None


@functools.lru_cache(maxsize=64)
def _font(size_px: int, *, serif: bool = False, mono: bool = False) -> Font:
    size_px = max(4, size_px)
    path = _font_file(_SERIF if serif else _SANS)
    if path is None:
        return ImageFont.load_default(size=size_px)
    return ImageFont.truetype(path, size_px, index=_MONO_JP if mono and not serif else _SANS_JP)


def _name(rng: np.random.Generator) -> str:
    return f"{rng.choice(SURNAMES)} {rng.choice(GIVEN_NAMES)}"


def _date(rng: np.random.Generator) -> str:
    return f"{rng.choice(ERAS)}{rng.integers(1, 13)}月{rng.integers(1, 29)}日"


def _wrap(draw: ImageDraw.ImageDraw, text: str, font: Font, width: float) -> list[str]:
    """Break ``text`` into lines no wider than ``width`` (Japanese breaks between any chars)."""
    lines, line = [], ""
    for char in text:
        if line and draw.textlength(line + char, font=font) > width:
            lines.append(line)
            line = ""
        line += char
    if line:
        lines.append(line)
    return lines


# -- documents --------------------------------------------------------------------------------


def _render_a4(rng: np.random.Generator, px_per_mm: float, content: bool) -> Image.Image:
    """A municipal certificate: title, a bordered table, small print, date, issuer and seal."""
    w, h = round(A4_MM[0] * px_per_mm), round(A4_MM[1] * px_per_mm)
    tinted = rng.random() < 0.3  # security paper, pale blue/green/pink with a faint pattern
    base = np.array([250, 250, 248], dtype=np.float64) - rng.uniform(0, 10)
    if tinted:
        base = base - rng.uniform(0, 22, 3)
    page = Image.new("RGB", (w, h), tuple(int(c) for c in base))
    draw = ImageDraw.Draw(page)
    mm = px_per_mm
    if tinted:
        step = max(3, round(4 * mm))
        tone = tuple(int(c - 10) for c in base)
        for x in range(-h, w, step):
            draw.line([(x, 0), (x + h, h)], fill=tone, width=max(1, round(0.15 * mm)))
    if not content:
        return page

    ink = (25, 25, 30)
    margin = rng.uniform(15, 25) * mm
    y = margin
    small = _font(round(8 * MM_PER_PT * mm))
    draw.text((margin, y), f"様式第{rng.integers(1, 20)}号", font=small, fill=ink)
    y += rng.uniform(10, 16) * mm
    title = str(rng.choice(TITLES))
    title_font = _font(round(rng.uniform(16, 22) * MM_PER_PT * mm), serif=rng.random() < 0.5)
    tw = draw.textlength(title, font=title_font)
    draw.text(((w - tw) / 2, y), title, font=title_font, fill=ink)
    y += rng.uniform(18, 26) * mm

    # The table: label column and value column, thin rules.
    rows = int(rng.integers(5, 10))
    row_h = rng.uniform(9, 13) * mm
    label_w = rng.uniform(32, 45) * mm
    left, right = margin, w - margin
    body = _font(round(rng.uniform(9.5, 11) * MM_PER_PT * mm))
    rule = max(1, round(0.3 * mm))
    labels = rng.permutation(len(LABELS))[:rows]
    for i in range(rows + 1):
        draw.line([(left, y + i * row_h), (right, y + i * row_h)], fill=ink, width=rule)
    for column in (left, left + label_w, right):
        draw.line([(column, y), (column, y + rows * row_h)], fill=ink, width=rule)
    for i, k in enumerate(labels):
        label = LABELS[int(k)]
        value = {
            "氏名": _name(rng),
            "筆頭者": _name(rng),
            "世帯主": _name(rng),
            "住所": str(rng.choice(PLACES)),
            "本籍": str(rng.choice(PLACES)),
            "転出先": str(rng.choice(PLACES)),
            "個人番号": "＊＊＊＊ ＊＊＊＊ ＊＊＊＊",
            "性別": str(rng.choice(("男", "女"))),
            "続柄": str(rng.choice(("本人", "妻", "夫", "子"))),
        }.get(label, _date(rng))
        ty = (
            y + i * row_h + (row_h - body.size) / 2
            if isinstance(body, ImageFont.FreeTypeFont)
            else y
        )
        draw.text((left + 2 * mm, ty), label, font=body, fill=ink)
        draw.text((left + label_w + 3 * mm, ty), value, font=body, fill=ink)
    y += rows * row_h + rng.uniform(8, 14) * mm

    # Small print, about 8 pt, left-aligned and ragged on the right.
    line_h = 8 * MM_PER_PT * mm * 1.6
    for _ in range(int(rng.integers(3, 7))):
        paragraph = "".join(rng.choice(SMALL_PRINT, size=int(rng.integers(1, 4))))
        for line in _wrap(draw, paragraph, small, right - left - 4 * mm):
            if y > h - margin - 40 * mm:
                break
            draw.text((left, y), line, font=small, fill=ink)
            y += line_h
        y += line_h * 0.5

    # Date, issuer, seal.
    y = max(y + 6 * mm, h - margin - 38 * mm)
    draw.text((left, y), _date(rng), font=body, fill=ink)
    issuer = f"{rng.choice(('新宿区長', '札幌市長', '横浜市長', '福岡市長'))}  {_name(rng)}"
    iw = draw.textlength(issuer, font=body)
    ix, iy = right - iw - 18 * mm, y + 14 * mm
    draw.text((ix, iy), issuer, font=body, fill=ink)
    red = (200 + int(rng.integers(0, 40)), 30, 40)
    r = rng.uniform(8, 11) * mm
    cx, cy = right - 9 * mm, iy + 2 * mm
    seal_w = max(1, round(0.8 * mm))
    if rng.random() < 0.5:
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], outline=red, width=seal_w)
    else:
        draw.rectangle([cx - r, cy - r, cx + r, cy + r], outline=red, width=seal_w)
    seal_font = _font(round(r * 0.9), serif=True)
    draw.text((cx - r * 0.45, cy - r * 0.55), "印", font=seal_font, fill=red)
    return page


def _render_card(rng: np.random.Generator, px_per_mm: float, content: bool) -> Image.Image:
    """An ID card: tinted plastic, a band, text lines on the left and a photo on the right."""
    mm = px_per_mm
    w, h = round(CARD_MM[0] * mm), round(CARD_MM[1] * mm)
    dark = rng.random() < 0.25
    hue_rgb = rng.uniform(0, 1, 3)
    if dark:
        base = tuple(int(c) for c in 25 + 70 * hue_rgb)
        ink: tuple[int, int, int] = (235, 235, 235)
    else:
        base = tuple(int(c) for c in 205 + 45 * hue_rgb)
        ink = (30, 30, 40)
    card = Image.new("RGB", (w, h), base)
    if not content:
        return card
    draw = ImageDraw.Draw(card)
    band = tuple(int(c) for c in rng.uniform(40, 200, 3))
    draw.rectangle([0, 0, w, round(rng.uniform(7, 11) * mm)], fill=band)
    head = _font(round(2.8 * mm))
    draw.text(
        (3 * mm, 1.5 * mm),
        str(rng.choice(("個人番号カード", "在留カード", "運転免許証"))),
        font=head,
        fill=(250, 250, 250),
    )
    text = _font(round(2.2 * mm))
    y = 13 * mm
    for label, value in (
        ("氏名", _name(rng)),
        ("住所", str(rng.choice(PLACES))[:14]),
        ("生年月日", _date(rng)),
        ("有効期限", _date(rng)),
    ):
        draw.text((3 * mm, y), f"{label}  {value}", font=text, fill=ink)
        y += 5.5 * mm
    # Photo placeholder: a grey-blue box with a head-and-shoulders silhouette.
    px0, py0, pw, ph = w - 28 * mm, 14 * mm, 23 * mm, 29 * mm
    draw.rectangle([px0, py0, px0 + pw, py0 + ph], fill=(170, 185, 200))
    sil = (95, 105, 120)
    draw.ellipse([px0 + pw * 0.3, py0 + ph * 0.15, px0 + pw * 0.7, py0 + ph * 0.55], fill=sil)
    draw.ellipse([px0 + pw * 0.08, py0 + ph * 0.6, px0 + pw * 0.92, py0 + ph * 1.3], fill=sil)
    draw.rectangle([px0, py0 + ph, px0 + pw, py0 + ph + 3 * mm], fill=base)
    if rng.random() < 0.5:  # an IC chip
        draw.rounded_rectangle(
            [5 * mm, h - 15 * mm, 15 * mm, h - 7 * mm], radius=1.5 * mm, fill=(200, 170, 90)
        )
    return card


def _render_receipt(
    rng: np.random.Generator, px_per_mm: float, length_mm: float, content: bool
) -> Image.Image:
    """Thermal paper: shop name, date, items with prices on the right, total and a barcode."""
    mm = px_per_mm
    w, h = round(RECEIPT_WIDTH_MM * mm), round(length_mm * mm)
    shade = int(rng.integers(232, 252))
    paper = Image.new("RGB", (w, h), (shade, shade, max(0, shade - int(rng.integers(0, 8)))))
    if not content:
        return paper
    draw = ImageDraw.Draw(paper)
    ink = (40, 40, 48)
    big, mono = _font(round(4.5 * mm)), _font(round(2.8 * mm), mono=True)
    shop = str(rng.choice(SHOPS))
    sw = draw.textlength(shop, font=big)
    y = 8 * mm
    draw.text(((w - sw) / 2, y), shop, font=big, fill=ink)
    y += 9 * mm
    draw.text(
        (5 * mm, y),
        f"{_date(rng)} {rng.integers(8, 20)}:{rng.integers(10, 60)}",
        font=mono,
        fill=ink,
    )
    y += 7 * mm
    total = 0
    for _ in range(int(rng.integers(3, 12))):
        if y > h - 35 * mm:
            break
        price = int(rng.integers(1, 60)) * 10
        total += price
        draw.text((5 * mm, y), str(rng.choice(ITEMS)), font=mono, fill=ink)
        label = f"¥{price:,}"
        draw.text((w - 5 * mm - draw.textlength(label, font=mono), y), label, font=mono, fill=ink)
        y += 4.5 * mm
    draw.text((5 * mm, y), "-" * 40, font=mono, fill=ink)
    y += 4.5 * mm
    label = f"合計 ¥{total:,}"
    draw.text((w - 5 * mm - draw.textlength(label, font=big), y), label, font=big, fill=ink)
    y += 9 * mm
    if y < h - 14 * mm:  # a barcode
        x = 10 * mm
        bar_y = min(y + 2 * mm, h - 14 * mm)
        while x < w - 10 * mm:
            bw = rng.uniform(0.25, 0.9) * mm
            draw.rectangle([x, bar_y, x + bw, bar_y + 9 * mm], fill=ink)
            x += bw + rng.uniform(0.25, 0.9) * mm
    return paper


# -- the desk ---------------------------------------------------------------------------------


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], cells: tuple[int, int]
) -> np.ndarray:
    """A smooth random field in about [-1, 1]: a coarse grid of normals, upsampled bicubically."""
    grid = rng.standard_normal((cells[1] + 3, cells[0] + 3)).astype(np.float32)
    big = cv2.resize(
        grid,
        (shape[1] + 3 * shape[1] // cells[0], shape[0] + 3 * shape[0] // cells[1]),
        interpolation=cv2.INTER_CUBIC,
    )
    oy, ox = shape[0] // cells[1], shape[1] // cells[0]
    return big[oy : oy + shape[0], ox : ox + shape[1]] / 1.5


BACKGROUNDS = ("light", "dark", "wood", "fabric", "check", "mat")


def _background(rng: np.random.Generator, style: str, small: tuple[int, int]) -> np.ndarray:
    """The desk at a small size (``small`` = (height, width)), float32 BGR in 0..255."""
    sh, sw = small
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    mottle = _smooth_noise(rng, small, (6, 5))
    if style == "light":
        # light laminate: 5-40 % darker than paper, which is what makes the edge hard
        colour: np.ndarray = rng.uniform(150, 205) + rng.uniform(-10, 10, 3)
        field = colour[None, None, :] * (1 + 0.03 * mottle[..., None])
    elif style == "dark":
        colour = rng.uniform(20, 95) + rng.uniform(-15, 15, 3)
        field = colour[None, None, :] * (1 + 0.06 * mottle[..., None])
    elif style == "wood":
        colour = np.array([40, 80, 130], dtype=np.float64) * rng.uniform(0.6, 1.6)
        angle = math.radians(rng.choice((0, 90)) + rng.uniform(-8, 8))
        v = -xx * math.sin(angle) + yy * math.cos(angle)
        u = xx * math.cos(angle) + yy * math.sin(angle)
        period = sh / rng.uniform(25, 60)
        warp = _smooth_noise(rng, small, (3, 12)) * period * 1.5
        grain = np.sin(2 * np.pi * (v + warp) / period)
        streak = np.sin(2 * np.pi * (v + 0.3 * warp) / (period / 7.3) + u / sw)
        plank = sh / rng.uniform(3, 6)
        seam = (np.abs(((v + plank / 2) % plank) - plank / 2) < 0.8).astype(np.float32)
        shade = 1 + 0.12 * grain + 0.05 * streak - 0.35 * seam + 0.06 * mottle
        field = np.clip(colour, 0, 235)[None, None, :] * shade[..., None]
    elif style == "fabric":
        colour = rng.uniform(30, 200, 3)
        field = colour[None, None, :] * (1 + 0.08 * mottle[..., None])
    elif style == "check":
        a, b = rng.uniform(60, 230, 3), rng.uniform(60, 230, 3)
        period = sw / rng.uniform(6, 18)
        band = period * rng.uniform(0.3, 0.6)
        angle = math.radians(rng.uniform(-10, 10))
        u = xx * math.cos(angle) + yy * math.sin(angle)
        v = -xx * math.sin(angle) + yy * math.cos(angle)
        stripes = ((u % period) < band).astype(np.float32) + ((v % period) < band)
        mix = (stripes / 2)[..., None]
        field = a[None, None, :] * (1 - mix) + b[None, None, :] * mix
    else:  # a green cutting mat with a 1 cm grid
        colour = np.array([70, 120, 40], dtype=np.float64) * rng.uniform(0.7, 1.2)
        field = np.broadcast_to(colour, (sh, sw, 3)).copy()
        cm = sw / rng.uniform(35, 50)
        for k, width in ((1, 0.25), (5, 0.5)):
            on = ((xx % (cm * k)) < width) | ((yy % (cm * k)) < width)
            field[on] = (190, 200, 170)
    return np.clip(field, 0, 255).astype(np.float32)


def _weave(rng: np.random.Generator, scale: float) -> np.ndarray:
    """A small tile of woven texture (signed, int16) repeated over the frame for ``fabric``."""
    period = max(2.0, rng.uniform(5, 10) * scale)
    n = max(4, round(period * 8))
    y, x = np.mgrid[0:n, 0:n].astype(np.float32)
    t = 2 * np.pi / (n / 8)
    weave = np.sin(t * x) * np.sign(np.sin(t * y / 2 + 0.3)) + np.sin(t * y) * 0.6
    return np.asarray(weave * rng.uniform(8, 18), dtype=np.int16)


# -- geometry -----------------------------------------------------------------------------------


def _layout(
    rng: np.random.Generator, kind: Kind, doc_mm: tuple[float, float], frame: tuple[float, float]
) -> np.ndarray:
    """Where the document's corners land, in frame units where the frame is ``frame`` (w, h)."""
    fw, fh = frame
    w, h = doc_mm
    rect = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    rect /= math.hypot(w, h) / 2
    # Camera tilt: a projective term around the page centre.
    p, q = rng.uniform(-0.14, 0.14, 2)
    rect = rect / (1 + p * rect[:, :1] + q * rect[:, 1:])
    angle = rng.uniform(-30, 30)
    if rng.random() < 0.15:
        angle += float(rng.choice((90, 180, 270)))
    a = math.radians(angle)
    rot = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
    quad = rect @ rot.T
    span = quad.max(axis=0) - quad.min(axis=0)
    fit = min(0.96 * fw / span[0], 0.96 * fh / span[1])  # the largest that fits
    if kind == "a4":
        size = fit * rng.uniform(0.6, 1.0)
    elif kind == "card":
        size = min(fit, fw * rng.uniform(0.28, 0.5) / max(span))
    else:
        size = fit * rng.uniform(0.55, 1.0)
    quad = quad * size
    lo, hi = quad.min(axis=0), quad.max(axis=0)
    slack_x = fw - (hi[0] - lo[0])
    slack_y = fh - (hi[1] - lo[1])
    margin = 0.015 * fw
    ox = rng.uniform(margin, max(margin, slack_x - margin)) - lo[0]
    oy = rng.uniform(margin, max(margin, slack_y - margin)) - lo[1]
    return np.asarray(quad + np.array([ox, oy]), dtype=np.float64)


def _paste(frame: np.ndarray, doc: np.ndarray, mask: np.ndarray, corners: np.ndarray) -> None:
    """Warp ``doc`` (where ``mask`` > 127) onto ``frame`` so its corners land on ``corners``."""
    dh, dw = doc.shape[:2]
    src = np.array(
        [[-0.5, -0.5], [dw - 0.5, -0.5], [dw - 0.5, dh - 0.5], [-0.5, dh - 0.5]], dtype=np.float32
    )
    x0, y0 = np.floor(corners.min(axis=0)).astype(int)
    x1, y1 = np.ceil(corners.max(axis=0)).astype(int) + 1
    fh, fw = frame.shape[:2]
    x0, y0, x1, y1 = max(0, x0), max(0, y0), min(fw, x1), min(fh, y1)
    if x1 <= x0 or y1 <= y0:
        return
    dst = (corners - np.array([x0, y0])).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, dst)
    size = (x1 - x0, y1 - y0)
    warped = cv2.warpPerspective(
        doc, matrix, size, flags=cv2.INTER_AREA if dw > size[0] else cv2.INTER_LINEAR
    )
    m = cv2.warpPerspective(mask, matrix, size, flags=cv2.INTER_LINEAR)
    roi = frame[y0:y1, x0:x1]
    np.copyto(roi, warped, where=(m > 127)[..., None])


def _thumb(
    rng: np.random.Generator, frame: np.ndarray, corners: np.ndarray, px_per_mm: float
) -> None:
    """A thumb over one side of the page, coming from outside; near a corner one time in five."""
    side = int(rng.integers(0, 4))
    a, b = corners[side], corners[(side + 1) % 4]
    t = rng.uniform(0.04, 0.12) if rng.random() < 0.2 else rng.uniform(0.2, 0.8)
    along = (b - a) / np.linalg.norm(b - a)
    centre_page = corners.mean(axis=0)
    normal = np.array([along[1], -along[0]])
    if np.dot(centre_page - a, normal) > 0:  # point outward
        normal = -normal
    width = rng.uniform(17, 22) * px_per_mm
    length = width * rng.uniform(3.0, 4.5)
    depth = rng.uniform(8, 28) * px_per_mm  # how far the tip reaches over the page
    tilt = math.radians(rng.uniform(-25, 25))
    direction = -normal * math.cos(tilt) + along * math.sin(tilt)  # towards the page
    tip = a + (b - a) * t + direction * depth
    centre = tip - direction * length / 2
    half = max(length, width) / 2 + 4
    fh, fw = frame.shape[:2]
    x0, y0 = max(0, int(centre[0] - half)), max(0, int(centre[1] - half))
    x1, y1 = min(fw, int(centre[0] + half) + 1), min(fh, int(centre[1] + half) + 1)
    if x1 <= x0 or y1 <= y0:
        return
    yy, xx = np.mgrid[y0:y1, x0:x1].astype(np.float32)
    dx, dy = xx - centre[0], yy - centre[1]
    u = (dx * direction[0] + dy * direction[1]) / (length / 2)
    v = (-dx * direction[1] + dy * direction[0]) / (width / 2)
    r2 = u * u + v * v
    alpha = np.clip((1 - r2) * 6, 0, 1)[..., None]
    skin = np.array([rng.uniform(110, 160), rng.uniform(140, 185), rng.uniform(190, 235)])
    shade = (0.72 + 0.28 * np.clip(1 - v * v, 0, 1))[..., None]
    roi = frame[y0:y1, x0:x1].astype(np.float32)
    nail = ((u - 0.62) ** 2 / 0.06 + v * v / 0.35) < 1
    colour = skin[None, None, :] * shade
    colour[nail] = colour[nail] * 0.8 + 50
    frame[y0:y1, x0:x1] = np.clip(roi * (1 - alpha) + colour * alpha, 0, 255).astype(np.uint8)


def _gain(
    rng: np.random.Generator, small: tuple[int, int], corners: np.ndarray, scale: float
) -> np.ndarray:
    """Light over the scene at a small size: a gradient, a vignette, a tint and maybe a hand's
    or a phone's soft shadow near the page. Multiplies the frame; 1.0 is unchanged."""
    sh, sw = small
    yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
    xn, yn = xx / sw - 0.5, yy / sh - 0.5
    direction = rng.uniform(0, 2 * math.pi)
    strength = rng.uniform(0.0, 0.45)
    grad = 1 - strength * (0.5 + xn * math.cos(direction) + yn * math.sin(direction))
    vignette = 1 - rng.uniform(0, 0.25) * (xn * xn + yn * yn) * 2
    gain = (grad * vignette * rng.uniform(0.85, 1.12)).astype(np.float32)
    if rng.random() < 0.4:
        shadow = np.zeros(small, dtype=np.float32)
        side = int(rng.integers(0, 4))
        a, b = corners[side] * scale, corners[(side + 1) % 4] * scale
        centre = a + (b - a) * rng.uniform(0.2, 0.8)
        axes = (int(rng.uniform(0.08, 0.2) * sw), int(rng.uniform(0.05, 0.12) * sw))
        cv2.ellipse(
            shadow, (int(centre[0]), int(centre[1])), axes, rng.uniform(0, 180), 0, 360, 1.0, -1
        )
        blur = max(1.0, rng.uniform(0.02, 0.05) * sw)
        soft = cv2.GaussianBlur(shadow, (0, 0), blur)
        gain *= 1 - rng.uniform(0.25, 0.5) * soft
    tint = 1 + rng.uniform(-0.06, 0.06, 3)
    return np.asarray(gain[..., None] * tint[None, None, :], dtype=np.float32)


# -- the scene ----------------------------------------------------------------------------------


def generate(
    seed: int, width: int = 4000, height: int = 3000, *, content: bool = True
) -> tuple[np.ndarray, np.ndarray, Kind]:
    """One photographed document: ``(image, corners, kind)``.

    ``image`` is BGR uint8 of ``height`` x ``width``; ``corners`` a float64 (4, 2) array of the
    document's top-left, top-right, bottom-right and bottom-left corners in pixels (see the
    module docstring); ``kind`` one of :data:`KINDS`. ``content=False`` leaves the paper blank.
    """
    scene, paper, desk, noise = (
        np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4)
    )
    kind: Kind = KINDS[int(scene.choice(3, p=(0.5, 0.25, 0.25)))]
    style = str(scene.choice(BACKGROUNDS))
    if kind == "a4":
        doc_mm = A4_MM
    elif kind == "card":
        doc_mm = CARD_MM
    else:
        doc_mm = (RECEIPT_WIDTH_MM, float(scene.uniform(130, 280)))
    unit = np.array([width / 4000, height / 3000])
    corners = _layout(scene, kind, doc_mm, (4000.0, 3000.0)) * unit + 0.5 * (unit - 1)
    sides = np.linalg.norm(corners - np.roll(corners, -1, axis=0), axis=1)
    px_per_mm = float(max(sides[0], sides[2]) / doc_mm[0])

    # The desk: drawn small (the frame over 8), enlarged, then fine texture at full size.
    small = (max(8, height // 8), max(8, width // 8))
    field = np.clip(_background(desk, style, small), 0, 255).astype(np.uint8)
    frame = cv2.resize(field, (width, height), interpolation=cv2.INTER_LINEAR)
    if style == "fabric":
        tile = _weave(desk, width / 4000)
        reps = (height // tile.shape[0] + 1, width // tile.shape[1] + 1)
        weave = np.tile(tile, reps)[:height, :width]
        frame = cv2.add(frame, cv2.merge([weave, weave, weave]), dtype=cv2.CV_8U)

    # The document, rendered at about the size it appears, pasted in perspective.
    if kind == "a4":
        doc = _render_a4(paper, px_per_mm, content)
    elif kind == "card":
        doc = _render_card(paper, px_per_mm, content)
    else:
        doc = _render_receipt(paper, px_per_mm, doc_mm[1], content)
    doc_bgr = np.ascontiguousarray(np.asarray(doc)[:, :, ::-1])
    mask_img = Image.new("L", doc.size, 0)
    radius = 3.0 * px_per_mm if kind == "card" else 0
    ImageDraw.Draw(mask_img).rounded_rectangle(
        [0, 0, doc.size[0] - 1, doc.size[1] - 1], radius=radius, fill=255
    )
    _paste(frame, doc_bgr, np.asarray(mask_img), corners)

    if scene.random() < 0.3:
        _thumb(scene, frame, corners, px_per_mm)
    gain = _gain(scene, small, corners, small[1] / width)
    # applied in 8 bits (gain x 128) to keep a 12 MP frame's memory small
    gain8 = np.clip(gain * 128, 0, 255).astype(np.uint8)
    gain_full = cv2.resize(gain8, (width, height), interpolation=cv2.INTER_LINEAR)
    frame = cv2.multiply(frame, gain_full, scale=1 / 128, dtype=cv2.CV_8U)
    del gain_full

    sigma = scene.uniform(0.5, 2.6) * width / 4000
    frame = cv2.GaussianBlur(frame, (0, 0), max(0.3, sigma))
    # Sensor noise in 2x2 blocks (as after demosaicing), from its own stream: it is the one
    # thing that depends on the resolution.
    level = float(scene.uniform(2, 8))
    grain = noise.standard_normal((height // 2 + 1, width // 2 + 1, 3), dtype=np.float32)
    grain = (grain * level).astype(np.int16)
    grain_full = cv2.resize(grain, (width, height), interpolation=cv2.INTER_NEAREST)
    frame = cv2.add(frame, grain_full, dtype=cv2.CV_8U)
    quality = int(scene.integers(45, 93))
    ok, buf = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if ok:
        frame = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return frame, corners, kind


def background_only(seed: int, width: int = 4000, height: int = 3000) -> np.ndarray:
    """A desk with nothing on it, lit and blurred like :func:`generate`'s (BGR uint8)."""
    desk, light = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(2))
    style = str(desk.choice(BACKGROUNDS))
    small = (max(8, height // 8), max(8, width // 8))
    field = _background(desk, style, small) * _gain(light, small, np.zeros((4, 2)), 1.0)
    frame = cv2.resize(np.clip(field, 0, 255).astype(np.uint8), (width, height))
    return np.asarray(cv2.GaussianBlur(frame, (0, 0), 1.0))
