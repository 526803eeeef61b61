"""Use cases: export a project (`POST /api/v1/projects/:id/exports`), list its exports, read one
export's file (docs/exports.md).

An export renders the project's corrected text in reading order (`domain.edition`) in one format
(`pagesage.book.formats`), stores the file in the blob store under
`projects/<projectId>/exports/<exportId>/<outputFileName>` and records an `ExportRecord` (its
SHA-256, size in bytes, pages and settings) on the project, which then has status `exported`.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO, Literal

from pydantic import Field

from pagesage.book.domain import edition as editions
from pagesage.book.domain import ids
from pagesage.book.domain.export_config import (FILE_NAME_PATTERN, ExportConfiguration, HocrExportOptions,
                                                JsonExportOptions, MarkdownExportOptions)
from pagesage.book.domain.model import (BookModel, BookRequest, Confidence, ExportFormat, ExportRecord, PageAnnotations, Project,
                                        UserAttribution)
from pagesage.book.formats import file_extension, renderer
from pagesage.book.services.ports import BookPorts
from pagesage.domain.limits import LineText, PageNo
from pagesage.domain.pages import Token
from pagesage.errors import NotFound, ValidationFailed

MAX_EXPORTS = 1000
"""Exports a project records (`Project.exports`); the oldest record goes when a new one would pass it."""


class ExportRequest(BookRequest):
    """`POST /api/v1/projects/:id/exports`: an `ExportConfiguration` without the fields the
    server fills in (ids, output path, size, checksum). `format` defaults to the project's
    `settings.defaultExportFormat`, `confidenceThreshold` to its `ocrConfidenceThreshold`,
    `outputFileName` to `<slug>.<extension>`."""

    format: ExportFormat | None = None
    output_file_name: LineText | None = Field(default=None, min_length=1, max_length=255, pattern=FILE_NAME_PATTERN)
    included_pages: list[PageNo] | Literal["all"] = Field(default="all", description='1-based page numbers, or "all".')
    include_images: bool = False
    include_low_confidence: bool = True
    confidence_threshold: Confidence | None = None
    markdown: MarkdownExportOptions | None = None
    hocr: HocrExportOptions | None = None
    json_options: JsonExportOptions | None = Field(default=None, alias="json")
    include_attribution: bool = True
    include_version_history: bool = False
    include_metadata: bool = True


class ExportList(BookModel):
    """A project's exports, oldest first."""

    project_id: str
    items: list[ExportRecord]


def configuration(project: Project, request: ExportRequest, export_id: str) -> ExportConfiguration:
    """The full configuration of an export `request` of `project`, defaults filled in.

    Raises:
        ValidationFailed: a field is invalid (the message names it).
    """
    fmt = request.format or project.settings.default_export_format
    body = request.model_dump(by_alias=True, exclude_none=True)
    body.update(exportId=export_id, projectId=project.project_id, format=fmt,
                outputFileName=request.output_file_name or f"{project.slug}.{file_extension(fmt, request.markdown)}",
                confidenceThreshold=(request.confidence_threshold if request.confidence_threshold is not None
                                     else project.settings.ocr_confidence_threshold))
    try:
        return ExportConfiguration.model_validate(body)
    except ValueError as exc:
        raise ValidationFailed(str(exc).splitlines()[-1].strip(), field="includedPages") from exc


def edition_of(ports: BookPorts, project_id: str, config: ExportConfiguration, *, words: bool = True) -> editions.Edition:
    """The project's `Edition` as `config` selects it: its pages, their OCR tokens (unless
    `words` is False: an edition of text only) and, when asked for, their version histories.

    Raises:
        NotFound: no such project.
        ValidationFailed: `includedPages` names a page the project does not have.
    """
    project = ports.book.get_project(project_id)
    pages = ports.book.list_pages(project_id)
    if config.included_pages != "all":
        wanted = set(config.included_pages)
        pages = [p for p in pages if p.page_number in wanted]
    if editions.wants_history(config):
        pages = [p.model_copy(update={"version_history": ports.book.list_versions(p.page_id)}) for p in pages]
    try:
        return editions.build_edition(project, pages, _tokens_of(ports, pages) if words else None, config,
                                      generated_at=ports.clock())
    except ValueError as exc:
        raise ValidationFailed(str(exc), field="includedPages") from exc


def _tokens_of(ports: BookPorts, pages: list[PageAnnotations]) -> dict[str, list[Token]]:
    """The tokens of every page result the pages' boxes came from, by page result id (none for
    a result that is gone)."""
    tokens: dict[str, list[Token]] = {}
    for page in pages:
        for box in page.boxes:
            key = box.ocr_source.page_result_id if box.ocr_source else None
            if key and key not in tokens:
                try:
                    tokens[key] = ports.ocr.get_tokens(key)
                except NotFound:
                    tokens[key] = []
    return tokens


def create_export(ports: BookPorts, project_id: str, request: ExportRequest, caller: UserAttribution) -> ExportRecord:
    """Render, store and record one export; the record is the answer.

    Raises:
        NotFound: no such project.
        ValidationFailed: the request names pages the project does not have.
    """
    project = ports.book.get_project(project_id)
    export_id = ids.export_id()
    config = configuration(project, request, export_id)
    output = renderer(config.format)
    edition = edition_of(ports, project_id, config, words=output.words)
    data = output.render(edition)
    key = f"projects/{project_id}/exports/{export_id}/{config.output_file_name}"
    sha256 = hashlib.sha256(data).hexdigest()
    settings = config.model_copy(update={"generated_at": edition.generated_at, "generated_by": caller, "output_file_path": key,
                                         "output_file_size": len(data), "output_sha256": sha256})
    record = ExportRecord(export_id=export_id, format=config.format, generated_at=edition.generated_at, file_path=key,
                          file_size=len(data), sha256=sha256, included_pages=edition.page_numbers,
                          settings=settings.model_dump(mode="json", by_alias=True, exclude_none=True))
    ports.blobs.put_bytes(key, data, output.media_type)

    def add(p: Project) -> None:
        p.exports = [*p.exports[-(MAX_EXPORTS - 1):], record]
        p.status = "exported"

    try:
        ports.book.update_project(project_id, add)
    except Exception:
        ports.blobs.delete_prefix(f"projects/{project_id}/exports/{export_id}/")
        raise
    return record


def list_exports(ports: BookPorts, project_id: str) -> ExportList:
    """A project's export records, oldest first. Raises `NotFound`."""
    return ExportList(project_id=project_id, items=ports.book.get_project(project_id).exports)


@contextmanager
def open_export(ports: BookPorts, project_id: str, export_id: str) -> Iterator[tuple[ExportRecord, str, BinaryIO]]:
    """One export's record, media type and file, open for reading.

    Raises:
        NotFound: no such project or export, or its file is gone.
    """
    record = next((r for r in ports.book.get_project(project_id).exports if r.export_id == export_id), None)
    if record is None or not ports.blobs.exists(record.file_path):
        raise NotFound(f"export {export_id} not found")
    with ports.blobs.open(record.file_path) as stream:
        yield record, renderer(record.format).media_type, stream
