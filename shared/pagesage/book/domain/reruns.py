"""A later OCR run over a project's pages (docs/book.md, "OCR re-runs"): it never overwrites
what a person corrected.

Each existing box takes the reading of the new run's box that covers it best (shared area at
least half of the smaller box's). A box nobody corrected gets the new text as its corrected
text (its references moved by the offset update algorithm; `text.ocr`, the first reading,
stays); a box a person corrected keeps its text and gets the reading as `text.ocrSuggestion`,
with the changes that would turn one into the other. New boxes of the run that match nothing
are not added: a re-run does not restructure a page someone may have laid out by hand.
"""

from __future__ import annotations

from datetime import datetime

from pagesage.book.domain import references
from pagesage.book.domain.edits import Edit
from pagesage.book.domain.model import BoundingBox, OcrSuggestion, OcrSuggestionChange, PageState, UserAttribution
from pagesage.book.domain.offsets import diff_changes, update_offsets

MIN_SHARED = 0.5
"""Least shared area, as a share of the smaller box, for a new box to be read as an old one."""


def match_boxes(existing: list[BoundingBox], new: list[BoundingBox]) -> dict[str, BoundingBox]:
    """Existing box id -> the new box covering it best (`MIN_SHARED`)."""
    matches = {}
    for box in existing:
        best, best_share = None, MIN_SHARED
        for candidate in new:
            smaller = min(box.coordinates.width * box.coordinates.height, candidate.coordinates.width * candidate.coordinates.height)
            share = box.coordinates.overlap(candidate.coordinates) / smaller if smaller else 0.0
            if share >= best_share:
                best, best_share = candidate, share
        if best is not None:
            matches[box.box_id] = best
    return matches


def apply_run(state: PageState, readings: dict[str, BoundingBox], *, run_id: str, editor: UserAttribution,
              now: datetime) -> Edit | None:
    """`state` with a run's `readings` (existing box id -> the run's box) applied as the module
    docstring says; None when nothing changes."""
    applied, suggested, boxes = [], [], []
    for box in state.bounding_boxes:
        reading = readings.get(box.box_id)
        text = reading.text.corrected if reading else None
        if reading is None or text == box.text.corrected:
            boxes.append(box)
        elif box.text.is_corrected:
            suggestion = OcrSuggestion(run_id=run_id, text=text, ocr_confidence=reading.text.ocr_confidence, created_at=now,
                                       changes=[c.model_dump(mode="json") for c in diff_changes(box.text.corrected, text)])
            boxes.append(box.model_copy(update={"text": box.text.model_copy(update={"ocr_suggestion": suggestion})}))
            suggested.append(box.box_id)
        else:
            moved = update_offsets(box.inline_references, diff_changes(box.text.corrected, text), text)
            new_text = box.text.model_copy(update={"corrected": text, "ocr_confidence": reading.text.ocr_confidence})
            boxes.append(box.model_copy(update={"text": new_text, "inline_references": moved.references, "ocr_source": reading.ocr_source,
                                                "last_modified_by": editor, "last_modified_at": now}))
            applied.append(box.box_id)
    if not applied and not suggested:
        return None
    new_state = state.model_copy(update={"bounding_boxes": boxes})
    references.check_page_references(new_state)
    return Edit(new_state, "ocr_extraction", OcrSuggestionChange(action="ocr_applied", run_id=run_id, applied_box_ids=applied,
                                                                 suggested_box_ids=suggested))
