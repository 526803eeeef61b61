"""The book layer's domain rules without a store: the reference rules, each validation warning
and its fix, review transitions, version ids, box edits."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from pagesage.book.domain import edits, review, validation, versions
from pagesage.book.domain.model import (AI, BoundingBox, BoxLocation, CreateChange, ImageMetadata, InlineReference,
                                        PageAnnotations, PageState, ReviewStatus, TextContent, UserAttribution)
from pagesage.book.domain.references import check_box_references
from pagesage.book.domain.validation import Lookups
from pagesage.errors import Conflict, InvalidTransition, ValidationFailed

NOW = datetime(2026, 12, 2, tzinfo=timezone.utc)
ADA = UserAttribution(name="Ada", user_id="ada@example.org")
GRACE = UserAttribution(name="Grace", user_id="grace@example.org")


def ref(rid: str, offset: int, display: str, target: str = "fn1", seq: int = 1, **flags) -> InlineReference:
    return InlineReference(reference_id=rid, position={"charOffset": offset, "length": len(display)}, target_box_id=target,
                           display_text=display, sequence_in_text=seq, **flags)


def box(box_id: str, text: str, refs=(), *, kind: str = "commentary", order: int = 1, y: int = 100) -> BoundingBox:
    return BoundingBox(box_id=box_id, coordinates={"x": 10, "y": y, "width": 500, "height": 40}, content_type=kind,
                       reading_order=order, text=TextContent(ocr=text, corrected=text), inline_references=list(refs),
                       linked_boxes=sorted({r.target_box_id for r in refs}))


def page(*boxes: BoundingBox, page_id: str = "p-001", number: int = 1) -> PageAnnotations:
    return PageAnnotations(page_id=page_id, page_number=number, project_id="proj_x",
                           image=ImageMetadata(file_name="p.png", format="png", width=1000, height=1400),
                           current_state=PageState(bounding_boxes=list(boxes)))


def here(*box_ids: str, page_id: str = "p-001", number: int = 1) -> dict[str, BoxLocation]:
    return {b: BoxLocation(page_id=page_id, page_number=number, content_type="footnote") for b in box_ids}


def types(warnings) -> list[str]:
    return sorted(w.type for w in warnings)


# -- the reference rules ----------------------------------------------------------------------

@pytest.mark.parametrize("refs, linked, message", [
    ([ref("a", 5, "¹", seq=1), ref("b", 2, "²", seq=2)], ["fn1"], "ordered"),
    ([ref("a", 2, "¹²", seq=1), ref("b", 3, "²", seq=2)], ["fn1"], "overlaps"),
    ([ref("a", 20, "¹")], ["fn1"], "past the text"),
    ([ref("a", 2, "¹", seq=2)], ["fn1"], "sequenceInText"),
    ([ref("a", 2, "¹")], [], "linkedBoxes"),
])
def test_each_reference_rule_is_enforced(refs, linked, message):
    b = box("b1", "ab¹²cd").model_copy(update={"inline_references": refs, "linked_boxes": linked})
    with pytest.raises(ValidationFailed, match=message):
        check_box_references(b)


def test_an_orphaned_reference_is_exempt_from_the_position_rules():
    b = box("b1", "abc").model_copy(update={"inline_references": [ref("a", 99, "¹", is_orphaned=True)], "linked_boxes": ["fn1"]})
    check_box_references(b)


# -- validation, one warning type at a time ----------------------------------------------------

def test_a_clean_page_has_no_warnings():
    p = page(box("b1", "claim¹.", [ref("a", 5, "¹")]), box("fn1", "1. Source.", kind="footnote", order=2))
    status, warnings = validation.validate_page(p, Lookups(locations=here("fn1"), target_texts={"fn1": "1. Source."},
                                                             incoming={"fn1": 1}), NOW)
    assert warnings == [] and status.is_valid


def test_orphaned_reference_missing_target_and_deleted_marker():
    p = page(box("b1", "claim¹ and²", [ref("a", 5, "¹", target="gone"), ref("b", 10, "²", seq=2, is_orphaned=True,
                                                                       orphaned_reason="deleted_with_text")]))
    status, warnings = validation.validate_page(p, Lookups(), NOW)
    assert types(warnings) == ["orphaned_reference", "orphaned_reference"] and not status.is_valid
    assert sorted(status.orphaned_references) == ["a", "b"] and not any(w.auto_fixable for w in warnings)


def test_orphaned_footnote_counts_references_from_any_page():
    p = page(box("fn1", "1. Lonely.", kind="footnote"))
    assert types(validation.validate_page(p, Lookups(incoming={}), NOW)[1]) == ["orphaned_footnote"]
    assert validation.validate_page(p, Lookups(incoming={"fn1": 1}), NOW)[1] == []


def test_cross_page_broken_when_the_target_moved_or_vanished():
    moved = ref("a", 5, "¹", target_page_id="p-009", target_page_number=9)
    p = page(box("b1", "claim¹.", [moved]))
    lookups = Lookups(locations=here("fn1", page_id="p-010", number=10), target_texts={"fn1": "1. x"})
    status, warnings = validation.validate_page(p, lookups, NOW)
    assert types(warnings) == ["cross_page_broken"] and warnings[0].auto_fixable and warnings[0].severity == "warning"
    fixed, done, failed = validation.auto_fix(p.current_state, warnings, lookups.locations)
    assert done and not failed
    assert fixed.bounding_boxes[0].inline_references[0].target_page_number == 10
    status, warnings = validation.validate_page(p, Lookups(), NOW)
    assert types(warnings) == ["cross_page_broken"] and warnings[0].severity == "error" and status.broken_cross_page_refs == ["a"]


def test_number_mismatch_and_duplicates():
    p = page(box("b1", "one¹ two² three¹", [ref("a", 3, "¹"), ref("b", 8, "²", target="fn1", seq=2),
                                             ref("c", 15, "¹", seq=3)]))
    _, warnings = validation.validate_page(p, Lookups(locations=here("fn1"), target_texts={"fn1": "1. One."}), NOW)
    assert types(warnings) == ["duplicate_reference", "number_mismatch"]
    mismatch = next(w for w in warnings if w.type == "number_mismatch")
    assert mismatch.reference_id == "b" and "2" in mismatch.message


def test_offset_mismatch_is_found_and_relocated_nearest_the_old_offset():
    text = "x¹ claim¹ here"
    p = page(box("b1", text, [ref("a", 4, "¹")]))  # "¹" is at 1 and 8; 4 is off
    _, warnings = validation.validate_page(p, Lookups(locations=here("fn1")), NOW)
    assert types(warnings) == ["offset_mismatch"] and warnings[0].auto_fixable
    fixed, done, _ = validation.auto_fix(p.current_state, warnings, {})
    assert fixed.bounding_boxes[0].inline_references[0].position.char_offset == 1 and done


def test_overlapping_references_from_an_old_record_are_reported():
    b = BoundingBox.model_construct(**{**box("b1", "ab¹²cd").__dict__,
                                       "inline_references": [ref("a", 2, "¹²"), ref("b", 3, "²", seq=2)], "linked_boxes": ["fn1"]})
    p = page().model_copy(update={"current_state": PageState.model_construct(bounding_boxes=[b], review_status=ReviewStatus.PENDING)})
    _, warnings = validation.validate_page(p, Lookups(locations=here("fn1")), NOW)
    assert "overlapping_references" in types(warnings)


def test_text_changed_unupdated_is_confirmed_by_auto_fix():
    p = page(box("b1", "claim¹.", [ref("a", 5, "¹", needs_review=True, review_reason="marker_replaced")]))
    _, warnings = validation.validate_page(p, Lookups(locations=here("fn1")), NOW)
    assert types(warnings) == ["text_changed_unupdated"] and warnings[0].auto_fixable
    fixed, _, _ = validation.auto_fix(p.current_state, warnings, {})
    assert not fixed.bounding_boxes[0].inline_references[0].needs_review


# -- review, versions, edits --------------------------------------------------------------------

def test_approval_needs_review_by_someone_else():
    state = PageState()
    with pytest.raises(InvalidTransition):
        review.change_status(state, ReviewStatus.APPROVED, GRACE)
    reviewed = review.change_status(state, ReviewStatus.REVIEWED, ADA)
    with pytest.raises(InvalidTransition) as same:
        review.change_status(reviewed, ReviewStatus.APPROVED, ADA)
    assert same.value.error_code == "same_reviewer"
    approved = review.change_status(reviewed, ReviewStatus.APPROVED, GRACE)
    with pytest.raises(Conflict):
        review.check_editable(approved)
    reopened = review.change_status(approved, ReviewStatus.NEEDS_REWORK, ADA)
    assert reopened.approved_by is None and reopened.reviewed_by == ADA


def test_version_ids_chain_and_ignore_derived_fields():
    p = page(box("b1", "text"))
    first, record = versions.commit(p, p.current_state, editor=AI, change_type="ai_generated",
                                    changes=CreateChange(action="created"), note="", now=NOW)
    again, _ = versions.commit(first, first.current_state, editor=AI, change_type="ai_generated",
                               changes=CreateChange(action="created"), note="", now=NOW)
    assert first.version == 1 and again.version == 2 and first.commit_sha != again.commit_sha
    assert record.entry.commit_sha == first.commit_sha == versions.commit_sha(versions.ROOT, record.state)
    assert versions.parse_if_match(f'W/"{first.commit_sha}"') == first.commit_sha
    assert versions.parse_if_match("*") is None


def test_deleting_a_footnote_orphans_references_to_it_on_the_page():
    p = page(box("b1", "claim¹.", [ref("a", 5, "¹")]), box("fn1", "1. Source.", kind="footnote", order=2))
    edit = edits.delete_box(p.current_state, "fn1", editor=ADA, now=NOW)
    left = edit.state.bounding_boxes[0].inline_references[0]
    assert left.is_orphaned and left.orphaned_reason == "target_deleted" and edit.affected == {"orphaned": ["a"]}


def test_merging_moves_references_with_their_text():
    p = page(box("b1", "First¹", [ref("a", 5, "¹")], y=100), box("b2", "then²", [ref("b", 4, "²", target="fn2")], order=2, y=150))
    merged = edits.merge_boxes(p.current_state, ["b1", "b2"], editor=ADA, now=NOW).state.bounding_boxes[0]
    assert merged.text.corrected == "First¹\nthen²"
    assert [(r.position.char_offset, r.sequence_in_text) for r in merged.inline_references] == [(5, 1), (11, 2)]
    assert merged.linked_boxes == ["fn1", "fn2"]
