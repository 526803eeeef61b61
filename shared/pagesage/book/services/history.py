"""Use cases: a page's version history, the page as of a version, and reverting to one."""

from __future__ import annotations

from pagesage.book.domain.edits import Edit
from pagesage.book.domain.model import PageAnnotations, RevertChange, UserAttribution
from pagesage.book.services import editing
from pagesage.book.services.answers import EditResult, VersionList
from pagesage.book.services.ports import BookPorts


def versions_of(ports: BookPorts, page_id: str) -> VersionList:
    """Every version entry of the page, oldest first. Raises `NotFound`."""
    return VersionList(page_id=page_id, versions=ports.book.list_versions(page_id))


def page_as_of(ports: BookPorts, page_id: str, version: int) -> PageAnnotations:
    """The page as it was after `version`. Raises `NotFound` (no page, no such version)."""
    page = ports.book.get_page(page_id)
    record = ports.book.get_version(page_id, version)
    return page.model_copy(update={"current_state": record.state, "version": record.entry.version,
                                   "commit_sha": record.entry.commit_sha, "updated_at": record.entry.timestamp})


def revert(ports: BookPorts, page_id: str, if_match: str | None, caller: UserAttribution, version: int,
           note: str = "") -> EditResult:
    """Make the state of `version` the page's next version (history is kept: a revert is one
    more entry). The review status stays as it is now; an approved page must be reopened first.

    Raises:
        NotFound: no such version. PreconditionRequired / PreconditionFailed: `If-Match`.
    """
    record = ports.book.get_version(page_id, version)

    def operation(page: PageAnnotations) -> Edit:
        now = page.current_state
        state = record.state.model_copy(update={"review_status": now.review_status, "reviewed_by": now.reviewed_by,
                                                "approved_by": now.approved_by})
        return Edit(state, "manual_edit", RevertChange(action="reverted", to_version=version, to_commit_sha=record.entry.commit_sha))

    page, edit = editing.apply(ports, page_id, if_match, caller, operation, note=note or f"reverted to version {version}")
    return editing.result(page, edit)
