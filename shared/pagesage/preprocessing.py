"""The image operations `domain.preprocessing.plan` chooses (`rotate-*`, `deskew`), those
`make bench` measures as candidates and the plan declined (`rescale`, `remove-border`;
docs/preprocessing.md), and the bilevel copy orientation detection reads (`binarised`), on
Pillow images (OpenCV inside).

Every operation leaves its input alone and returns a new image (`binarised` hands a 1-bit
image back as it is); none moves text relative to
the page except the turns (`rotate-*`, `deskew`) and `rescale`, whose results are the page image
that is stored, so token boxes stay in the coordinates of the stored image.
"""

from __future__ import annotations

import cv2
import numpy as np
from PIL import Image

from pagesage.domain.preprocessing import Step

WHITE = 255


def apply(step: Step, image: Image.Image) -> Image.Image:
    """`image` after `step`.

    * `rotate-<d>`: turned `d` degrees clockwise (lossless for multiples of 90), canvas grown.
    * `deskew`: turned `step.value` degrees counter-clockwise about its centre (bicubic, on
      greyscale), the canvas grown to keep every pixel and the new corners white.
    * `rescale`: resized by the factor `step.value` (bicubic up, area-averaged down; OpenCV
      `resize`).
    * `remove-border`: dark regions joined to the image's edge and spanning at least a third of
      a side (a scanner's black frame, a neighbouring page's edge) painted white.

    Raises:
        ValueError: a step this module does not know.
    """
    if step.name.startswith("rotate-"):
        return image.rotate(-step.value, expand=True)
    if step.name == "deskew":
        grey = image if image.mode in ("L", "RGB") else image.convert("L")
        return grey.rotate(step.value, resample=Image.Resampling.BICUBIC, expand=True, fillcolor=_white(grey))
    if step.name == "rescale":
        return _rescale(image, step.value)
    if step.name == "remove-border":
        return _remove_border(image)
    raise ValueError(f"unknown preprocessing step {step.name!r}")


def binarised(image: Image.Image) -> Image.Image:
    """`image` in 1 bit per pixel (mode "1", same size), cut at the global Otsu threshold of its
    grey levels (N. Otsu, "A threshold selection method from gray-level histograms", IEEE Trans.
    SMC 9(1), 1979; OpenCV `THRESH_OTSU`), the binarisation Tesseract applies itself by default
    (`thresholding_method` 0). A mode "1" image is returned as it is. Orientation and script
    detection reads this copy (docs/architecture.md, "A page through the pipeline")."""
    if image.mode == "1":
        return image
    grey = np.asarray(image if image.mode == "L" else image.convert("L"))
    _, bilevel = cv2.threshold(grey, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return Image.fromarray(bilevel).convert("1", dither=Image.Dither.NONE)


def _white(image: Image.Image):
    return (WHITE,) * 3 if image.mode == "RGB" else WHITE


def _rescale(image: Image.Image, factor: float) -> Image.Image:
    pixels = np.asarray(image.convert("L") if image.mode == "1" else image)
    interpolation = cv2.INTER_CUBIC if factor > 1 else cv2.INTER_AREA
    return Image.fromarray(cv2.resize(pixels, None, fx=factor, fy=factor, interpolation=interpolation))


def _remove_border(image: Image.Image) -> Image.Image:
    grey = np.asarray(image.convert("L"))
    _, dark = cv2.threshold(grey, 0, 1, cv2.THRESH_BINARY_INV + cv2.THRESH_OTSU)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(dark, connectivity=8)
    height, width = grey.shape
    frame = np.zeros(count, dtype=bool)
    for label in range(1, count):
        x, y, w, h, _ = stats[label]
        touches = x == 0 or y == 0 or x + w == width or y + h == height
        frame[label] = touches and (w >= width / 3 or h >= height / 3)
    if not frame.any():
        return image.copy()
    cleaned = np.asarray(image.convert("L") if image.mode == "1" else image).copy()
    cleaned[frame[labels]] = WHITE
    return Image.fromarray(cleaned)
