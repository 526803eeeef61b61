"""Use case: bring a later OCR run into a project (`POST /api/v1/projects/:id/ocr-runs`) without
overwriting anything a person corrected (`domain.reruns`). Each page changes in a version of
its own, based on the page as it is when the run is applied."""

from __future__ import annotations

from pydantic import Field

from pagesage.book.domain import ids, reruns, seeding
from pagesage.book.domain.model import BookModel, BookRequest, UserAttribution
from pagesage.book.services import editing
from pagesage.book.services.ports import BookPorts
from pagesage.errors import Conflict, NotFound, PreconditionFailed

ATTEMPTS = 3
"""Tries per page when an editor's commit lands between reading the page and writing it."""


class ApplyRun(BookRequest):
    run_id: str = Field(min_length=1, max_length=200)


class AppliedRun(BookModel):
    """Boxes whose text the run replaced (`applied`), corrected boxes that got a suggestion, and
    approved pages left alone (`skipped`: reopen them to take the run)."""

    run_id: str
    pages: int
    applied: list[str]
    suggested: list[str]
    skipped: list[str]


def apply_run(ports: BookPorts, project_id: str, request: ApplyRun, caller: UserAttribution) -> AppliedRun:
    """Apply run `request.runId`'s results to every page of the project it read.

    Raises:
        NotFound: no such project or run, or the run read none of the project's pages.
    """
    project = ports.book.get_project(project_id)
    run = ports.ocr.get_run(request.run_id)
    applied, suggested, skipped, pages = [], [], [], 0
    for page in ports.book.list_pages(project_id):
        source = ports.ocr.get_page(page.source_page_id) if page.source_page_id else None
        if source is None or source.source_doc_id != project.source_document.source_doc_id:
            continue
        result = next((r for r in ports.ocr.list_results_for_page(source.source_doc_id, source.page_no) if r.run_id == run.run_id), None)
        if result is None:
            continue
        new = seeding.seed_boxes(ports.ocr.get_tokens(result.page_result_id), width=page.image.width, height=page.image.height,
                                 run_id=run.run_id, page_result_id=result.page_result_id, lang_tag=result.lang_tag,
                                 new_box_id=ids.box_id, now=ports.clock())
        pages += 1
        for _ in range(ATTEMPTS):
            current = ports.book.get_page(page.page_id)
            edit = reruns.apply_run(current.current_state, reruns.match_boxes(current.boxes, new), run_id=run.run_id, editor=caller,
                                    now=ports.clock())
            if edit is None:
                break
            try:
                editing.apply(ports, page.page_id, current.commit_sha, caller, lambda _p, e=edit: e,
                              note=f"OCR run {run.run_id}")
            except PreconditionFailed:
                continue
            except Conflict:  # approved: not edited until reopened
                skipped.append(page.page_id)
                break
            applied += edit.changes.applied_box_ids
            suggested += edit.changes.suggested_box_ids
            break
    if not pages:
        raise NotFound(f"run {run.run_id} read none of project {project_id}'s pages")
    return AppliedRun(run_id=run.run_id, pages=pages, applied=applied, suggested=suggested, skipped=skipped)
