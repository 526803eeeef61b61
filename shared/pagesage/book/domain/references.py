"""The rules every box's inline references obey on every write (docs/book.md, "Inline
references").

Offsets and lengths count Unicode code points of `text.corrected` (Python `str` indexing).
A reference flagged `isOrphaned` (its marker was deleted with the text around it, or its
target box was deleted) points at nothing in the text: it is kept so that a person sees it,
and it is exempt from the position rules 2 and 3.

1. Ordering: `inlineReferences` sorted by `charOffset`, strictly ascending among live ones.
2. Non-overlapping: a live reference starts at or after the end of the one before it.
3. Within bounds: `charOffset + length <= len(text.corrected)`.
4. Sequence: `sequenceInText` is 1, 2, 3, … in array order.
5. Linked boxes: every `targetBoxId` is in `linkedBoxes`.
6. Ids: `referenceId` unique on the page.
"""

from __future__ import annotations

from pagesage.book.domain.model import BoundingBox, InlineReference, PageState
from pagesage.errors import ValidationFailed


def is_live(ref: InlineReference) -> bool:
    """True unless the reference is orphaned."""
    return not ref.is_orphaned


def check_box_references(box: BoundingBox, *, field: str = "inlineReferences") -> None:
    """Refuse a box whose references break rules 1-5.

    Raises:
        ValidationFailed: `field` the JSON path of the first offending reference.
    """
    refs = box.inline_references
    text = box.text.corrected
    previous: InlineReference | None = None
    for i, ref in enumerate(refs):
        where = f"{field}[{i}]"
        if ref.sequence_in_text != i + 1:
            raise ValidationFailed(f"{where}: sequenceInText must be {i + 1} (1, 2, 3, ... in order)", field=f"{where}.sequenceInText")
        if ref.target_box_id not in box.linked_boxes:
            raise ValidationFailed(f"{where}: targetBoxId {ref.target_box_id} is not in linkedBoxes", field=f"{where}.targetBoxId")
        if not is_live(ref):
            continue
        if ref.position.end > len(text):
            raise ValidationFailed(f"{where}: the reference ends at {ref.position.end}, past the text's {len(text)} code points",
                                   field=f"{where}.position")
        if previous is not None:
            if ref.position.char_offset <= previous.position.char_offset:
                raise ValidationFailed(f"{where}: references must be ordered by charOffset", field=f"{where}.position.charOffset")
            if ref.position.char_offset < previous.position.end:
                raise ValidationFailed(f"{where}: overlaps reference {previous.reference_id}", field=f"{where}.position")
        previous = ref


def check_page_references(state: PageState) -> None:
    """Rules 1-5 on every box, and reference ids unique on the page.

    Raises:
        ValidationFailed: `field` the JSON path from `currentState`.
    """
    seen: set[str] = set()
    for b, box in enumerate(state.bounding_boxes):
        check_box_references(box, field=f"boundingBoxes[{b}].inlineReferences")
        for ref in box.inline_references:
            if ref.reference_id in seen:
                raise ValidationFailed(f"referenceId {ref.reference_id} is used twice on the page",
                                       field=f"boundingBoxes[{b}].inlineReferences")
            seen.add(ref.reference_id)


def text_at(box: BoundingBox, ref: InlineReference) -> str:
    """The corrected text under a reference's position."""
    return box.text.corrected[ref.position.char_offset:ref.position.end]


def check_marker_matches(box: BoundingBox, ref: InlineReference, *, field: str) -> None:
    """Refuse a new or moved reference whose `displayText` is not the text at its position.

    Raises:
        ValidationFailed: names what the text holds there.
    """
    found = text_at(box, ref)
    if found != ref.display_text:
        raise ValidationFailed(f"text mismatch: displayText is {ref.display_text!r}, the text at "
                               f"{ref.position.char_offset} holds {found!r}", field=field)


def renumbered(refs: list[InlineReference]) -> list[InlineReference]:
    """`refs` sorted by offset (live before orphaned at the same offset), `sequenceInText`
    1, 2, 3, …"""
    ordered = sorted(refs, key=lambda r: (r.position.char_offset, bool(r.is_orphaned)))
    return [r.model_copy(update={"sequence_in_text": i + 1}) for i, r in enumerate(ordered)]


def with_linked_targets(box: BoundingBox) -> list[str]:
    """`linkedBoxes` with every reference target added (rule 5), order kept."""
    linked = list(box.linked_boxes)
    for ref in box.inline_references:
        if ref.target_box_id not in linked:
            linked.append(ref.target_box_id)
    return linked
