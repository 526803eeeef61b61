"""The offset update algorithm: the four cases, the worked scenarios of a correction, client
changes checked against the texts, and a property test that no edit sequence leaves a
reference off its marker without a flag."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pagesage.book.domain.model import BoundingBox, InlineReference, TextContent
from pagesage.book.domain.offsets import TextChange, check_changes, diff_changes, shift_reference, update_offsets
from pagesage.book.domain.references import check_box_references
from pagesage.errors import ValidationFailed


def ref(offset: int, display: str, rid: str = "r1", seq: int = 1) -> InlineReference:
    return InlineReference(reference_id=rid, position={"charOffset": offset, "length": len(display)}, target_box_id="fn",
                           display_text=display, sequence_in_text=seq)


def change(position: int, deleted: int = 0, inserted: str = "") -> TextChange:
    kind = "replace" if deleted and inserted else "delete" if deleted else "insert"
    return TextChange(type=kind, position=position, deleted_length=deleted, inserted_length=len(inserted), new_text=inserted or None)


def test_case_1_reference_before_the_change_stays():
    assert shift_reference(ref(13, "¹"), change(20, inserted="very ")).position.char_offset == 13
    assert shift_reference(ref(13, "¹"), change(14, inserted="x")).position.char_offset == 13  # insertion right after it


def test_case_2_reference_after_the_change_shifts():
    assert shift_reference(ref(13, "¹"), change(4, inserted="fundamental ")).position.char_offset == 25
    assert shift_reference(ref(13, "¹"), change(13, inserted="ab")).position.char_offset == 15  # insertion at its start
    assert shift_reference(ref(13, "¹"), change(0, deleted=4)).position.char_offset == 9


def test_case_3_reference_inside_a_deletion_is_orphaned():
    moved = shift_reference(ref(13, "¹"), change(4, deleted=11))
    assert moved.is_orphaned and moved.orphaned_reason == "deleted_with_text"
    assert moved.position.char_offset == 4


def test_case_4_reference_spanning_the_change_needs_review():
    wide = ref(18, "[5]")
    moved = shift_reference(wide, change(19, deleted=1, inserted="12"))  # "[5]" -> "[12]"
    assert moved.needs_review and moved.review_reason == "text_changed_within_reference"
    assert (moved.position.char_offset, moved.position.length) == (18, 4)
    tail_cut = shift_reference(wide, change(20, deleted=5))  # deletion from inside to past it
    assert (tail_cut.position.char_offset, tail_cut.position.length) == (18, 2) and tail_cut.needs_review


def test_the_fundamental_principle():
    old, new = "The principle¹ is clear.", "The fundamental principle¹ is clear."
    update = update_offsets([ref(13, "¹")], diff_changes(old, new), new)
    assert update.references[0].position.char_offset == 25
    assert new[25] == "¹" and update.updated == ["r1"] and not update.needs_review and not update.orphaned


def test_deleting_the_marker_with_its_word_orphans_the_reference():
    old, new = "The principle¹ is clear.", "The is clear."
    update = update_offsets([ref(13, "¹")], diff_changes(old, new), new)
    assert update.orphaned == ["r1"] and update.references[0].is_orphaned


def test_replacing_the_marker_flags_needs_review():
    old, new = "The principle¹ is clear.", "The principle² is clear."
    update = update_offsets([ref(13, "¹")], diff_changes(old, new), new)
    assert update.needs_review == ["r1"] and not update.orphaned
    assert update.references[0].review_reason == "marker_replaced"
    assert new[update.references[0].position.char_offset] == "²"


def test_adjacent_markers_keep_their_order_and_numbers():
    old = "धर्मक्षेत्रे कुरुक्षेत्रे¹²³"
    refs = [ref(25, "¹", "a", 1), ref(26, "²", "b", 2), ref(27, "³", "c", 3)]
    assert old[25:28] == "¹²³"  # code points: the combining vowel signs count
    new = "॥ " + old
    update = update_offsets(refs, diff_changes(old, new), new)
    assert [(r.reference_id, r.position.char_offset, r.sequence_in_text) for r in update.references] == \
        [("a", 27, 1), ("b", 28, 2), ("c", 29, 3)]


def test_multiple_changes_apply_in_order():
    old = "The first principle² appears in Chapter 2³."
    refs = [ref(19, "²", "a", 1), ref(41, "³", "b", 2)]
    changes = [change(0, deleted=4), change(0, inserted="A ")]  # "The " -> "" then "A " at 0
    new = "A first principle² appears in Chapter 2³."
    check_changes(old, new, changes)
    update = update_offsets(refs, changes, new)
    assert [new[r.position.char_offset] for r in update.references] == ["²", "³"]


def test_client_changes_that_do_not_produce_new_text_are_refused():
    with pytest.raises(ValidationFailed):
        check_changes("abc", "abXc", [change(1, inserted="X")])
    with pytest.raises(ValidationFailed):
        check_changes("abc", "abcd", [change(9, inserted="d")])
    check_changes("abc", "abXc", [change(2, inserted="X")])


def test_a_change_says_what_kind_it_is():
    with pytest.raises(ValueError):
        TextChange(type="insert", position=0, inserted_length=0, deleted_length=2)


MARKERS = ["¹", "²", "³", "*", "†", "[5]"]
ALPHABET = "ab क्षे ¹²*\n"


@st.composite
def box_with_references(draw):
    words = draw(st.lists(st.text(alphabet="abcdefgकखगाि ", min_size=1, max_size=6), min_size=1, max_size=8))
    text, refs = "", []
    for i, word in enumerate(words):
        text += word
        if draw(st.booleans()):
            marker = draw(st.sampled_from(MARKERS))
            refs.append(ref(len(text), marker, f"r{i}", len(refs) + 1))
            text += marker
        text += " "
    return text, refs


@st.composite
def edits(draw, text_length: int):
    steps = []
    length = text_length
    for _ in range(draw(st.integers(1, 6))):
        position = draw(st.integers(0, length))
        deleted = draw(st.integers(0, length - position))
        inserted = draw(st.text(alphabet=ALPHABET, max_size=4))
        if not deleted and not inserted:
            inserted = "x"
        steps.append((position, deleted, inserted))
        length += len(inserted) - deleted
    return steps


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_no_edit_sequence_leaves_a_reference_off_its_marker_unflagged(data):
    text, refs = data.draw(box_with_references())
    for position, deleted, inserted in data.draw(edits(len(text))):
        new = text[:position] + inserted + text[position + deleted:]
        computed = data.draw(st.booleans())
        changes = diff_changes(text, new) if computed else [change(position, deleted, inserted)]
        refs = update_offsets(refs, changes, new).references
        text = new
        box = BoundingBox(box_id="b", coordinates={"x": 0, "y": 0, "width": 1, "height": 1}, reading_order=1,
                          text=TextContent(ocr=text, corrected=text), linked_boxes=["fn"], inline_references=refs)
        check_box_references(box)  # rules 1-5 hold after every edit
        for r in refs:
            on_marker = text[r.position.char_offset:r.position.end] == r.display_text
            assert on_marker or r.needs_review or r.is_orphaned, (text, r)
