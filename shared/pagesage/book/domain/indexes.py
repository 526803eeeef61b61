"""What a store derives from a page on every write, in the same transaction: the box index
(where each box lives), the reference index (who points at each box) and the page's counter
flags. Stores diff these between the old and the new page; the rules live here.
"""

from __future__ import annotations

from pagesage.book.domain.model import BoxLocation, IncomingReference, PageAnnotations, ReviewStatus

EXCERPT_CHARS = 20
"""Code points of context on each side of a reference in its `textExcerpt`."""


def text_excerpt(text: str, char_offset: int, length: int) -> str:
    """The reference's context: up to 20 code points either side of it, with `...` where the
    text goes on ("...principle¹ is clear...")."""
    start = max(0, char_offset - EXCERPT_CHARS)
    end = min(len(text), char_offset + length + EXCERPT_CHARS)
    return f"{'...' if start else ''}{text[start:end]}{'...' if end < len(text) else ''}"


def box_locations(page: PageAnnotations) -> dict[str, BoxLocation]:
    """Box id -> its index entry, for every box of `page`."""
    return {b.box_id: BoxLocation(page_id=page.page_id, page_number=page.page_number, content_type=b.content_type,
                                  project_id=page.project_id)
            for b in page.boxes}


def reference_rows(page: PageAnnotations) -> dict[str, tuple[str, IncomingReference]]:
    """Reference index rows of `page`: `<pageId>~<referenceId>` -> (target box id, the reference
    as its target sees it). `createdAt` is the page's `updatedAt` (when the row was written)."""
    rows: dict[str, tuple[str, IncomingReference]] = {}
    for box in page.boxes:
        for ref in box.inline_references:
            rows[f"{page.page_id}~{ref.reference_id}"] = (ref.target_box_id, IncomingReference(
                reference_id=ref.reference_id, source_box_id=box.box_id, source_page_id=page.page_id,
                source_page_number=page.page_number, display_text=ref.display_text,
                text_excerpt=text_excerpt(box.text.corrected, ref.position.char_offset, ref.position.length),
                created_at=page.updated_at))
    return rows


COUNTER_FLAGS = ("processed", "annotated", "reviewed", "ocred", "corrected")
"""The project's page counters a page can count towards (`total` counts every page)."""


def page_flags(page: PageAnnotations) -> dict[str, bool]:
    """Which of a project's page counters `page` counts towards: `processed` (its image is
    known), `annotated` (it has a box), `reviewed` (status reviewed or approved), `ocred` (OCR
    completed), `corrected` (a box's text was corrected)."""
    state = page.current_state
    return {"processed": bool(page.image.blob_key), "annotated": bool(state.bounding_boxes),
            "reviewed": state.review_status in (ReviewStatus.REVIEWED, ReviewStatus.APPROVED),
            "ocred": state.ocr_status.value == "completed",
            "corrected": any(b.text.is_corrected for b in state.bounding_boxes)}
