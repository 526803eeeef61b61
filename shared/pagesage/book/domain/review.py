"""A page's review status and who may set it (docs/book.md, "Review").

| from | to |
|---|---|
| pending | in-progress, reviewed, needs-rework |
| in-progress | pending, reviewed, needs-rework |
| reviewed | approved, in-progress, needs-rework |
| needs-rework | in-progress, reviewed, pending |
| approved | needs-rework |

`approved` only follows `reviewed`, and only from a different person than the one who set
`reviewed` (two-person review, as Wikisource's ProofreadPage extension requires a second
proofreader before a page is "validated"). An approved page takes no edits until it is reopened
(`needs-rework`): the approved text is what exports publish.
"""

from __future__ import annotations

from pagesage.book.domain.model import PageState, ReviewStatus, UserAttribution
from pagesage.errors import Conflict, InvalidTransition

S = ReviewStatus
TRANSITIONS: dict[ReviewStatus, frozenset[ReviewStatus]] = {
    S.PENDING: frozenset({S.IN_PROGRESS, S.REVIEWED, S.NEEDS_REWORK}),
    S.IN_PROGRESS: frozenset({S.PENDING, S.REVIEWED, S.NEEDS_REWORK}),
    S.REVIEWED: frozenset({S.APPROVED, S.IN_PROGRESS, S.NEEDS_REWORK}),
    S.NEEDS_REWORK: frozenset({S.IN_PROGRESS, S.REVIEWED, S.PENDING}),
    S.APPROVED: frozenset({S.NEEDS_REWORK}),
}


def change_status(state: PageState, to: ReviewStatus, caller: UserAttribution) -> PageState:
    """`state` with review status `to`, set by `caller`.

    Raises:
        InvalidTransition: `TRANSITIONS` does not allow it (409 `invalid_transition`), or the
            caller approves what they reviewed themselves (409 `same_reviewer`).
    """
    now = state.review_status
    if to is now:
        raise InvalidTransition(f"the page is already {now.value}")
    if to not in TRANSITIONS[now]:
        raise InvalidTransition(f"review status cannot go from {now.value} to {to.value}")
    update: dict = {"review_status": to}
    if to is S.REVIEWED:
        update.update(reviewed_by=caller, approved_by=None)
    elif to is S.APPROVED:
        if state.reviewed_by is None or state.reviewed_by.key == caller.key:
            raise InvalidTransition("a page is approved by someone other than its reviewer", error_code="same_reviewer")
        update["approved_by"] = caller
    else:
        update["approved_by"] = None
    return state.model_copy(update=update)


def check_editable(state: PageState) -> None:
    """Refuse edits of an approved page. Raises `Conflict` (409 `page_approved`)."""
    if state.review_status is S.APPROVED:
        raise Conflict("the page is approved: set its review status to needs-rework to edit it", error_code="page_approved")
