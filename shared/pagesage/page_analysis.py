"""Image quality metrics of one page: the "analyse" stage of the page pipeline.

`analyse` measures a decoded page (a Pillow image) with OpenCV and numpy on a reduced working
copy, so that it costs a few per cent of the page's recognition: 25-30 ms for a bilevel, grey
or palette 300-dpi A4 page (2480 x 3508 pixels) and 40 ms for an RGB one, measured on two
cores (30-40 and 45 ms on one), much of it copying the pixels out of Pillow. The measurements
feed the preprocessing decisions (`domain.preprocessing`; docs/preprocessing.md) and
`PageAnalysis.metrics` grades them into the page's `QualityMetrics` (`domain.quality`).

The working copy is the grey page reduced by the integer factor k = ceil(long side /
`WORK_SIDE`) with OpenCV `resize(INTER_AREA)` (pixel-area averaging), and beside it the share
of each working pixel that is ink at full resolution, so that specks too small to survive the
reduction are still seen. Ink is what is darker than the page's global Otsu threshold (N.
Otsu, "A threshold selection method from gray-level histograms", IEEE Trans. SMC 9(1), 1979),
Tesseract's default binarisation, so the metrics see the page much as the engine will.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np
from PIL import Image

from pagesage.domain import quality
from pagesage.domain.pages import QualityMetrics

SOURCE = "pagesage-analyse"
"""`QualityMetrics.source` of the metrics measured here."""

WORK_SIDE = 1000
"""Longest side (pixels) the working copy is reduced towards. At 1000 px a 10 pt line of a
300-dpi A4 page is still 5 working pixels high, enough for the projection profiles; below
it the cost is dominated by decoding, above it by the connected components."""

SPECK_MM2 = 0.03
"""Largest ink area (mm^2) of a speck: smaller than the full stop of 6 pt type (a disc about
0.2 mm across, 0.03 mm^2), so no punctuation of legible print counts as noise. It is 4.2
pixels at 300 dpi, 7.4 at 400 dpi; at 120 dpi a single pixel is already larger."""

SKEW_RANGE = 8.0
"""Largest skew (degrees, either way) searched: beyond Leptonica's default sweep of 7 degrees
(`pixFindSkew`); steeper pages are turned by orientation detection or rescanned."""

MIN_TEXT_COMPONENTS = 10
"""Fewest character-sized components for which skew and x-height are estimated; below it
(blank pages, photos) they are None."""

ColourSpace = Literal["bilevel", "grey", "rgb"]


@dataclass(frozen=True)
class PageAnalysis:
    """What `analyse` measured on one page image.

    Attributes:
        width, height: pixels of the image measured.
        dpi: its resolution (dots per inch), as given to `analyse`.
        colour_space: "bilevel" (two grey levels only: black and white), "grey" (one channel,
            or RGB whose channels agree) or "rgb", decided from the mode and the pixels.
        bit_depth: bits per sample as stored: 1 for mode "1", 8 for "L", "RGB" and "P".
        skew_angle: degrees the text lines are turned counter-clockwise (positive: lines rise
            to the right), as Pillow's `Image.rotate(angle)` turns a page; rotating by
            `-skew_angle` sets them level. None when the page has too little text.
        contrast: 0-1, mean paper grey minus mean ink grey (the two Otsu classes), over 255;
            1 for a bilevel page, 0 for a blank one.
        brightness: 0-1, mean grey of the paper (the bright Otsu class) over 255.
        ink_fraction: 0-1, share of the page's pixels that are ink (the dark Otsu class);
            above 0.5 the page is probably light text on a dark ground.
        noise_level: 0-1, share of the ink (full-resolution ink pixels) lying in specks: ink
            farther than one working pixel from every blob larger than a speck (`SPECK_MM2`),
            where a blob is an 8-connected component of the working pixels at least half ink.
            Isolated specks, dust and dither count, however densely they lie; strokes, dots
            and punctuation do not. A clean scan measures about 0-0.02.
        dark_border_fraction: 0-1, share of the outer margin band (2 % of the width at left
            and right, 2 % of the height at top and bottom) that is ink-dark: a black scanner
            frame fills it, a page with clean margins leaves it near 0.
        is_two_page_spread: a guess that the image holds two facing pages: landscape (width
            at least 1.2 x height) with a vertical gutter in the middle fifth of the width,
            either a column darker than the ink threshold on average down the page (a shadow)
            or a band at least 5 % of the width wide without ink between two halves that each
            hold at least a quarter of the ink.
        x_height_px: median height (full-resolution pixels, to within the reduction factor
            k) of the character-sized blobs: at least two working pixels high and half to twice
            the blobs' area-weighted median height, so that neither specks nor a picture sway
            it. For Latin print that is the x-height (most lowercase letters have no ascender
            or descender); for scripts whose letters hang from a headline (Devanagari) the
            height of the word body. None when fewer than `MIN_TEXT_COMPONENTS` blobs qualify.
    """

    width: int
    height: int
    dpi: int
    colour_space: ColourSpace
    bit_depth: int
    skew_angle: float | None
    contrast: float
    brightness: float
    ink_fraction: float
    noise_level: float
    dark_border_fraction: float
    is_two_page_spread: bool
    x_height_px: float | None

    def grade(self) -> quality.Grade:
        """The overall score, grade and defects of these measurements (`domain.quality.grade`)."""
        return quality.grade(skew_angle=self.skew_angle, contrast=self.contrast, noise_level=self.noise_level,
                             x_height_px=self.x_height_px)

    def metrics(self) -> QualityMetrics:
        """As PageSage's `QualityMetrics`, graded by `domain.quality`, source `pagesage-analyse`."""
        graded = self.grade()
        return QualityMetrics(overall_quality=graded.overall_quality, quality_score=graded.quality_score,
                              defects=graded.defects, skew_angle=self.skew_angle, contrast=self.contrast,
                              brightness=self.brightness, noise_level=self.noise_level,
                              color_space=self.colour_space, bit_depth=self.bit_depth, source=SOURCE)

    def parameters(self) -> dict[str, str | int | float | bool]:
        """The measurements by camelCase name, for the stage's provenance record (values
        rounded; measurements that are None left out)."""
        values = {"colorSpace": self.colour_space, "bitDepth": self.bit_depth, "skewAngle": self.skew_angle,
                  "contrast": self.contrast, "brightness": self.brightness, "inkFraction": self.ink_fraction,
                  "noiseLevel": self.noise_level, "darkBorderFraction": self.dark_border_fraction,
                  "twoPageSpread": self.is_two_page_spread, "xHeightPx": self.x_height_px,
                  "qualityScore": self.grade().quality_score}
        return {k: round(v, 4) if isinstance(v, float) else v for k, v in values.items() if v is not None}


def analyse(image: Image.Image, *, dpi: int) -> PageAnalysis:
    """Measure one page image.

    Args:
        image: the page, width x height pixels, in mode "1", "L", "RGB" or "P" (an opaque
            palette image, as `imaging.render_page` passes it on).
        dpi: its resolution in dots per inch (> 0); sets the speck size of `noise_level`.

    Raises:
        ValueError: another mode, an empty image, or `dpi` <= 0.
    """
    if image.mode not in ("1", "L", "RGB", "P"):
        raise ValueError(f"analyse reads images in mode 1, L, RGB or P, not {image.mode}")
    if image.width < 1 or image.height < 1 or dpi <= 0:
        raise ValueError(f"cannot analyse a {image.width} x {image.height} image at {dpi} dpi")
    k = max(1, math.ceil(max(image.size) / WORK_SIDE))
    grey, spread = _planes(image, k)
    grey = grey[: max(1, grey.shape[0] // k) * k, : max(1, grey.shape[1] // k) * k]  # whole working pixels
    reduced = _reduce(grey, k)
    sample = np.ascontiguousarray(grey[::k, ::k])
    histogram = cv2.calcHist([sample], [0], None, [256], [0, 256]).ravel()
    threshold = 128 if image.mode == "1" else _otsu(sample)
    if image.mode == "1":
        ink = 255 - reduced
    else:
        ink = _reduced_ink(grey, threshold, k)
    ink_share, ink_grey, paper_grey = _classes(histogram, threshold)
    components = _Components(ink, k, speck=SPECK_MM2 * (dpi / 25.4) ** 2)
    return PageAnalysis(
        width=image.width, height=image.height, dpi=dpi,
        colour_space=_colour_space(histogram, spread), bit_depth=1 if image.mode == "1" else 8,
        skew_angle=components.skew_angle(),
        contrast=round((paper_grey - ink_grey) / 255 if 0 < ink_share < 1 else 0.0, 4),
        brightness=round(paper_grey / 255, 4), ink_fraction=round(ink_share, 4),
        noise_level=round(components.noise_level(), 4),
        dark_border_fraction=round(_dark_border_fraction(reduced, threshold), 4),
        is_two_page_spread=_two_page_spread(reduced, ink, threshold),
        x_height_px=components.x_height_px())


def _planes(image: Image.Image, k: int) -> tuple[np.ndarray, np.ndarray | None]:
    """The page's grey levels (height x width uint8, ITU-R 601-2 luma as Pillow's
    `convert("L")`), and for colour modes the spread of its channels (largest minus smallest,
    0-255) sampled every k pixels (height/k x width/k uint8; None for "1" and "L")."""
    if image.mode in ("1", "L"):  # "1" unpacked to 0 and 255 by Pillow's raw "L" packer
        return _pixels(image, "L"), None
    if image.mode == "RGB":
        sample = np.asarray(image.resize((max(1, image.width // k), max(1, image.height // k)), Image.Resampling.NEAREST))
        red, green, blue = sample[..., 0], sample[..., 1], sample[..., 2]
        spread = cv2.max(cv2.max(red, green), blue) - cv2.min(cv2.min(red, green), blue)
        return _pixels(image.convert("L"), "L"), spread
    # "P": the palette's luma and spread looked up per index, cheaper than converting pixels
    palette = np.zeros((256, 3), np.float64)
    entries = np.asarray(image.getpalette("RGB") or [], np.float64).reshape(-1, 3)[:256]
    palette[: len(entries)] = entries
    luma = (palette @ [0.299, 0.587, 0.114]).round().astype(np.uint8)
    spread = (palette.max(axis=1) - palette.min(axis=1)).astype(np.uint8)
    indices = _pixels(image, "P")
    return cv2.LUT(indices, luma), cv2.LUT(np.ascontiguousarray(indices[::k, ::k]), spread)


def _pixels(image: Image.Image, rawmode: str) -> np.ndarray:
    """The image's samples as a height x width uint8 array, copied once (`np.asarray` on a
    Pillow image copies twice)."""
    return np.frombuffer(image.tobytes("raw", rawmode), np.uint8).reshape(image.height, image.width)


def _reduce(plane: np.ndarray, k: int) -> np.ndarray:
    """`plane` (whose sides are multiples of k) reduced k times by pixel-area averaging."""
    if k == 1:
        return np.ascontiguousarray(plane)
    return cv2.resize(plane, (max(1, plane.shape[1] // k), max(1, plane.shape[0] // k)), interpolation=cv2.INTER_AREA)


STRIP_ROWS = 256
"""Working rows (STRIP_ROWS x k rows of the page) thresholded at a time by `_reduced_ink`:
about 2 MB of grey at a time for a 2550-pixel-wide page (k = 3)."""


def _reduced_ink(grey: np.ndarray, threshold: int, k: int) -> np.ndarray:
    """The ink (grey levels below `threshold`, as 255) of `grey` (sides multiples of k) reduced
    k times by pixel-area averaging, thresholded in strips of `STRIP_ROWS` x k rows so that no
    full-resolution copy of the page is made besides `grey` (the same pixels as thresholding
    it whole: each working pixel averages a k x k block that lies in one strip)."""
    rows = STRIP_ROWS * k
    return np.concatenate([_reduce(cv2.threshold(grey[top:top + rows], threshold - 1, 255, cv2.THRESH_BINARY_INV)[1], k)
                           for top in range(0, grey.shape[0], rows)])


def _otsu(sample: np.ndarray) -> int:
    """Otsu's threshold of a grey sample (OpenCV `THRESH_OTSU`, which leaves grey levels up to
    the value it returns dark): grey levels below the returned one are ink."""
    return int(cv2.threshold(sample, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)[0]) + 1


def _classes(histogram: np.ndarray, threshold: int) -> tuple[float, float, float]:
    """The ink class's share of the pixels (0-1) and the mean grey levels (0-255) of ink and
    paper (0 for a class that is empty)."""
    levels = np.arange(256)
    dark, bright = histogram[:threshold], histogram[threshold:]
    ink = float(dark @ levels[:threshold] / dark.sum()) if dark.sum() else 0.0
    paper = float(bright @ levels[threshold:] / bright.sum()) if bright.sum() else 0.0
    return float(dark.sum() / histogram.sum()), ink, paper


def _colour_space(histogram: np.ndarray, spread: np.ndarray | None) -> ColourSpace:
    """bilevel when only black and white occur; grey for one channel, or colour whose
    channels differ by at most 8 levels (of 255) in 99 % of the sampled pixels; else rgb."""
    if not histogram[1:255].any():
        return "bilevel"
    if spread is None or np.count_nonzero(spread > 8) <= 0.01 * spread.size:
        return "grey"
    return "rgb"


def _dark_border_fraction(reduced: np.ndarray, threshold: int) -> float:
    """Share of the outer 2 % band of the working copy that is darker than the ink threshold."""
    h, w = reduced.shape
    dy, dx = max(1, round(0.02 * h)), max(1, round(0.02 * w))
    dark = reduced < threshold
    inner = dark[dy:h - dy, dx:w - dx]
    band_pixels = h * w - inner.size
    return float((dark.sum() - inner.sum()) / band_pixels) if band_pixels else 0.0


def _two_page_spread(reduced: np.ndarray, ink: np.ndarray, threshold: int) -> bool:
    """The guess of `PageAnalysis.is_two_page_spread`."""
    h, w = reduced.shape
    if w < 1.2 * h:
        return False
    rows, middle = slice(h // 20, h - h // 20), slice(2 * w // 5, 3 * w // 5)
    if (reduced[rows, middle].mean(axis=0) < threshold).any():
        return True  # a dark shadow down the middle
    columns = ink[rows].sum(axis=0, dtype=np.float64)
    if not columns.sum() or not 0.25 <= columns[: w // 2].sum() / columns.sum() <= 0.75:
        return False
    empty = columns[middle] <= 0.01 * columns.mean()
    longest = max((len(list(run)) for blank, run in itertools.groupby(empty) if blank), default=0)
    return longest >= 0.05 * w


class _Components:
    """The 8-connected components (OpenCV `connectedComponentsWithStats`) of the "solid"
    working pixels, those at least half ink: characters (or the words they merge into),
    dots, rules, pictures, and specks (blobs whose ink may be no more than `speck` pixels)."""

    def __init__(self, ink: np.ndarray, k: int, speck: float):
        self.ink, self.k = ink, k
        self.solid = cv2.threshold(ink, 127, 1, cv2.THRESH_BINARY)[1]
        self.count, self.labels, stats, _ = cv2.connectedComponentsWithStats(self.solid, connectivity=8)
        areas, heights = stats[1:, cv2.CC_STAT_AREA], stats[1:, cv2.CC_STAT_HEIGHT]
        # a blob of n working pixels holds at most n * k^2 pixels of ink
        is_speck = areas * k * k <= speck
        self.specks = np.flatnonzero(is_speck) + 1
        # character sizes: around the area-weighted median height (areas capped at their 99th
        # percentile so that one picture does not outweigh the text, while specks weigh little)
        candidates = ~is_speck & (heights >= 2)
        sizes, weights = heights[candidates], areas[candidates].astype(np.float64)
        self.character_heights = sizes[:0]
        self.tall = self.specks[:0]
        if sizes.size:
            weights = np.minimum(weights, np.percentile(weights, 99))
            order = np.argsort(sizes)
            middle = sizes[order][np.searchsorted(np.cumsum(weights[order]), weights.sum() / 2)]
            self.character_heights = sizes[(sizes >= 0.5 * middle) & (sizes <= 2 * middle)]
            # pictures, frames and rules taller than four text lines would dominate the profiles
            self.tall = np.flatnonzero(heights > 4 * np.median(self.character_heights)) + 1

    def _without(self, ids: np.ndarray) -> np.ndarray:
        """The solid pixels (0/1) of every component but `ids`."""
        if not ids.size:
            return self.solid
        keep = np.ones(self.count, np.uint8)
        keep[0], keep[ids] = 0, 0
        return keep[self.labels]

    def x_height_px(self) -> float | None:
        if self.character_heights.size < MIN_TEXT_COMPONENTS:
            return None
        return float(np.median(self.character_heights)) * self.k

    def noise_level(self) -> float:
        """Share of the ink not within one working pixel of a blob larger than a speck."""
        total = float(self.ink.sum(dtype=np.float64))
        if not total:
            return 0.0
        near = cv2.dilate(self._without(self.specks), np.ones((3, 3), np.uint8))
        return float(self.ink.sum(dtype=np.float64, where=near == 0)) / total

    def skew_angle(self) -> float | None:
        """Projection-profile skew (W. Postl, "Detection of linear oblique structures and skew
        scan in digitized documents", ICPR 1986): the angle along which the profile of the
        blobs' ink is sharpest, scored as the sum of squared differences of adjacent bins
        (D. S. Bloomberg, G. E. Kopec, L. Dasari, "Measuring document image skew and
        orientation", SPIE 2422, 1995; Leptonica `pixFindSkew`). Swept in 0.5 degree steps
        over +-`SKEW_RANGE`, then in 0.05 degree steps over +-0.75 degrees around the best,
        on the ink pooled in cells of 8 x 1 working pixels; tall blobs (pictures, frames,
        vertical rules) left out."""
        if self.character_heights.size < MIN_TEXT_COMPONENTS:
            return None
        text = cv2.multiply(self.ink, self._without(np.concatenate([self.specks, self.tall])))
        cells = _cells(text)
        if cells[0].size < 2:
            return None
        return round(_sweep(cells, _sweep(cells, 0.0, SKEW_RANGE, 0.5), 0.75, 0.05), 3) + 0.0  # no -0.0


CELL_WIDTH = 8
"""Working pixels pooled side by side for the skew profiles: a cell spans 1.1 pixels of height
at 8 degrees, less than a bin."""


def _cells(ink: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Ink pooled in cells of `CELL_WIDTH` x 1 working pixels: the inked cells' rows and
    centre columns (columns centred on 0), and their ink.

    Each cell's row is moved down by a fraction of a pixel spread evenly by the golden ratio
    sequence: on whole rows the level angle alone would project every row into one bin and
    score sharper than the true skew."""
    w = ink.shape[1] // CELL_WIDTH * CELL_WIDTH
    if not w:
        return np.empty(0), np.empty(0), np.empty(0)
    pooled = cv2.resize(ink[:, :w], (w // CELL_WIDTH, ink.shape[0]), interpolation=cv2.INTER_AREA)
    rows, cols = np.nonzero(pooled)
    x = (cols + 0.5) * CELL_WIDTH
    dither = (np.arange(rows.size) * 0.6180339887) % 1.0
    return rows + dither, x - x.mean() if x.size else x, pooled[rows, cols].astype(np.float64)


def _sweep(cells: tuple[np.ndarray, np.ndarray, np.ndarray], centre: float, half: float, step: float) -> float:
    """The sharpest angle (degrees) in [centre - half, centre + half]: the score-weighted mean
    of the angles around the best that score at least 90 % of it (the middle of the plateau
    that warped or multi-block pages give rather than a single peak)."""
    rows, cols, weights = cells
    offset = float(np.abs(cols).max()) + 1  # one bin origin for every angle
    angles = np.arange(centre - half, centre + half + step / 2, step)
    scores = np.empty(len(angles))
    for i, angle in enumerate(angles):
        theta = math.radians(angle)
        # text rising to the right by theta lies on constant y*cos + x*sin (y downwards)
        position = rows * math.cos(theta) + cols * math.sin(theta)
        profile = np.bincount((position + offset).astype(np.int64), weights=weights)
        scores[i] = np.sum(np.diff(profile) ** 2)
    best = int(np.argmax(scores))
    if scores[best] <= 0:
        return centre
    low = high = best
    while low > 0 and scores[low - 1] >= 0.9 * scores[best]:
        low -= 1
    while high < len(angles) - 1 and scores[high + 1] >= 0.9 * scores[best]:
        high += 1
    return float(np.average(angles[low:high + 1], weights=scores[low:high + 1]))
