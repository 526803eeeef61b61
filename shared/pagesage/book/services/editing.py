"""Use cases: every edit of a page's annotations, under optimistic concurrency
(docs/book.md, "Edits", "Versions").

Each edit names the version it was based on (`If-Match`, RFC 9110 §13.1.1): none is refused
(428), a stale one fails (412) with the current version id, and nothing is changed. The edit
itself is a pure function of `book.domain.edits` run inside the store's commit, so what it
checks, it checks against the state it changes.
"""

from __future__ import annotations

from typing import Callable

from pagesage.book.domain import edits, ids, review, versions
from pagesage.book.domain.edits import Edit
from pagesage.book.domain.model import PageAnnotations, PageState, ReviewStatus, ReviewStatusChange, UserAttribution
from pagesage.book.services.answers import AffectedReferences, EditResult, UpdateTextResponse
from pagesage.book.services.ports import BookPorts
from pagesage.errors import NotFound, PreconditionRequired

Operation = Callable[[PageAnnotations], Edit]


def apply(ports: BookPorts, page_id: str, if_match: str | None, caller: UserAttribution, operation: Operation, *,
          note: str = "", editable_when_approved: bool = False) -> tuple[PageAnnotations, Edit]:
    """Run `operation` on the page as of `if_match` and commit its edit as the next version.

    Raises:
        PreconditionRequired: no `if_match`. PreconditionFailed: `if_match` is not the
        current version. NotFound, Conflict, ValidationFailed: what the operation or the
        store raises; nothing is written then.
    """
    if not if_match:
        raise PreconditionRequired("send If-Match with the page's ETag (the version your edit is based on)")
    done: list[Edit] = []

    def mutate(page: PageAnnotations):
        if not editable_when_approved:
            review.check_editable(page.current_state)
        edit = operation(page)
        done[:] = [edit]
        return versions.commit(page, edit.state, editor=caller, change_type=edit.change_type, changes=edit.changes, note=note,
                               now=ports.clock())

    page = ports.book.commit_page(page_id, if_match, mutate)
    return page, done[0]


def result(page: PageAnnotations, edit: Edit, *box_ids: str) -> EditResult:
    """An edit's answer: the new version and the named boxes as they now are."""
    boxes = [b for b in page.boxes if b.box_id in box_ids]
    affected = AffectedReferences(**edit.affected) if edit.affected else None
    return EditResult(version_number=page.version, commit_sha=page.commit_sha or "", updated_boxes=boxes,
                      created_box_ids=edit.box_ids, affected_references=affected)


def add_box(ports: BookPorts, page_id: str, if_match: str | None, caller: UserAttribution, draft: edits.BoxDraft) -> EditResult:
    """Draw a box (`edits.add_box`); the answer names its new id. Raises as `apply`, and
    `ValidationFailed` for a box outside the image (pixels) or an unknown parent."""
    new_id = ids.box_id(draft.content_type)
    page, edit = apply(ports, page_id, if_match, caller, lambda p: edits.add_box(
        p.current_state, draft, box_id=new_id, width=p.image.width, height=p.image.height, editor=caller, now=ports.clock()),
        note=draft.note)
    return result(page, edit, new_id)


def patch_box(ports: BookPorts, page_id: str, box_id: str, if_match: str | None, caller: UserAttribution,
              patch: edits.BoxPatch) -> EditResult:
    """Move, resize, relabel or annotate a box (`edits.patch_box`). Raises as `apply`."""
    page, edit = apply(ports, page_id, if_match, caller, lambda p: edits.patch_box(
        p.current_state, box_id, patch, width=p.image.width, height=p.image.height, editor=caller, now=ports.clock()),
        note=patch.note)
    return result(page, edit, box_id)


def delete_box(ports: BookPorts, page_id: str, box_id: str, if_match: str | None, caller: UserAttribution,
               note: str = "") -> EditResult:
    """Delete a box; this page's references to it are flagged orphaned (`edits.delete_box`).
    Raises as `apply`."""
    page, edit = apply(ports, page_id, if_match, caller,
                       lambda p: edits.delete_box(p.current_state, box_id, editor=caller, now=ports.clock()), note=note)
    return result(page, edit)


def merge_boxes(ports: BookPorts, page_id: str, if_match: str | None, caller: UserAttribution, box_ids: list[str],
                note: str = "") -> EditResult:
    """Merge boxes into the first in reading order (`edits.merge_boxes`). Raises as `apply`."""
    page, edit = apply(ports, page_id, if_match, caller,
                       lambda p: edits.merge_boxes(p.current_state, box_ids, editor=caller, now=ports.clock()), note=note)
    return result(page, edit, edit.changes.target_box_id)


def split_box(ports: BookPorts, page_id: str, box_id: str, if_match: str | None, caller: UserAttribution,
              request: edits.SplitRequest) -> EditResult:
    """Split a box at a code-point offset of its text; the new box gets a fresh id
    (`edits.split_box`). Raises as `apply`."""
    def operation(p: PageAnnotations) -> Edit:
        _, box = edits.find_box(p.current_state, box_id)
        return edits.split_box(p.current_state, box_id, request, new_box_id=ids.box_id(box.content_type), width=p.image.width,
                               height=p.image.height, editor=caller, now=ports.clock())

    page, edit = apply(ports, page_id, if_match, caller, operation, note=request.note)
    return result(page, edit, box_id, *edit.box_ids)


def set_reading_order(ports: BookPorts, page_id: str, if_match: str | None, caller: UserAttribution, box_ids: list[str],
                      note: str = "") -> EditResult:
    """Put the page's boxes in the order `box_ids` lists (`edits.set_reading_order`).
    Raises as `apply`."""
    page, edit = apply(ports, page_id, if_match, caller,
                       lambda p: edits.set_reading_order(p.current_state, box_ids, editor=caller, now=ports.clock()), note=note)
    return result(page, edit)


def correct_text(ports: BookPorts, page_id: str, box_id: str, if_match: str | None, caller: UserAttribution,
                 request: edits.UpdateTextRequest) -> UpdateTextResponse:
    """Correct a box's text; its references follow (`edits.correct_text`). Raises as `apply`,
    and `Conflict` (409 `text_conflict`) when `oldText` is not the stored text."""
    page, edit = apply(ports, page_id, if_match, caller, lambda p: edits.correct_text(
        p.current_state, box_id, request, version=p.version + 1, editor=caller, now=ports.clock()), note=request.note)
    box = page.current_state.box(box_id)
    return UpdateTextResponse(updated_box=box, affected_references=AffectedReferences(**edit.affected),
                              version_number=page.version, commit_sha=page.commit_sha or "")


def _target(ports: BookPorts, page: PageAnnotations, target_box_id: str) -> tuple[str, int] | None:
    """(pageId, pageNumber) of a target on another page of the project, None on this page.
    Raises `NotFound` (404) when the project has no such box."""
    if page.current_state.box(target_box_id) is not None:
        return None
    try:
        where = ports.book.locate_box(target_box_id)
    except NotFound:
        where = None
    if where is None or where.project_id not in (None, page.project_id):
        raise NotFound(f"target box {target_box_id} is not in this project")
    return where.page_id, where.page_number


def add_reference(ports: BookPorts, page_id: str, box_id: str, if_match: str | None, caller: UserAttribution,
                  draft: edits.ReferenceDraft) -> tuple[str, PageAnnotations]:
    """Add an inline reference; returns its id and the page after it."""
    new_id = ids.reference_id()
    page, _ = apply(ports, page_id, if_match, caller, lambda p: edits.add_reference(
        p.current_state, box_id, draft, reference_id=new_id, target=_target(ports, p, draft.target_box_id),
        editor=caller, now=ports.clock()), note=draft.note)
    return new_id, page


def patch_reference(ports: BookPorts, page_id: str, box_id: str, reference_id: str, if_match: str | None,
                    caller: UserAttribution, patch: edits.ReferencePatch) -> EditResult:
    """Change or confirm an inline reference (`edits.patch_reference`). Raises as `apply`;
    `NotFound` for a new target outside the project."""
    def operation(p: PageAnnotations) -> Edit:
        target = _target(ports, p, patch.target_box_id) if patch.target_box_id else None
        if not patch.target_box_id:
            _, _, ref = edits.find_reference(p.current_state, reference_id)
            target = (ref.target_page_id, ref.target_page_number) if ref.target_page_id else None
        return edits.patch_reference(p.current_state, box_id, reference_id, patch, target=target, editor=caller, now=ports.clock())

    page, edit = apply(ports, page_id, if_match, caller, operation, note=patch.note)
    return result(page, edit, box_id)


def delete_reference(ports: BookPorts, page_id: str, box_id: str, reference_id: str, if_match: str | None,
                     caller: UserAttribution, note: str = "") -> EditResult:
    """Remove an inline reference; its marker text stays (`edits.delete_reference`). Raises as
    `apply`."""
    page, edit = apply(ports, page_id, if_match, caller, lambda p: edits.delete_reference(
        p.current_state, box_id, reference_id, editor=caller, now=ports.clock()), note=note)
    return result(page, edit, box_id)


def set_review_status(ports: BookPorts, page_id: str, if_match: str | None, caller: UserAttribution, status: ReviewStatus,
                      note: str = "") -> EditResult:
    """Change the page's review status (`review.TRANSITIONS`, two-person approval)."""
    def operation(p: PageAnnotations) -> Edit:
        before = p.current_state.review_status
        state: PageState = review.change_status(p.current_state, status, caller)
        return Edit(state, "review_status_changed", ReviewStatusChange(action="review_status_changed", before=before, after=status))

    page, edit = apply(ports, page_id, if_match, caller, operation, note=note, editable_when_approved=True)
    return result(page, edit)
