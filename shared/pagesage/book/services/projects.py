"""Use cases: make a project of an OCR'd document, read projects and their pages
(docs/book.md, "Projects").

A project is made from a source document whose pages have OCR results (an upload's job once
it finished, or a registered document with ingested runs). Each page gets boxes seeded from
its latest page result (`domain.seeding`), references detected and the confident ones applied
(`domain.detection`); its image is copied under the project's blob prefix, so the project
keeps it after the upload's job expires.
"""

from __future__ import annotations

import hashlib
from datetime import datetime

from pydantic import Field, model_validator

from pagesage import imaging
from pagesage.book.domain import detection, ids, seeding, versions
from pagesage.book.domain.edits import with_detected
from pagesage.book.domain.model import (AI, BookModel, BookRequest, CreateChange, ImageMetadata, Language, PageAnnotations, PageState,
                                        Project, ProjectSettings, SourceDocument, UserAttribution, slugify)
from pagesage.book.services.answers import PageSummary, PageSummaryList, ProjectList
from pagesage.book.services.costs import project_costs
from pagesage.book.services.ports import BookPorts
from pagesage.domain.jobs import JobStatus
from pagesage.domain.limits import LineText
from pagesage.domain.pages import Page, PageStatus, Token
from pagesage.domain.provenance import SourceDoc
from pagesage.errors import InvalidTransition, NotFound, ValidationFailed

MAX_PROJECT_PAGES = 5_000
"""Most pages a project holds (a book of 700 pages is typical; the seeding reads each once)."""


class NewProject(BookRequest):
    """`POST /api/v1/projects`: the OCR'd document (`jobId` or `sourceDocId`) and book metadata;
    the title defaults to the document's."""

    job_id: str | None = Field(default=None, max_length=200)
    source_doc_id: str | None = Field(default=None, max_length=200)
    title: LineText | None = Field(default=None, min_length=1, max_length=500)
    subtitle: LineText | None = Field(default=None, max_length=500)
    authors: list[LineText] = Field(default_factory=list, max_length=50)
    publisher: LineText | None = Field(default=None, max_length=200)
    publication_year: int | None = Field(default=None, ge=0, le=3000)
    edition: LineText | None = Field(default=None, max_length=100)
    languages: list[Language] | None = Field(default=None, max_length=10)
    category: LineText | None = Field(default=None, max_length=200)
    settings: ProjectSettings = Field(default_factory=ProjectSettings)

    @model_validator(mode="after")
    def _one_source(self) -> "NewProject":
        if (self.job_id is None) == (self.source_doc_id is None):
            raise ValueError("give exactly one of jobId and sourceDocId")
        return self


class CreatedProject(BookModel):
    """The new project and what seeding found: boxes, references applied, proposals left."""

    project: Project
    page_ids: list[str]
    boxes: int
    references_applied: int
    reference_proposals: int


def _source(ports: BookPorts, request: NewProject) -> SourceDoc:
    if request.job_id is not None:
        job = ports.ocr.get_job(request.job_id)
        if job.status is not JobStatus.COMPLETED:
            raise InvalidTransition(f"job {request.job_id} is {job.status.value}: a project is made once its OCR completed",
                                    error_code="not_finished")
        return ports.ocr.get_source_doc(job.source_doc_id)
    return ports.ocr.get_source_doc(request.source_doc_id or "")


def create_project(ports: BookPorts, request: NewProject, caller: UserAttribution) -> CreatedProject:
    """Make a project of the OCR'd document `request` names, its boxes seeded.

    Raises:
        NotFound: no such job or source document. InvalidTransition: the job has not
        completed (409 `not_finished`). ValidationFailed: the document has no page with an
        OCR result, or more than `MAX_PROJECT_PAGES` pages.
    """
    doc = _source(ports, request)
    pages = [p for p in ports.ocr.list_pages(doc.source_doc_id) if p.status is not PageStatus.FAILED]
    if len(pages) > MAX_PROJECT_PAGES:
        raise ValidationFailed(f"a project holds at most {MAX_PROJECT_PAGES:,} pages", field="sourceDocId")
    now = ports.clock()
    project_id = ids.project_id()
    seeded = [s for s in (_seed(ports, project_id, page, now) for page in pages) if s is not None]
    if not seeded:
        raise ValidationFailed("the document has no page with an OCR result", field="sourceDocId" if request.source_doc_id else "jobId")
    annotations, proposals = _with_references(seeded, now)
    title = request.title or doc.title
    languages = request.languages or _languages(annotations)
    project = Project(
        project_id=project_id, slug=slugify(title), title=title, subtitle=request.subtitle, authors=request.authors,
        publisher=request.publisher, publication_year=request.publication_year, edition=request.edition,
        languages=languages, category=request.category, status="annotating",
        source_document=SourceDocument(blob_key=_copy_original(ports, project_id, doc), file_name=doc.file_name or doc.title,
                                       file_size_bytes=doc.file_size, sha256=doc.sha256, uploaded_at=doc.created_at,
                                       source_doc_id=doc.source_doc_id, job_id=doc.job_id),
        created_at=now, updated_at=now, created_by=caller, settings=request.settings)
    first_versions = [versions.commit(page, page.current_state, editor=AI, change_type="ai_generated",
                                      changes=CreateChange(action="created", box_id=None,
                                                           details=f"boxes seeded from OCR: {len(page.boxes)}"),
                                      note="layout and text from OCR; references detected", now=now)
                      for page in annotations]
    ports.book.create_project(project, first_versions)
    return CreatedProject(project=ports.book.get_project(project_id), page_ids=[p.page_id for p, _ in first_versions],
                          boxes=sum(len(p.boxes) for p in annotations),
                          references_applied=sum(len(b.inline_references) for p in annotations for b in p.boxes),
                          reference_proposals=proposals)


def _seed(ports: BookPorts, project_id: str, page: Page, now: datetime) -> tuple[PageAnnotations, list[Token]] | None:
    """A page's annotations seeded from its latest OCR result, with that result's tokens;
    None without a result."""
    results = ports.ocr.list_results_for_page(page.source_doc_id, page.page_no)
    if not results or not page.width or not page.height:
        return None
    result = results[-1]
    tokens = ports.ocr.get_tokens(result.page_result_id)
    boxes = seeding.seed_boxes(tokens, width=page.width, height=page.height, run_id=result.run_id,
                               page_result_id=result.page_result_id, lang_tag=result.lang_tag, new_box_id=ids.box_id, now=now)
    key, fmt, sha256 = _copy_image(ports, project_id, page)
    image = ImageMetadata(blob_key=key, file_name=f"page-{page.page_no:03d}.{fmt}", format=fmt, sha256=sha256,
                          width=page.width, height=page.height, dpi=page.dpi, uploaded_at=now)
    state = PageState(bounding_boxes=boxes, confidence=(result.mean_confidence or 0) / 100)
    annotations = PageAnnotations(page_id=ids.page_id(project_id, page.page_no), page_number=page.page_no, project_id=project_id,
                                  source_page_id=page.page_id, image=image, current_state=state, created_at=now, updated_at=now)
    return annotations, tokens


def _with_references(seeded: list[tuple[PageAnnotations, list[Token]]], now: datetime) -> tuple[list[PageAnnotations], int]:
    """Each page with the references detection is confident of applied — to footnotes on the
    page, or on the next page when the note continues there — and the number of proposals left
    for a person. Detection runs once a page."""
    out, proposals = [], 0
    for i, (page, tokens) in enumerate(seeded):
        nxt = seeded[i + 1][0] if i + 1 < len(seeded) else None
        following = (nxt.page_id, nxt.page_number, nxt.boxes) if nxt and nxt.page_number == page.page_number + 1 else None
        found = detection.detect_references(page.boxes, page_id=page.page_id, page_number=page.page_number, next_page=following,
                                            tokens=tokens, new_reference_id=ids.reference_id)
        proposals += len(found.proposals)
        out.append(page.model_copy(update={"current_state": with_detected(page.current_state, found.applied, editor=AI, now=now)}))
    return out, proposals


def _languages(pages: list[PageAnnotations]) -> list[Language]:
    seen: dict[Language, int] = {}
    for page in pages:
        for box in page.boxes:
            seen[box.language] = seen.get(box.language, 0) + len(box.text.corrected)
    return [lang for lang, _ in sorted(seen.items(), key=lambda kv: -kv[1]) if lang is not Language.OTHER][:4]


BROWSER_IMAGES = {"image/png": "png", "image/jpeg": "jpg"}
"""Page image types every browser shows, and their `ImageMetadata.format`."""


def _copy_image(ports: BookPorts, project_id: str, page: Page) -> tuple[str | None, str, str | None]:
    """The project's copy of a page image: (blob key, format, hex SHA-256). A PNG or JPEG is
    copied as it is; any other image (a TIFF original) is stored as the PNG the engine read
    (`imaging.render_page`, so boxes keep their pixels), for browsers to show it."""
    source = page.image_key
    base = f"projects/{project_id}/pages/page-{page.page_no:03d}"
    if not source or not ports.blobs.exists(source):
        return None, "png", None
    kind = ports.blobs.content_type(source).split(";")[0].strip()
    if kind in BROWSER_IMAGES:
        return _kept(ports, source, f"{base}.{BROWSER_IMAGES[kind]}"), BROWSER_IMAGES[kind], page.sha256
    with ports.blobs.local_path(source) as path:
        data = imaging.to_png(path, dpi=page.dpi or 300)
    ports.blobs.put_bytes(f"{base}.png", data, "image/png")
    return f"{base}.png", "png", hashlib.sha256(data).hexdigest()


def _copy_original(ports: BookPorts, project_id: str, doc: SourceDoc) -> str | None:
    name = (doc.original_key or "").rsplit("/", 1)[-1]
    return _kept(ports, doc.original_key, f"projects/{project_id}/original.{name.rsplit('.', 1)[-1] if '.' in name else 'bin'}")


def _kept(ports: BookPorts, source: str | None, key: str) -> str | None:
    """`key` after copying the blob `source` there (the project's own copy, kept when the
    upload's job expires); None when there is nothing to copy."""
    if not source:
        return None
    try:
        ports.blobs.copy(source, key)
    except NotFound:
        return None
    return key


def get_project(ports: BookPorts, project_id: str, *, with_box_index: bool = False) -> Project:
    """A project with its page counters and costs as they are now; the box index when asked.
    Raises `NotFound`."""
    project = ports.book.get_project(project_id)
    update = {"pages": ports.book.page_counters(project_id), "costs": project_costs(ports, project)}
    if with_box_index:
        update["box_index"] = ports.book.box_index(project_id)
    return project.model_copy(update=update)


def list_projects(ports: BookPorts, limit: int, cursor: str | None) -> ProjectList:
    """Projects by title, a page of `limit` after `cursor`."""
    items, next_cursor = ports.book.list_projects(limit, cursor)
    return ProjectList(items=items, next_cursor=next_cursor)


def list_pages(ports: BookPorts, project_id: str) -> PageSummaryList:
    """A project's pages by number: review status, confidence, box count, version."""
    ports.book.get_project(project_id)
    items = [PageSummary(page_id=p.page_id, page_number=p.page_number, review_status=p.current_state.review_status,
                         confidence=p.current_state.confidence, box_count=len(p.boxes), version=p.version,
                         commit_sha=p.commit_sha)
             for p in ports.book.list_pages(project_id)]
    return PageSummaryList(project_id=project_id, items=items)


def page_view(ports: BookPorts, page_id: str) -> PageAnnotations:
    """A page as the API shows it: footnote boxes carry their incoming references (from the
    reference index). Raises `NotFound`."""
    page = ports.book.get_page(page_id)
    boxes = []
    for box in page.boxes:
        if box.content_type.value == "footnote":
            box = box.model_copy(update={"incoming_references": ports.book.references_to(box.box_id)})
        boxes.append(box)
    return page.model_copy(update={"current_state": page.current_state.model_copy(update={"bounding_boxes": boxes})})


def page_image(ports: BookPorts, page_id: str) -> tuple[bytes, str, str]:
    """A page's image as stored under the project (bytes, media type, hex SHA-256 when known).

    Raises:
        NotFound: no such page, or it has no image.
    """
    page = ports.book.get_page(page_id)
    key = page.image.blob_key
    if not key or not ports.blobs.exists(key):
        raise NotFound(f"page {page_id} has no image")
    with ports.blobs.open(key) as stream:
        data = stream.read()
    return data, ports.blobs.content_type(key), page.image.sha256 or hashlib.sha256(data).hexdigest()

