"""What the provenance use cases take and answer: the request and response bodies of the
provenance API (`/api/v1/ocr/...`), kept with the use cases so that they import nothing from
the HTTP edge.

Requests are strict (`extra="forbid"`: a misspelt field is an error, not silently dropped), their
numbers finite and bounded and their texts free of control and format characters
(`domain.limits`, docs/limits.md). Units: pixels for boxes and page sizes, 0-100 for
confidences, dots per inch for DPI.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, RootModel

from pagesage.domain.fetch_policy import MAX_URL_LENGTH
from pagesage.domain.jobs import JobStatus

from pagesage.domain.limits import (
    BoundedModel,
    Dpi,
    LineText,
    Metadata,
    MultilineText,
    Ordinal,
    PageNo,
    PositivePixels,
    RunLog,
)
from pagesage.domain.pages import BBox, EngineConfig, Page, PageResult, Run, Token
from pagesage.domain.provenance import ENTRY_ID_PATTERN, Identity, Link, Review, ReviewStatus, SourceDoc, SourceKind

MAX_TOKENS = 100_000
"""Most tokens in one write (a dense newspaper page has about 10,000 words)."""

MAX_LINKS = 10_000
"""Most links in one write."""


class _Strict(BoundedModel):
    model_config = ConfigDict(extra="forbid")  # and BoundedModel's: finite floats


class TokenIn(_Strict):
    """One token as an outside engine sends it (the seed's ingest example)."""

    token_no: Ordinal
    text: LineText = Field(min_length=1, max_length=1000)
    text_norm: LineText | None = Field(default=None, max_length=1000, description="default: PageSage's normalization of `text`")
    bbox: BBox
    confidence: float = Field(ge=0, le=100)
    kind: Literal["word"] = "word"
    block: Ordinal = 0
    par: Ordinal = 0
    line: Ordinal = 0
    lang: str | None = Field(default=None, max_length=35, pattern=r"^[A-Za-z]{2,8}(-[A-Za-z0-9]{1,8})*$")
    space_after: bool = Field(default=True, description="false when the next word of the line follows with no space")


class ReviewIn(_Strict):
    """A review as written by POST/PATCH `review` or within an ingest."""

    review_status: ReviewStatus
    approved_text: MultilineText | None = Field(default=None, max_length=200_000)
    review_note: MultilineText | None = Field(default=None, max_length=10_000)
    reviewed_by: Identity | None = None


class ReviewPatch(_Strict):
    """PATCH `review`: the fields to change."""

    review_status: ReviewStatus | None = None
    approved_text: MultilineText | None = Field(default=None, max_length=200_000)
    review_note: MultilineText | None = Field(default=None, max_length=10_000)
    reviewed_by: Identity | None = None


class LinkIn(_Strict):
    """A link to a dictionary entry as written by `links/bulk_create` or an ingest."""

    fk_entry_id: str = Field(pattern=f"^{ENTRY_ID_PATTERN.pattern}$")
    link_kind: Literal["candidate_entry", "confirmed_entry", "rejected_entry"] = "candidate_entry"
    link_conf: float = Field(ge=0, le=100)
    note: MultilineText | None = Field(default=None, max_length=1000)
    token_start: Ordinal | None = None
    token_end: Ordinal | None = None


class IngestBody(_Strict):
    """POST `page_results/:id/ingest`: tokens, review and links at once (the seed's example)."""

    mode: Literal["replace", "append"]
    tokens: list[TokenIn] | None = Field(default=None, max_length=MAX_TOKENS)
    review: ReviewIn | None = None
    links: list[LinkIn] | None = Field(default=None, max_length=MAX_LINKS)


class TokensBody(_Strict):
    """POST `page_results/:id/tokens/bulk_create`: append (default) or replace tokens."""

    mode: Literal["replace", "append"] = "append"
    tokens: list[TokenIn] = Field(min_length=1, max_length=MAX_TOKENS)


class LinksBody(_Strict):
    """POST `page_results/:id/links/bulk_create`: links to add."""

    links: list[LinkIn] = Field(min_length=1, max_length=MAX_LINKS)


class DictionaryEntryIn(_Strict):
    """One dictionary entry: its id and headword forms (Devanagari or IAST)."""

    entry_id: str = Field(pattern=f"^{ENTRY_ID_PATTERN.pattern}$")
    forms: list[Annotated[LineText, Field(min_length=1, max_length=500)]] = Field(min_length=1, max_length=100)


class SuggestBody(_Strict):
    """POST `page_results/:id/links/suggest`: match the page's tokens against a dictionary.

    Give the dictionary as `entries`, or as `csv` text (`entry_id,form` rows, or
    `entry_id,forms` with `|`-separated forms). `save` stores the suggestions as
    `candidate_entry` links.
    """

    entries: list[DictionaryEntryIn] | None = Field(default=None, max_length=200_000)
    csv: str | None = Field(default=None, max_length=20_000_000)
    max_ngram: int = Field(default=3, ge=1, le=6)
    min_score: float = Field(default=85.0, ge=0, le=100)
    save: bool = False


class PageIn(_Strict):
    """A page of a registered source document."""

    page_no: PageNo
    width: PositivePixels | None = None
    height: PositivePixels | None = None
    dpi: Dpi | None = None
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    image_key: str | None = Field(default=None, max_length=1024)


class SourceDocIn(_Strict):
    """POST `source_docs`: register a document OCR'd elsewhere, with its pages 1..n."""

    kind: SourceKind
    title: LineText = Field(min_length=1, max_length=500)
    uri: str | None = Field(default=None, max_length=MAX_URL_LENGTH)
    sha256: str | None = Field(default=None, pattern=r"^[0-9a-f]{64}$")
    metadata: Metadata = Field(default_factory=dict)
    pages: list[PageIn] = Field(min_length=1, max_length=10_000)


class OcrRequest(_Strict):
    """`ocr` of POST `source_docs`: OCR the document with the Tesseract language spec `lang`
    (`auto`, `eng`, `san+eng`, ...; `auto` when absent), as an upload's `lang`."""

    lang: str | None = Field(default=None, max_length=200)


class RemoteSourceIn(_Strict):
    """POST `source_docs` with `ocr`: fetch the document at `uri` (`s3://bucket/key`,
    `gs://bucket/object`, `https://...`) and OCR it like an upload (docs/remote-sources.md)."""

    kind: Literal["remote_url"]
    uri: str = Field(min_length=1, max_length=MAX_URL_LENGTH)
    title: LineText | None = Field(default=None, min_length=1, max_length=500)
    metadata: Metadata = Field(default_factory=dict)
    ocr: OcrRequest


class SourceDocRequest(RootModel[Union[RemoteSourceIn, SourceDocIn]]):
    """POST `source_docs`: with `ocr`, a remote source to fetch and OCR (`RemoteSourceIn`);
    without, a document OCR'd elsewhere to register (`SourceDocIn`). `request_model` says
    which a parsed body is."""

    @staticmethod
    def request_model(body: object) -> type[RemoteSourceIn] | type[SourceDocIn]:
        """`RemoteSourceIn` for a JSON object with an `ocr` member, else `SourceDocIn`."""
        return RemoteSourceIn if isinstance(body, dict) and "ocr" in body else SourceDocIn


class RunIn(_Strict):
    """POST `runs`: register a run of an outside engine over a source document; one empty
    page result is made for each page named (default: every page), to ingest into."""

    source_doc_id: str = Field(min_length=1, max_length=100)
    engine: LineText = Field(min_length=1, max_length=100)
    engine_version: LineText = Field(min_length=1, max_length=200)
    config: EngineConfig
    pages: list[PageNo] | None = Field(default=None, max_length=10_000)
    log: RunLog = Field(default_factory=list)


# -- responses ---------------------------------------------------------------------------

class SourceDocPage(BaseModel):
    """GET `source_docs`: one page of the list; pass `next_cursor` as `cursor` for the next."""

    items: list[SourceDoc]
    next_cursor: str | None


class SourceDocCreated(BaseModel):
    """POST `source_docs`: the document and its pages."""

    source_doc: SourceDoc
    pages: list[Page]


class RemoteSourceAccepted(BaseModel):
    """POST `source_docs` with `ocr` (202): the job that fetches and OCRs the document; follow
    it at `/status/<job_id>`, its document at `source_docs/<source_doc_id>`."""

    job_id: str
    source_doc_id: str
    status: JobStatus
    message: str = "Fetch and OCR queued"


class PageList(BaseModel):
    """GET `source_docs/:id/pages`."""

    items: list[Page]


class RunResult(BaseModel):
    """One run's result for a page."""

    page_result: PageResult
    run: Run


class PageResults(BaseModel):
    """GET `pages/:id/results`: every run's result for the page, oldest first."""

    page: Page
    items: list[RunResult]


class FullPageResult(BaseModel):
    """GET `page_results/:id/full`: the result with its run, page, tokens, review and links."""

    page_result: PageResult
    run: Run
    page: Page | None
    tokens: list[Token]
    review: Review | None
    links: list[Link]


class IngestResult(BaseModel):
    """POST `ingest` and `tokens/bulk_create`: the page result after the write (word count,
    mean confidence) with its review and links; the tokens are read with GET `full`."""

    page_result: PageResult
    review: Review | None
    links: list[Link]


class RunCreated(BaseModel):
    """POST `runs`: the run and the page results made for it."""

    run: Run
    page_results: list[PageResult]


class LinkSuggestions(BaseModel):
    """POST `links/suggest`: proposed links, and how many were saved."""

    suggestions: list[Link]
    saved: int
