"""The book layer's port: what its services need from a store (`BookStore`).

Two adapters implement it: `adapters.sqlite_book.SqliteBookStore` (embedded) and
`adapters.firestore_book.FirestoreBookStore` (production). Every method may be called from
several threads at once. Records are validated in the form they are stored before they are
written (`pagesage.adapters.records`).

Layout (both stores, docs/book.md "Storage"):

| record | key | holds |
|---|---|---|
| project | projectId | `Project` without `boxIndex` |
| page | pageId | `PageAnnotations` without `versionHistory`, plus its counter flags and projectId |
| version | pageId + version | `VersionRecord`: the entry and the page state after it |
| box index | boxId | `BoxLocation` (projectId, pageId, pageNumber, contentType): one record per box |
| reference index | pageId~referenceId | the target box id and the `IncomingReference` |
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence

from pagesage.book.domain.model import (BoxLocation, IncomingReference, PageAnnotations, PageCounters, Project,
                                        VersionHistoryEntry, VersionRecord)

PageMutation = Callable[[PageAnnotations], tuple[PageAnnotations, VersionRecord]]
"""Given the stored page, the new page (its `version` one more, its `commitSha` that of the
record) and the version record to append. It may raise: then nothing is written."""


class BookStore(Protocol):
    """Projects, page annotations, their versions and the box and reference indexes."""

    def create_project(self, project: Project, pages: Sequence[tuple[PageAnnotations, VersionRecord]]) -> None:
        """Insert a project with its pages, each with its first version, and their box and
        reference index entries: all or nothing. SQLite: one transaction. Firestore: the pages
        (each with its entries, one batch each) first and the project record last, so a
        project is visible only once complete; when a write fails, what was written is deleted.

        Raises:
            Conflict: the project id, a page id or a box id is already stored (box ids are
                unique across the whole store, not only the project).
        """

    def get_project(self, project_id: str) -> Project:
        """The project, `boxIndex` None. Raises `NotFound`."""

    def list_projects(self, limit: int, cursor: str | None = None) -> tuple[list[Project], str | None]:
        """Projects by title (then id), at most `limit`, after `cursor`; returns them and the
        next cursor (None at the end). Raises `InputError` for a cursor this store did not issue."""

    def update_project(self, project_id: str, mutate: Callable[[Project], None]) -> Project:
        """Read, `mutate` (which may raise: nothing written) and write back atomically; sets
        `updatedAt`. Raises `NotFound`."""

    def page_counters(self, project_id: str) -> PageCounters:
        """The project's page counters, counted from its pages' flags (`indexes.page_flags`)
        without loading the pages."""

    def get_page(self, page_id: str) -> PageAnnotations:
        """A page's current annotations, `versionHistory` empty. Raises `NotFound`."""

    def list_pages(self, project_id: str) -> list[PageAnnotations]:
        """A project's pages by page number (`versionHistory` empty)."""

    def commit_page(self, page_id: str, expected_sha: str, mutate: PageMutation) -> PageAnnotations:
        """Apply one edit atomically: read the page; unless its `commitSha` is `expected_sha`
        raise `PreconditionFailed` (its `current` the stored sha); call `mutate`; write the new
        page, append the version record, and bring the box index and the reference index in
        line with the new page (`indexes.box_locations`, `indexes.reference_rows`): entries of
        removed boxes and references deleted, new ones added, changed ones rewritten.

        Concurrent commits of one page are serialized: of two based on the same sha, one
        succeeds and the other raises `PreconditionFailed`.

        Raises:
            NotFound: no such page. PreconditionFailed: stale `expected_sha`. Conflict: a new
            box id is already stored (on any page). What `mutate` raises.
        """

    def get_version(self, page_id: str, version: int) -> VersionRecord:
        """One version of a page. Raises `NotFound`."""

    def list_versions(self, page_id: str) -> list[VersionHistoryEntry]:
        """A page's version entries, oldest first. Raises `NotFound` for an unknown page."""

    def locate_box(self, box_id: str) -> BoxLocation:
        """The box index entry of `box_id`. Raises `NotFound`."""

    def locate_boxes(self, box_ids: Sequence[str]) -> dict[str, BoxLocation]:
        """Index entries of the boxes among `box_ids` that exist (one round trip per 100 ids)."""

    def box_index(self, project_id: str) -> dict[str, BoxLocation]:
        """The project's whole box index."""

    def references_to(self, box_id: str) -> list[IncomingReference]:
        """Every inline reference pointing at `box_id`, from any page, by source page number
        then reference id."""
