"""Use case: detect inline references on a page on demand (after corrections, or for a page
seeded before a footnote box was drawn): the confident matches, applied as one version when
asked, and proposals for a person to confirm (`POST .../inline-references`)."""

from __future__ import annotations

from pagesage.book.domain import detection, ids
from pagesage.book.domain.edits import Edit, with_detected
from pagesage.book.domain.model import AI, CreateChange, PageAnnotations, UserAttribution
from pagesage.book.services import editing
from pagesage.book.services.answers import ReferenceProposalList
from pagesage.book.services.ports import BookPorts
from pagesage.errors import NotFound


def _next_page(ports: BookPorts, page: PageAnnotations):
    try:
        nxt = ports.book.get_page(ids.page_id(page.project_id, page.page_number + 1))
    except NotFound:
        return None
    return nxt.page_id, nxt.page_number, nxt.boxes


def _found(ports: BookPorts, page: PageAnnotations):
    return detection.detect_references(page.boxes, page_id=page.page_id, page_number=page.page_number,
                                       next_page=_next_page(ports, page), tokens=None, new_reference_id=ids.reference_id)


def detect(ports: BookPorts, page_id: str, *, apply: bool, if_match: str | None,
           caller: UserAttribution | None) -> ReferenceProposalList:
    """Detect references on the page's current text. With `apply`, the confident ones are
    added (as detected by the pipeline, `createdBy` ai, the caller recorded as editor) in one
    version; without, nothing is written.

    Raises:
        NotFound: no such page. PreconditionRequired / PreconditionFailed: `apply` without a
        current `If-Match`.
    """
    if not apply:
        page = ports.book.get_page(page_id)
        found = _found(ports, page)
        return ReferenceProposalList(applied=[r for refs in found.applied.values() for r in refs],
                                     proposals=found.proposals)
    seen: dict = {}

    def operation(page: PageAnnotations) -> Edit:
        found = _found(ports, page)
        seen["found"] = found
        state = with_detected(page.current_state, found.applied, editor=caller or AI, now=ports.clock())
        count = sum(len(v) for v in found.applied.values())
        return Edit(state, "inline_reference_added", CreateChange(action="created", box_id=None,
                                                                  details=f"references detected: {count}"))

    page, _ = editing.apply(ports, page_id, if_match, caller or AI, operation, note="references detected")
    found = seen["found"]
    return ReferenceProposalList(applied=[r for refs in found.applied.values() for r in refs],
                                 proposals=found.proposals,
                                 version_number=page.version, commit_sha=page.commit_sha)
