"""Page image analysis (`pagesage.page_analysis`) on real corpus pages, changed in known ways,
and the grading rules (`pagesage.domain.quality`) on their own."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from PIL import Image

from pagesage import page_analysis
from pagesage.domain import quality
from pagesage.domain.pages import QualityMetrics
from pagesage.domain.stages import StageRecord
from pagesage.imaging import detect_format, render_page
from pagesage.page_analysis import SOURCE, PageAnalysis, analyse

ALICE = "eng-alice-hocrtools/alice_1.png"  # grey scan of a printed LaTeX page, 300 dpi
UNLV = "eng-unlv-isri/8087_054.3B.tif"  # bilevel magazine page with a photo, 300 dpi
C030 = "eng-oldbooks/c030.tiff"  # bilevel book page (its DPI tag is missing: 300 assumed)
F035 = "eng-oldbooks/f035.tiff"
SHREELIPI = "san-imagessan/shreelipi-p001.png"  # palette PNG of a digital-born page, 400 dpi
IAST = "san-iast/iasttest1.png"  # RGB screenshot with coloured text, 120 dpi


def page(corpus, name: str) -> tuple[Image.Image, int]:
    """The page as the pipeline's render stage hands it on: image and DPI."""
    path = corpus / name
    rendered = render_page(path, detect_format(path.read_bytes()[:1024]), 1, dpi=300)
    return rendered.image, rendered.dpi


def grey(image: Image.Image) -> np.ndarray:
    return np.array(image.convert("L"))


def rotated(image: Image.Image, degrees: float) -> Image.Image:
    """Turned counter-clockwise, as a scanner would skew it, white filling the corners."""
    return image.convert("L").rotate(degrees, resample=Image.Resampling.BICUBIC, fillcolor=255)


# -- skew --------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [ALICE, UNLV, SHREELIPI])
@pytest.mark.parametrize("degrees", [1.5, -3.0, 0.5, 6.0])
def test_a_known_rotation_is_recovered_within_a_third_of_a_degree(corpus, name, degrees):
    image, dpi = page(corpus, name)
    own = analyse(image, dpi=dpi).skew_angle  # the scan's own skew (alice is turned -0.25 degrees)
    assert abs(own) < 0.5
    assert analyse(rotated(image, degrees), dpi=dpi).skew_angle == pytest.approx(own + degrees, abs=0.3)


def test_a_warped_book_page_is_still_level_to_within_a_third_of_a_degree(corpus):
    # the lines of this 1850s book page bend; its skew is the middle of a plateau, not a peak
    image, dpi = page(corpus, "eng-oldbooks/b018.tiff")
    own = analyse(image, dpi=dpi).skew_angle
    assert analyse(rotated(image, -3.0), dpi=dpi).skew_angle == pytest.approx(own - 3.0, abs=0.3)


def test_a_page_without_text_has_no_skew_or_x_height():
    blank = analyse(Image.new("L", (1700, 2200), 250), dpi=200)
    assert (blank.skew_angle, blank.x_height_px, blank.contrast, blank.noise_level) == (None, None, 0.0, 0.0)
    assert blank.metrics().overall_quality == "excellent"  # nothing measured is wrong with it


# -- borders, noise, contrast, brightness --------------------------------------------------

def test_a_black_frame_raises_the_dark_border_fraction(corpus):
    image, dpi = page(corpus, C030)
    pixels = grey(image)
    clean = analyse(image, dpi=dpi).dark_border_fraction
    framed = pixels.copy()
    framed[:60], framed[-60:], framed[:, :60], framed[:, -60:] = 0, 0, 0, 0
    frame = analyse(Image.fromarray(framed), dpi=dpi).dark_border_fraction
    assert clean < 0.01 and frame > 0.5


def test_salt_and_pepper_raises_the_noise_level(corpus):
    image, dpi = page(corpus, C030)
    rng = np.random.default_rng(7)
    levels = []
    for density in (0.0, 0.004, 0.016):
        pixels = grey(image)
        pixels[rng.random(pixels.shape) < density] = 0
        pixels[rng.random(pixels.shape) < density] = 255
        levels.append(analyse(Image.fromarray(pixels).convert("1"), dpi=dpi).noise_level)
    assert levels[0] < 0.01 < levels[1] < levels[2]
    assert levels[2] > 0.1


def test_reduced_contrast_lowers_contrast_and_a_darker_paper_lowers_brightness(corpus):
    image, dpi = page(corpus, ALICE)
    pixels = grey(image).astype(np.float64)
    full = analyse(image, dpi=dpi)
    faint = analyse(Image.fromarray((255 - (255 - pixels) * 0.3).astype(np.uint8)), dpi=dpi)
    dark = analyse(Image.fromarray((pixels * 0.6).astype(np.uint8)), dpi=dpi)
    assert full.contrast > 0.7 and faint.contrast == pytest.approx(0.3 * full.contrast, abs=0.03)
    assert dark.brightness == pytest.approx(0.6 * full.brightness, abs=0.02)
    assert full.brightness > 0.95


# -- colour space, bit depth, x-height, spreads ---------------------------------------------

@pytest.mark.parametrize("name, colour_space, bit_depth", [
    (C030, "bilevel", 1),
    (ALICE, "grey", 8),
    (SHREELIPI, "grey", 8),  # a palette of greys
    (IAST, "rgb", 8),
])
def test_colour_space_and_bit_depth(corpus, name, colour_space, bit_depth):
    image, dpi = page(corpus, name)
    analysis = analyse(image, dpi=dpi)
    assert (analysis.colour_space, analysis.bit_depth) == (colour_space, bit_depth)


def test_an_rgb_scan_with_equal_channels_is_grey_and_grey_holding_only_black_and_white_is_bilevel(corpus):
    image, dpi = page(corpus, ALICE)
    assert analyse(image.convert("RGB"), dpi=dpi).colour_space == "grey"
    bilevel, _ = page(corpus, C030)
    assert analyse(bilevel.convert("L"), dpi=300).colour_space == "bilevel"


def test_x_height_follows_the_scale_of_the_page(corpus):
    image, dpi = page(corpus, C030)
    full = analyse(image, dpi=dpi).x_height_px
    half = analyse(image.convert("L").reduce(2), dpi=dpi // 2).x_height_px
    assert full == pytest.approx(23, abs=3)  # 23 pixels, counted on the full-resolution page
    assert half == pytest.approx(full / 2, abs=2)


def test_two_pages_side_by_side_are_a_spread_and_each_alone_is_not(corpus):
    left, dpi = page(corpus, C030)
    right, _ = page(corpus, F035)
    height = max(left.height, right.height)
    spread = Image.new("L", (left.width + right.width, height), 255)
    spread.paste(left.convert("L"), (0, 0))
    spread.paste(right.convert("L"), (left.width, 0))
    assert analyse(spread, dpi=dpi).is_two_page_spread
    shadow = np.array(spread)
    shadow[:, left.width - 25:left.width + 25] = 40  # the gutter's shadow of a book scanned open
    assert analyse(Image.fromarray(shadow), dpi=dpi).is_two_page_spread
    assert not analyse(left, dpi=dpi).is_two_page_spread and not analyse(right, dpi=dpi).is_two_page_spread
    eurotext, dpi = page(corpus, "eng-tesseract-testing/eurotext.tif")  # landscape, one page
    assert not analyse(eurotext, dpi=dpi).is_two_page_spread


# -- as quality metrics and provenance -------------------------------------------------------

def test_metrics_are_pagesage_quality_metrics_with_colour_space_and_bit_depth(corpus):
    image, dpi = page(corpus, C030)
    analysis = analyse(image, dpi=dpi)
    metrics = analysis.metrics()
    assert isinstance(metrics, QualityMetrics) and metrics.source == SOURCE == "pagesage-analyse"
    assert (metrics.overall_quality, metrics.quality_score, metrics.defects) == ("excellent", 1.0, {})
    assert (metrics.skew_angle, metrics.contrast, metrics.noise_level) == (
        analysis.skew_angle, analysis.contrast, analysis.noise_level)
    dumped = json.loads(metrics.model_dump_json())
    assert dumped["color_space"] == "bilevel" and dumped["bit_depth"] == 1
    assert QualityMetrics.model_validate(dumped) == metrics
    assert QualityMetrics(overall_quality="good", quality_score=0.8, source="document-ai").color_space is None


def test_parameters_fit_a_stage_record(corpus):
    image, dpi = page(corpus, SHREELIPI)
    parameters = analyse(image, dpi=dpi).parameters()
    record = StageRecord(stage="analyse", seconds=0.03, applied=["quality-metrics"], parameters=parameters)
    assert record.parameters["colorSpace"] == "grey" and record.parameters["qualityScore"] == 1.0
    assert {"skewAngle", "noiseLevel", "xHeightPx", "darkBorderFraction", "twoPageSpread"} <= set(parameters)


def test_other_modes_and_bad_dpi_are_refused():
    with pytest.raises(ValueError, match="mode"):
        analyse(Image.new("I;16", (100, 100)), dpi=300)
    with pytest.raises(ValueError, match="dpi"):
        analyse(Image.new("L", (100, 100), 255), dpi=0)


def test_ink_thresholded_in_strips_is_the_ink_of_the_whole_page(corpus):
    # a grey scan whose height is no multiple of a strip: the last strip is short
    image, _ = page(corpus, ALICE)
    pixels = grey(image)
    k = 3
    pixels = pixels[: pixels.shape[0] // k * k, : pixels.shape[1] // k * k]
    assert pixels.shape[0] % (page_analysis.STRIP_ROWS * k)
    whole = cv2.threshold(pixels, 140, 255, cv2.THRESH_BINARY_INV)[1]
    expected = cv2.resize(whole, (pixels.shape[1] // k, pixels.shape[0] // k), interpolation=cv2.INTER_AREA)
    assert np.array_equal(page_analysis._reduced_ink(pixels, 141, k), expected)
    assert 0 < np.count_nonzero(expected) < expected.size


# -- grading (domain.quality) ---------------------------------------------------------------

CLEAN = {"skew_angle": 0.2, "contrast": 0.9, "noise_level": 0.01, "x_height_px": 20.0}


def grade(**changes) -> quality.Grade:
    return quality.grade(**{**CLEAN, **changes})


def test_a_clean_page_is_excellent_with_no_defects():
    assert grade() == (1.0, "excellent", {})


@pytest.mark.parametrize("metric, harmless, failing, defect", [
    ("x_height_px", 8.0, 5.0, "text_too_small"),
    ("noise_level", 0.04, 0.25, "noisy"),
    ("contrast", 0.2, 0.1, "faint"),
    ("skew_angle", 1.0, 3.0, "skewed"),
])
def test_each_defect_ramps_from_harmless_to_failing(metric, harmless, failing, defect):
    assert grade(**{metric: harmless}) == (1.0, "excellent", {})
    middle = grade(**{metric: (harmless + failing) / 2})
    assert middle.defects == {defect: 0.5} and middle.quality_score == 0.5 and middle.overall_quality == "fair"
    assert grade(**{metric: failing}) == (0.0, "poor", {defect: 1.0})
    beyond = failing + (failing - harmless)
    assert grade(**{metric: beyond}).quality_score == 0.0


def test_skew_counts_either_way_and_unmeasured_metrics_are_harmless():
    assert grade(skew_angle=-5.0) == grade(skew_angle=5.0)
    assert grade(skew_angle=None, x_height_px=None) == (1.0, "excellent", {})
    assert grade(contrast=0.0, x_height_px=None) == (1.0, "excellent", {})  # blank, not faint


def test_the_grade_uses_quality_metrics_cut_offs():
    # noise 0.061 is 10 % of the way from harmless to failing: score 0.9, the lowest excellent
    assert grade(noise_level=0.061)[:2] == (0.9, "excellent")
    assert grade(noise_level=0.103)[:2] == (0.7, "good")
    assert grade(noise_level=0.0925)[1] == QualityMetrics.graded(0.75, {}, "x").overall_quality == "good"
    assert grade(noise_level=0.166)[:2] == (0.4, "poor")


def test_defects_multiply():
    both = grade(noise_level=0.145, skew_angle=2.0)
    assert both.defects == {"noisy": 0.5, "skewed": 0.5} and both.quality_score == 0.25


def test_metrics_that_are_not_numbers_are_refused():
    with pytest.raises(ValueError):
        grade(contrast=float("nan"))


def test_a_page_analysis_grades_through_the_domain_rules():
    analysis = PageAnalysis(width=100, height=100, dpi=300, colour_space="grey", bit_depth=8, skew_angle=2.0,
                            contrast=0.9, brightness=0.9, ink_fraction=0.1, noise_level=0.145,
                            dark_border_fraction=0.0, is_two_page_spread=False, x_height_px=20.0)
    metrics = analysis.metrics()
    assert (metrics.quality_score, metrics.overall_quality, metrics.defects) == (
        0.25, "poor", {"noisy": 0.5, "skewed": 0.5})
