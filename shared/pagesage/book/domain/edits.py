"""Edits of a page's annotations as pure functions: each takes the current `PageState` and
returns an `Edit` (the new state and the version entry's change), or raises without changing
anything (docs/book.md, "Edits").

Every edit leaves the page obeying the reference rules (`references.check_page_references`)
and the coordinate rule (`check_within`); box ids must be new across the whole store, which
the store checks when it writes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from pydantic import Field

from pagesage.book.domain import references
from pagesage.book.domain.detection import apply_detected
from pagesage.book.domain.model import (
    MAX_BOX_TEXT,
    BookModel,
    BookRequest,
    BoundingBox,
    BoxCoordinates,
    BoxEditChange,
    ChangeDetails,
    ChangeType,
    Confidence,
    ContentType,
    CreateChange,
    DeleteChange,
    Id,
    InlineReference,
    InlineReferenceChange,
    Language,
    MergeChange,
    MoveChange,
    OrderStep,
    PageState,
    Position,
    ReferenceType,
    ReadingOrderChange,
    RelabelChange,
    ResizeChange,
    SplitChange,
    TextContent,
    TextCorrection,
    TextCorrectionChange,
    UserAttribution,
)
from pagesage.book.domain.offsets import TextChange, check_changes, diff_changes, update_offsets
from pagesage.domain.limits import LineText, MultilineText
from pagesage.errors import Conflict, NotFound, ValidationFailed


@dataclass
class Edit:
    """An edit's outcome: the new state, the version entry's change type and details, and what
    the caller reports back (`affected`: reference ids by outcome; `box_ids`: boxes made)."""

    state: PageState
    change_type: ChangeType
    changes: ChangeDetails
    affected: dict[str, list[str]] = field(default_factory=dict)
    box_ids: list[str] = field(default_factory=list)


# -- commands ---------------------------------------------------------------------------------

class BoxDraft(BookRequest):
    """A new box drawn by a person (`POST .../boxes`)."""

    coordinates: BoxCoordinates
    content_type: ContentType = ContentType.OTHER
    language: Language = Language.ENGLISH
    script: LineText | None = Field(default=None, max_length=50)
    reading_order: int | None = Field(default=None, ge=1, description="where it goes in the reading order (default: last)")
    text: MultilineText = Field(default="", max_length=MAX_BOX_TEXT)
    parent_box: Id | None = None
    notes: MultilineText = Field(default="", max_length=10_000)
    note: MultilineText = Field(default="", max_length=2000, description="the version entry's note")


class BoxPatch(BookRequest):
    """Properties of a box to change (`PATCH .../boxes/:boxId`); absent ones stay."""

    coordinates: BoxCoordinates | None = None
    content_type: ContentType | None = None
    language: Language | None = None
    script: LineText | None = Field(default=None, max_length=50)
    parent_box: Id | None = None
    notes: MultilineText | None = Field(default=None, max_length=10_000)
    confidence: Confidence | None = None
    note: MultilineText = Field(default="", max_length=2000)


class UpdateTextRequest(BookRequest):
    """A text correction: `oldText` must be the box's current corrected text; `changes`, when
    given, say how `oldText` became `newText` (else they are computed)."""

    old_text: str = Field(max_length=MAX_BOX_TEXT)
    new_text: MultilineText = Field(max_length=MAX_BOX_TEXT)
    changes: list[TextChange] | None = Field(default=None, max_length=10_000)
    note: MultilineText = Field(default="", max_length=2000)


class ReferenceDraft(BookRequest):
    """A new inline reference (`POST .../inline-references`): `displayText` must be the text at
    its position."""

    position: Position
    type: ReferenceType = "footnote"
    target_box_id: Id
    display_text: LineText = Field(min_length=1, max_length=100)
    note: MultilineText = Field(default="", max_length=2000)


class ReferencePatch(BookRequest):
    """Properties of a reference to change; a moved one must sit on its `displayText`. Any
    change confirms the reference: its needs-review flag is cleared."""

    position: Position | None = None
    type: ReferenceType | None = None
    target_box_id: Id | None = None
    display_text: LineText | None = Field(default=None, min_length=1, max_length=100)
    note: MultilineText = Field(default="", max_length=2000)


# -- helpers ----------------------------------------------------------------------------------

def check_within(coordinates: BoxCoordinates, width: int, height: int, *, field: str = "coordinates") -> None:
    """Refuse a box outside its page image: `x < width`, `y < height`, `x + width <= image
    width`, `y + height <= image height` (pixels, origin top-left).

    Raises:
        ValidationFailed: names the edge that is out.
    """
    if coordinates.right > width:
        raise ValidationFailed(f"{field}: x + width = {coordinates.right} is past the image's width {width}", field=field)
    if coordinates.bottom > height:
        raise ValidationFailed(f"{field}: y + height = {coordinates.bottom} is past the image's height {height}", field=field)


def find_box(state: PageState, box_id: str) -> tuple[int, BoundingBox]:
    """The index and box of `box_id`. Raises `NotFound`."""
    for i, box in enumerate(state.bounding_boxes):
        if box.box_id == box_id:
            return i, box
    raise NotFound(f"no box {box_id} on this page")


def _replace(state: PageState, boxes: list[BoundingBox]) -> PageState:
    new = state.model_copy(update={"bounding_boxes": boxes})
    references.check_page_references(new)
    return new


def _stamp(box: BoundingBox, editor: UserAttribution, now: datetime, **update: Any) -> BoundingBox:
    return box.model_copy(update={**update, "last_modified_by": editor, "last_modified_at": now})


def _in_order(boxes: list[BoundingBox]) -> list[BoundingBox]:
    """Boxes by reading order, renumbered 1, 2, 3, … keeping that order."""
    ordered = sorted(boxes, key=lambda b: b.reading_order)
    return [b if b.reading_order == i + 1 else b.model_copy(update={"reading_order": i + 1}) for i, b in enumerate(ordered)]


# -- box edits --------------------------------------------------------------------------------

def add_box(state: PageState, draft: BoxDraft, *, box_id: str, width: int, height: int, editor: UserAttribution,
            now: datetime) -> Edit:
    """A person's new box, inserted at `readingOrder` (default last), the rest renumbered.
    Raises `ValidationFailed` (outside the image, unknown parent)."""
    check_within(draft.coordinates, width, height)
    if draft.parent_box and state.box(draft.parent_box) is None:
        raise ValidationFailed(f"parentBox {draft.parent_box} is not on this page", field="parentBox")
    order = min(draft.reading_order or len(state.bounding_boxes) + 1, len(state.bounding_boxes) + 1)
    box = BoundingBox(box_id=box_id, coordinates=draft.coordinates, content_type=draft.content_type, language=draft.language,
                      script=draft.script, reading_order=order, confidence=1.0,
                      text=TextContent(ocr="", corrected=draft.text), parent_box=draft.parent_box, notes=draft.notes,
                      created_by="user", last_modified_by=editor, last_modified_at=now)
    shifted = [b.model_copy(update={"reading_order": b.reading_order + 1}) if b.reading_order >= order else b
               for b in state.bounding_boxes]
    return Edit(_replace(state, _in_order(shifted + [box])), "box_created",
                CreateChange(action="created", box_id=box_id, details=f"{draft.content_type.value} box drawn"), box_ids=[box_id])


def patch_box(state: PageState, box_id: str, patch: BoxPatch, *, width: int, height: int, editor: UserAttribution,
              now: datetime) -> Edit:
    """Change a box's coordinates, labels, parent, notes or confidence. One kind of change is
    recorded as moved/resized/relabeled; several at once as `edited`.

    Raises:
        NotFound: no such box. ValidationFailed: outside the image, a parent that is not on
        the page or is the box itself, or nothing to change.
    """
    index, box = find_box(state, box_id)
    fields = patch.model_fields_set - {"note"}
    if not fields:
        raise ValidationFailed("the patch changes nothing", field="body")
    if patch.coordinates is not None:
        check_within(patch.coordinates, width, height)
    if "parent_box" in fields and patch.parent_box is not None and (patch.parent_box == box_id or state.box(patch.parent_box) is None):
        raise ValidationFailed(f"parentBox {patch.parent_box} is not another box on this page", field="parentBox")
    update = {k: getattr(patch, k) for k in fields}
    new_box = _stamp(box, editor, now, **update)
    boxes = list(state.bounding_boxes)
    boxes[index] = new_box
    return Edit(_replace(state, boxes), *_box_change(box, new_box))


def _box_change(old: BoundingBox, new: BoundingBox) -> tuple[ChangeType, ChangeDetails]:
    o, n = old.coordinates, new.coordinates
    moved = (o.x, o.y) != (n.x, n.y)
    resized = (o.width, o.height) != (n.width, n.height) or o.rotation != n.rotation
    relabeled = (old.content_type, old.language, old.script) != (new.content_type, new.language, new.script)
    other = (old.parent_box, old.notes, old.confidence) != (new.parent_box, new.notes, new.confidence)
    kinds = [moved, resized, relabeled, other]
    if kinds == [True, False, False, False]:
        return "box_moved", MoveChange(action="moved", box_id=old.box_id, before={"x": o.x, "y": o.y}, after={"x": n.x, "y": n.y})
    if kinds == [False, True, False, False]:
        return "box_resized", ResizeChange(action="resized", box_id=old.box_id, before={"width": o.width, "height": o.height},
                                           after={"width": n.width, "height": n.height})
    if kinds == [False, False, True, False]:
        return "box_relabeled", RelabelChange(action="relabeled", box_id=old.box_id,
                                              before={"contentType": old.content_type.value, "language": old.language.value},
                                              after={"contentType": new.content_type.value, "language": new.language.value})
    keys = ("coordinates", "content_type", "language", "script", "parent_box", "notes", "confidence")
    changed = [k for k in keys if getattr(old, k) != getattr(new, k)]
    json_name = {k: BoundingBox.model_fields[k].alias or k for k in changed}
    return "manual_edit", BoxEditChange(action="edited", box_id=old.box_id,
                                        before={json_name[k]: _plain(getattr(old, k)) for k in changed},
                                        after={json_name[k]: _plain(getattr(new, k)) for k in changed})


def _plain(value: Any) -> Any:
    if hasattr(value, "model_dump"):
        return value.model_dump(mode="json")
    return getattr(value, "value", value)


def delete_box(state: PageState, box_id: str, *, editor: UserAttribution, now: datetime) -> Edit:
    """Remove a box. References to it from this page's other boxes are flagged orphaned
    (`target_deleted`); children lose their parent. Raises `NotFound`."""
    _, box = find_box(state, box_id)
    rest = []
    for other in state.bounding_boxes:
        if other.box_id == box_id:
            continue
        refs = [r.model_copy(update={"is_orphaned": True, "orphaned_reason": "target_deleted"}) if r.target_box_id == box_id else r
                for r in other.inline_references]
        update: dict[str, Any] = {}
        if refs != other.inline_references:
            update["inline_references"] = references.renumbered(refs)
        if other.parent_box == box_id:
            update["parent_box"] = None
        rest.append(_stamp(other, editor, now, **update) if update else other)
    orphaned = [r.reference_id for b in rest for r in b.inline_references if r.target_box_id == box_id]
    return Edit(_replace(state, _in_order(rest)), "box_deleted", DeleteChange(action="deleted", box_id=box_id, deleted_box=box),
                affected={"orphaned": orphaned})


def merge_boxes(state: PageState, box_ids: list[str], *, editor: UserAttribution, now: datetime) -> Edit:
    """Merge boxes into the first of them in reading order: coordinates their union, texts
    joined by line breaks in reading order (references moved with their text), links and
    notes combined; references from this page to the merged-away boxes are re-pointed.

    Raises:
        ValidationFailed: fewer than two distinct boxes. NotFound: a box is not on the page.
    """
    if len(set(box_ids)) < 2:
        raise ValidationFailed("merge needs at least two different boxes", field="boxIds")
    parts = sorted((find_box(state, b)[1] for b in dict.fromkeys(box_ids)), key=lambda b: b.reading_order)
    target = parts[0]
    gone = {b.box_id for b in parts[1:]}
    ocr, corrected, refs, linked, notes = [], [], [], [], []
    offset = 0
    for part in parts:
        if corrected:
            offset += 1  # the line break joining it
        refs += [r.model_copy(update={"position": r.position.model_copy(update={"char_offset": r.position.char_offset + offset})})
                 for r in part.inline_references]
        ocr.append(part.text.ocr)
        corrected.append(part.text.corrected)
        offset += len(part.text.corrected)
        linked += [b for b in part.linked_boxes if b not in linked and b not in gone]
        if part.notes:
            notes.append(part.notes)
    c = [p.coordinates for p in parts]
    x, y = min(k.x for k in c), min(k.y for k in c)
    coordinates = BoxCoordinates(x=x, y=y, width=max(k.right for k in c) - x, height=max(k.bottom for k in c) - y)
    corrected_text = "\n".join(corrected)
    text = target.text.model_copy(update={"ocr": "\n".join(ocr), "corrected": corrected_text,
                                          "is_corrected": any(p.text.is_corrected for p in parts)})
    merged = _stamp(target, editor, now, coordinates=coordinates, text=text, inline_references=references.renumbered(refs),
                    linked_boxes=linked, notes="\n".join(notes), confidence=min(p.confidence for p in parts))
    boxes = []
    for box in state.bounding_boxes:
        if box.box_id in gone:
            continue
        if box.box_id == target.box_id:
            boxes.append(merged)
            continue
        boxes.append(_repoint(box, gone, target.box_id, editor, now))
    return Edit(_replace(state, _in_order(boxes)), "boxes_merged",
                MergeChange(action="merged", source_box_ids=[p.box_id for p in parts], target_box_id=target.box_id))


def _repoint(box: BoundingBox, gone: set[str], to: str, editor: UserAttribution, now: datetime) -> BoundingBox:
    if not any(r.target_box_id in gone for r in box.inline_references) and not gone & set(box.linked_boxes) \
            and box.parent_box not in gone:
        return box
    refs = [r.model_copy(update={"target_box_id": to}) if r.target_box_id in gone else r for r in box.inline_references]
    linked = list(dict.fromkeys(to if b in gone else b for b in box.linked_boxes))
    parent = to if box.parent_box in gone else box.parent_box
    return _stamp(box, editor, now, inline_references=refs, linked_boxes=linked, parent_box=parent)


class SplitRequest(BookRequest):
    """Split a box at `charOffset` (code points of its corrected text): the box keeps the text
    before it, a new box gets the rest. `coordinates` gives both parts' boxes; by default the
    box is cut across at the share of its lines before the split."""

    char_offset: int = Field(ge=1, le=MAX_BOX_TEXT)
    coordinates: tuple[BoxCoordinates, BoxCoordinates] | None = None
    note: MultilineText = Field(default="", max_length=2000)


def split_box(state: PageState, box_id: str, request: SplitRequest, *, new_box_id: str, width: int, height: int,
              editor: UserAttribution, now: datetime) -> Edit:
    """Split a box in two (`SplitRequest`); references go with their text, the new box comes
    right after the old one in reading order.

    Raises:
        NotFound: no such box. ValidationFailed: the offset is not inside the text, a
        reference spans it, or the parts' coordinates are outside the image.
    """
    index, box = find_box(state, box_id)
    text = box.text.corrected
    k = request.char_offset
    if k >= len(text):
        raise ValidationFailed(f"charOffset must be inside the text (1-{len(text) - 1})", field="charOffset")
    if any(r.position.char_offset < k < r.position.end for r in box.inline_references if references.is_live(r)):
        raise ValidationFailed("a reference spans the split point", field="charOffset")
    head, tail = text[:k], text[k:]
    cut_head, cut_tail = head.rstrip("\n"), tail.lstrip("\n")
    lead = len(tail) - len(cut_tail)
    first_refs = [r for r in box.inline_references if r.position.char_offset < k and r.position.end <= len(cut_head)]
    second_refs = [r.model_copy(update={"position": r.position.model_copy(update={"char_offset": max(r.position.char_offset - k - lead, 0)})})
                   for r in box.inline_references if r not in first_refs]
    if request.coordinates:
        top, bottom = request.coordinates
    else:
        c = box.coordinates
        share = (head.count("\n") + 1) / (text.count("\n") + 2) if "\n" in text else k / len(text)
        cut = max(1, min(c.height - 1, round(c.height * share))) if c.height > 1 else 1
        top = c.model_copy(update={"height": cut})
        bottom = c.model_copy(update={"y": c.y + cut, "height": max(c.height - cut, 1)})
    for i, part in enumerate((top, bottom)):
        check_within(part, width, height, field=f"coordinates[{i}]")
    first = _stamp(box, editor, now, coordinates=top, text=box.text.model_copy(update={"corrected": cut_head, "ocr": box.text.ocr}),
                   inline_references=references.renumbered(first_refs),
                   linked_boxes=[b for b in box.linked_boxes if b not in {r.target_box_id for r in second_refs}
                                 or b in {r.target_box_id for r in first_refs}])
    second = BoundingBox(box_id=new_box_id, coordinates=bottom, content_type=box.content_type, language=box.language,
                         script=box.script, reading_order=box.reading_order + 1, confidence=box.confidence,
                         text=TextContent(ocr="", corrected=cut_tail, ocr_confidence=box.text.ocr_confidence,
                                          is_corrected=box.text.is_corrected),
                         linked_boxes=list(dict.fromkeys(r.target_box_id for r in second_refs)),
                         inline_references=references.renumbered(second_refs), parent_box=box.parent_box,
                         created_by="user", last_modified_by=editor, last_modified_at=now)
    boxes = [b.model_copy(update={"reading_order": b.reading_order + 1}) if b.reading_order > box.reading_order else b
             for b in state.bounding_boxes]
    boxes[index] = first
    return Edit(_replace(state, _in_order(boxes + [second])), "box_split",
                SplitChange(action="split", source_box_id=box_id, new_box_ids=[box_id, new_box_id]), box_ids=[new_box_id])


def set_reading_order(state: PageState, box_ids: list[str], *, editor: UserAttribution, now: datetime) -> Edit:
    """Put the page's boxes in the order `box_ids` lists them (every box exactly once).
    Raises `ValidationFailed` otherwise."""
    current = {b.box_id: b for b in state.bounding_boxes}
    if sorted(box_ids) != sorted(current):
        raise ValidationFailed("boxIds must list every box of the page exactly once", field="boxIds")
    steps, boxes = [], []
    for i, box_id in enumerate(box_ids):
        box = current[box_id]
        if box.reading_order != i + 1:
            steps.append(OrderStep(box_id=box_id, before=box.reading_order, after=i + 1))
            box = _stamp(box, editor, now, reading_order=i + 1)
        boxes.append(box)
    if not steps:
        raise ValidationFailed("the reading order is already so", field="boxIds")
    return Edit(_replace(state, boxes), "reading_order_changed", ReadingOrderChange(action="reading_order_changed", changes=steps))


# -- text -------------------------------------------------------------------------------------

def correct_text(state: PageState, box_id: str, request: UpdateTextRequest, *, version: int, editor: UserAttribution,
                 now: datetime) -> Edit:
    """Replace a box's corrected text, moving its references with the offset update algorithm
    (`offsets`); `affected` lists reference ids updated, orphaned and needing review.

    Raises:
        NotFound: no such box. Conflict: `oldText` is not the stored corrected text
        (409 `text_conflict`). ValidationFailed: changes that do not turn oldText into
        newText, or no change at all.
    """
    index, box = find_box(state, box_id)
    if request.old_text != box.text.corrected:
        raise Conflict("oldText is not the box's current text: reload the page", error_code="text_conflict")
    if request.new_text == request.old_text:
        raise ValidationFailed("newText equals oldText", field="newText")
    if request.changes is not None:
        check_changes(request.old_text, request.new_text, request.changes)
        changes = request.changes
    else:
        changes = diff_changes(request.old_text, request.new_text)
    update = update_offsets(box.inline_references, changes, request.new_text)
    history = box.text.correction_history + [TextCorrection(version=version, timestamp=now, edited_by=editor,
                                                             before=request.old_text, after=request.new_text, note=request.note)]
    text = box.text.model_copy(update={"corrected": request.new_text, "is_corrected": request.new_text != box.text.ocr,
                                       "correction_history": history})
    boxes = list(state.bounding_boxes)
    boxes[index] = _stamp(box, editor, now, text=text, inline_references=update.references)
    return Edit(_replace(state, boxes), "text_correction",
                TextCorrectionChange(action="text_corrected", box_id=box_id, before=request.old_text, after=request.new_text),
                affected={"updated": update.updated, "orphaned": update.orphaned, "needsReview": update.needs_review})


# -- references -------------------------------------------------------------------------------

def add_reference(state: PageState, box_id: str, draft: ReferenceDraft, *, reference_id: str,
                  target: tuple[str, int] | None, editor: UserAttribution, now: datetime,
                  created_by: str = "user") -> Edit:
    """Add an inline reference to a box: its `displayText` must be the text at its position,
    it must not overlap another; the target joins `linkedBoxes`. `target` is the target box's
    (pageId, pageNumber) when it is on another page (cached on the reference), None when on
    this one.

    Raises:
        NotFound: no such box. ValidationFailed: the rules (`references`).
    """
    index, box = find_box(state, box_id)
    ref = InlineReference(reference_id=reference_id, type=draft.type, position=draft.position, target_box_id=draft.target_box_id,
                          display_text=draft.display_text, sequence_in_text=1, created_by=created_by,
                          target_page_id=target[0] if target else None, target_page_number=target[1] if target else None)
    references.check_marker_matches(box, ref, field="displayText")
    new_box = _with_references(box, box.inline_references + [ref], editor, now)
    boxes = list(state.bounding_boxes)
    boxes[index] = new_box
    added = next(r for r in new_box.inline_references if r.reference_id == reference_id)
    return Edit(_replace(state, boxes), "inline_reference_added",
                InlineReferenceChange(action="inline_reference_added", box_id=box_id, reference_id=reference_id, after=added))


def _with_references(box: BoundingBox, refs: list[InlineReference], editor: UserAttribution, now: datetime) -> BoundingBox:
    box = box.model_copy(update={"inline_references": references.renumbered(refs)})
    return _stamp(box, editor, now, linked_boxes=references.with_linked_targets(box))


def find_reference(state: PageState, reference_id: str) -> tuple[int, BoundingBox, InlineReference]:
    """The box index, box and reference of `reference_id`. Raises `NotFound`."""
    for i, box in enumerate(state.bounding_boxes):
        for ref in box.inline_references:
            if ref.reference_id == reference_id:
                return i, box, ref
    raise NotFound(f"no inline reference {reference_id} on this page")


def patch_reference(state: PageState, box_id: str, reference_id: str, patch: ReferencePatch, *,
                    target: tuple[str, int] | None, editor: UserAttribution, now: datetime) -> Edit:
    """Change a reference's position, type, target or displayText; it must then sit on its
    `displayText`; orphaned and needs-review flags are cleared (a person confirmed it).
    `target` as in `add_reference`, for a new target.

    Raises:
        NotFound: no such box or reference. ValidationFailed: the rules, or nothing to change.
    """
    index, box = find_box(state, box_id)
    old = next((r for r in box.inline_references if r.reference_id == reference_id), None)
    if old is None:
        raise NotFound(f"no inline reference {reference_id} in box {box_id}")
    fields = patch.model_fields_set - {"note"}
    if not fields and not (old.is_orphaned or old.needs_review):
        raise ValidationFailed("the patch changes nothing", field="body")
    update: dict[str, Any] = {k: getattr(patch, k) for k in fields}
    if "target_box_id" in update:
        update.update(target_page_id=target[0] if target else None, target_page_number=target[1] if target else None)
    update.update(is_orphaned=None, orphaned_reason=None, needs_review=None, review_reason=None, created_by="user")
    ref = old.model_copy(update=update)
    references.check_marker_matches(box, ref, field="displayText")
    refs = [ref if r.reference_id == reference_id else r for r in box.inline_references]
    kept_links = [b for b in box.linked_boxes if b != old.target_box_id or any(r.target_box_id == b for r in refs)]
    new_box = _with_references(box.model_copy(update={"linked_boxes": kept_links}), refs, editor, now)
    boxes = list(state.bounding_boxes)
    boxes[index] = new_box
    after = next(r for r in new_box.inline_references if r.reference_id == reference_id)
    return Edit(_replace(state, boxes), "inline_reference_modified",
                InlineReferenceChange(action="inline_reference_modified", box_id=box_id, reference_id=reference_id,
                                      before=old, after=after))


def delete_reference(state: PageState, box_id: str, reference_id: str, *, editor: UserAttribution, now: datetime) -> Edit:
    """Remove a reference (its marker text stays); its target leaves `linkedBoxes` unless
    another reference of the box points there. Raises `NotFound`."""
    index, box = find_box(state, box_id)
    old = next((r for r in box.inline_references if r.reference_id == reference_id), None)
    if old is None:
        raise NotFound(f"no inline reference {reference_id} in box {box_id}")
    refs = [r for r in box.inline_references if r.reference_id != reference_id]
    linked = [b for b in box.linked_boxes if b != old.target_box_id or any(r.target_box_id == b for r in refs)]
    boxes = list(state.bounding_boxes)
    boxes[index] = _with_references(box.model_copy(update={"linked_boxes": linked}), refs, editor, now)
    return Edit(_replace(state, boxes), "inline_reference_removed",
                InlineReferenceChange(action="inline_reference_removed", box_id=box_id, reference_id=reference_id, before=old))


def with_detected(state: PageState, found: dict[str, list[InlineReference]], *, editor: UserAttribution,
                  now: datetime) -> PageState:
    """`state` with detected references added to their boxes (`detection.apply_detected`)."""
    boxes = []
    for box in state.bounding_boxes:
        new = apply_detected(box, found.get(box.box_id, ()))
        boxes.append(box if new is box else _stamp(new, editor, now))
    return _replace(state, boxes)
