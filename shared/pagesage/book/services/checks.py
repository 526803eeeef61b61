"""Use cases of the `validate` function: validate a page or a whole project, and apply the
automatic fixes (docs/book.md, "Validation").

A page's validation loads the page, the box index entries of its targets (one batched read),
the pages holding target boxes whose numbers are compared (one read each), and the reference
index rows of its footnotes. A project's validation reads every page once and the box index
once, and counts incoming references from the pages themselves.
"""

from __future__ import annotations

from pagesage.book.domain import validation
from pagesage.book.domain.edits import Edit
from pagesage.book.domain.model import AutoFixChange, ContentType, PageAnnotations, UserAttribution
from pagesage.book.domain.validation import Lookups
from pagesage.book.services import editing
from pagesage.book.services.answers import (AutoFixRequest, AutoFixResponse, PageValidation, ValidatePageResponse,
                                            ValidateProjectResponse)
from pagesage.book.services.ports import BookPorts
from pagesage.errors import ValidationFailed


def page_lookups(ports: BookPorts, page: PageAnnotations) -> Lookups:
    """What `validation.validate_page` needs for one page, read through the indexes."""
    locations = ports.book.locate_boxes(sorted(validation.targets(page)))
    texts: dict[str, str] = {}
    by_page: dict[str, list[str]] = {}
    for box_id, where in locations.items():
        by_page.setdefault(where.page_id, []).append(box_id)
    for target_page_id, box_ids in by_page.items():
        holder = page if target_page_id == page.page_id else ports.book.get_page(target_page_id)
        for box_id in box_ids:
            if (box := holder.current_state.box(box_id)) is not None:
                texts[box_id] = box.text.corrected
    incoming = {b.box_id: len(ports.book.references_to(b.box_id)) for b in page.boxes if b.content_type is ContentType.FOOTNOTE}
    return Lookups(locations=locations, target_texts=texts, incoming=incoming)


def validate_page(ports: BookPorts, page_id: str) -> ValidatePageResponse:
    """Validate one page. Raises `NotFound`."""
    page = ports.book.get_page(page_id)
    status, warnings = validation.validate_page(page, page_lookups(ports, page), ports.clock())
    return ValidatePageResponse(validation_status=status, warnings=warnings,
                                auto_fixable_count=sum(w.auto_fixable for w in warnings))


def validate_project(ports: BookPorts, project_id: str) -> ValidateProjectResponse:
    """Validate every page of a project. Raises `NotFound`."""
    ports.book.get_project(project_id)
    pages = ports.book.list_pages(project_id)
    index = ports.book.box_index(project_id)
    boxes = {b.box_id: b for p in pages for b in p.boxes}
    incoming: dict[str, int] = {}
    for p in pages:
        for b in p.boxes:
            for r in b.inline_references:
                incoming[r.target_box_id] = incoming.get(r.target_box_id, 0) + 1
    now = ports.clock()
    results, counts = [], {}
    for page in pages:
        targets = validation.targets(page)
        lookups = Lookups(locations={t: index[t] for t in targets if t in index},
                          target_texts={t: boxes[t].text.corrected for t in targets if t in boxes}, incoming=incoming)
        status, warnings = validation.validate_page(page, lookups, now)
        for w in warnings:
            counts[w.type] = counts.get(w.type, 0) + 1
        results.append(PageValidation(page_id=page.page_id, page_number=page.page_number, validation_status=status,
                                      warnings=warnings))
    return ValidateProjectResponse(project_id=project_id, is_valid=all(r.validation_status.is_valid for r in results),
                                   pages=results, counts=counts,
                                   auto_fixable_count=sum(w.auto_fixable for r in results for w in r.warnings))


def auto_fix(ports: BookPorts, page_id: str, if_match: str | None, caller: UserAttribution, request: AutoFixRequest) -> AutoFixResponse:
    """Apply the fixable warnings named (or all of them with `confirmAll`) as one version.
    Warnings that are not (or no longer) found, or cannot be fixed, are listed as failed.

    Raises:
        ValidationFailed: neither warning ids nor `confirmAll`. PreconditionRequired /
        PreconditionFailed: `If-Match`.
    """
    if not request.warning_ids and not request.confirm_all:
        raise ValidationFailed("name warningIds, or set confirmAll", field="warningIds")
    outcome: dict[str, list[str]] = {}

    def operation(page: PageAnnotations) -> Edit:
        lookups = page_lookups(ports, page)
        _, warnings = validation.validate_page(page, lookups, ports.clock())
        chosen = [w for w in warnings if (request.confirm_all and w.auto_fixable) or w.warning_id in request.warning_ids]
        state, fixed, failed = validation.auto_fix(page.current_state, chosen, lookups.locations)
        known = {w.warning_id for w in chosen}
        outcome["fixed"], outcome["failed"] = fixed, failed + [w for w in request.warning_ids if w not in known]
        if not fixed:
            raise _NothingFixed()
        return Edit(state, "manual_edit", AutoFixChange(action="auto_fixed", warning_ids=fixed))

    try:
        page, _ = editing.apply(ports, page_id, if_match, caller, operation, note="automatic fixes from validation")
    except _NothingFixed:
        page = ports.book.get_page(page_id)
        return AutoFixResponse(fixed=[], failed=outcome["failed"], version_number=page.version, commit_sha=page.commit_sha)
    return AutoFixResponse(fixed=outcome["fixed"], failed=outcome["failed"], version_number=page.version, commit_sha=page.commit_sha)


class _NothingFixed(Exception):
    """No warning could be fixed: nothing to commit."""
