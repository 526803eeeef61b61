"""Keeping inline references on their markers while a box's text is corrected (docs/book.md,
"Character offset updates").

A `TextChange` replaces `deletedLength` code points at `position` with `insertedLength`
new ones. A correction is a list of changes applied in order, each position counted in the
text as the changes before it left it. When a client sends no changes, `diff_changes` finds
them with the standard library's `difflib.SequenceMatcher` (Ratcliff/Obershelp matching), in
descending position order so each position is also a position of the original text.

Each reference is moved by each change (`shift_reference`):

1. before the change (ends at or before `position`): unchanged;
2. after it (starts at or after the deleted range's end): shifted by the length difference;
3. inside the deleted range: flagged `isOrphaned` (`deleted_with_text`), placed at the
   change's position — except a replacement of exactly the marker (`¹` -> `²`), which keeps
   the reference on the new text, flagged `needsReview` (`marker_replaced`);
4. across a boundary of the change: its ends are mapped through the change and it is flagged
   `needsReview` (`text_changed_within_reference`); when nothing of it is left it is orphaned.

Afterwards every live reference whose `displayText` is no longer the text at its position is
flagged `needsReview` (`display_text_mismatch`); references are re-sorted and re-numbered.
The mapping is monotone, so live references stay ordered and never overlap.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import Literal

from pydantic import Field, model_validator

from pagesage.book.domain.model import MAX_BOX_TEXT, BookRequest, InlineReference
from pagesage.book.domain.references import is_live, renumbered
from pagesage.errors import ValidationFailed

MAX_MARKER = 100
"""Longest marker text, code points (`Position.length`)."""

class TextChange(BookRequest):
    """One edit of a text: at `position` (code points), `deletedLength` removed and
    `insertedLength` inserted; `oldText`/`newText` the removed and inserted text, when known."""

    type: Literal["insert", "delete", "replace"]
    position: int = Field(ge=0, le=MAX_BOX_TEXT)
    inserted_length: int = Field(ge=0, le=MAX_BOX_TEXT)
    deleted_length: int = Field(ge=0, le=MAX_BOX_TEXT)
    old_text: str | None = Field(default=None, max_length=MAX_BOX_TEXT)
    new_text: str | None = Field(default=None, max_length=MAX_BOX_TEXT)

    @model_validator(mode="after")
    def _consistent(self) -> "TextChange":
        if self.old_text is not None and len(self.old_text) != self.deleted_length:
            raise ValueError("oldText must hold deletedLength code points")
        if self.new_text is not None and len(self.new_text) != self.inserted_length:
            raise ValueError("newText must hold insertedLength code points")
        expected = {"insert": (True, False), "delete": (False, True), "replace": (True, True)}[self.type]
        if (self.inserted_length > 0, self.deleted_length > 0) != expected:
            raise ValueError(f"a {self.type} change must have "
                             + {"insert": "insertedLength > 0 and deletedLength 0",
                                "delete": "deletedLength > 0 and insertedLength 0",
                                "replace": "insertedLength and deletedLength > 0"}[self.type])
        return self


def diff_changes(old: str, new: str) -> list[TextChange]:
    """The changes turning `old` into `new`, last position first (so each applies to the text
    the ones before it left, and every position is also one of `old`)."""
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    changes = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        kind = {"insert": "insert", "delete": "delete", "replace": "replace"}[tag]
        changes.append(TextChange(type=kind, position=i1, inserted_length=j2 - j1, deleted_length=i2 - i1,
                                  old_text=old[i1:i2], new_text=new[j1:j2]))
    return list(reversed(changes))


def check_changes(old: str, new: str, changes: list[TextChange]) -> None:
    """Refuse client changes that do not turn `old` into `new`: positions past the text, a
    wrong `oldText`, or (when every insertion carries its `newText`) a different result; else
    at least the lengths must add up.

    Raises:
        ValidationFailed: `field` names the change.
    """
    text: str | None = old
    length = len(old)
    for i, change in enumerate(changes):
        if change.position + change.deleted_length > length:
            raise ValidationFailed(f"changes[{i}] reaches past the text ({length} code points)", field=f"changes[{i}]")
        if text is not None:
            removed = text[change.position:change.position + change.deleted_length]
            if change.old_text is not None and change.old_text != removed:
                raise ValidationFailed(f"changes[{i}].oldText is not the text at its position", field=f"changes[{i}].oldText")
            if change.new_text is None and change.inserted_length:
                text = None
            else:
                text = text[:change.position] + (change.new_text or "") + text[change.position + change.deleted_length:]
        length += change.inserted_length - change.deleted_length
    if length != len(new) or (text is not None and text != new):
        raise ValidationFailed("changes do not turn oldText into newText", field="changes")


def shift_reference(ref: InlineReference, change: TextChange) -> InlineReference:
    """`ref` after `change` (cases 1-4 of the module docstring); an orphaned one keeps its
    place: shifted by changes before it, moved to the start of a deletion that covers it."""
    p, deleted, delta = change.position, change.deleted_length, change.inserted_length - change.deleted_length
    start, end = ref.position.char_offset, ref.position.end
    if not is_live(ref):
        if p + deleted <= start:
            return _moved(ref, start + delta, ref.position.length)
        return _moved(ref, p, ref.position.length) if p < start else ref
    if end <= p:  # case 1
        return ref
    if start >= p + deleted:  # case 2
        return _moved(ref, start + delta, ref.position.length)
    if (start, end) == (p, p + deleted) and 0 < change.inserted_length <= MAX_MARKER:  # the marker itself replaced
        return _moved(ref, p, change.inserted_length, needs_review=True, review_reason="marker_replaced")
    if deleted and start >= p and end <= p + deleted:  # case 3
        return _moved(ref, p, ref.position.length, is_orphaned=True, orphaned_reason="deleted_with_text")
    new_start = start if start < p else p + change.inserted_length  # case 4
    new_end = end + delta if end > p + deleted else p
    if new_end <= new_start:
        return _moved(ref, p, ref.position.length, is_orphaned=True, orphaned_reason="deleted_with_text")
    return _moved(ref, new_start, new_end - new_start, needs_review=True, review_reason="text_changed_within_reference")


def _moved(ref: InlineReference, offset: int, length: int, **flags) -> InlineReference:
    position = ref.position.model_copy(update={"char_offset": offset, "length": length})
    return ref.model_copy(update={"position": position, **flags})


@dataclass
class OffsetUpdate:
    """The references after a correction, and what happened to each (reference ids)."""

    references: list[InlineReference]
    updated: list[str] = field(default_factory=list)
    orphaned: list[str] = field(default_factory=list)
    needs_review: list[str] = field(default_factory=list)


def update_offsets(refs: list[InlineReference], changes: list[TextChange], new_text: str) -> OffsetUpdate:
    """Apply `changes` to `refs`, re-validate each against `new_text`, re-sort and re-number.

    Only changes of this correction count: a reference already orphaned or needing review
    before is reported again only when this correction changed it further.
    """
    before = {r.reference_id: r for r in refs}
    current = list(refs)
    for change in changes:
        current = [shift_reference(r, change) for r in current]
    checked = []
    for ref in current:
        if is_live(ref) and new_text[ref.position.char_offset:ref.position.end] != ref.display_text:
            ref = ref.model_copy(update={"needs_review": True, "review_reason": ref.review_reason or "display_text_mismatch"})
        checked.append(ref)
    result = OffsetUpdate(references=renumbered(checked))
    for ref in result.references:
        old = before[ref.reference_id]
        if ref.is_orphaned and not old.is_orphaned:
            result.orphaned.append(ref.reference_id)
        elif ref.needs_review and (not old.needs_review or ref.position != old.position):
            result.needs_review.append(ref.reference_id)
        elif ref.position != old.position:
            result.updated.append(ref.reference_id)
    return result
