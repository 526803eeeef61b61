"""Every example of the book layer's design validates: against its published JSON Schema file
(`schemas/`, draft 2020-12), against its pydantic model, and against the inline reference rules
(ordering, non-overlap, bounds, `sequenceInText` 1.., `targetBoxId` in `linkedBoxes`, and
`displayText` equal to the code points of `text.corrected` at `charOffset`).

The examples are in `tests/fixtures/book/examples/` (README.md there says where each came from
and what was completed or fixed). The reference rules are checked by a local helper here, plain
code-point slicing, independent of the domain's own implementation.
"""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError
from referencing import Registry, Resource

from pagesage import jsonschemas
from pagesage.book.domain.cost_log import CostLogEntry, breakdown
from pagesage.book.domain.export_config import ExportConfiguration
from pagesage.book.domain.model import (
    BoundingBox,
    ImageMetadata,
    InlineReference,
    PageAnnotations,
    Project,
    VersionHistoryEntry,
)
from pagesage.book.domain.ocr_result import OcrResult
from pagesage.book.domain.users import UserProfile

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "tests" / "fixtures" / "book" / "examples"
SCHEMAS = REPO / "schemas"
BASE = "https://pagesage.dev/schemas/"

BOOK_SCHEMAS = ("project-metadata", "user-profile", "page-annotations", "bounding-box", "version-history-entry",
                "cost-log-entry", "ocr-result", "image-metadata", "export-configuration")
"""The nine published schemas of the book layer, as the design names them."""

EXAMPLE_SCHEMAS: dict[str, tuple[str, str | None, type[BaseModel]]] = {
    "01-project-metadata.json": ("project-metadata", None, Project),
    "02-user-profile.json": ("user-profile", None, UserProfile),
    "03-page-annotations.json": ("page-annotations", None, PageAnnotations),
    "04-bounding-box-single-footnote.json": ("bounding-box", None, BoundingBox),
    "05-bounding-box-multiple-footnotes.json": ("bounding-box", None, BoundingBox),
    "06-bounding-box-adjacent-footnotes.json": ("bounding-box", None, BoundingBox),
    "07-bounding-box-bracketed-reference.json": ("bounding-box", None, BoundingBox),
    "08-bounding-box-separate-reference-box.json": ("bounding-box", None, BoundingBox),
    "09-bounding-box-case1-marker-in-ocr-text.json": ("bounding-box", None, BoundingBox),
    "10-bounding-box-case2-before-correction.json": ("bounding-box", None, BoundingBox),
    "10-bounding-box-case2-after-correction.json": ("bounding-box", None, BoundingBox),
    "11-bounding-box-case3-misread-marker.json": ("bounding-box", None, BoundingBox),
    "12-bounding-box-case4-compound-marker.json": ("bounding-box", None, BoundingBox),
    "13-bounding-box-case5-marker-inside-word.json": ("bounding-box", None, BoundingBox),
    "14-project-box-index.json": ("project-metadata", None, Project),
    "15-bounding-box-cross-page-source.json": ("bounding-box", None, BoundingBox),
    "15-bounding-box-cross-page-target.json": ("bounding-box", None, BoundingBox),
    "16-bounding-box-cross-page-verse-reference.json": ("bounding-box", None, BoundingBox),
    "17-bounding-box-ocr-missed-marker.json": ("bounding-box", None, BoundingBox),
    "18-inline-reference-added-manually.json": ("bounding-box", "InlineReference", InlineReference),
    "19-version-history-entry-reference-added.json": ("version-history-entry", None, VersionHistoryEntry),
    "20-bounding-box-ocr-read-marker-as-digit.json": ("bounding-box", None, BoundingBox),
    "21-bounding-box-missing-references-before.json": ("bounding-box", None, BoundingBox),
    "22-bounding-box-missing-references-after.json": ("bounding-box", None, BoundingBox),
    "23-cost-log.jsonl": ("cost-log-entry", None, CostLogEntry),
    "24-ocr-result.json": ("ocr-result", None, OcrResult),
    "25-image-metadata.json": ("image-metadata", None, ImageMetadata),
    "26-export-configuration.json": ("export-configuration", None, ExportConfiguration),
}
"""Example file -> (schema stem, definition inside it or None for the root, model). An inline
reference on its own is checked against the `InlineReference` definition of the bounding box
schema, the schema that publishes it."""

GITA = "The Gītā states this principle¹ clearly in Chapter 2."
STANDALONE_TEXT = {
    "18-inline-reference-added-manually.json": GITA,
    "19-version-history-entry-reference-added.json": GITA,
}
"""The box text that references outside a box point into (the design's workflow: the user
inserted the marker, so the text is the one with it)."""


# -- the reference rules, as a local helper -------------------------------------------------

def reference_problems(text: str, refs: list[InlineReference], linked_boxes: list[str] | None) -> list[str]:
    """What breaks the inline reference rules, one line each (empty: all hold). Offsets and
    lengths count code points of `text` (Python's `str` indexing). `linked_boxes` None skips
    the `linkedBoxes` rule (a reference outside a box)."""
    problems = []
    for i, ref in enumerate(refs):
        start, length = ref.position.char_offset, ref.position.length
        end = start + length
        rid = ref.reference_id
        if i:
            prev = refs[i - 1].position
            if start <= prev.char_offset:
                problems.append(f"{rid}: not ordered by charOffset ({start} after {prev.char_offset})")
            elif start < prev.char_offset + prev.length:
                problems.append(f"{rid}: overlaps the reference before it")
        if end > len(text):
            problems.append(f"{rid}: ends at {end}, past the text's {len(text)} code points")
        if ref.sequence_in_text != i + 1:
            problems.append(f"{rid}: sequenceInText {ref.sequence_in_text}, expected {i + 1}")
        if linked_boxes is not None and ref.target_box_id not in linked_boxes:
            problems.append(f"{rid}: targetBoxId {ref.target_box_id} not in linkedBoxes")
        found = text[start:end]
        if found != ref.display_text:
            problems.append(f"{rid}: displayText {ref.display_text!r} but the text has {found!r} at {start}")
    return problems


def box_problems(box: BoundingBox) -> list[str]:
    return [f"{box.box_id}: {p}" for p in reference_problems(box.text.corrected, box.inline_references, box.linked_boxes)]


def walk(value: Any, boxes: list[BoundingBox], loose: list[InlineReference]) -> None:
    """Collect every bounding box in `value` (a page's, a deleted one in a version entry) and
    every inline reference that is not inside a box (a version entry's before/after)."""
    if isinstance(value, BoundingBox):
        boxes.append(value)
        for ref in value.inline_references:  # the box's own, checked with the box
            walk_fields(ref, boxes, loose)
        walk_fields(value, boxes, loose, skip={"inline_references"})
    elif isinstance(value, InlineReference):
        loose.append(value)
    elif isinstance(value, BaseModel):
        walk_fields(value, boxes, loose)
    elif isinstance(value, (list, tuple)):
        for item in value:
            walk(item, boxes, loose)
    elif isinstance(value, dict):
        for item in value.values():
            walk(item, boxes, loose)


def walk_fields(model: BaseModel, boxes, loose, skip: frozenset[str] | set[str] = frozenset()) -> None:
    for name in type(model).model_fields:
        if name not in skip:
            walk(getattr(model, name), boxes, loose)


def record_problems(name: str, record: BaseModel) -> list[str]:
    boxes: list[BoundingBox] = []
    loose: list[InlineReference] = []
    walk(record, boxes, loose)
    problems = [p for box in boxes for p in box_problems(box)]
    if loose:
        text = STANDALONE_TEXT.get(name)
        if text is None:
            problems.append("references outside a box, and no text known to check them against")
        else:
            for ref in loose:  # each stands alone: its own sequence
                problems += reference_problems(text, [ref], None)
    return problems


# -- loading --------------------------------------------------------------------------------

def schema_file(stem: str) -> dict:
    return json.loads((SCHEMAS / f"{stem}.schema.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def registry() -> Registry:
    """Every committed schema, by its `$id`."""
    resources = []
    for path in sorted(SCHEMAS.glob("*.schema.json")):
        schema = json.loads(path.read_text(encoding="utf-8"))
        resources.append((schema["$id"], Resource.from_contents(schema)))
    return Registry().with_resources(resources)


def documents(path: Path) -> list[Any]:
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".jsonl":
        return [json.loads(line) for line in text.splitlines() if line.strip()]
    return [json.loads(text)]


def validator(registry: Registry, stem: str, definition: str | None) -> jsonschema.Draft202012Validator:
    ref = f"{BASE}{stem}.schema.json" + (f"#/$defs/{definition}" if definition else "")
    return jsonschema.Draft202012Validator({"$ref": ref}, registry=registry)


def load(name: str) -> list[dict]:
    return documents(EXAMPLES / name)


# -- the examples ---------------------------------------------------------------------------

def test_every_example_file_is_mapped_and_every_mapping_has_a_file():
    files = {p.name for p in EXAMPLES.iterdir() if p.suffix in (".json", ".jsonl")}
    assert files == set(EXAMPLE_SCHEMAS)


@pytest.mark.parametrize("name", sorted(EXAMPLE_SCHEMAS))
def test_example_validates_against_its_schema_file(name, registry):
    stem, definition, _ = EXAMPLE_SCHEMAS[name]
    check = validator(registry, stem, definition)
    for doc in load(name):
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in check.iter_errors(doc)]
        assert not errors, errors


@pytest.mark.parametrize("name", sorted(EXAMPLE_SCHEMAS))
def test_example_validates_against_its_model_and_the_reference_rules(name):
    _, _, model = EXAMPLE_SCHEMAS[name]
    for doc in load(name):
        record = model.model_validate(doc)
        assert record_problems(name, record) == []


def test_the_cost_log_example_rolls_up_by_operation():
    entries = [CostLogEntry.model_validate(doc) for doc in load("23-cost-log.jsonl")]
    assert [e.entry_id for e in entries] == ["cost_001", "cost_002", "cost_003"]
    assert entries[2].page_id is None and entries[2].notes == "Batch processing pages 2-51"
    total, buckets = breakdown(entries)
    assert buckets == {"preprocessing": 0.0, "layoutDetection": 0.102, "ocr": 0.0015, "other": 0.0}
    assert math.isclose(total, 0.1035)


def test_the_user_profile_example_never_dumps_its_token():
    (doc,) = load("02-user-profile.json")
    profile = UserProfile.model_validate({**doc, "sessionToken": "s3cr3t-session", "githubAccessToken": "gho_s3cr3t"})
    assert profile.session_token.get_secret_value() == "s3cr3t-session"
    dumped = profile.model_dump_json()
    assert "s3cr3t" not in dumped and "sessionToken" not in dumped and "githubAccessToken" not in dumped
    assert "s3cr3t" not in repr(profile) and "s3cr3t" not in str(profile.model_dump())


# -- the slips the fixtures fix: as the design wrote them, each fails -----------------------

def _page_box_002(doc: dict) -> dict:
    return doc["currentState"]["boundingBoxes"][1]


def _set_text(box: dict, text: str) -> None:
    box["text"]["ocr"] = box["text"]["corrected"] = text


def _set_offsets(refs: list[dict], offsets: tuple[int, ...]) -> None:
    for ref, offset in zip(refs, offsets, strict=True):
        ref["position"]["charOffset"] = offset


def _design_03(doc):
    box = _page_box_002(doc)
    _set_text(box, "This verse appears in the Mahābhārata and has been interpreted by multiple scholars.")
    _set_offsets(box["inlineReferences"], (24, 38, 84))


def _design_04(doc):
    _set_text(doc, "The Gītā states this principle clearly in Chapter 2.")
    _set_offsets(doc["inlineReferences"], (32,))


def _design_04_offset_only(doc):
    _set_offsets(doc["inlineReferences"], (32,))  # the marker inserted, the offset still 32


def _design_05(doc):
    _set_text(doc, "The first principle appears in Chapter 2, followed by the second in Chapter 3.")
    _set_offsets(doc["inlineReferences"], (18, 41, 72))


def _design_05_offsets_only(doc):
    _set_offsets(doc["inlineReferences"], (18, 41, 72))


def _design_06(doc):
    _set_text(doc, "धर्मक्षेत्रे कुरुक्षेत्रे")


def _design_07(doc):
    _set_text(doc, "As stated in the Mahābhārata.")
    _set_offsets(doc["inlineReferences"], (18,))


def _design_12(doc):
    _set_text(doc, "Multiple sources support this claim.")
    doc["inlineReferences"][0]["position"]["length"] = 5


def _design_12_length_only(doc):
    doc["inlineReferences"][0]["position"]["length"] = 5


def _design_18(doc):
    doc["position"]["charOffset"] = 32


def _design_19(doc):
    doc["changes"]["after"]["position"]["charOffset"] = 32


def _design_22_offsets(doc):
    _set_offsets(doc["inlineReferences"], (18, 41, 72))


def _design_15_no_position(doc):
    del doc["inlineReferences"][0]["position"]


def _design_10_unlinked(doc):
    del doc["linkedBoxes"]


SLIPS = [
    ("03-page-annotations.json", _design_03),
    ("04-bounding-box-single-footnote.json", _design_04),
    ("04-bounding-box-single-footnote.json", _design_04_offset_only),
    ("05-bounding-box-multiple-footnotes.json", _design_05),
    ("05-bounding-box-multiple-footnotes.json", _design_05_offsets_only),
    ("06-bounding-box-adjacent-footnotes.json", _design_06),
    ("07-bounding-box-bracketed-reference.json", _design_07),
    ("12-bounding-box-case4-compound-marker.json", _design_12),
    ("12-bounding-box-case4-compound-marker.json", _design_12_length_only),
    ("18-inline-reference-added-manually.json", _design_18),
    ("19-version-history-entry-reference-added.json", _design_19),
    ("22-bounding-box-missing-references-after.json", _design_22_offsets),
    ("10-bounding-box-case2-after-correction.json", _design_10_unlinked),
]


@pytest.mark.parametrize(("name", "as_designed"), SLIPS, ids=[f"{n[:2]}-{f.__name__}" for n, f in SLIPS])
def test_the_design_as_written_breaks_the_reference_rules(name, as_designed):
    _, _, model = EXAMPLE_SCHEMAS[name]
    (doc,) = load(name)
    doc = copy.deepcopy(doc)
    as_designed(doc)
    assert record_problems(name, model.model_validate(doc))


def test_a_reference_without_a_position_fails_schema_and_model(registry):
    (doc,) = load("15-bounding-box-cross-page-source.json")
    _design_15_no_position(doc)
    assert list(validator(registry, "bounding-box", None).iter_errors(doc))
    with pytest.raises(ValidationError):
        BoundingBox.model_validate(doc)


def test_flattened_references_fail_schema_and_model(registry):
    """The design's "final result" put `charOffset` beside `displayText`, not in `position`."""
    (doc,) = load("22-bounding-box-missing-references-after.json")
    for ref in doc["inlineReferences"]:
        ref["charOffset"] = ref.pop("position")["charOffset"]
    assert list(validator(registry, "bounding-box", None).iter_errors(doc))
    with pytest.raises(ValidationError):
        BoundingBox.model_validate(doc)


def test_a_non_hex_checksum_fails_the_export_configuration(registry):
    (doc,) = load("26-export-configuration.json")
    doc["outputSha256"] = "b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6q7r8s9t0u1"  # as the design wrote it
    assert list(validator(registry, "export-configuration", None).iter_errors(doc))
    with pytest.raises(ValidationError):
        ExportConfiguration.model_validate(doc)


# -- the helper itself can fail on each rule --------------------------------------------------

def _box(**changes) -> BoundingBox:
    (doc,) = load("05-bounding-box-multiple-footnotes.json")
    refs = doc["inlineReferences"]
    for index, field, value in changes.get("refs", []):
        if field in ("charOffset", "length"):
            refs[index]["position"][field] = value
        else:
            refs[index][field] = value
    if "order" in changes:
        doc["inlineReferences"] = [refs[i] for i in changes["order"]]
    if "linked" in changes:
        doc["linkedBoxes"] = changes["linked"]
    return BoundingBox.model_validate(doc)


@pytest.mark.parametrize(("changes", "expected"), [
    ({"order": [1, 0, 2]}, "not ordered by charOffset"),
    ({"refs": [(0, "length", 23)]}, "overlaps"),
    ({"refs": [(2, "charOffset", 81)]}, "past the text"),
    ({"refs": [(1, "sequenceInText", 3)]}, "sequenceInText 3, expected 2"),
    ({"linked": ["box-footnote-002", "box-footnote-003"]}, "box-footnote-004 not in linkedBoxes"),
    ({"refs": [(1, "displayText", "²")]}, "displayText '²' but the text has '³'"),
])
def test_the_rule_helper_reports_each_rule(changes, expected):
    assert box_problems(_box()) == []
    problems = box_problems(_box(**changes))
    assert any(expected in p for p in problems), problems


def test_the_rule_helper_counts_code_points_not_bytes_nor_utf16():
    box = BoundingBox.model_validate({
        "boxId": "box-1", "coordinates": {"x": 0, "y": 0, "width": 10, "height": 10}, "readingOrder": 1,
        "text": {"corrected": "कि𝔸¹"},  # 2 code points, 1 astral (2 UTF-16 units), then the marker
        "linkedBoxes": ["box-f"],
        "inlineReferences": [{"referenceId": "r1", "position": {"charOffset": 3, "length": 1},
                              "targetBoxId": "box-f", "displayText": "¹", "sequenceInText": 1}]})
    assert box_problems(box) == []
    bad = box.model_copy(update={"inline_references": [box.inline_references[0].model_copy(
        update={"position": box.inline_references[0].position.model_copy(update={"char_offset": 4})})]})
    assert box_problems(bad)


# -- the published schemas ------------------------------------------------------------------

@pytest.mark.parametrize("stem", sorted(BOOK_SCHEMAS))
def test_book_schema_is_2020_12_with_id_title_and_camel_case_names(stem):
    schema = schema_file(stem)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["$id"] == f"{BASE}{stem}.schema.json"
    assert schema["title"] == jsonschemas.SCHEMAS[stem].__name__
    jsonschema.Draft202012Validator.check_schema(schema)

    def names(node):
        if isinstance(node, dict):
            yield from node.get("properties", {})
            for value in node.values():
                yield from names(value)
        elif isinstance(node, list):
            for value in node:
                yield from names(value)

    snake = sorted({n for n in names(schema) if "_" in n})
    assert snake == [], f"snake_case property names in {stem}: {snake}"


def test_user_profile_schema_marks_secrets_write_only():
    props = schema_file("user-profile")["properties"]
    for name in ("sessionToken", "githubAccessToken"):
        (string,) = [s for s in props[name]["anyOf"] if s.get("type") == "string"]
        assert string["writeOnly"] is True


def test_the_offset_rule_is_in_the_schema_text():
    for stem in ("bounding-box", "page-annotations"):
        position = schema_file(stem)["$defs"]["Position"]["properties"]
        for name in ("charOffset", "length"):
            description = position[name].get("description", "")
            assert "Unicode code points" in description and "text.corrected" in description, (stem, name)
