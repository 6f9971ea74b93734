"""Finding the page in a photograph: four corners in source pixels, and how sure we are.

Theory of operation
-------------------
Everything happens on a working copy whose long side is :data:`WORK_SIZE` pixels (a 12 MP
still shrinks five times), in CIE Lab, lightly blurred. Several cheap *proposers* suggest
quadrilaterals and one *judge* scores every one of them the same way.

1. Proposers, on a copy half that size:

   * ``bright``: Otsu's threshold on lightness, either way round (white paper on a desk);
   * ``unlike_border``: colour distance to k-means clusters of the frame's border, which is desk
     in every framing we accept (a coloured card on a coloured cloth);
   * ``flat``: regions no Canny edge crosses, in lightness or either colour axis (a page's
     margins join up around its text, so the region's outline is the page's edge however busy
     the desk);
   * ``lines``: straight steps found by LSD in each Lab channel, each rated by the judge's
     test, combined four at a time into sides that face inward and cover their side without
     running past its corners (a desk's lines go on, a page's edges stop), or three at a time
     with the fourth side closing their far ends (a thumb over a corner).

   A region becomes quadrilaterals twice over: its convex hull cut down to four sides (drop
   the shortest side, extend its neighbours: this puts back a corner a thumb cut off), and every
   four of the strongest Hough lines of its outline (a thumb joined to the page adds curves, the
   page's sides stay straight).
2. Refinement: each side moves to the strongest colour step along its normal (the nearer of two
   alike), point by point, and is re-fitted as a straight line with outliers dropped (a thumb
   over the edge, text near it); the corners are where the lines meet. Each proposal is refined
   and judged cheaply at half size; the best :data:`SHORTLIST` are refined and judged again at
   working size.
3. The judge (:func:`_support`) samples each side just inside and just outside, at 40 points.
   A point counts when the border there is a *step*: the inside differs from the outside by
   :data:`MIN_STEP`, the inside also differs from what lies further out along a stretch of the
   border (a table rule or a mat's grid line has the inside's colour beyond it, a check pattern
   has it nearby), and the inside keeps its colour along the border (light may drift, a
   pattern's stripes do not). The score is the mean share per side, less a penalty when even the
   best-kept side is mostly missing: one side may be largely hidden.
4. Expansion (:func:`_expand`): the best few candidates try pushing each side out to a further
   straight step; the larger quadrilateral is kept if it scores nearly as well and the
   neighbouring sides run on as edges over the added strip. That is how a card whose coloured
   band reaches its edge is found whole, while a shadow or a desk stripe next to a page is not
   taken in. Among what remains, candidates within :data:`OUTERMOST_MARGIN` of the best score
   compete on area.

The confidence is the winning score (0..1). Below :data:`MIN_SCORE`, or with nothing larger
than :data:`MIN_AREA` of the frame, there is no document (``no_document``). Corners are
accurate to about a working pixel (five source pixels at 12 MP; a twentieth of a degree on an
A4 page's side).

Corner order
------------
Corners come back as the document reads: top-left, top-right, bottom-right, bottom-left. First by
geometry (:func:`order_corners`): clockwise, starting so that the top side runs most nearly left
to right; that is right for every page turned less than 45 degrees. Then by content
(:func:`reading_turns`), on a small straightened copy, for pages lying sideways or upside down.
The characters of horizontal text have their nearest neighbours beside them, not above or
below, so a page whose glyphs line up vertically lies on its side. Which way up is decided by
two cues of Japanese horizontal documents: lines are set flush left (their left ends align more
than their right ends), and the document opens with its heading (the largest characters sit in
the upper part). The order is turned only when the evidence is clear (:data:`UPRIGHT_MARGIN`);
otherwise the geometric order stands. Consequences: a page in vertical writing (tategaki) is
taken for a page on its side, and turned; a card or photo without enough text keeps the
geometric order, so one lying upside down comes back upside down.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from branch_client.scan.enhance import ink_mask
from branch_client.scan.errors import ScanError
from branch_client.scan.warp import preview

WORK_SIZE = 800
"""Long side, in pixels, of the copy the detector works on."""
MIN_WORKING_SIDE = 64
"""A picture whose working copy is narrower than this holds no page we could find."""
MIN_AREA = 0.03
"""Smallest plausible document, as a share of the frame (a card at a quarter of the frame's
width is about 5 %)."""
MIN_SCORE = 0.5
"""Below this judge's score no candidate is a document."""
OUTERMOST_MARGIN = 0.03
"""Candidates this close to the best score compete on area instead (the largest wins)."""
STEP = 2.5
"""Half the distance, in working pixels, between the two samples that see a side's step."""
MIN_STEP = 6.0
"""Smallest colour step (Lab units of OpenCV's 8-bit scale) that counts as an edge at all."""
EDGE_LINES = 12
"""How many of the picture's straight steps are combined, four at a time, into documents."""
EXPANSIONS = 3
"""How many further steps beyond a side are tried, nearest first, when expanding."""
UPRIGHT_MARGIN = 0.3
"""How clear the text's evidence must be to turn a page from its geometric order."""
SHORTLIST = 8
"""How many candidates from the half-size stage are polished and judged at working size."""
SIDE_LINES = 6
"""How many of an outline's strongest straight lines are combined, four at a time, into sides."""


@dataclass(frozen=True, eq=False)
class Detection:
    """A page found in a photograph.

    ``corners`` is a float64 (4, 2) array of source pixel coordinates (pixel centres at
    integers): top-left, top-right, bottom-right, bottom-left as the document reads.
    ``confidence`` is in [0, 1]. ``turns`` says how many quarter turns clockwise the page lies
    from upright in the photograph, as :func:`reading_turns` judged it (0 when the geometric
    order stood). ``method`` names the proposer whose quadrilateral won. ``preview`` is a small
    straightened copy of the page, upright, cut from the working copy (for quick checks).
    """

    corners: np.ndarray
    confidence: float
    turns: int = 0
    method: str = ""
    preview: np.ndarray = field(default_factory=lambda: np.zeros((0, 0, 3), np.uint8), repr=False)


@dataclass
class _Candidate:
    quad: np.ndarray  # (4, 2) float64, working pixels, clockwise
    method: str
    score: float = 0.0
    area: float = 0.0


# -- geometry -----------------------------------------------------------------------------------


def order_corners(points: np.ndarray) -> np.ndarray:
    """Four points as top-left, top-right, bottom-right, bottom-left by geometry alone.

    Clockwise on screen (y down), starting at the corner from which the top side (averaged with
    the reversed bottom side) runs most nearly left to right: right for any quadrilateral turned
    less than 45 degrees from upright.
    """
    pts = np.asarray(points, dtype=np.float64).reshape(4, 2)
    centre = pts.mean(axis=0)
    angles = np.arctan2(pts[:, 1] - centre[1], pts[:, 0] - centre[0])
    pts = pts[np.argsort(angles)]  # increasing angle is clockwise on screen
    best, best_cos = 0, -2.0
    for k in range(4):
        q = np.roll(pts, -k, axis=0)
        top = (q[1] - q[0]) + (q[2] - q[3])
        cos = top[0] / (np.linalg.norm(top) + 1e-9)
        if cos > best_cos:
            best, best_cos = k, cos
    return np.roll(pts, -best, axis=0)


def _area(quad: np.ndarray) -> float:
    x, y = quad[:, 0], quad[:, 1]
    return 0.5 * abs(float(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1))))


def _is_convex(quad: np.ndarray) -> bool:
    signs = []
    for i in range(4):
        a, b, c = quad[i], quad[(i + 1) % 4], quad[(i + 2) % 4]
        u, v = b - a, c - b
        signs.append(u[0] * v[1] - u[1] * v[0] > 0)
    return all(signs) or not any(signs)


def _intersect(p1: np.ndarray, d1: np.ndarray, p2: np.ndarray, d2: np.ndarray) -> np.ndarray | None:
    """Where the line through ``p1`` along ``d1`` meets the one through ``p2`` along ``d2``."""
    det = d1[0] * d2[1] - d1[1] * d2[0]
    if abs(det) < 1e-9:
        return None
    t = ((p2[0] - p1[0]) * d2[1] - (p2[1] - p1[1]) * d2[0]) / det
    return np.asarray(p1 + t * d1, dtype=np.float64)


def _plausible(quad: np.ndarray, width: int, height: int) -> bool:
    """Convex, inside the frame (a little slack), no side tiny, no angle absurd."""
    if not np.all(np.isfinite(quad)) or not _is_convex(quad):
        return False
    slack = 0.02 * max(width, height)
    if (quad[:, 0] < -slack).any() or (quad[:, 0] > width - 1 + slack).any():
        return False
    if (quad[:, 1] < -slack).any() or (quad[:, 1] > height - 1 + slack).any():
        return False
    sides = np.linalg.norm(quad - np.roll(quad, -1, axis=0), axis=1)
    if sides.min() < 0.04 * max(width, height):
        return False
    for i in range(4):
        a = quad[i - 1] - quad[i]
        b = quad[(i + 1) % 4] - quad[i]
        cos = float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))
        if abs(cos) > 0.6:  # corners between about 53 and 127 degrees
            return False
    return True


def _quad_from_polygon(poly: np.ndarray) -> np.ndarray | None:
    """Cut a convex polygon down to four sides: drop the shortest side, extending its
    neighbours to meet, until four remain."""
    pts = [p.astype(np.float64) for p in poly.reshape(-1, 2)]
    while len(pts) > 4:
        n = len(pts)
        lengths = [np.linalg.norm(pts[(i + 1) % n] - pts[i]) for i in range(n)]
        i = int(np.argmin(lengths))
        a, b = pts[i], pts[(i + 1) % n]
        prev_p, next_p = pts[i - 1], pts[(i + 2) % n]
        meet = _intersect(prev_p, a - prev_p, next_p, b - next_p)
        if meet is None or np.linalg.norm(meet - a) > 3 * (lengths[i] + 1) + 0.3 * max(lengths):
            # the neighbours nearly parallel or diverging: just drop the shorter vertex
            del pts[(i + 1) % n]
            continue
        pts[i] = meet
        del pts[(i + 1) % n]
    if len(pts) < 4:
        return None
    return order_corners(np.array(pts))


def _line_quads(lines: list[tuple[float, float]], centre: np.ndarray) -> list[np.ndarray]:
    """Quadrilaterals from every four of ``lines`` (Hesse form: rho, theta), each taken in the
    order of its direction seen from ``centre``, neighbours intersected."""
    quads = []
    normals = [np.array([math.cos(t), math.sin(t)]) for _, t in lines]
    points = [n * r for (r, _), n in zip(lines, normals, strict=True)]
    # the side's outward direction from the centre decides its place around the outline
    facing = []
    for n, p in zip(normals, points, strict=True):
        out = n if np.dot(p - centre, n) >= 0 else -n
        facing.append(math.atan2(out[1], out[0]))
    for chosen in itertools.combinations(range(len(lines)), 4):
        order = sorted(chosen, key=lambda i: facing[i])
        corners = []
        for k in range(4):
            a, b = order[k - 1], order[k]
            da = np.array([-normals[a][1], normals[a][0]])
            db = np.array([-normals[b][1], normals[b][0]])
            meet = _intersect(points[a], da, points[b], db)
            if meet is None:
                break
            corners.append(meet)
        if len(corners) == 4:
            quads.append(np.array(corners))
    return quads


def _quads_from_contour(contour: np.ndarray) -> list[np.ndarray]:
    """Quadrilaterals an outline suggests: its convex hull cut down to four sides, and every
    four of its strongest straight lines (a Hough transform of the outline: a thumb or a
    shadow joined to the page adds curves, but most of the page's four sides stay straight)."""
    quads: list[np.ndarray] = []
    hull = cv2.convexHull(contour)
    perimeter = cv2.arcLength(hull, True)
    if perimeter <= 0:
        return quads
    approx = cv2.approxPolyDP(hull, 0.012 * perimeter, True)
    if len(approx) >= 4:
        quad = _quad_from_polygon(approx)
        if quad is not None:
            quads.append(quad)
    x, y, bw, bh = cv2.boundingRect(contour)
    canvas = np.zeros((bh + 2, bw + 2), dtype=np.uint8)
    cv2.polylines(canvas, [contour - np.array([x - 1, y - 1])], True, 255, 1)
    found = cv2.HoughLines(canvas, 1, math.pi / 180, max(10, int(0.06 * perimeter)))
    if found is None:
        return quads
    lines: list[tuple[float, float]] = []
    for rho, theta in found[:, 0, :]:
        # back to working coordinates: the canvas origin is at (x - 1, y - 1)
        r = float(rho) + (x - 1) * math.cos(theta) + (y - 1) * math.sin(theta)
        if all(
            abs(r - r2) > 6 or abs(math.sin(theta - t2)) > math.sin(math.radians(8))
            for r2, t2 in lines
        ):
            lines.append((r, float(theta)))
        if len(lines) == SIDE_LINES:
            break
    if len(lines) >= 4:
        m = cv2.moments(contour)
        if m["m00"] > 0:
            centre = np.array([m["m10"] / m["m00"], m["m01"] / m["m00"]])
            quads += _line_quads(lines, centre)
    return quads


# -- sampling -----------------------------------------------------------------------------------


def _sample(img: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Bilinear samples of ``img`` (float32, 3 channels) at ``points`` (..., 2): (..., 3)."""
    shape = points.shape[:-1]
    flat = points.reshape(1, -1, 2).astype(np.float32)
    out = cv2.remap(
        img, flat[..., 0], flat[..., 1], cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return np.asarray(out, dtype=np.float32).reshape(*shape, img.shape[2])


def _sides(quad: np.ndarray, samples: int, margin: float) -> tuple[np.ndarray, np.ndarray]:
    """Points along each side (4, samples, 2) and each side's outward unit normal (4, 2)."""
    t = np.linspace(margin, 1 - margin, samples)
    a = quad
    b = np.roll(quad, -1, axis=0)
    points = a[:, None, :] + (b - a)[:, None, :] * t[None, :, None]
    d = b - a
    normals = np.stack([d[:, 1], -d[:, 0]], axis=1)
    normals /= np.linalg.norm(normals, axis=1, keepdims=True) + 1e-12
    centre = quad.mean(axis=0)
    mid = (a + b) / 2
    flip = np.einsum("ij,ij->i", normals, mid - centre) < 0
    normals[flip] *= -1
    return points, normals


def _windows(values: np.ndarray, half: int) -> np.ndarray:
    """Sliding windows along axis 1 of (k, n, c) values, edges repeated: (k, n, 2 half + 1, c)."""
    n = values.shape[1]
    pad = np.concatenate(
        [values[:, :1].repeat(half, 1), values, values[:, -1:].repeat(half, 1)], axis=1
    )
    return np.stack([pad[:, i : i + n] for i in range(2 * half + 1)], axis=2)


def _support(lab: np.ndarray, points: np.ndarray, normals: np.ndarray) -> np.ndarray:
    """Per point (points: (k, n, 2), normals: (k, 2) outward), whether the border there is a
    document's edge:

    * the colour just inside differs by :data:`MIN_STEP` from the colour just outside;
    * and from the colour further out, there and at the neighbouring points along the border:
      the outside is unlike the inside all around (a thin line such as a table rule or a
      cutting mat's grid has the inside's colour beyond it, a check pattern has it nearby);
    * the colour just inside matches the inside nearby along the border (lighting may drift
      along it, a pattern's stripes do not).

    Points whose outer sample leaves the frame fail."""
    h, w = lab.shape[:2]
    samples = points.shape[1]
    half = max(1, samples // 14)
    n = normals[:, None, :]
    inside = _sample(lab, points - n * STEP)
    outside = _sample(lab, points + n * STEP)
    far = points + n * (3 * STEP)
    beyond = _sample(lab, far)
    in_frame = (far[..., 0] >= 0) & (far[..., 0] <= w - 1) & (far[..., 1] >= 0)
    in_frame &= far[..., 1] <= h - 1
    step = np.linalg.norm(inside - outside, axis=-1)
    unlike = np.linalg.norm(inside[:, :, None, :] - _windows(beyond, half), axis=-1).min(axis=2)
    drift = np.linalg.norm(inside - np.median(_windows(inside, 3), axis=2), axis=-1)
    ok = (step > MIN_STEP) & (unlike > MIN_STEP) & (drift < np.maximum(6.0, 0.35 * step))
    return np.asarray(ok & in_frame)


def _score(lab: np.ndarray, quad: np.ndarray, samples: int = 40) -> tuple[float, np.ndarray]:
    """The judge: per side, the share of points where the border is a step (:func:`_support`);
    the score is their mean, less a penalty when even the best-kept side is mostly missing."""
    points, normals = _sides(quad, samples, 0.06)
    support = _support(lab, points, normals).mean(axis=1)
    score = float(support.mean() - 0.25 * max(0.0, 0.5 - support.min()))
    return max(0.0, score), support


# -- refinement ---------------------------------------------------------------------------------


def _fit_line(points: np.ndarray, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """A robust straight line through weighted points: (point on it, unit direction)."""
    keep = weights > 0
    for _ in range(3):
        if keep.sum() < 5:
            return None
        p, w = points[keep], weights[keep]
        centre = (p * w[:, None]).sum(axis=0) / w.sum()
        q = (p - centre) * np.sqrt(w)[:, None]
        _, _, vt = np.linalg.svd(q, full_matrices=False)
        direction = vt[0]
        normal = np.array([-direction[1], direction[0]])
        residual = np.abs((points - centre) @ normal)
        spread = float(np.median(residual[keep])) * 1.4826 + 0.3
        new_keep = (weights > 0) & (residual < max(1.0, 2.5 * spread))
        if np.array_equal(new_keep, keep):
            break
        keep = new_keep
    return centre, direction


def _refine(
    lab: np.ndarray,
    quad: np.ndarray,
    radius: float,
    step: float,
    gap: float,
    samples: int = 48,
) -> np.ndarray | None:
    """Move each side to the strongest consistent colour step within ``radius`` of it."""
    points, normals = _sides(quad, samples, 0.05)
    offsets = np.arange(-radius, radius + 1e-9, step)
    probe = points[:, :, None, :] + normals[:, None, None, :] * offsets[None, None, :, None]
    inside = _sample(lab, probe - normals[:, None, None, :] * gap)
    outside = _sample(lab, probe + normals[:, None, None, :] * gap)
    diff = inside - outside  # (4, samples, offsets, 3)
    # the strongest step, but the nearer of two alike: a card's band must not pull its edge in
    strength = np.linalg.norm(diff, axis=-1) * (1 - 0.5 * (offsets / radius) ** 2)
    lines = []
    for k in range(4):
        best = np.argmax(strength[k], axis=1)
        idx = np.arange(samples)
        vec = diff[k, idx, best]
        value = np.linalg.norm(vec, axis=1)
        typical = np.median(vec, axis=0)
        size = float(np.linalg.norm(typical))
        if size < MIN_STEP:
            return None
        agree = (vec @ typical) / (value * size + 1e-6)
        weights = np.where((agree > 0.7) & (value > 0.4 * size), value, 0.0)
        found = points[k] + normals[k] * offsets[best][:, None]
        line = _fit_line(found, weights)
        if line is None:
            return None
        lines.append(line)
    corners = []
    for k in range(4):
        p1, d1 = lines[k - 1]
        p2, d2 = lines[k]
        meet = _intersect(p1, d1, p2, d2)
        if meet is None:
            return None
        corners.append(meet)
    out = np.array(corners)
    if np.abs(out - quad).max() > 4 * radius + 2:
        return None
    return out


# -- proposers ----------------------------------------------------------------------------------


def _regions(mask: np.ndarray, min_area: float, limit: int) -> list[np.ndarray]:
    # Outer boundaries of every region, also of those inside another region's hole.
    contours, hierarchy = cv2.findContours(mask, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    if hierarchy is None:
        return []
    contours = [
        c
        for c, link in zip(contours, hierarchy[0], strict=True)
        if link[3] < 0 and cv2.contourArea(c) >= min_area
    ]
    contours.sort(key=cv2.contourArea, reverse=True)
    quads = []
    for c in contours[:limit]:
        quads += _quads_from_contour(c)
    return quads


def _propose_bright(gray: np.ndarray, min_area: float) -> list[np.ndarray]:
    blur = cv2.GaussianBlur(gray, (0, 0), 2.0)
    _, mask = cv2.threshold(blur, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (5, 5))
    quads = []
    for m in (mask, 255 - mask):
        m = cv2.morphologyEx(m, cv2.MORPH_OPEN, kernel)
        quads += _regions(m, min_area, 3)
    return quads


def _propose_unlike_border(lab: np.ndarray, min_area: float) -> list[np.ndarray]:
    """Pixels far (in colour) from every cluster of the frame's border: not desk."""
    h, w = lab.shape[:2]
    b = 3
    border = np.concatenate(
        [
            lab[:b].reshape(-1, 3),
            lab[-b:].reshape(-1, 3),
            lab[:, :b].reshape(-1, 3),
            lab[:, -b:].reshape(-1, 3),
        ]
    ).astype(np.float32)
    criteria = (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 10, 1.0)
    k = 4
    samples = np.ascontiguousarray(border[::3])
    labels = np.zeros((len(samples), 1), dtype=np.int32)  # not read: k-means++ seeds itself
    _, _, centres = cv2.kmeans(samples, k, labels, criteria, 1, cv2.KMEANS_PP_CENTERS)
    small = cv2.resize(lab, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    flat = small.reshape(-1, 3)
    dist = np.full(flat.shape[0], np.inf, dtype=np.float32)
    for c in centres:
        dist = np.minimum(dist, np.linalg.norm(flat - c, axis=1))
    dist_img = np.clip(dist.reshape(small.shape[:2]), 0, 255).astype(np.uint8)
    _, mask = cv2.threshold(dist_img, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3))
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel)
    return [q * 2 + 0.5 for q in _regions(mask, min_area / 4, 3)]


def _propose_flat(lab8: np.ndarray, min_area: float) -> list[np.ndarray]:
    """Regions that no edge crosses: a page's margins join up all around its text, and its
    outline is the page's edge, however busy the desk is. Edges in lightness or in either
    colour axis count (a pale card on a pale desk of another hue)."""
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3))
    channels = cv2.split(lab8)
    quads = []
    for low, high in ((12, 36), (30, 90)):
        edges = cv2.Canny(channels[0], low, high, L2gradient=True)
        for chroma in channels[1:]:
            edges = cv2.bitwise_or(edges, cv2.Canny(chroma, low / 2, high / 2, L2gradient=True))
        edges = cv2.dilate(edges, kernel)
        quads += _regions(255 - edges, min_area, 4)
    return quads


@dataclass(frozen=True, eq=False)
class _Line:
    point: np.ndarray  # a point on it (working pixels)
    direction: np.ndarray  # unit
    inward: np.ndarray  # unit normal towards the side that looks like a document
    extent: tuple[float, float]  # where along ``direction`` from ``point`` edges were seen
    strength: float
    two_sided: bool  # both sides look alike enough (a plain desk): ``inward`` may be either


def _segments(lab8: np.ndarray) -> np.ndarray:
    """Straight edge segments (LSD) in lightness and in each colour axis (stretched: a dark
    green card on a magenta cloth differs in hue, hardly in lightness), as rows of x0, y0, x1,
    y1."""
    lsd = cv2.createLineSegmentDetector()
    found = []
    for i, channel in enumerate(cv2.split(lab8)):
        if i:
            channel = cv2.convertScaleAbs(channel, alpha=3.0, beta=-3.0 * 128 + 128)
        segments = lsd.detect(channel)[0]
        if segments is not None:
            found.append(np.asarray(segments, dtype=np.float64).reshape(-1, 4))
    return np.concatenate(found) if found else np.zeros((0, 4), dtype=np.float64)


def _edge_lines(lab: np.ndarray, lab8: np.ndarray) -> list[_Line]:
    """The straight steps of the picture that could be a document's sides: LSD segments,
    each rated by :func:`_support` with the document on either side, the same lines merged,
    the best :data:`EDGE_LINES` kept."""
    h, w = lab8.shape[:2]
    segs = _segments(lab8)
    a, b = segs[:, :2], segs[:, 2:]
    length = np.linalg.norm(b - a, axis=1)
    keep = length >= 0.04 * max(h, w)
    a, b, length = a[keep], b[keep], length[keep]
    if len(a) == 0:
        return []
    direction = (b - a) / length[:, None]
    normal = np.stack([direction[:, 1], -direction[:, 0]], axis=1)
    t = np.linspace(0.05, 0.95, 16)
    points = a[:, None, :] + (b - a)[:, None, :] * t[None, :, None]
    plus = _support(lab, points, normal).mean(axis=1)  # document on the -normal side
    minus = _support(lab, points, -normal).mean(axis=1)
    inward = np.where((plus >= minus)[:, None], -normal, normal)
    support = np.maximum(plus, minus)
    two_sided = np.abs(plus - minus) < 0.25
    order = np.argsort(-(support * length))
    lines: list[_Line] = []
    for i in order:
        if support[i] < 0.5:
            break
        u, p = direction[i], a[i]
        merged = False
        for k, line in enumerate(lines):
            if abs(float(np.dot(u, line.direction))) < math.cos(math.radians(3)):
                continue
            n = np.array([-line.direction[1], line.direction[0]])
            if max(abs(np.dot(a[i] - line.point, n)), abs(np.dot(b[i] - line.point, n))) > 3.0:
                continue
            if np.dot(inward[i], line.inward) < 0 and not (two_sided[i] or line.two_sided):
                continue
            ta = float(np.dot(a[i] - line.point, line.direction))
            tb = float(np.dot(b[i] - line.point, line.direction))
            lo, hi = line.extent
            lines[k] = _Line(
                line.point,
                line.direction,
                line.inward,
                (min(lo, ta, tb), max(hi, ta, tb)),
                line.strength + float(support[i] * length[i]),
                line.two_sided and bool(two_sided[i]),
            )
            merged = True
            break
        if not merged:
            if len(lines) == EDGE_LINES:
                continue
            lines.append(
                _Line(
                    p,
                    u,
                    inward[i],
                    (0.0, float(length[i])),
                    float(support[i] * length[i]),
                    bool(two_sided[i]),
                )
            )
    return lines


def _covers(line: _Line, start: np.ndarray, end: np.ndarray) -> bool:
    """Does ``line``'s seen extent cover a good part of the side from ``start`` to ``end``
    without running far past its corners? (A desk's lines go on; a page's edges stop at its
    corners, though a thumb may hide part of one.)"""
    ta = float(np.dot(start - line.point, line.direction))
    tb = float(np.dot(end - line.point, line.direction))
    lo_side, hi_side = min(ta, tb), max(ta, tb)
    side = hi_side - lo_side
    lo, hi = line.extent
    covered = min(hi, hi_side) - max(lo, lo_side)
    overrun = max(0.0, lo_side - lo) + max(0.0, hi - hi_side)
    return covered >= 0.3 * side and overrun <= 0.15 * side + 4


def _meet(a: _Line, b: _Line) -> np.ndarray | None:
    return _intersect(a.point, a.direction, b.point, b.direction)


def _propose_lines(lab: np.ndarray, lab8: np.ndarray, min_area: float) -> list[np.ndarray]:
    """Quadrilaterals whose sides are straight steps of the picture (:func:`_edge_lines`):
    four lines, each facing the inside and covering its side (:func:`_covers`); or three, two
    opposite and one joining them, the fourth side closing their far ends (a thumb over a
    corner can leave too little of a side to see)."""
    h, w = lab8.shape[:2]
    lines = _edge_lines(lab, lab8)
    cos_adjacent = math.cos(math.radians(50))
    cos_opposite = math.cos(math.radians(35))

    def adjacent(x: _Line, y: _Line) -> bool:
        return abs(float(np.dot(x.direction, y.direction))) <= cos_adjacent

    def opposite(x: _Line, y: _Line) -> bool:
        facing = x.two_sided or y.two_sided or float(np.dot(x.inward, y.inward)) < 0
        return facing and abs(float(np.dot(x.direction, y.direction))) >= cos_opposite

    def keep(quad: np.ndarray, sides: list[tuple[_Line, int]]) -> bool:
        if _area(quad) < min_area or not _plausible(quad, w, h):
            return False
        centre = quad.mean(axis=0)
        for line, k in sides:
            start, end = quad[k], quad[(k + 1) % 4]
            if not line.two_sided and np.dot(centre - start, line.inward) <= 0:
                return False
            if not _covers(line, start, end):
                return False
        return True

    quads = []
    for chosen in itertools.combinations(lines, 4):
        # around the outline, in the order of the middles of what was seen of them
        middles = [line.point + line.direction * sum(line.extent) / 2 for line in chosen]
        centre = np.mean(middles, axis=0)
        order = sorted(range(4), key=lambda i: math.atan2(*(middles[i] - centre)[::-1].tolist()))
        group = [chosen[i] for i in order]
        if not all(adjacent(group[k], group[k - 1]) for k in range(4)):
            continue
        if not (opposite(group[0], group[2]) and opposite(group[1], group[3])):
            continue
        corners = [_meet(group[k - 1], group[k]) for k in range(4)]
        if any(c is None for c in corners):
            continue
        quad = np.array(corners)
        if keep(quad, [(line, k) for k, line in enumerate(group)]):
            quads.append(order_corners(quad))
    for first, middle, last in itertools.permutations(lines, 3):
        if id(first) > id(last) or not opposite(first, last):
            continue
        if not (adjacent(first, middle) and adjacent(middle, last)):
            continue
        near_first, near_last = _meet(first, middle), _meet(middle, last)
        if near_first is None or near_last is None:
            continue
        ends = []
        for line, near in ((last, near_last), (first, near_first)):
            tips = [line.point + line.direction * t for t in line.extent]
            ends.append(max(tips, key=lambda p: float(np.linalg.norm(p - near))))
        quad = np.array([near_first, near_last, ends[0], ends[1]])
        if keep(quad, [(first, 3), (middle, 0), (last, 1)]):
            quads.append(order_corners(quad))
    return quads


def _candidates(lab: np.ndarray, lab8: np.ndarray, gray: np.ndarray) -> list[_Candidate]:
    h, w = gray.shape
    min_area = MIN_AREA * h * w
    proposals: list[_Candidate] = []
    seen: set[tuple[int, ...]] = set()
    for method, quads in (
        ("bright", _propose_bright(gray, min_area)),
        ("unlike_border", _propose_unlike_border(lab, min_area)),
        ("flat", _propose_flat(lab8, min_area)),
        ("lines", _propose_lines(lab, lab8, min_area)),
    ):
        for quad in quads:
            # the same outline from two proposers (or thresholds) is polished once
            key = tuple(np.round(order_corners(quad) / 4).astype(int).ravel().tolist())
            if key in seen or _area(quad) < 0.5 * min_area or not _is_convex(quad):
                continue
            seen.add(key)
            proposals.append(_Candidate(quad, method))
    return proposals


# -- the detector -------------------------------------------------------------------------------


def _working_copy(img: np.ndarray) -> tuple[np.ndarray, float]:
    h, w = img.shape[:2]
    scale = WORK_SIZE / max(h, w)
    if scale >= 1:
        return img, 1.0
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA), size[0] / w


def _polish(lab: np.ndarray, quad: np.ndarray, coarse: bool = True) -> np.ndarray | None:
    """Refine coarsely (unless the quadrilateral is already precise) then finely; ``None`` when
    the sides find no steps to hold on to."""
    h, w = lab.shape[:2]
    passes = (
        ((0.02 * max(h, w), 1.0, 24), (3.0, 0.5, 48))
        if coarse
        else ((4.0, 1.0, 32), (2.0, 0.5, 48))
    )
    for radius, step, samples in passes:
        refined = _refine(lab, quad, radius, step, STEP, samples)
        if refined is None:
            return None
        quad = order_corners(refined)
    return quad if _plausible(quad, w, h) else None


def _outer_steps(lab: np.ndarray, quad: np.ndarray, side: int, reach: float) -> list[float]:
    """Distances beyond ``side`` of ``quad`` where another straight step runs along most of it,
    nearest first."""
    points, normals = _sides(quad, 24, 0.1)
    p, n = points[side], normals[side]
    offsets = np.arange(2 * STEP, reach, 1.0)
    if len(offsets) == 0:
        return []
    probe = p[:, None, :] + n[None, None, :] * offsets[None, :, None]
    inside = _sample(lab, probe - n * STEP)
    outside = _sample(lab, probe + n * STEP)
    step = np.linalg.norm(inside - outside, axis=-1)
    strong = step > MIN_STEP
    # allow for a slightly different angle: a step within a pixel either way counts
    near = strong | np.roll(strong, 1, axis=1) | np.roll(strong, -1, axis=1)
    share = near.mean(axis=0)
    typical = np.median(step, axis=0)
    found = []
    for i in range(1, len(offsets) - 1):
        if share[i] >= 0.6 and typical[i] >= typical[i - 1] and typical[i] > typical[i + 1]:
            found.append(float(offsets[i]))
    return found


def _shift_side(quad: np.ndarray, side: int, distance: float) -> np.ndarray | None:
    """``quad`` with one side moved outward by ``distance``, its neighbours extended."""
    _, normals = _sides(quad, 2, 0.0)
    a, b = quad[side] + normals[side] * distance, quad[(side + 1) % 4] + normals[side] * distance
    prev_a, next_b = quad[side - 1], quad[(side + 2) % 4]
    new_a = _intersect(prev_a, quad[side] - prev_a, a, b - a)
    new_b = _intersect(next_b, quad[(side + 1) % 4] - next_b, a, b - a)
    if new_a is None or new_b is None:
        return None
    out = quad.copy()
    out[side], out[(side + 1) % 4] = new_a, new_b
    return out


def _unlike_desk(lab: np.ndarray, quad: np.ndarray, old: np.ndarray, side: int) -> bool:
    """Is the strip added by moving ``side`` out (``old`` -> ``quad``) unlike the desk seen just
    outside the other three sides (a band of the card's own colour, not more tablecloth)?"""
    points, normals = _sides(old, 24, 0.1)
    desk = np.concatenate(
        [_sample(lab, points[k] + normals[k] * (2 * STEP)) for k in range(4) if k != side]
    )
    t = np.linspace(0.1, 0.9, 16)[:, None]
    middle_a = (quad[side] + old[side]) / 2
    middle_b = (quad[(side + 1) % 4] + old[(side + 1) % 4]) / 2
    strip = _sample(lab, (middle_a + (middle_b - middle_a) * t)[None])[0]
    nearest = np.linalg.norm(strip[:, None, :] - desk[None, :, :], axis=-1).min(axis=1)
    return float((nearest > 3 * MIN_STEP).mean()) >= 0.7


def _continues(lab: np.ndarray, quad: np.ndarray, old: np.ndarray, side: int) -> bool:
    """After ``side`` moved out (``old`` -> ``quad``), does the larger outline hold together?
    Both neighbouring sides must go on being edges over the added strip (for a card's band they
    do: the card's edges run on to its top; for a stripe of the desk pattern they do not: there
    is desk on both sides), or one of them at least, if the strip is unlike the desk (:func:
    `_unlike_desk`; a band can be hard to see against the desk along one side)."""
    _, normals = _sides(quad, 2, 0.0)
    shares = []
    for k, new_corner, old_corner in (
        (side - 1, quad[side], old[side]),
        ((side + 1) % 4, quad[(side + 1) % 4], old[(side + 1) % 4]),
    ):
        t = np.linspace(0.15, 0.85, 12)[:, None]
        pts = (new_corner + (old_corner - new_corner) * t)[None]
        shares.append(float(_support(lab, pts, normals[k][None]).mean()))
    if min(shares) >= 0.5:
        return True
    return max(shares) >= 0.75 and _unlike_desk(lab, quad, old, side)


def _expand(lab: np.ndarray, cand: _Candidate) -> _Candidate:
    """Push a side out to a further straight step if the larger quadrilateral is nearly as good
    a page and its other sides run on to the new side (:func:`_continues`): a card's coloured
    band must not be taken for the card's edge. Sides are tried again after another moved
    (a side may only run on once its neighbour has reached the card's real edge)."""
    h, w = lab.shape[:2]
    best = cand
    for _ in range(3):
        grown = False
        for side in range(4):
            extent = np.linalg.norm(best.quad[side] - best.quad[(side + 1) % 4])
            opposite = _area(best.quad) / (extent + 1e-9)
            reach = float(0.6 * opposite)
            for distance in _outer_steps(lab, best.quad, side, reach)[:EXPANSIONS]:
                moved = _shift_side(best.quad, side, distance)
                if moved is None or not _plausible(moved, w, h):
                    continue
                if not _continues(lab, moved, best.quad, side):
                    continue
                polished = _polish(lab, moved, coarse=False)
                if polished is None or not _continues(lab, polished, best.quad, side):
                    continue
                score, _ = _score(lab, polished)
                area = _area(polished)
                if score >= cand.score - 0.1 and area > _area(best.quad) * 1.02:
                    best = _Candidate(polished, cand.method + "+expand", score, area)
                    grown = True
                    break
        if not grown:
            break
    return best


def _lab(img: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """8-bit Lab, and Lab as float32 lightly blurred (what sampling reads)."""
    lab8 = cv2.cvtColor(img, cv2.COLOR_BGR2Lab)
    return lab8, cv2.GaussianBlur(lab8.astype(np.float32), (0, 0), 0.8)


def _shortlist(small: np.ndarray) -> list[_Candidate]:
    """Stage one, on a copy half the working size: every proposer's quadrilaterals, each
    refined once and judged with few samples; the best :data:`SHORTLIST` distinct ones, in
    working pixels."""
    h, w = small.shape[:2]
    half = cv2.resize(small, (w // 2, h // 2), interpolation=cv2.INTER_AREA)
    lab8, lab = _lab(half)
    gray = np.ascontiguousarray(lab8[..., 0])
    hh, hw = gray.shape
    judged = []
    for cand in _candidates(lab, lab8, gray):
        quad = _refine(lab, cand.quad, 0.03 * max(hh, hw), 1.0, STEP, 16)
        if quad is None:
            continue
        quad = order_corners(quad)
        if not _plausible(quad, hw, hh) or _area(quad) < MIN_AREA * hh * hw:
            continue
        cand.quad = quad
        cand.score, _ = _score(lab, quad, 16)
        if cand.score >= MIN_SCORE - 0.2:
            judged.append(cand)
    judged.sort(key=lambda c: -c.score)
    kept: list[_Candidate] = []
    for cand in judged:
        if any(np.abs(cand.quad - k.quad).max() < 2 for k in kept):
            continue
        kept.append(cand)
        if len(kept) == SHORTLIST:
            break
    scale = np.array([w / hw, h / hh])
    for cand in kept:
        cand.quad = (cand.quad + 0.5) * scale - 0.5
    return kept


def _find(small: np.ndarray) -> _Candidate:
    """The best page outline in a working copy (working pixels, geometric order)."""
    h, w = small.shape[:2]
    _, lab = _lab(small)
    good: list[_Candidate] = []
    for cand in _shortlist(small):
        quad = _polish(lab, cand.quad, coarse=False)
        if quad is None:
            continue
        cand.quad = quad
        cand.score, _ = _score(lab, quad)
        cand.area = _area(quad)
        if cand.area >= MIN_AREA * h * w and cand.score >= MIN_SCORE:
            good.append(cand)
    if not good:
        raise ScanError("no_document", "no page found in the picture")
    top = max(c.score for c in good)
    finalists: list[_Candidate] = []
    for cand in sorted(good, key=lambda c: -c.area):
        if cand.score < top - OUTERMOST_MARGIN:
            continue
        if any(np.abs(cand.quad - f.quad).max() < 3 for f in finalists):
            continue
        finalists.append(cand)
        if len(finalists) == 3:
            break
    finalists = [_expand(lab, c) for c in finalists]
    top = max(c.score for c in finalists)
    return max((c for c in finalists if c.score >= top - OUTERMOST_MARGIN), key=lambda c: c.area)


def _to_source(quad: np.ndarray, small: np.ndarray, img: np.ndarray) -> np.ndarray:
    sx = small.shape[1] / img.shape[1]
    sy = small.shape[0] / img.shape[0]
    return np.asarray((quad + 0.5) / np.array([sx, sy]) - 0.5, dtype=np.float64)


# -- reading orientation ------------------------------------------------------------------------


def _glyphs(page: np.ndarray) -> np.ndarray:
    """Boxes (x, y, w, h) of the ink blobs of a small straightened page that look like
    characters: not specks, not rules or frames, not photos."""
    gray = page if page.ndim == 2 else cv2.cvtColor(page, cv2.COLOR_BGR2GRAY)
    ink = ink_mask(gray).astype(np.uint8)
    h, w = ink.shape
    mx, my = w // 25, h // 25  # the outermost strip may hold the desk
    ink[:my], ink[h - my :], ink[:, :mx], ink[:, w - mx :] = 0, 0, 0, 0
    count, _, stats, _ = cv2.connectedComponentsWithStats(ink, connectivity=8)
    boxes = stats[1:count, :4].astype(np.float64)
    area = stats[1:count, 4]
    big = 0.06 * min(h, w)
    keep = (area >= 3) & (boxes[:, 2] < big) & (boxes[:, 3] < big)
    return np.asarray(boxes[keep])


def _line_direction(boxes: np.ndarray) -> float:
    """How much more often a glyph's nearest neighbour lies beside it than above or below it:
    +1 all beside (horizontal lines of text), -1 all above/below (the page on its side)."""
    centres = boxes[:, :2] + boxes[:, 2:] / 2
    if len(centres) > 800:
        centres = centres[:: len(centres) // 800 + 1]
    d = centres[:, None, :] - centres[None, :, :]
    dist = np.hypot(d[..., 0], d[..., 1])
    np.fill_diagonal(dist, np.inf)
    nearest = d[np.arange(len(centres)), np.argmin(dist, axis=1)]
    beside = np.abs(nearest[:, 0]) > 2 * np.abs(nearest[:, 1])
    above = np.abs(nearest[:, 1]) > 2 * np.abs(nearest[:, 0])
    return float((beside.sum() - above.sum()) / len(centres))


def _upright_evidence(boxes: np.ndarray, width: float, height: float) -> float:
    """For a page whose text runs horizontally: positive if it reads upright, negative if it is
    upside down, near 0 if it cannot tell. Two cues, each in [-1, 1], averaged: Japanese
    horizontal text is set flush left (lines share their left end more than their right end),
    and a document opens with its heading (the largest characters sit nearer the top)."""
    centres_y = boxes[:, 1] + boxes[:, 3] / 2
    order = np.argsort(centres_y)
    lines: list[list[int]] = []
    typical = float(np.median(boxes[:, 3]))
    for i in order:
        if lines and centres_y[i] - centres_y[lines[-1][-1]] < 0.6 * typical:
            lines[-1].append(int(i))
        else:
            lines.append([int(i)])
    lines = [line for line in lines if len(line) >= 3]
    cues = []
    if len(lines) >= 4:
        lefts = np.array([boxes[line, 0].min() for line in lines])
        rights = np.array([(boxes[line, 0] + boxes[line, 2]).max() for line in lines])
        tol = 0.015 * width

        def aligned(ends: np.ndarray) -> float:
            return float(max((np.abs(ends - e) < tol).mean() for e in ends))

        cues.append(float(np.clip((aligned(lefts) - aligned(rights)) * 2, -1, 1)))
    tall = boxes[:, 3] > 1.6 * typical
    squarish = boxes[:, 2] > 0.5 * boxes[:, 3]
    heading = tall & squarish
    if heading.sum() >= 2:
        y = float(np.median(centres_y[heading])) / height  # 0 top .. 1 bottom
        cues.append(float(np.clip((0.5 - y) * 2.5, -1, 1)))
    return float(np.mean(cues)) if cues else 0.0


def reading_turns(page: np.ndarray) -> int:
    """How many quarter turns clockwise a straightened page lies from upright (0..3), judged
    from its text; 0 when the text does not say clearly (too little of it, vertical writing
    that reads like a page on its side, mixed cues). See the module docstring."""
    boxes = _glyphs(page)
    if len(boxes) < 20:
        return 0
    h, w = page.shape[:2]
    direction = _line_direction(boxes)
    if direction > 0.25:
        evidence = _upright_evidence(boxes, w, h)
        return 2 if evidence < -UPRIGHT_MARGIN else 0
    if direction < -0.25:
        # on its side: turn it a quarter clockwise, and judge which way up that reads
        turned = boxes[:, [1, 0, 3, 2]].copy()
        turned[:, 0] = h - (boxes[:, 1] + boxes[:, 3])
        evidence = _upright_evidence(turned, h, w)
        if abs(evidence) < UPRIGHT_MARGIN:
            return 0
        return 3 if evidence > 0 else 1
    return 0


# -- the detector -------------------------------------------------------------------------------


def detect(img: np.ndarray) -> Detection:
    """Find the document in a BGR (or grey) photograph: corners as the document reads (see
    the module docstring), a confidence, and a small upright copy of the page. Raises
    :class:`ScanError` ``no_document`` when nothing plausible is in view."""
    if img.ndim == 2:
        img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    small, _ = _working_copy(img)
    if min(small.shape[:2]) < MIN_WORKING_SIDE:
        raise ScanError("no_document", "the picture is too small to find a page in")
    best = _find(small)
    geometric = order_corners(best.quad)
    page = preview(small, geometric)
    turns = reading_turns(page)
    reading = np.roll(geometric, -turns, axis=0)
    return Detection(
        corners=_to_source(reading, small, img),
        confidence=round(min(1.0, best.score), 3),
        turns=turns,
        method=best.method,
        preview=np.ascontiguousarray(np.rot90(page, turns)),
    )
