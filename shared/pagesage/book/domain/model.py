"""The book layer's records: project metadata, page annotations, bounding boxes, inline
references, version history, user attribution (docs/book.md, "Model").

Python attributes are snake_case; the JSON is camelCase (`projectId`, `boundingBoxes`), the
names of the published schemas in `schemas/`. Both spellings are accepted on input.

Conventions, stated once:
    * confidences of the book layer are 0-1 (a box's `confidence`, `text.ocrConfidence`, a
      page's `confidence`); OCR tokens keep Tesseract's 0-100, converted when boxes are seeded;
    * coordinates are integer pixels of the page image, origin top-left (`BoxCoordinates`);
    * character offsets (`position.charOffset`, `position.length`) count Unicode code points of
      `text.corrected`, as a W3C Web Annotation `TextPositionSelector` does (Web Annotation
      Data Model §4.2.4): a Devanagari combining mark is a code point of its own, so "कि" is 2;
    * timestamps are aware UTC, ISO 8601 in JSON;
    * `schemaVersion` is "1.0.0" on every root record; a record without it is 1.0.0.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import Annotated, Any, Literal, Union

from pydantic import AliasChoices, ConfigDict, Field
from pydantic.alias_generators import to_camel

from pagesage.domain.jobs import utcnow
from pagesage.domain.limits import MAX_EXACT_INTEGER, BoundedModel, LineText, MultilineText, Ordinal, PageNo, Pixels, PositivePixels

SCHEMA_VERSION = "1.0.0"
"""The version of the book layer's schemas (semantic versioning); absent means 1.0.0."""

MAX_BOX_TEXT = 20_000
"""Longest text of one box, code points (a dense page holds ~5,000)."""

MAX_BOXES_PER_PAGE = 1_000
"""Most boxes on one page (a page document must stay under Firestore's 1 MiB)."""

MAX_REFERENCES_PER_BOX = 500
"""Most inline references in one box."""

ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$"
"""A book-layer id (`proj_…`, `box-…`, `ref-…`, `page-…`): 1-128 letters, digits and `._:-`."""

Id = Annotated[str, Field(pattern=ID_PATTERN)]
Confidence = Annotated[float, Field(ge=0, le=1)]
"""A confidence 0-1."""
Usd = Annotated[float, Field(ge=0, le=1e9)]
"""An amount in US dollars."""
Count = Annotated[int, Field(ge=0, le=MAX_EXACT_INTEGER)]


class BookModel(BoundedModel):
    """Base of the book layer's records: camelCase JSON, either spelling accepted on input."""

    model_config = ConfigDict(alias_generator=to_camel, validate_by_name=True, validate_by_alias=True,
                              serialize_by_alias=True, allow_inf_nan=False)


class BookRequest(BookModel):
    """Base of request bodies: a misspelt or unknown field is an error, not silently dropped."""

    model_config = ConfigDict(extra="forbid")


class Language(str, Enum):
    """A box's or book's language (`iast`: Sanskrit in IAST transliteration; `other`: none of
    these, e.g. a Latin quotation)."""

    SANSKRIT = "sanskrit"
    HINDI = "hindi"
    ENGLISH = "english"
    IAST = "iast"
    OTHER = "other"


LANGUAGE_TAGS: dict[Language, str] = {Language.SANSKRIT: "sa", Language.HINDI: "hi", Language.ENGLISH: "en",
                                      Language.IAST: "sa-Latn", Language.OTHER: "und"}
"""Each language's BCP 47 tag (RFC 5646), for exports' `lang` attributes."""


class ContentType(str, Enum):
    """What a box holds."""

    VERSE = "verse"
    COMMENTARY = "commentary"
    TRANSLATION = "translation"
    TRANSLITERATION = "transliteration"
    FOOTNOTE = "footnote"
    FOOTNOTE_REFERENCE = "footnote-reference"
    HEADING = "heading"
    SUBHEADING = "subheading"
    RUNNING_HEAD = "running-head"
    PAGE_NUMBER = "page-number"
    VERSE_NUMBER = "verse-number"
    IMAGE = "image"
    TABLE = "table"
    CAPTION = "caption"
    OTHER = "other"


class UserAttribution(BookModel):
    """Who did something: a verified caller (`userId`, the identity's subject or e-mail), or the
    pipeline (`userId` "pagesage-ai"). `githubUsername`/`githubId` are kept for records that
    carry them; PageSage itself identifies people by `userId`."""

    name: LineText = Field(min_length=1, max_length=200)
    user_id: LineText | None = Field(default=None, min_length=1, max_length=320)
    email: LineText | None = Field(default=None, max_length=320)
    github_username: LineText | None = Field(default=None, max_length=100)
    github_id: Count | None = None
    avatar_url: str | None = Field(default=None, max_length=2000)

    @property
    def key(self) -> str:
        """What tells two people apart: `userId`, else the GitHub id or username, else the name."""
        if self.user_id:
            return self.user_id
        if self.github_id:
            return f"github:{self.github_id}"
        return self.github_username or self.name


AI = UserAttribution(name="PageSage", user_id="pagesage-ai")
"""The pipeline, as the author of what it seeds and detects."""


class BoxCoordinates(BookModel):
    """A box in integer pixels of its page image, origin top-left; `rotation` degrees
    clockwise, 0-360. Within the image: `x + width <= imageWidth`, `y + height <= imageHeight`
    (`check_within`)."""

    x: Pixels
    y: Pixels
    width: PositivePixels
    height: PositivePixels
    rotation: float | None = Field(default=None, ge=0, le=360)

    @property
    def right(self) -> int:
        return self.x + self.width

    @property
    def bottom(self) -> int:
        return self.y + self.height

    def overlap(self, other: BoxCoordinates) -> int:
        """Area shared with `other`, pixels²."""
        w = min(self.right, other.right) - max(self.x, other.x)
        h = min(self.bottom, other.bottom) - max(self.y, other.y)
        return max(w, 0) * max(h, 0)


class Position(BookModel):
    """Where a reference marker sits in `text.corrected`: code points from its start."""

    char_offset: Annotated[int, Field(ge=0, le=MAX_BOX_TEXT, description=(
        "Where the marker starts in `text.corrected`: Unicode code points from its start, 0-based, as W3C Web "
        "Annotation's TextPositionSelector counts them (not UTF-8 bytes, not UTF-16 code units; a Devanagari "
        "combining mark is a code point of its own)."))]
    length: Annotated[int, Field(ge=1, le=100, description=(
        "The marker's length in Unicode code points of `text.corrected` (as W3C Web Annotation's "
        "TextPositionSelector counts them): `displayText` is `text.corrected[charOffset:charOffset+length]`."))]

    @property
    def end(self) -> int:
        return self.char_offset + self.length


ReferenceType = Literal["footnote", "verse-number", "citation"]
"""What an inline reference points at: a footnote, a verse (by its number), a cited source."""


class InlineReference(BookModel):
    """A footnote marker (or citation, verse number) inside a box's text, pointing at a box on
    any page of the project.

    `isOrphaned`/`needsReview` are set by the offset update algorithm (`offsets`) when an edit
    deleted the marker or changed text inside it; `createdBy` "ai" for detected references.
    """

    reference_id: Id
    type: ReferenceType = "footnote"
    position: Position
    target_box_id: Id
    display_text: LineText = Field(min_length=1, max_length=100)
    sequence_in_text: Annotated[int, Field(ge=1, le=MAX_REFERENCES_PER_BOX)]
    target_page_id: Id | None = None
    target_page_number: PageNo | None = None
    is_orphaned: bool | None = None
    orphaned_reason: LineText | None = Field(default=None, max_length=200)
    needs_review: bool | None = None
    review_reason: LineText | None = Field(default=None, max_length=200)
    last_validated: datetime | None = None
    created_by: Literal["ai", "user"] | None = None


class IncomingReference(BookModel):
    """A reference pointing at a box, seen from the target (bidirectional navigation)."""

    reference_id: Id
    source_box_id: Id
    source_page_id: Id
    source_page_number: PageNo
    display_text: LineText = Field(max_length=100)
    text_excerpt: MultilineText = Field(max_length=1000)
    created_at: datetime = Field(default_factory=utcnow)


class TextCorrection(BookModel):
    """One change of a box's corrected text."""

    version: Annotated[int, Field(ge=1, le=MAX_EXACT_INTEGER)]
    timestamp: datetime = Field(default_factory=utcnow)
    edited_by: UserAttribution
    before: MultilineText = Field(max_length=MAX_BOX_TEXT)
    after: MultilineText = Field(max_length=MAX_BOX_TEXT)
    note: MultilineText = Field(default="", max_length=2000)


class OcrSuggestion(BookModel):
    """A later OCR run's reading of a box whose text a person corrected: kept beside the
    correction, never written into it (`runId` names the run)."""

    run_id: str = Field(min_length=1, max_length=200)
    text: MultilineText = Field(max_length=MAX_BOX_TEXT)
    ocr_confidence: Confidence | None = None
    changes: list[dict[str, Any]] = Field(default_factory=list, max_length=10_000,
                                          description="how the corrected text would become this one (text changes)")
    created_at: datetime = Field(default_factory=utcnow)


class TextContent(BookModel):
    """A box's text: `ocr` as the engine first read it (never changed), `corrected` the current
    text (the OCR text until someone corrects it)."""

    ocr: MultilineText = Field(default="", max_length=MAX_BOX_TEXT)
    corrected: MultilineText = Field(default="", max_length=MAX_BOX_TEXT)
    ocr_confidence: Confidence | None = None
    is_corrected: bool = False
    correction_history: list[TextCorrection] = Field(default_factory=list, max_length=10_000)
    ocr_suggestion: OcrSuggestion | None = None


class OcrSource(BookModel):
    """Where a seeded box's text came from: the page result and its token numbers (provenance)."""

    run_id: str = Field(max_length=200)
    page_result_id: str = Field(max_length=200)
    token_nos: list[Ordinal] = Field(default_factory=list, max_length=20_000)


class BoundingBox(BookModel):
    """A region of a page: its content type, language, reading order, text and references."""

    box_id: Id
    coordinates: BoxCoordinates
    content_type: ContentType = ContentType.OTHER
    language: Language = Language.ENGLISH
    script: LineText | None = Field(default=None, max_length=50)
    reading_order: Annotated[int, Field(ge=1, le=MAX_BOXES_PER_PAGE)]
    confidence: Confidence = 1.0
    text: TextContent = Field(default_factory=TextContent)
    linked_boxes: list[Id] = Field(default_factory=list, max_length=MAX_REFERENCES_PER_BOX)
    parent_box: Id | None = None
    inline_references: list[InlineReference] = Field(default_factory=list, max_length=MAX_REFERENCES_PER_BOX)
    incoming_references: list[IncomingReference] | None = None
    notes: MultilineText = Field(default="", max_length=10_000)
    created_by: Literal["ai", "user"] = "user"
    last_modified_by: UserAttribution | None = None
    last_modified_at: datetime | None = None
    ocr_source: OcrSource | None = None


class ReviewStatus(str, Enum):
    """A page's review state (`review.REVIEW_TRANSITIONS`)."""

    PENDING = "pending"
    IN_PROGRESS = "in-progress"
    REVIEWED = "reviewed"
    NEEDS_REWORK = "needs-rework"
    APPROVED = "approved"


class OcrStatus(str, Enum):
    """Where a page's OCR is."""

    NOT_STARTED = "not-started"
    QUEUED = "queued"
    PROCESSING = "processing"
    COMPLETED = "completed"
    FAILED = "failed"
    CORRECTING = "correcting"


class QualityMetrics(BookModel):
    """A page image's quality: skew degrees, contrast/brightness/noise 0-1."""

    skew_angle: float = Field(ge=-90, le=90)
    contrast: Confidence
    brightness: Confidence
    noise_level: Confidence
    overall_quality: Literal["excellent", "good", "fair", "poor"]


class ImageMetadata(BookModel):
    """A page image: where it is (`blobKey`, the blob store's key; `driveFileId` is read as
    the same), what it is, how it was processed."""

    blob_key: str | None = Field(default=None, max_length=1024, validation_alias=AliasChoices("blobKey", "blob_key", "driveFileId"))
    drive_url: str | None = Field(default=None, max_length=2000)
    file_name: LineText = Field(min_length=1, max_length=255)
    format: Literal["png", "jpg", "jpeg", "tiff", "webp", "pdf"]
    file_size_bytes: Count | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    width: PositivePixels
    height: PositivePixels
    dpi: Annotated[int, Field(ge=1, le=10_000)] | None = None
    color_space: LineText | None = Field(default=None, max_length=50)
    bit_depth: Annotated[int, Field(ge=1, le=64)] | None = None
    is_preprocessed: bool = False
    preprocessing_applied: list[LineText] = Field(default_factory=list, max_length=50)
    quality_metrics: QualityMetrics | None = None
    uploaded_at: datetime | None = None
    processed_at: datetime | None = None
    schema_version: str = SCHEMA_VERSION


class NumberMismatch(BookModel):
    """A reference whose number differs from its footnote's (`confidence` 0-1 that it is wrong)."""

    reference_id: Id
    reference_number: LineText = Field(max_length=100)
    footnote_box_id: Id
    footnote_number: LineText = Field(max_length=100)
    confidence: Confidence


class ValidationStatus(BookModel):
    """The outcome of the last validation of a page."""

    is_valid: bool
    last_validated: datetime
    orphaned_references: list[str] = Field(default_factory=list)
    orphaned_footnotes: list[str] = Field(default_factory=list)
    broken_cross_page_refs: list[str] = Field(default_factory=list)
    number_mismatches: list[NumberMismatch] = Field(default_factory=list)


WarningType = Literal["orphaned_reference", "orphaned_footnote", "cross_page_broken", "number_mismatch",
                      "duplicate_reference", "offset_mismatch", "overlapping_references", "text_changed_unupdated"]


class ValidationWarning(BookModel):
    """One finding of validation. `warningId` is stable for the same finding on the same state
    (`<type>:<boxId>:<referenceId>`), so `auto-fix` can name what it fixes."""

    warning_id: str = Field(max_length=300)
    type: WarningType
    severity: Literal["error", "warning", "info"]
    page_id: Id | None = None
    box_id: Id | None = None
    reference_id: Id | None = None
    message: str
    suggested_fix: str | None = None
    auto_fixable: bool


class PageState(BookModel):
    """A page's current annotations (`currentState`)."""

    bounding_boxes: list[BoundingBox] = Field(default_factory=list, max_length=MAX_BOXES_PER_PAGE)
    review_status: ReviewStatus = ReviewStatus.PENDING
    ocr_status: OcrStatus = OcrStatus.COMPLETED
    confidence: Confidence = 0.0
    last_modified_at: datetime | None = None
    last_modified_by: UserAttribution | None = None
    reviewed_by: UserAttribution | None = None
    approved_by: UserAttribution | None = None
    validation_status: ValidationStatus | None = None
    validation_warnings: list[ValidationWarning] = Field(default_factory=list)

    def box(self, box_id: str) -> BoundingBox | None:
        return next((b for b in self.bounding_boxes if b.box_id == box_id), None)


# -- version history -----------------------------------------------------------------------

class CreateChange(BookModel):
    """Boxes made (`boxId` None for a batch, e.g. seeding from OCR)."""

    action: Literal["created"]
    box_id: Id | None = None
    details: str = ""


class MoveChange(BookModel):
    """A box moved: `before`/`after` its `x`, `y` (pixels)."""

    action: Literal["moved"]
    box_id: Id
    before: dict[str, int]
    after: dict[str, int]


class ResizeChange(BookModel):
    """A box resized: `before`/`after` its `width`, `height` (pixels)."""

    action: Literal["resized"]
    box_id: Id
    before: dict[str, int]
    after: dict[str, int]


class DeleteChange(BookModel):
    """A box deleted; `deletedBox` keeps it for a restore."""

    action: Literal["deleted"]
    box_id: Id
    deleted_box: BoundingBox


class RelabelChange(BookModel):
    """A box's `contentType`/`language` changed."""

    action: Literal["relabeled"]
    box_id: Id
    before: dict[str, str | None]
    after: dict[str, str | None]


class OrderStep(BookModel):
    """One box's reading order before and after (1-based)."""

    box_id: Id
    before: int
    after: int


class ReadingOrderChange(BookModel):
    """The boxes whose reading order changed."""

    action: Literal["reading_order_changed"]
    changes: list[OrderStep]


class MergeChange(BookModel):
    """Boxes merged into `targetBoxId`."""

    action: Literal["merged"]
    source_box_ids: list[Id]
    target_box_id: Id


class SplitChange(BookModel):
    """A box split; `newBoxIds` are the parts, the first keeping the source's id."""

    action: Literal["split"]
    source_box_id: Id
    new_box_ids: list[Id]


class TextCorrectionChange(BookModel):
    """A box's corrected text before and after."""

    action: Literal["text_corrected"]
    box_id: Id
    before: str
    after: str


class InlineReferenceChange(BookModel):
    """An inline reference added, removed or changed (`before`/`after` the reference)."""

    action: Literal["inline_reference_added", "inline_reference_removed", "inline_reference_modified"]
    box_id: Id
    reference_id: Id
    before: InlineReference | None = None
    after: InlineReference | None = None


class ReviewStatusChange(BookModel):
    """The page's review status before and after."""

    action: Literal["review_status_changed"]
    before: ReviewStatus
    after: ReviewStatus


class BoxEditChange(BookModel):
    """Several properties of one box changed at once: `before`/`after` hold those that did."""

    action: Literal["edited"]
    box_id: Id
    before: dict[str, Any]
    after: dict[str, Any]


class RevertChange(BookModel):
    """The page was set back to the state of an earlier version."""

    action: Literal["reverted"]
    to_version: Annotated[int, Field(ge=1, le=MAX_EXACT_INTEGER)]
    to_commit_sha: str


class AutoFixChange(BookModel):
    """Validation's automatic fixes: the warnings fixed."""

    action: Literal["auto_fixed"]
    warning_ids: list[str]


class OcrSuggestionChange(BookModel):
    """A later OCR run's text, applied to uncorrected boxes and kept as a suggestion beside
    corrected ones."""

    action: Literal["ocr_applied"]
    run_id: str
    applied_box_ids: list[Id]
    suggested_box_ids: list[Id]


ChangeDetails = Annotated[Union[CreateChange, MoveChange, ResizeChange, DeleteChange, RelabelChange, ReadingOrderChange,
                                MergeChange, SplitChange, TextCorrectionChange, InlineReferenceChange,
                                ReviewStatusChange, BoxEditChange, RevertChange, AutoFixChange, OcrSuggestionChange],
                          Field(discriminator="action")]

ChangeType = Literal["ai_generated", "manual_edit", "ocr_extraction", "text_correction", "box_created", "box_deleted",
                     "box_moved", "box_resized", "box_relabeled", "reading_order_changed", "boxes_merged", "box_split",
                     "inline_reference_added", "inline_reference_removed", "inline_reference_modified",
                     "review_status_changed"]


class VersionHistoryEntry(BookModel):
    """One edit of a page. `commitSha` is the version id: the SHA-256 (hex) of the page state
    after the edit chained to the previous version's id (`versions.commit_sha`)."""

    version: Annotated[int, Field(ge=1, le=MAX_EXACT_INTEGER)]
    timestamp: datetime = Field(default_factory=utcnow)
    edited_by: UserAttribution
    change_type: ChangeType
    changes: ChangeDetails
    commit_sha: str = Field(min_length=6, max_length=64)
    note: MultilineText = Field(default="", max_length=2000)
    schema_version: str = SCHEMA_VERSION


class PageAnnotations(BookModel):
    """One page of a project: its image, its current annotations and (on request) history.

    `version`/`commitSha` name the current state (the page's `ETag`); `sourcePageId` is the
    provenance page it annotates. `versionHistory` is kept beside the page, not inside it:
    it is filled only where an answer asks for it.
    """

    page_id: Id
    page_number: PageNo
    project_id: Id
    source_page_id: str | None = Field(default=None, max_length=200)
    image: ImageMetadata
    current_state: PageState = Field(default_factory=PageState)
    version_history: list[VersionHistoryEntry] = Field(default_factory=list)
    version: Annotated[int, Field(ge=0, le=MAX_EXACT_INTEGER)] = 0
    commit_sha: str | None = Field(default=None, max_length=64)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    schema_version: str = SCHEMA_VERSION

    @property
    def boxes(self) -> list[BoundingBox]:
        return self.current_state.bounding_boxes


class VersionRecord(BookModel):
    """What the store keeps per version: the entry and the page state after it (so a page can
    be read as of any version and reverted to it)."""

    page_id: Id
    entry: VersionHistoryEntry
    state: PageState


# -- projects ------------------------------------------------------------------------------

ProjectStatus = Literal["created", "uploading", "preprocessing", "detecting-layout", "annotating", "ocr-processing",
                        "correcting", "ready-to-export", "exported", "archived"]
ExportFormat = Literal["markdown-quarto", "hocr", "plain-text", "json", "page-xml", "alto"]


class SourceDocument(BookModel):
    """The original the project was made from (`blobKey` in the blob store; `driveFileId` is
    read as the same); `sourceDocId`/`jobId` name it in provenance."""

    blob_key: str | None = Field(default=None, max_length=1024, validation_alias=AliasChoices("blobKey", "blob_key", "driveFileId"))
    file_name: LineText = Field(min_length=1, max_length=255)
    file_size_bytes: Count | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    uploaded_at: datetime | None = None
    source_doc_id: str | None = Field(default=None, max_length=200)
    job_id: str | None = Field(default=None, max_length=200)


class PageCounters(BookModel):
    """A project's page counts (`indexes.page_flags` says what each counts)."""

    total: Count = 0
    processed: Count = 0
    annotated: Count = 0
    reviewed: Count = 0
    ocred: Count = 0
    corrected: Count = 0


class CostBreakdown(BookModel):
    """USD spent by kind of operation."""

    preprocessing: Usd = 0.0
    layout_detection: Usd = 0.0
    ocr: Usd = 0.0
    other: Usd = 0.0


class ProjectCosts(BookModel):
    """USD spent on the project, from its cost log."""

    total_spent: Usd = 0.0
    breakdown: CostBreakdown = Field(default_factory=CostBreakdown)
    last_updated: datetime | None = None


class ProjectSettings(BookModel):
    """`autoSaveInterval` seconds, `ocrConfidenceThreshold` 0-1 (boxes below it go first in review)."""

    auto_save_interval: Annotated[int, Field(ge=1, le=86_400)] = 30
    ocr_confidence_threshold: Confidence = 0.8
    default_export_format: ExportFormat = "markdown-quarto"


class BoxLocation(BookModel):
    """A box index entry: where a box lives (`BookStore.locate_box`)."""

    page_id: Id
    page_number: PageNo
    content_type: ContentType
    project_id: Id | None = None


class ExportRecord(BookModel):
    """A generated export: where it is, its size (bytes) and SHA-256, the pages and settings it used."""

    export_id: Id
    format: ExportFormat
    generated_at: datetime
    file_path: str = Field(max_length=1024)
    file_size: Count
    sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    included_pages: list[PageNo] = Field(default_factory=list)
    settings: dict[str, Any] = Field(default_factory=dict)


class Project(BookModel):
    """A book being edited: metadata, status, counters, settings, costs.

    `boxIndex` (box id -> page and content type) is kept in the store as one record per box,
    not inside the project record (a 700-page book of 30 boxes a page has 21,000 entries, about
    2 MiB, past Firestore's 1 MiB document limit: docs/book.md, "Box index"); the API fills it
    in when asked (`?include=boxIndex`).
    """

    project_id: Id
    slug: str = Field(pattern=r"^[a-z0-9]+(?:-[a-z0-9]+)*$", max_length=100)
    title: LineText = Field(min_length=1, max_length=500)
    subtitle: LineText | None = Field(default=None, max_length=500)
    authors: list[Annotated[LineText, Field(min_length=1, max_length=200)]] = Field(default_factory=list, max_length=50)
    publisher: LineText | None = Field(default=None, max_length=200)
    publication_year: Annotated[int, Field(ge=0, le=3000)] | None = None
    edition: LineText | None = Field(default=None, max_length=100)
    languages: list[Language] = Field(default_factory=list, max_length=10)
    category: LineText | None = Field(default=None, max_length=200)
    source_document: SourceDocument
    status: ProjectStatus = "created"
    pages: PageCounters = Field(default_factory=PageCounters)
    repository_url: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)
    created_by: UserAttribution
    costs: ProjectCosts = Field(default_factory=ProjectCosts)
    exports: list[ExportRecord] = Field(default_factory=list, max_length=1000)
    settings: ProjectSettings = Field(default_factory=ProjectSettings)
    box_index: dict[str, BoxLocation] | None = None
    schema_version: str = SCHEMA_VERSION


def title_key(title: str) -> str:
    """The key projects are listed by: the title case-folded (Unicode §3.13) without its
    combining marks (NFKD), then a tab, then the case-folded title — so "Gītā" and "gita" sort
    together, before "Upanishads", and apart only where nothing else tells them apart (a title
    holds no tab: `LineText`)."""
    import unicodedata

    folded = title.casefold()
    base = "".join(c for c in unicodedata.normalize("NFKD", folded) if not unicodedata.combining(c))
    return f"{base}\t{folded}"


def slugify(title: str) -> str:
    """A URL-friendly name of `title`: ASCII letters and digits in lower case, runs of anything
    else as one `-` ("Bhagavad Gītā (1985)" -> "bhagavad-gita-1985"); "book" when none is left."""
    import unicodedata

    ascii_text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")[:100].strip("-")
    return slug or "book"
