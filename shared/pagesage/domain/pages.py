"""The data view of an OCR'd document: pages, runs, page results, tokens and costs.

Names follow the provenance seed (`ocr-provenance-model.txt`): a Run is one execution of an
engine with a config; a PageResult is what a run produced for one page; Tokens are its ordered
words. Conventions, stated once for every engine:
    * coordinates are pixels of the page image the engine saw, origin top-left, after any
      rotation PageSage applied to set the page upright;
    * confidence is on a 0-100 scale (hOCR `x_wconf`); engines on 0-1 are converted at the
      adapter boundary;
    * `text_norm` is `pagesage.text.normalize.normalize_for_search(text)` (NFC, casefold,
      joiners removed).
"""

from __future__ import annotations

from datetime import datetime
from enum import Enum
from typing import Annotated, Literal

from pydantic import Field, computed_field, field_validator, model_validator

from pagesage.domain.jobs import random_id, utcnow
from pagesage.domain.limits import (
    MAX_OPTIONS_BYTES,
    MAX_REGIONS,
    Area,
    BoundedModel,
    Dpi,
    LineText,
    OptionValue,
    Ordinal,
    PageNo,
    Pixels,
    PositivePixels,
    RunLog,
    small_json,
)
from pagesage.domain.stages import STAGES, StageRecord
from pagesage.errors import InputError


def new_id() -> str:
    """A new random record id (22 URL-safe characters, 128 bits, never starting with `-`)."""
    return random_id(16)


class BBox(BoundedModel):
    """An axis-aligned box in page pixels: left `x`, top `y`, width `w`, height `h`, each
    0..1,000,000 (`domain.limits`)."""

    x: Pixels
    y: Pixels
    w: Pixels
    h: Pixels

    @property
    def x1(self) -> int:
        """Right edge, exclusive."""
        return self.x + self.w

    @property
    def y1(self) -> int:
        """Bottom edge, exclusive."""
        return self.y + self.h

    @classmethod
    def union(cls, boxes: list["BBox"]) -> "BBox":
        """The smallest box holding every box of a non-empty list."""
        x0 = min(b.x for b in boxes)
        y0 = min(b.y for b in boxes)
        return cls(x=x0, y=y0, w=max(b.x1 for b in boxes) - x0, h=max(b.y1 for b in boxes) - y0)


class Token(BoundedModel):
    """One recognised word, in reading order within its page result.

    Attributes:
        token_no: 0-based position in the page result, contiguous.
        block, par, line: 0-based page-wide ordinals of the enclosing text block (hOCR
            `ocr_carea`), paragraph (`ocr_par`) and line (`ocr_line`).
        confidence: 0-100.
        lang: BCP 47 tag when it differs from its paragraph's language, else None.
        space_after: False when the next word of its line follows with no space between (an
            engine that splits punctuation into words of its own: Document AI's `DATE` `:`).
    """

    token_no: Ordinal
    text: LineText = Field(min_length=1)
    text_norm: str
    bbox: BBox
    confidence: float = Field(ge=0, le=100)
    kind: Literal["word"] = "word"
    block: Ordinal
    par: Ordinal
    line: Ordinal
    lang: str | None = None
    space_after: bool = True


class PageStatus(str, Enum):
    """State of one page within a job."""

    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


def page_id(source_doc_id: str, page_no: int) -> str:
    """The id of page `page_no` of a source document: `<source_doc_id>_p<page_no>`."""
    return f"{source_doc_id}_p{page_no}"


class QualityMetrics(BoundedModel):
    """A page image's quality (the seed's `qualityMetrics`, `pagesage-data-schemas.md` §8) as far
    as the engine measured it; fields it did not measure are None.

    Attributes:
        overall_quality: `quality_score` in the seed's four grades: >= 0.9 excellent, >= 0.7
            good, >= 0.5 fair, else poor.
        quality_score: 0-1, higher is better (Document AI `imageQualityScores.qualityScore`).
        defects: defect -> confidence 0-1 (e.g. `blurry`, `noisy`, `glare`; Document AI's
            `quality/defect_*` types without the prefix).
        skew_angle: degrees; contrast, brightness, noise_level: 0-1 (the seed's other metrics).
        color_space: the image's colour space as measured (`bilevel`, `grey`, `rgb`); bit_depth:
            its bits per sample (1, 8); None when not measured.
        source: what measured it (`document-ai`, `pagesage-analyse`).
    """

    overall_quality: Literal["excellent", "good", "fair", "poor"]
    quality_score: float = Field(ge=0, le=1)
    defects: dict[str, float] = Field(default_factory=dict)
    skew_angle: float | None = None
    contrast: float | None = Field(default=None, ge=0, le=1)
    brightness: float | None = Field(default=None, ge=0, le=1)
    noise_level: float | None = Field(default=None, ge=0, le=1)
    color_space: LineText | None = Field(default=None, max_length=50)
    bit_depth: Annotated[int, Field(ge=1, le=64)] | None = None
    source: str

    @classmethod
    def graded(cls, score: float, defects: dict[str, float], source: str) -> "QualityMetrics":
        """Metrics for an overall `score` (0-1), its grade derived as documented above."""
        grade = "excellent" if score >= 0.9 else "good" if score >= 0.7 else "fair" if score >= 0.5 else "poor"
        return cls(overall_quality=grade, quality_score=score, defects=defects, source=source)

    def combined_with(self, engine: "QualityMetrics | None") -> "QualityMetrics":
        """These measurements with an engine's own score, grade and defects in their place
        (Document AI judges the page it read; PageSage's skew, contrast, brightness, noise,
        colour space and bit depth stay), `source` naming both; self when `engine` is None."""
        if engine is None:
            return self
        return self.model_copy(update={"overall_quality": engine.overall_quality, "quality_score": engine.quality_score,
                                       "defects": engine.defects, "source": f"{self.source}+{engine.source}"})


class CanvasRef(BoundedModel):
    """The IIIF canvas a page was read from (docs/remote-sources.md): its `id`, and its size in
    canvas units, so that a viewer can place page boxes on it (scale x by `width` / the
    page's `width` in pixels, y likewise)."""

    id: str = Field(min_length=1, max_length=2048)
    width: PositivePixels | None = None
    height: PositivePixels | None = None


class Page(BoundedModel):
    """One page of a source document: the stable coordinate system of its results ("page 17
    of doc X", provenance seed §2), and its progress in the job that OCRs it.

    Attributes:
        page_id: `<source_doc_id>_p<page_no>` (computed).
        job_id: the job that OCRs this page in the pipeline; None for a registered document.
        page_no: 1-based.
        width, height: pixels of the stored page image, which is upright (any OSD rotation
            applied), so token boxes are in its coordinates.
        dpi: resolution the page was rendered or scanned at (dots per inch).
        sha256: hex SHA-256 of the page image file stored under `image_key` (for a one-page
            image document, the original itself).
        image_key: blob-store key of the page image: the original for a one-page image
            document read as uploaded, else a PNG PageSage rendered or turned upright.
        size_hint: pixel area estimated before rendering, used to schedule big pages first.
        quality: the page image's quality, when the engine measures it (Document AI).
        label: the page's own name in its source, e.g. a IIIF canvas label (`f. 12r`, `xiv`).
        canvas: the IIIF canvas the page was read from.
        lease_until, lease_owner: while a worker recognises the page, until when it holds the
            page and who it is (`Store.claim_page`): a second delivery of the page's task does
            not run the engine again.
    """

    source_doc_id: str
    page_no: PageNo
    job_id: str | None = None
    status: PageStatus = PageStatus.PENDING
    width: PositivePixels | None = None
    height: PositivePixels | None = None
    dpi: Dpi | None = None
    sha256: str | None = None
    image_key: str | None = None
    size_hint: Area = 0
    error_code: str | None = None
    error_message: str | None = None
    quality: QualityMetrics | None = None
    label: LineText | None = Field(default=None, max_length=200)
    canvas: CanvasRef | None = None
    lease_until: datetime | None = None
    lease_owner: str | None = None

    @computed_field  # type: ignore[prop-decorator]
    @property
    def page_id(self) -> str:
        """`<source_doc_id>_p<page_no>`."""
        return page_id(self.source_doc_id, self.page_no)

    def claimable_by(self, owner: str, now: datetime) -> bool:
        """True when worker `owner` may claim the page to recognise it: the page is still
        pending and holds no lease, or a lease that expired by `now`, or one `owner` itself
        holds (a retry by the same delivery)."""
        if self.status is not PageStatus.PENDING:
            return False
        return self.lease_until is None or self.lease_until <= now or self.lease_owner == owner

    def leased_to(self, owner: str, until: datetime) -> "Page":
        """A copy of the page held by `owner` until `until` (aware UTC)."""
        return self.model_copy(update={"lease_until": until, "lease_owner": owner})

    def unleased(self) -> "Page":
        """A copy of the page that nobody holds."""
        return self.model_copy(update={"lease_until": None, "lease_owner": None})


class OsdResult(BoundedModel):
    """Tesseract orientation and script detection (OSD, `--psm 0`) for one page.

    Attributes:
        rotate: degrees (0, 90, 180, 270) OSD says to turn the page clockwise to make it upright;
            applied only at orientation_confidence >= 14 (the page result warns otherwise).
        orientation_confidence, script_confidence: Tesseract's own scores (unbounded, >= 0).
    """

    rotate: int
    orientation_confidence: float
    script: str
    script_confidence: float


class EngineConfig(BoundedModel):
    """The settings one engine call ran with.

    Attributes:
        languages: the language/model spec actually used (Tesseract `-l`, e.g. `eng`,
            `Devanagari`; `auto` for an engine that detects languages itself).
        psm: Tesseract page segmentation mode; oem: Tesseract OCR engine mode; None for other
            engines. dpi: resolution passed to the engine, None when not stated.
        options: any other setting of the engine (e.g. a Document AI processor option), by name:
            at most 50 in 4 KiB of JSON, each text, a boolean or a finite number
            (`domain.limits.OptionValue`).
    """

    languages: LineText = Field(min_length=1, max_length=100)
    psm: int | None = Field(default=None, ge=0, le=13)
    oem: int | None = Field(default=None, ge=0, le=3)
    dpi: Dpi | None = None
    options: dict[Annotated[str, Field(min_length=1, max_length=100)], OptionValue] = Field(default_factory=dict, max_length=50)

    @field_validator("options")
    @classmethod
    def _small_options(cls, value: dict) -> dict:
        return small_json(value, max_bytes=MAX_OPTIONS_BYTES)


class Run(BoundedModel):
    """One execution of an OCR engine over a source document (provenance seed §3): by the
    pipeline for a job, or by an outside engine registered through `POST /api/v1/ocr/runs`.

    `config.languages` is the requested spec (it may be `auto`); each page's effective model
    and detection are on its PageResult.
    """

    run_id: str = Field(default_factory=new_id)
    job_id: str | None = None
    source_doc_id: str | None = None
    engine: LineText = Field(min_length=1, max_length=100)
    engine_version: LineText = Field(min_length=1, max_length=200)
    config: EngineConfig
    status: Literal["running", "completed", "failed"] = "running"
    started_at: datetime = Field(default_factory=utcnow)
    finished_at: datetime | None = None
    log: RunLog = Field(default_factory=list)


class RegionType(str, Enum):
    """A layout region's PAGE TextRegion `@type` (PAGE XML 2019, `TextTypeSimpleType`): a
    running head is a `header`."""

    HEADER = "header"
    PAGE_NUMBER = "page-number"
    PARAGRAPH = "paragraph"
    FOOTNOTE = "footnote"


class LayoutRegion(BoundedModel):
    """One region of a page in reading order (`domain.layout`): its type, union box of its
    words (pixels), and its words as a run of the page's tokens: `token_count` tokens from
    `first_token`."""

    region_type: RegionType
    bbox: BBox
    first_token: Ordinal
    token_count: Ordinal


class PageResult(BoundedModel):
    """What one run produced for one page (provenance seed §4).

    Attributes:
        config: the engine config this page actually ran with.
        detection: OSD outcome when the language was `auto`, else None.
        mean_confidence: mean token confidence 0-100, None when no words were found.
        word_count: number of tokens.
        warnings: human-readable notes (e.g. assumed DPI, rotation applied).
        engine_seconds: wall seconds spent in engine calls for this page.
        raw_key: blob-store key of the engine's own output for the page (Tesseract TSV,
            Document AI JSON; seed §4 "raw OCR JSON/text"), None when not kept.
        stages: what each stage did to the page, in order (`domain.stages`); empty for results
            recorded before stages were kept, or ingested from elsewhere.
        preprocessing_applied: the image operations applied before recognition, in order
            (the seed's `preprocessingApplied`; e.g. `rotate-90`, `deskew`).
        regions: the page's regions in reading order, which the tokens' numbering follows;
            empty for results recorded before layout was kept, or ingested from elsewhere.
    """

    page_result_id: str = Field(default_factory=new_id)
    run_id: str
    job_id: str | None = None
    source_doc_id: str | None = None
    page_no: PageNo
    config: EngineConfig
    detection: OsdResult | None = None
    lang_tag: str
    mean_confidence: float | None = Field(default=None, ge=0, le=100)
    word_count: Ordinal = 0
    warnings: list[str] = Field(default_factory=list)
    engine_seconds: float = 0.0
    raw_key: str | None = None
    stages: list[StageRecord] = Field(default_factory=list, max_length=len(STAGES))
    preprocessing_applied: list[LineText] = Field(default_factory=list, max_length=50)
    regions: list[LayoutRegion] = Field(default_factory=list, max_length=MAX_REGIONS)
    created_at: datetime = Field(default_factory=utcnow)


CostOperation = Literal[
    "pdf-upload", "image-preprocessing", "layout-detection", "ocr-extraction", "text-analysis",
    "export-generation", "storage", "other",
]
"""The seed's `CostOperation` (`pagesage-data-schemas.md` §6). PageSage logs two: recognition is
`ocr-extraction`; Tesseract orientation and script detection (OSD, `--psm 0`, part of Tesseract's
page layout analysis) is `layout-detection`."""

_LEGACY_OPERATIONS = {"recognize": "ocr-extraction", "osd": "layout-detection"}
_LEGACY_STATUS = {"ok": "success", "error": "failed"}


class CostEntry(BoundedModel):
    """One engine call's cost: the seed's `CostLogEntry` (`pagesage-data-schemas.md` §6).

    Only completed calls are logged (`status` `success`): a call that failed raised before any
    cost was written, and Document AI bills no failed request.

    Attributes:
        cost_id: the idempotency key of the call, `<job_id>:p<page_no>:<operation>`, so a
            redelivered task does not count twice (the seed's `entryId`).
        job_id: the job the call worked for.
        project_id: the seed's `projectId`; None (PageSage jobs belong to no project yet).
        document_sha256: hex SHA-256 of the job's uploaded original: the document, still known
            after the job itself expired (its file name is not kept in the accounting log).
        page_no: 1-based page (the seed's `pageId`), None for a whole-document call.
        engine: the engine that ran (`tesseract`, `docai`).
        operation: the seed's `CostOperation` (see `CostOperation`).
        provider: who bills the service: `google-cloud`, or `local` for the caller's own machine.
        service: the priced service, a key of `pagesage.pricing.PROVIDERS` (`document-ai-ocr`,
            `cloud-run-tesseract`, `tesseract-local`, ...).
        units: quantity billed, in `unit`s: pages, or vCPU-seconds (wall seconds on one vCPU).
        unit: `page` or `vcpu_second`.
        unit_cost_usd: USD per unit (the seed's `costPerUnit`).
        total_usd: `units * unit_cost_usd` rounded to 9 decimals (the seed's `totalCost`).
        currency: always USD.
        price_version: `pagesage.pricing.PRICE_VERSION` the call was priced with.
        request_id: the provider's request id when it gives one (Document AI batch operation).
        response_ms: the call's wall time, milliseconds (the seed's `apiResponseTime`).
        status: the seed's `apiStatus`.
        created_at: when the entry was written, aware UTC (the seed's `timestamp`).

    Entries written before price version 2026-11 (`duration_ms`, `status` ok/error, `operation`
    recognize/osd) are read with those fields translated and `provider`, `service` `unknown`
    and `price_version` `unversioned`.
    """

    cost_id: str
    job_id: str
    project_id: str | None = None
    document_sha256: str | None = None
    page_no: int | None = None
    engine: str
    operation: CostOperation
    provider: str
    service: str
    units: float = Field(ge=0)
    unit: str
    unit_cost_usd: float = Field(ge=0)
    total_usd: float = Field(ge=0)
    currency: Literal["USD"] = "USD"
    price_version: str
    request_id: str | None = None
    response_ms: int = Field(ge=0)
    status: Literal["success", "failed", "partial"] = "success"
    created_at: datetime = Field(default_factory=utcnow)

    @model_validator(mode="before")
    @classmethod
    def _upgrade_legacy(cls, data):
        if isinstance(data, dict) and "duration_ms" in data and "response_ms" not in data:
            data = dict(data)
            data["response_ms"] = data.pop("duration_ms")
            data["operation"] = _LEGACY_OPERATIONS.get(data.get("operation"), "other")
            data["status"] = _LEGACY_STATUS.get(data.get("status", "ok"), "failed")
            data.setdefault("provider", "unknown")
            data.setdefault("service", "unknown")
            data.setdefault("price_version", "unversioned")
        return data

    @model_validator(mode="after")
    def _total_matches(self) -> "CostEntry":
        expected = round(self.units * self.unit_cost_usd, 9)
        if abs(self.total_usd - expected) > 1e-9:
            raise ValueError(f"total_usd {self.total_usd} != units * unit_cost_usd {expected}")
        return self


def check_cost_query(since: datetime | None, until: datetime | None, limit: int | None) -> None:
    """Refuse what `Store.query_costs` does not take: naive `since`/`until` (a store would read
    them in its own local time) and a `limit` below 1.

    Raises:
        InputError: naming the argument.
    """
    for name, value in (("since", since), ("until", until)):
        if value is not None and value.utcoffset() is None:
            raise InputError(f"{name} must be a timezone-aware datetime")
    if limit is not None and limit < 1:
        raise InputError("limit must be >= 1")
