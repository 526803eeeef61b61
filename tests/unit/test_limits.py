"""The bounds of `domain.limits`: numbers, texts and sizes a record may hold, every record
readable back, validation messages that name the field and the rule, the page pixel limit, and
images turned upright by their EXIF orientation."""

from __future__ import annotations

import io
import math

import pytest
from conftest import SAMPLES
from PIL import Image, ImageChops, ImageStat
from pydantic import ValidationError

from pagesage.adapters.records import checked_json
from pagesage.services.provenance_io import IngestBody, RunIn, SourceDocIn, TokenIn
from pagesage.config import Settings, detect_memory_bytes
from pagesage.domain.jobs import FileFormat
from pagesage.domain.limits import BYTES_PER_PIXEL, is_unsafe_char, max_page_pixels
from pagesage.domain.pages import EngineConfig, Run
from pagesage.errors import MemoryLimit, ValidationFailed, validation_failed
from pagesage.imaging import page_sizes, render_page
from pagesage.services.submit import sanitize_filename

BOX = {"x": 1, "y": 2, "w": 3, "h": 4}


def token(**fields) -> dict:
    return {"token_no": 0, "text": "राम", "bbox": BOX, "confidence": 90, **fields}


@pytest.mark.parametrize("bbox", [{**BOX, "x": 2**63}, {**BOX, "w": 10**400}, {**BOX, "y": -1}, {**BOX, "h": 1_000_001}])
def test_pixel_values_beyond_the_bound_are_refused(bbox):
    with pytest.raises(ValidationError):
        TokenIn.model_validate(token(bbox=bbox))


@pytest.mark.parametrize("field", ["block", "par", "line", "token_no"])
def test_ordinals_beyond_ten_million_are_refused(field):
    TokenIn.model_validate(token(**{field: 10_000_000}))
    with pytest.raises(ValidationError):
        TokenIn.model_validate(token(**{field: 2**70}))


@pytest.mark.parametrize("value", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_wherever_they_appear(value):
    body = f'{{"source_doc_id": "d", "engine": "e", "engine_version": "1", "config": {{"languages": "san", "options": {{"x": {value}}}}}}}'
    with pytest.raises(ValidationError) as refused:
        RunIn.model_validate_json(body)
    assert validation_failed(refused.value).field == "config.options.x"
    with pytest.raises(ValidationError):
        TokenIn.model_validate_json(f'{{"token_no": 0, "text": "a", "bbox": {{"x": 0, "y": 0, "w": 1, "h": 1}}, "confidence": {value}}}')


@pytest.mark.parametrize("text", ["a\x00b", "page\x0cbreak", "\u202eexe.png", "x\u2028y", "\ue000"])
def test_token_text_with_control_or_format_characters_is_refused(text):
    with pytest.raises(ValidationError) as refused:
        IngestBody.model_validate({"mode": "replace", "tokens": [token(text=text)]})
    failed = validation_failed(refused.value)
    assert failed.field == "tokens[0].text" and "control or format character" in failed.detail


def test_joiners_tabs_and_line_feeds_are_kept_where_they_belong():
    assert TokenIn.model_validate(token(text="क्\u200dष")).text == "क्\u200dष"  # ZWJ: a conjunct form
    assert not is_unsafe_char("\u200c") and is_unsafe_char("\u200b") and is_unsafe_char("\x0c")
    assert not is_unsafe_char("\n", newlines=True) and is_unsafe_char("\n")


def test_metadata_options_and_logs_are_bounded_in_bytes():
    with pytest.raises(ValidationError) as refused:
        SourceDocIn.model_validate({"kind": "pdf", "title": "t", "pages": [{"page_no": 1}],
                                    "metadata": {f"k{i}": "x" * 9_000 for i in range(10)}})
    assert validation_failed(refused.value).detail == "metadata: takes 90,100 bytes of JSON; at most 65,536 are allowed"
    with pytest.raises(ValidationError):
        EngineConfig(languages="san", options={"a": "x" * 5_000})
    with pytest.raises(ValidationError):
        Run(engine="e", engine_version="1", config=EngineConfig(languages="san"), log=["x" * 10_000] * 10)


def test_messages_name_the_field_and_the_rule_without_a_documentation_link():
    from pagesage.domain.provenance import SourceDoc

    with pytest.raises(ValidationError) as refused:
        SourceDoc(kind="remote_url", title="t", uri="ftp://x")
    failed = validation_failed(refused.value)
    assert failed.field == "uri" and failed.detail.startswith("uri: uri must be gs://")
    assert "errors.pydantic.dev" not in failed.detail
    with pytest.raises(ValidationError) as refused:
        TokenIn.model_validate(token(bbox={**BOX, "x": 2**63}))
    assert validation_failed(refused.value, prefix="tokens").detail == "tokens.bbox.x: Input should be less than or equal to 1000000"


def test_a_record_that_would_not_read_back_is_refused_before_it_is_written():
    run = Run(engine="e", engine_version="1", config=EngineConfig(languages="san"))
    assert checked_json(run)
    broken = run.model_copy(update={"config": run.config.model_copy(update={"options": {"x": math.nan}})})
    with pytest.raises(ValidationFailed) as refused:
        checked_json(broken)
    assert refused.value.field == "config.options.x"


@pytest.mark.parametrize(("name", "expected"), [("\u202egnp.exe", "_gnp.exe"), ("a\u2066b\u2069.png", "a_b_.png"),
                                                ("क्\u200dष.png", "क्\u200dष.png"), ("x\u200b.pdf", "x_.pdf")])
def test_file_names_lose_bidirectional_and_format_characters(name, expected):
    assert sanitize_filename(name) == expected


# -- pixels bounded by memory ------------------------------------------------------------------

def test_the_page_pixel_limit_follows_memory_and_workers():
    assert max_page_pixels(2 * 2**30, 1) == 2 * 2**30 // 2 // BYTES_PER_PIXEL
    assert max_page_pixels(24 * 2**30, 2) == max_page_pixels(12 * 2**30, 1)
    assert Settings(memory_bytes=2 * 2**30, workers=1).max_page_pixels == 44_739_242
    assert detect_memory_bytes() > 64 * 2**20


def bigger_than(limit: int) -> bytes:
    side = int(limit ** 0.5) + 10
    out = io.BytesIO()
    Image.new("1", (side, side), 1).save(out, format="PNG")
    return out.getvalue()


def test_a_frame_over_the_pixel_limit_is_refused_before_it_is_decoded(tmp_path):
    path = tmp_path / "bomb.png"
    path.write_bytes(bigger_than(1_000_000))
    with pytest.raises(MemoryLimit) as refused:
        page_sizes(path, FileFormat.PNG, dpi=300, max_pixels=1_000_000)
    assert "megapixels" in refused.value.detail and str(tmp_path) not in refused.value.detail
    with pytest.raises(MemoryLimit):
        render_page(path, FileFormat.PNG, 1, dpi=300, max_pixels=1_000_000)
    assert page_sizes(path, FileFormat.PNG, dpi=300, max_pixels=2_000_000)


def test_a_damaged_file_is_refused_without_naming_a_server_path(tmp_path):
    path = tmp_path / "broken.png"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + b"nothing of a png")
    from pagesage.errors import CorruptedFile

    with pytest.raises(CorruptedFile) as refused:
        page_sizes(path, FileFormat.PNG, dpi=300)
    assert str(tmp_path) not in refused.value.detail and "broken" not in refused.value.detail


# -- EXIF orientation --------------------------------------------------------------------------

@pytest.mark.parametrize(("orientation", "turn"), [(6, Image.Transpose.ROTATE_90), (8, Image.Transpose.ROTATE_270),
                                                   (3, Image.Transpose.ROTATE_180)])
def test_a_jpeg_stored_turned_is_decoded_upright(tmp_path, orientation, turn):
    with Image.open(SAMPLES / "alice_1.png") as im:
        upright = im.convert("L").resize((im.width // 4, im.height // 4))
    stored = upright.transpose(turn)  # what the camera wrote; the tag says how to turn it back
    exif = Image.Exif()
    exif[0x0112] = orientation
    path = tmp_path / "turned.jpg"
    stored.save(path, format="JPEG", exif=exif, quality=95)
    page = render_page(path, FileFormat.JPEG, 1, dpi=300)
    assert page.converted and page.image.size == upright.size
    assert any("EXIF orientation" in w for w in page.warnings)
    difference = ImageStat.Stat(ImageChops.difference(page.image, upright)).mean[0]
    assert difference < 8  # the same picture, up to JPEG's loss (a wrong turn differs by far more)
