"""What both book stores do alike around a write: check that the records handed to them fit
together, and work out which box and reference index entries a page write adds, rewrites and
deletes (`indexes.box_locations`, `indexes.reference_rows` of the old and the new page).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from pagesage.book.domain.indexes import box_locations, reference_rows
from pagesage.book.domain.model import BoxLocation, IncomingReference, PageAnnotations, Project, VersionRecord
from pagesage.book.ports import PageMutation
from pagesage.errors import Conflict, PreconditionFailed


@dataclass
class IndexChanges:
    """The index writes of one page write.

    Attributes:
        boxes_added: box id -> entry, for boxes the old page did not have (their ids must not
            be stored yet, on any page).
        boxes_changed: box id -> entry, for boxes whose entry differs (page number, content type).
        boxes_removed: ids of boxes the new page no longer has.
        refs_written: `<pageId>~<referenceId>` -> (target box id, reference), for rows new or
            differing in anything but `createdAt` (an unchanged row keeps the time it was written).
        refs_removed: row keys the new page no longer has.
    """

    boxes_added: dict[str, BoxLocation] = field(default_factory=dict)
    boxes_changed: dict[str, BoxLocation] = field(default_factory=dict)
    boxes_removed: list[str] = field(default_factory=list)
    refs_written: dict[str, tuple[str, IncomingReference]] = field(default_factory=dict)
    refs_removed: list[str] = field(default_factory=list)


def index_changes(old: PageAnnotations | None, new: PageAnnotations) -> IndexChanges:
    """The index entries to add, rewrite and delete when `old` (None: no page yet) becomes `new`."""
    old_boxes = box_locations(old) if old is not None else {}
    old_refs = reference_rows(old) if old is not None else {}
    changes = IndexChanges()
    for box_id, location in box_locations(new).items():
        if box_id not in old_boxes:
            changes.boxes_added[box_id] = location
        elif old_boxes[box_id] != location:
            changes.boxes_changed[box_id] = location
    new_boxes = {b.box_id for b in new.boxes}
    changes.boxes_removed = [box_id for box_id in old_boxes if box_id not in new_boxes]
    new_refs = reference_rows(new)
    for key, (target, ref) in new_refs.items():
        before = old_refs.get(key)
        if before is None or before[0] != target or before[1].model_copy(update={"created_at": ref.created_at}) != ref:
            changes.refs_written[key] = (target, ref)
    changes.refs_removed = [key for key in old_refs if key not in new_refs]
    return changes


def check_new_project(project: Project, pages: Sequence[tuple[PageAnnotations, VersionRecord]]) -> None:
    """Check the records of a new project before anything is written.

    Raises:
        ValueError: a page of another project, or a version record of another page or version
            (a caller's mistake, not a client's).
        Conflict: two pages with one page id or one box id on two pages.
    """
    page_ids: set[str] = set()
    box_ids: set[str] = set()
    for page, record in pages:
        if page.project_id != project.project_id:
            raise ValueError(f"page {page.page_id} belongs to project {page.project_id}, not {project.project_id}")
        check_version_record(page, record)
        if page.page_id in page_ids:
            raise Conflict(f"page id {page.page_id} is given twice")
        page_ids.add(page.page_id)
        ids = {b.box_id for b in page.boxes}
        if ids & box_ids:
            raise Conflict(f"box id {sorted(ids & box_ids)[0]} is on two pages")
        box_ids |= ids


def mutated(page_id: str, stored: PageAnnotations, expected_sha: str,
            mutate: PageMutation) -> tuple[PageAnnotations, VersionRecord, IndexChanges]:
    """One commit's work inside a store's transaction, after it read `stored`: the sha check,
    `mutate`, the check of what it returned, and the index changes; returns the new page
    (without history), its version record and the index writes.

    Raises:
        PreconditionFailed: `stored` is not at `expected_sha` (`current` its sha). ValueError:
        as `check_commit`. What `mutate` raises.
    """
    if stored.commit_sha != expected_sha:
        raise PreconditionFailed(f"page {page_id} is no longer at version {expected_sha}", current=stored.commit_sha or "")
    new, record = mutate(stored.model_copy(deep=True))
    check_commit(stored, new, record)
    new = new.model_copy(update={"version_history": []})
    return new, record, index_changes(stored, new)


def check_commit(stored: PageAnnotations, new: PageAnnotations, record: VersionRecord) -> None:
    """Check what a `PageMutation` returned: the same page, of the same project, one version on.

    Raises:
        ValueError: anything else (a caller's mistake, not a client's).
    """
    if new.page_id != stored.page_id or new.project_id != stored.project_id:
        raise ValueError("a page mutation must keep the page id and the project id")
    if new.version != stored.version + 1:
        raise ValueError(f"a page mutation must make version {stored.version + 1}, not {new.version}")
    check_version_record(new, record)


def check_version_record(page: PageAnnotations, record: VersionRecord) -> None:
    """Raise `ValueError` unless `record` is the version `page` is at (page id, version, sha)."""
    if record.page_id != page.page_id or record.entry.version != page.version or record.entry.commit_sha != page.commit_sha:
        raise ValueError(f"the version record is not version {page.version} ({page.commit_sha}) of page {page.page_id}")
