"""JSON output: the response models of a document's results and their rendering.

`DocumentJson` is the body of the JSON result: the job, the run that produced it and every page
with its page result and tokens. Coordinates are pixels of the stored (upright) page image,
origin top-left; confidences are on a 0-100 scale. Every field has a description, so its JSON
Schema (`schemas/result-document.schema.json`) documents the format.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from pagesage.domain.jobs import JobStatus
from pagesage.domain.pages import CanvasRef, EngineConfig, LayoutRegion, OsdResult, PageStatus, QualityMetrics, Token
from pagesage.domain.stages import StageRecord
from pagesage.formats.document import DocumentTotals, DocumentView, PageView


class RunJson(BaseModel):
    """The OCR run (one engine execution over the document) the results come from."""

    run_id: str = Field(description="Id of the run; page results refer to it by `run_id`.")
    engine: str = Field(description="OCR engine name, e.g. `tesseract`.")
    engine_version: str = Field(description="Engine version, e.g. `5.3.0`.")
    config: EngineConfig = Field(
        description="Settings requested for the run; `languages` may be `auto` (each page's "
        "effective settings are in its `result.config`)."
    )
    started_at: datetime = Field(description="When the run started (ISO 8601, UTC).")
    finished_at: datetime | None = Field(description="When the run ended (ISO 8601, UTC); null while running.")
    status: Literal["running", "completed", "failed"] = Field(description="State of the run.")


class PageResultJson(BaseModel):
    """What the run produced for one page."""

    page_result_id: str = Field(description="Id of this page result.")
    run_id: str = Field(description="Id of the run that produced it.")
    config: EngineConfig = Field(description="Engine settings this page actually ran with.")
    detection: OsdResult | None = Field(
        description="Orientation and script detection when the language was `auto`, else null."
    )
    lang: str = Field(description="BCP 47 language tag of the page's text, e.g. `en`, `und-Deva`.")
    mean_confidence: float | None = Field(description="Mean word confidence, 0-100; null when no words were found.")
    word_count: int = Field(description="Number of tokens on the page.")
    warnings: list[str] = Field(description="Human-readable notes, e.g. an assumed DPI or a rotation applied.")
    engine_seconds: float = Field(description="Wall seconds spent in engine calls for this page.")
    stages: list[StageRecord] = Field(description="What each stage (render, analyse, preprocess, recognise, layout, "
                                      "store) did to the page, in order, with its wall seconds.")
    preprocessing_applied: list[str] = Field(description="Image operations applied before recognition, in order "
                                             "(e.g. `rotate-90`).")
    regions: list[LayoutRegion] = Field(description="The page's regions in reading order (PAGE TextRegion types "
                                        "`header`, `page-number`, `paragraph`, `footnote`), each a run of "
                                        "`token_count` tokens from token `first_token`; empty for older results.")


class PageJson(BaseModel):
    """One page of the document."""

    page_no: int = Field(description="1-based page number.")
    status: PageStatus = Field(description="`done` with a result, `failed` without one, `pending` not yet run.")
    width: int | None = Field(description="Width of the page image in pixels; null when unknown.")
    height: int | None = Field(description="Height of the page image in pixels; null when unknown.")
    dpi: int | None = Field(description="Resolution the page was rendered or scanned at, dots per inch.")
    sha256: str | None = Field(description="Hex SHA-256 of the page image file stored under `image_key`.")
    image_key: str | None = Field(description="Storage key of the page image (PNG).")
    error_code: str | None = Field(description="Why the page failed (e.g. `ocr_engine_error`); null otherwise.")
    error_message: str | None = Field(description="Human-readable failure message; null otherwise.")
    quality: QualityMetrics | None = Field(description="Image quality metrics of the page; null when not measured.")
    label: str | None = Field(default=None, description="The page's name in its source (a IIIF canvas label); null when it has none.")
    canvas: CanvasRef | None = Field(default=None, description="The IIIF canvas the page was read from: its id and size in canvas "
                                     "units; scale boxes by canvas width / page width to draw them on it.")
    result: PageResultJson | None = Field(description="The page result shown; null when the page has none.")
    tokens: list[Token] = Field(
        description="Recognised words in reading order; boxes in page pixels (x, y, w, h), "
        "confidence 0-100."
    )


class DocumentJson(BaseModel):
    """The OCR result of one job's document."""

    job_id: str = Field(description="Id of the job.")
    file_name: str = Field(description="Name of the uploaded file.")
    status: JobStatus = Field(description="State of the job.")
    page_count: int = Field(description="Number of pages in `pages`.")
    word_count: int = Field(description="Number of tokens over all pages.")
    mean_confidence: float | None = Field(
        description="Mean confidence over all tokens of the document (each word counts once), "
        "0-100, rounded to 2 decimals; null when there are no tokens."
    )
    run: RunJson | None = Field(description="The run the results come from; null before any run.")
    pages: list[PageJson] = Field(description="Pages by page number.")


def render_json(doc: DocumentView) -> bytes:
    """The document as UTF-8 JSON (non-ASCII characters written as themselves, not escaped).

    Args:
        doc: the document read model.

    Returns:
        The encoded `DocumentJson`.
    """
    return assemble(doc, doc.totals, [page_part(view) for view in doc.pages])


def page_part(view: PageView) -> bytes:
    """One page's `PageJson`, encoded."""
    return _page(view).model_dump_json().encode("utf-8")


def assemble(doc: DocumentView, totals: DocumentTotals, parts: list[bytes]) -> bytes:
    """The `DocumentJson` of a document from its pages' parts, in page order: the bytes the
    whole model's `model_dump_json()` would be, without ever holding every page's model."""
    head = _head(doc, totals).model_dump_json().encode("utf-8")  # ends with `"pages":[]}`, its last field
    return head.removesuffix(b"[]}") + b"[" + b",".join(parts) + b"]}"


def _head(doc: DocumentView, totals: DocumentTotals) -> DocumentJson:
    """The document's model without its pages."""
    run = doc.run
    return DocumentJson(
        job_id=doc.job.job_id,
        file_name=doc.job.file_name,
        status=doc.job.status,
        page_count=len(doc.pages),
        word_count=totals.word_count,
        mean_confidence=totals.mean_confidence,
        run=None if run is None else RunJson.model_validate(run, from_attributes=True),
        pages=[],
    )


def _page(view: PageView) -> PageJson:
    page, result = view.page, view.result
    return PageJson(
        page_no=page.page_no,
        status=page.status,
        width=page.width,
        height=page.height,
        dpi=page.dpi,
        sha256=page.sha256,
        image_key=page.image_key,
        error_code=page.error_code,
        error_message=page.error_message,
        quality=page.quality,
        label=page.label,
        canvas=page.canvas,
        result=None if result is None else PageResultJson(
            page_result_id=result.page_result_id,
            run_id=result.run_id,
            config=result.config,
            detection=result.detection,
            lang=result.lang_tag,
            mean_confidence=result.mean_confidence,
            word_count=result.word_count,
            warnings=result.warnings,
            engine_seconds=result.engine_seconds,
            stages=result.stages,
            preprocessing_applied=result.preprocessing_applied,
            regions=result.regions,
        ),
        tokens=view.tokens,
    )
