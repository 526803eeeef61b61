"""How a page image's measured metrics grade into an overall quality score and grade.

Pure rules: `page_analysis` measures, this decides. Each defect has a confidence 0-1 rising
linearly from 0 at a harmless value of its metric to 1 at a failing one; the overall score is
the product of (1 - confidence) over the defects (each defect independently spoils part of
the page), and its grade is `QualityMetrics.graded`'s (>= 0.9 excellent, >= 0.7 good, >= 0.5
fair, else poor). Defect names are Document AI's `quality/defect_*` types without the prefix
where one fits (`noisy`, `faint`, `text_too_small`), else PageSage's own (`skewed`).

The thresholds were measured, not assumed: clean 300-dpi book pages of the public corpus
(eng-oldbooks c030, baseline CER 0.56 %; d034 and f035 for the x-height) were degraded step by
step and read by Tesseract 5.3.0 (`eng`, `--psm 3`). "Harmless" is the worst measured step that
added less than one point of CER, "failing" the first step at which the CER reached about 15 %;
the x-heights are as `page_analysis` measures them:
    * text_too_small, x-height 8 -> 5 pixels: the pages downscaled (Lanczos) to x-heights of
      24 ... 8 px kept their CER within a point, 7 px added up to 1.4 points, 6 px gave 1.3 -
      12 %, 5 px 17 %. (Tesseract's FAQ, written for its legacy engine, puts the limits higher,
      at 10 and 8 pixels.)
    * noisy, noise level 0.04 -> 0.25: salt-and-pepper noise measured 0.013 / 0.044 / 0.083 /
      0.15 / 0.24 / 0.34 (share of ink in specks) for CER 0.65 / 1.2 / 2.9 / 5.4 / 17 / 100 %.
    * faint, contrast 0.2 -> 0.1: with scanner-like grey noise (sigma 8 levels), contrast 0.29
      and 0.19 kept the CER (0.56 / 0.74 %), 0.10 gave 15 %, 0.05 100 %.
    * skewed, |skew| 1 -> 3 degrees: five corpus pages (c030, e052, j030, alice_1, shreelipi
      p003) turned by 1, 2, -3 and 5 degrees gave mean CER 1.6 / 3.0 / 27 / 25 % against 1.5 %
      level (`make bench`, bench_ocr_quality.py); Tesseract's line finding follows a skew of a
      degree, then fails on some pages and not others (c030 alone stays under 2 % at 5 degrees).
Not graded, because the same experiment found no effect on CER: brightness (paper darkened to
0.25 with its contrast kept above 0.2) and dark borders (a black frame filling 5 % of the width
on both sides left the CER unchanged; 10 % added 1.6 points). Both stay measurements, for the
preprocessing that crops borders or normalises the background.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from pagesage.domain.pages import QualityMetrics

TEXT_TOO_SMALL = (8.0, 5.0)
"""x-height in pixels: (harmless, failing), as measured in the module docstring."""
NOISY = (0.04, 0.25)
"""Noise level, share of the ink in specks: (harmless, failing)."""
FAINT = (0.2, 0.1)
"""Contrast 0-1: (harmless, failing)."""
SKEWED = (1.0, 3.0)
"""|skew| in degrees: (harmless, failing)."""


class Grade(NamedTuple):
    """A page's overall quality: `quality_score` 0-1 (higher is better), `overall_quality`
    one of excellent/good/fair/poor, and the `defects` found (name -> confidence 0-1, only
    those above 0)."""

    quality_score: float
    overall_quality: str
    defects: dict[str, float]


def grade(*, skew_angle: float | None, contrast: float, noise_level: float, x_height_px: float | None) -> Grade:
    """Grade measured metrics: skew in degrees, contrast and noise level 0-1 (as
    `page_analysis.PageAnalysis` defines them), x-height in pixels. A metric that is None
    (the page has too little text to measure it) counts as harmless, and so does the contrast
    of a page without a measurable x-height: a blank page is not faint.

    Raises:
        ValueError: a metric that is not a finite number.
    """
    values = (skew_angle, contrast, noise_level, x_height_px)
    if any(v is not None and not math.isfinite(v) for v in values):
        raise ValueError(f"metrics must be finite numbers: {values}")
    confidences = {
        "text_too_small": _ramp(x_height_px, *TEXT_TOO_SMALL),
        "noisy": _ramp(noise_level, *NOISY),
        "faint": _ramp(contrast if x_height_px is not None else None, *FAINT),
        "skewed": _ramp(None if skew_angle is None else abs(skew_angle), *SKEWED),
    }
    defects = {name: round(c, 3) for name, c in confidences.items() if c > 0}
    score = round(math.prod(1 - c for c in confidences.values()), 3)
    return Grade(score, QualityMetrics.graded(score, defects, "pagesage").overall_quality, defects)


def _ramp(value: float | None, harmless: float, failing: float) -> float:
    """0 at `harmless` and on its side, 1 at `failing` and beyond, linear between; 0 for None."""
    if value is None:
        return 0.0
    return min(1.0, max(0.0, (value - harmless) / (failing - harmless)))
