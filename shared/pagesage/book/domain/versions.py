"""Version ids and commits of a page's annotations (docs/book.md, "Versions").

Every edit appends a `VersionHistoryEntry` and gives the page a new version id, `commitSha`:
the SHA-256 (hex) of the previous id and the canonical JSON of the page state after the edit
(keys sorted, no insignificant whitespace, UTF-8) — so an id names one state reached by one
history, as a git commit does, and two edits never share one. The id is the page's HTTP
`ETag` (RFC 9110 §8.8.3); a write names the id it was based on in `If-Match`.

Derived fields are not part of a state: `incomingReferences` (from the reference index) and
the validation results (computed on demand) are dropped before hashing and storing.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime

from pagesage.book.domain.model import ChangeDetails, ChangeType, PageAnnotations, PageState, UserAttribution, VersionHistoryEntry, VersionRecord

ROOT = "0" * 64
"""The parent id of a page's first version."""


def stored_state(state: PageState) -> PageState:
    """`state` without derived fields (`incomingReferences`, validation results)."""
    boxes = [b.model_copy(update={"incoming_references": None}) if b.incoming_references is not None else b
             for b in state.bounding_boxes]
    return state.model_copy(update={"bounding_boxes": boxes, "validation_status": None, "validation_warnings": []})


def commit_sha(parent: str, state: PageState) -> str:
    """The version id of `state` reached from version id `parent`."""
    canonical = json.dumps(state.model_dump(mode="json"), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(f"{parent}\n{canonical}".encode()).hexdigest()


def commit(page: PageAnnotations, state: PageState, *, editor: UserAttribution, change_type: ChangeType,
           changes: ChangeDetails, note: str, now: datetime) -> tuple[PageAnnotations, VersionRecord]:
    """The page with `state` as its next version, and the version record to store with it.

    `state.lastModifiedBy/At` are set to `editor`/`now`; the version number is one more than
    the page's, the id `commit_sha` of the page's id and the new state.
    """
    state = stored_state(state).model_copy(update={"last_modified_by": editor, "last_modified_at": now})
    sha = commit_sha(page.commit_sha or ROOT, state)
    entry = VersionHistoryEntry(version=page.version + 1, timestamp=now, edited_by=editor, change_type=change_type,
                                changes=changes, commit_sha=sha, note=note)
    new_page = page.model_copy(update={"current_state": state, "version": entry.version, "commit_sha": sha,
                                       "updated_at": now, "version_history": []})
    return new_page, VersionRecord(page_id=page.page_id, entry=entry, state=state)


def etag(sha: str) -> str:
    """The strong entity tag of a version id: the id in double quotes."""
    return f'"{sha}"'


def parse_if_match(header: str | None) -> str | None:
    """The version id an `If-Match` header names (RFC 9110 §13.1.1): `"<sha>"` or `W/"<sha>"`
    (compared strongly all the same), the first of a list; `*` and a missing header give None."""
    if not header:
        return None
    first = header.split(",")[0].strip()
    if first == "*":
        return None
    return first.removeprefix("W/").strip('"') or None
