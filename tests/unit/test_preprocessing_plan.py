"""The preprocessing plan (`domain.preprocessing.plan`): what a page's OSD and measured skew
call for, in the order applied, and a note for what is considered and declined."""

from __future__ import annotations

import pytest

from pagesage.domain.pages import OsdResult
from pagesage.domain.preprocessing import DESKEW_MIN_DEGREES, ROTATE_THRESHOLD, plan


def _osd(rotate: int, confidence: float) -> OsdResult:
    return OsdResult(rotate=rotate, orientation_confidence=confidence, script="Latin", script_confidence=3.0)


def test_a_level_upright_page_gets_nothing():
    assert plan(detection=None, skew_angle=None) == []
    assert plan(detection=_osd(0, 30.0), skew_angle=0.4) == []
    assert plan(detection=None, skew_angle=DESKEW_MIN_DEGREES - 0.01) == []


def test_a_confident_turn_then_the_deskew_in_that_order():
    steps = plan(detection=_osd(90, ROTATE_THRESHOLD), skew_angle=-2.5)
    assert [(s.name, s.apply, s.value) for s in steps] == [("rotate-90", True, 90), ("deskew", True, 2.5)]
    assert steps[0].note == "page turned 90 degrees clockwise to upright"
    assert steps[1].note == "page deskewed by 2.50 degrees"


@pytest.mark.parametrize("skew", [DESKEW_MIN_DEGREES, -DESKEW_MIN_DEGREES, 5.0])
def test_a_skew_from_the_threshold_on_is_corrected_the_other_way(skew):
    [step] = plan(detection=None, skew_angle=skew)
    assert (step.name, step.apply, step.value) == ("deskew", True, -skew)


def test_an_unsure_turn_is_declined_with_a_note():
    [step] = plan(detection=_osd(180, ROTATE_THRESHOLD - 0.1), skew_angle=None)
    assert (step.name, step.apply) == ("rotate-180", False)
    assert "confidence 13.9 < 14.0; left as scanned" in step.note
