"""Which image operations a page gets before recognition, decided from its measurements.

A step is kept only where an A/B run on the public corpus showed it lowers CER; the measured
table and what was declined are in docs/preprocessing.md. Nothing is applied blindly: each step
has a condition on the page's analysis, and a step considered and declined for a page carries a
note saying why, which the page result's warnings keep.

The steps, in the order they are applied:
    * `rotate-<d>`: OSD's clockwise turn to upright, when its orientation confidence reaches
      `ROTATE_THRESHOLD`.
    * `deskew`: turn the page level when the skew measured on the upright page is at least
      `DESKEW_MIN_DEGREES`.

Enlarging small text (x-height under 15 px to 24 px, after Tesseract's FAQ "Is there a minimum
text size?") is not a step: it lowered `eng`'s CER on the one such corpus page, but raised
`Latin_eng`'s, the model `auto` reads Latin script with (docs/preprocessing.md).
"""

from __future__ import annotations

from dataclasses import dataclass

from pagesage.domain.pages import OsdResult

ROTATE_THRESHOLD = 14.0
"""Least OSD orientation confidence for which a page is turned: OCRmyPDF's default
`--rotate-pages-threshold`. Below it a wrong turn costs more than leaving the page as scanned."""

DESKEW_MIN_DEGREES = 1.5
"""Least |skew| that is corrected. Tesseract's line finding follows small skews itself: on
corpus pages turned by 0.5 and 1 degree, deskewing changed CER by -0.3 to +0.5 points (noise
of resampling); from 2 degrees on it won on every page (up to 37 points at 5 degrees)."""

@dataclass(frozen=True)
class Step:
    """One considered operation.

    Attributes:
        name: what is done, as recorded in `preprocessingApplied` (`rotate-90`, `deskew`, ...).
        apply: False when it was considered and declined (then `note` says why).
        value: its parameter — degrees for `rotate-*` (clockwise) and `deskew`
            (counter-clockwise); None when it has none.
        note: a human-readable line for the page result's warnings, or None.
    """

    name: str
    apply: bool
    value: float | None = None
    note: str | None = None


def upright_turn(detection: OsdResult | None) -> int:
    """The clockwise turn (0, 90, 180, 270 degrees) that sets the page upright: OSD's, when its
    orientation confidence reaches `ROTATE_THRESHOLD`, else 0. The analysis measures the page
    as turned, so skew and text size are those of the upright page."""
    if detection is None or detection.orientation_confidence < ROTATE_THRESHOLD:
        return 0
    return detection.rotate


def plan(*, detection: OsdResult | None, skew_angle: float | None) -> list[Step]:
    """The steps for a page, in the order they are applied, from OSD (None: not run or too
    little text) and the skew measured on the upright page (degrees counter-clockwise, None:
    not measurable)."""
    steps: list[Step] = []
    turn = upright_turn(detection)
    if turn:
        steps.append(Step(f"rotate-{turn}", True, turn, f"page turned {turn} degrees clockwise to upright"))
    elif detection is not None and detection.rotate:
        steps.append(Step(f"rotate-{detection.rotate}", False, detection.rotate,
                          f"OSD suggests turning the page {detection.rotate} degrees, with confidence "
                          f"{detection.orientation_confidence:.1f} < {ROTATE_THRESHOLD}; left as scanned"))
    if skew_angle is not None and abs(skew_angle) >= DESKEW_MIN_DEGREES:
        steps.append(Step("deskew", True, -skew_angle, f"page deskewed by {-skew_angle:.2f} degrees"))
    return steps
