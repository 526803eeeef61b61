"""Use cases: following references both ways, across pages (through the box index and the
reference index: one page load per target)."""

from __future__ import annotations

from pagesage.book.domain import references
from pagesage.book.domain.model import BoundingBox, PageAnnotations
from pagesage.book.services.answers import (IncomingReferenceDetail, IncomingReferencesResponse, OutgoingReferenceDetail,
                                            OutgoingReferencesResponse)
from pagesage.book.services.ports import BookPorts
from pagesage.errors import NotFound

EXCERPT = 80
"""Code points of a target's text shown with an outgoing reference."""


def load_box(ports: BookPorts, box_id: str) -> tuple[PageAnnotations, BoundingBox]:
    """The page holding `box_id` (found through the box index) and the box. Raises `NotFound`."""
    where = ports.book.locate_box(box_id)
    page = ports.book.get_page(where.page_id)
    box = page.current_state.box(box_id)
    if box is None:
        raise NotFound(f"no box {box_id}")
    return page, box


def incoming(ports: BookPorts, box_id: str) -> IncomingReferencesResponse:
    """Every reference pointing at `box_id` from any page, each checked against its source
    page (`isValid`: the source reference still exists, points here and is not orphaned)."""
    _, box = load_box(ports, box_id)
    rows = ports.book.references_to(box_id)
    pages: dict[str, PageAnnotations] = {}
    now = ports.clock()
    details = []
    for row in rows:
        if row.source_page_id not in pages:
            pages[row.source_page_id] = ports.book.get_page(row.source_page_id)
        source = pages[row.source_page_id].current_state.box(row.source_box_id)
        ref = next((r for r in source.inline_references if r.reference_id == row.reference_id), None) if source else None
        valid = ref is not None and ref.target_box_id == box_id and references.is_live(ref)
        details.append(IncomingReferenceDetail(**row.model_dump(), is_valid=valid, last_validated=now))
    return IncomingReferencesResponse(footnote_box=box.model_copy(update={"incoming_references": rows}),
                                      incoming_references=details, total_count=len(details))


def outgoing(ports: BookPorts, box_id: str) -> OutgoingReferencesResponse:
    """The box's inline references with their targets: whether each exists, its page number
    and the start of its text."""
    page, box = load_box(ports, box_id)
    locations = ports.book.locate_boxes([r.target_box_id for r in box.inline_references])
    pages = {page.page_id: page}
    details = []
    for ref in box.inline_references:
        where = locations.get(ref.target_box_id)
        excerpt = None
        if where is not None:
            if where.page_id not in pages:
                pages[where.page_id] = ports.book.get_page(where.page_id)
            target = pages[where.page_id].current_state.box(ref.target_box_id)
            excerpt = target.text.corrected[:EXCERPT] if target else None
        details.append(OutgoingReferenceDetail(**ref.model_dump(), target_exists=where is not None,
                                               target_text_excerpt=excerpt)
                       .model_copy(update={"target_page_number": where.page_number if where else ref.target_page_number}))
    return OutgoingReferencesResponse(source_box=box, outgoing_references=details, total_count=len(details))
