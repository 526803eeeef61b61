"""Google Document AI as a PageSage OCR engine: page images online, whole documents online or
in batch, through `google-cloud-documentai` (v1).

Facts this module relies on, with their sources:
    * Limits (https://cloud.google.com/document-ai/limits): online requests take files up to
      40 MB and, for Enterprise Document OCR, 15 pages, or 30 pages with `imageless_mode`;
      batch requests take files up to 1 GB and 500 pages; images up to 40 megapixels.
    * Naming a processor (not a version) runs "its default version" (`processors.process` REST
      reference). The engine pins that version once (`get_processor` ->
      `default_processor_version`) and names it in every request, so the version it reports
      is the one that ran; a `Document` may also name it in `revisions[].processor`, which wins
      when present. `ProcessResponse` has only `document` and `human_review_status`.
    * Language hints (`OcrConfig.Hints.language_hints`, BCP 47): "not specifying it yields the
      best results"; "for languages based on the Latin alphabet, setting hints is not needed";
      a wrong hint is "a significant hindrance". PageSage names therefore map to a hint only for
      a named non-Latin language (`san` -> `sa`, ...); `eng` and script names give none.
    * Retries: the client's own policy for `ProcessDocument` (google-cloud-documentai 3.16,
      `transports/base.py`) retries DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED (429) and
      UNAVAILABLE (503) with exponential back-off (1 s initial, x9, 90 s cap) for up to 300 s.
      What still fails afterwards raises `TransientError`; any other 4xx raises `EngineError`.
    * Billing: Document AI bills processed pages of completed requests ("You only pay for
      completed requests", limits page; per-page prices on https://cloud.google.com/document-ai/pricing);
      a failed call bills nothing. Each successful call is reported as a `DocAiCall` (pages
      billed, processor version, request id when the API gives one) to `on_call`, and
      `recognize` returns the pages billed and request id on its `EngineOutput`, from which the
      worker logs the cost (`services/ocr_page.py`); this module writes no cost itself. The
      engine is meant for Enterprise Document OCR processors (`OCR_PROCESSOR`, what Terraform
      creates), so its calls are priced as `document-ai-ocr`; it enables no OCR add-on
      (`PremiumFeatures`).
"""

from __future__ import annotations

import concurrent.futures
import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from google.api_core import exceptions as core_exceptions
from google.api_core import gapic_v1
from google.api_core.client_options import ClientOptions
from google.cloud import documentai
from PIL import Image

from pagesage.domain.pages import OsdResult
from pagesage.engines.docai_document import (
    DocAiPage,
    convert_document,
    convert_page,
    load_document,
    processor_version_of,
)
from pagesage.errors import (
    EngineError,
    InputError,
    InvalidLanguage,
    PageSageError,
    TransientError,
)
from pagesage.ports import EngineOutput

ONLINE_MAX_PAGES = 15
ONLINE_MAX_PAGES_IMAGELESS = 30
ONLINE_MAX_BYTES = 40_000_000
"""40 MB, counted in decimal megabytes (the smaller reading of "MB")."""
BATCH_MAX_PAGES = 500
BATCH_MAX_BYTES = 1_000_000_000
MAX_IMAGE_PIXELS = 40_000_000

HINTS: dict[str, str | None] = {
    "eng": None, "Latin": None, "Latin_eng": None, "Devanagari": None,
    "san": "sa", "hin": "hi", "mar": "mr", "nep": "ne",
    "sa": "sa", "hi": "hi", "mr": "mr", "ne": "ne",
}
"""Language names the engine accepts -> the Document AI language hint they send (None: none)."""

_PROCESSOR = re.compile(r"^projects/[^/]+/locations/(?P<location>[^/]+)/processors/[^/]+"
                        r"(?:/processorVersions/(?P<version>[^/]+))?$")
_TRANSIENT = (
    core_exceptions.TooManyRequests, core_exceptions.ServiceUnavailable, core_exceptions.GatewayTimeout,
    core_exceptions.InternalServerError, core_exceptions.Unknown, core_exceptions.BadGateway,
    core_exceptions.Aborted, core_exceptions.RetryError, concurrent.futures.TimeoutError,
)
_MAGIC = ((b"%PDF", "application/pdf"), (b"\x89PNG\r\n\x1a\n", "image/png"), (b"\xff\xd8\xff", "image/jpeg"),
          (b"II*\x00", "image/tiff"), (b"MM\x00*", "image/tiff"), (b"GIF8", "image/gif"), (b"BM", "image/bmp"))


@dataclass(frozen=True)
class DocAiCall:
    """One successful Document AI call, as a cost logger needs it (failed calls bill nothing).

    Attributes:
        processor: processor resource name the engine was configured with.
        processor_version: full `processorVersions` resource name that processed the document.
        mode: `online` (ProcessDocument) or `batch` (BatchProcessDocuments).
        pages_billed: pages in the returned Document (Document AI bills per processed page).
        request_id: the batch operation's name; None online (the response carries no id).
        seconds: wall seconds of the call, retries and batch waiting included.
    """

    processor: str
    processor_version: str
    mode: Literal["online", "batch"]
    pages_billed: int
    request_id: str | None
    seconds: float


@dataclass(frozen=True)
class DocAiResult:
    """A processed document: the Document, its pages as PageSage words, and the call."""

    document: documentai.Document
    pages: list[DocAiPage]
    call: DocAiCall


def raw_document_json(document: documentai.Document) -> bytes:
    """The Document as JSON (proto field names, the snake_case form `load_document` reads), its
    rendered page images left out: they repeat the input and can be megabytes."""
    data = documentai.Document.to_dict(document)
    for page in data.get("pages", []):
        page.pop("image", None)
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode()


@dataclass(eq=False)
class DocumentAiEngine:
    """The `docai` engine (the `OcrEngine` port), one processor.

    Args:
        processor: `projects/P/locations/L/processors/ID`, optionally
            `.../processorVersions/V` to pin a version.
        client: a `DocumentProcessorServiceClient`; default one for the processor's location
            (`L-documentai.googleapis.com`, Application Default Credentials).
        enable_image_quality_scores: ask for `imageQualityScores` (adds latency comparable to
            the OCR itself, `OcrConfig` reference).
        retry, timeout: for ProcessDocument; default the client's own policy (see module doc).
        batch_timeout: seconds to wait for a batch operation before giving up on it.
        on_call: called with every successful call's `DocAiCall` (e.g. a cost logger).
        fetch_outputs: reads a batch output folder `gs://bucket/prefix/` -> JSON files' bytes;
            default `read_gcs_json`.
    """

    processor: str
    client: documentai.DocumentProcessorServiceClient | None = None
    enable_image_quality_scores: bool = False
    retry: object = gapic_v1.method.DEFAULT
    timeout: object = gapic_v1.method.DEFAULT
    batch_timeout: float = 3600.0
    on_call: Callable[[DocAiCall], None] | None = None
    fetch_outputs: Callable[[str], list[bytes]] | None = None
    name: str = field(default="docai", init=False)
    service: str = field(default="document-ai-ocr", init=False)
    detects_orientation: bool = field(default=False, init=False)
    _version: str | None = field(default=None, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)

    def __post_init__(self) -> None:
        match = _PROCESSOR.match(self.processor)
        if match is None:
            raise InputError(f"not a Document AI processor name: {self.processor!r}")
        if self.client is None:
            endpoint = f"{match['location']}-documentai.googleapis.com"
            self.client = documentai.DocumentProcessorServiceClient(client_options=ClientOptions(api_endpoint=endpoint))
        if match["version"]:
            self._version = self.processor

    # -- the OcrEngine port -------------------------------------------------------------------

    def version(self) -> str:
        """The processor version id that runs, e.g. `pretrained-ocr-v2.0-2023-06-02`.

        Raises:
            EngineError, TransientError: the processor could not be read.
        """
        return self.processor_version().rsplit("/", 1)[-1]

    def processor_version(self) -> str:
        """The full `processorVersions` resource name every request of this engine names:
        the configured one, else the processor's default version, read once."""
        with self._lock:
            if self._version is None:
                processor = _call(self.client.get_processor, request={"name": self.processor})
                if not processor.default_processor_version:
                    raise EngineError(f"processor {self.processor} has no default version")
                self._version = processor.default_processor_version
            return self._version

    def installed_languages(self) -> frozenset[str]:
        """Language names a job may ask for (the keys of `HINTS`)."""
        return frozenset(HINTS)

    def detect(self, image: Path | Image.Image, *, dpi: int) -> tuple[OsdResult | None, float]:
        """Always (None, 0.0): Document AI sets pages upright itself (`Page.transforms`) and
        `recognize` maps boxes back into the image sent, so PageSage needs no turn; asking for
        orientation alone would bill the page twice."""
        return None, 0.0

    def recognize(self, image: Path, *, languages: str, dpi: int, psm: int) -> EngineOutput:
        """Words of a page image: boxes in pixels of `image`, confidence 0-100, layout ordinals,
        each word's detected language, and the pages billed. `dpi` and `psm` do not apply to
        Document AI.

        Raises:
            InvalidLanguage: a language name outside `HINTS`.
            EngineError: the image breaks a Document AI limit, or the request was refused.
            TransientError: Document AI was unavailable or over quota after the retries.
        """
        result = self.process_image(image, languages=languages)
        page = result.pages[0]
        return EngineOutput(words=page.words, seconds=result.call.seconds, pages_billed=result.call.pages_billed,
                            request_id=result.call.request_id, quality=page.quality.metrics() if page.quality else None,
                            raw=raw_document_json(result.document), raw_type="application/json")

    # -- richer calls ---------------------------------------------------------------------------

    def process_image(self, image: Path, *, languages: str = "auto") -> DocAiResult:
        """OCR one page image online (`raw_document`); the page's boxes are mapped into the
        pixels of `image` (Document AI may rotate and resize it, see `convert_page`).

        Raises:
            As `recognize`; EngineError also when the answer is not exactly one page.
        """
        data = Path(image).read_bytes()
        with Image.open(image) as img:
            size = img.size
        if size[0] * size[1] > MAX_IMAGE_PIXELS:
            raise EngineError(f"page image {size[0]}x{size[1]} exceeds Document AI's 40-megapixel limit")
        if len(data) > ONLINE_MAX_BYTES:
            raise EngineError(f"page image of {len(data)} bytes exceeds the online limit of {ONLINE_MAX_BYTES}")
        document, call = self._online(data, sniff_mime(data), languages=languages, imageless=False)
        if len(document.pages) != 1:
            raise EngineError(f"Document AI returned {len(document.pages)} pages for one page image")
        return DocAiResult(document=document, pages=[convert_page(document, 0, target_size=size)], call=call)

    def process_file(self, path: Path, *, page_count: int, languages: str = "auto", imageless: bool = False,
                     gcs_input_uri: str | None = None, gcs_output_prefix: str | None = None) -> DocAiResult:
        """OCR a whole document, online when it fits the online limits (`choose_mode`), else
        as a batch job reading `gcs_input_uri` and writing under `gcs_output_prefix`, whose
        sharded output is read back through `load_document`. Boxes are in the pixels of the
        page images Document AI rendered (`DocAiPage.width/height`).

        Args:
            path: the local file (PDF, TIFF, PNG, JPEG, GIF, BMP).
            page_count: its number of pages.
            languages: as `recognize`.
            imageless: use `imageless_mode` online (30 pages instead of 15; no page images back).
            gcs_input_uri: `gs://...` copy of the same file, needed above the online limits.
            gcs_output_prefix: `gs://bucket/prefix/` for the batch output.

        Raises:
            InputError: above the online limits without GCS locations.
            EngineError: above the batch limits, or the request or document was refused.
            TransientError: unavailable, over quota, or the batch did not finish in time.
        """
        size = Path(path).stat().st_size
        with open(path, "rb") as head:
            mime = sniff_mime(head.read(16))
        if choose_mode(page_count, size, imageless=imageless) == "online":
            document, call = self._online(Path(path).read_bytes(), mime, languages=languages, imageless=imageless)
        else:
            if not (gcs_input_uri and gcs_output_prefix):
                raise InputError(f"{page_count} pages / {size} bytes exceed the online limits; "
                                 f"batch processing needs gcs_input_uri and gcs_output_prefix")
            if page_count > BATCH_MAX_PAGES or size > BATCH_MAX_BYTES:
                raise EngineError(f"{page_count} pages / {size} bytes exceed Document AI's batch limits "
                                  f"({BATCH_MAX_PAGES} pages, {BATCH_MAX_BYTES} bytes)")
            document, call = self._batch(gcs_input_uri, mime, gcs_output_prefix, languages=languages)
        return DocAiResult(document=document, pages=convert_document(document), call=call)

    def _online(self, content: bytes, mime: str, *, languages: str, imageless: bool) -> tuple[documentai.Document, DocAiCall]:
        version = self.processor_version()
        request = documentai.ProcessRequest(
            name=version,
            raw_document=documentai.RawDocument(content=content, mime_type=mime),
            process_options=self._options(languages),
            imageless_mode=imageless,
        )
        started = time.perf_counter()
        response = _call(self.client.process_document, request=request, retry=self.retry, timeout=self.timeout)
        document = response.document
        return document, self._report(document, version, "online", None, time.perf_counter() - started)

    def _batch(self, gcs_input_uri: str, mime: str, gcs_output_prefix: str, *, languages: str) -> tuple[documentai.Document, DocAiCall]:
        version = self.processor_version()
        request = documentai.BatchProcessRequest(
            name=version,
            input_documents=documentai.BatchDocumentsInputConfig(gcs_documents=documentai.GcsDocuments(
                documents=[documentai.GcsDocument(gcs_uri=gcs_input_uri, mime_type=mime)])),
            document_output_config=documentai.DocumentOutputConfig(
                gcs_output_config=documentai.DocumentOutputConfig.GcsOutputConfig(gcs_uri=gcs_output_prefix)),
            process_options=self._options(languages),
        )
        started = time.perf_counter()
        operation = _call(self.client.batch_process_documents, request=request)
        _call(operation.result, timeout=self.batch_timeout)
        statuses = operation.metadata.individual_process_statuses if operation.metadata else []
        status = next((s for s in statuses if s.input_gcs_source == gcs_input_uri), statuses[0] if statuses else None)
        if status is None or not status.output_gcs_destination:
            raise EngineError(f"batch operation {operation.operation.name} reported no output")
        if status.status.code:
            raise map_error(core_exceptions.from_grpc_status(status.status.code, status.status.message))
        fetch = self.fetch_outputs or read_gcs_json
        document = load_document(fetch(status.output_gcs_destination))
        return document, self._report(document, version, "batch", operation.operation.name, time.perf_counter() - started)

    def _options(self, languages: str) -> documentai.ProcessOptions:
        hints = language_hints(languages)
        ocr = documentai.OcrConfig(enable_image_quality_scores=self.enable_image_quality_scores)
        if hints:
            ocr.hints = documentai.OcrConfig.Hints(language_hints=hints)
        return documentai.ProcessOptions(ocr_config=ocr)

    def _report(self, document: documentai.Document, version: str, mode, request_id: str | None, seconds: float) -> DocAiCall:
        call = DocAiCall(
            processor=self.processor, processor_version=processor_version_of(document) or version, mode=mode,
            pages_billed=len(document.pages), request_id=request_id, seconds=round(seconds, 3),
        )
        if self.on_call is not None:
            self.on_call(call)
        return call


def choose_mode(page_count: int, size_bytes: int, *, imageless: bool = False) -> Literal["online", "batch"]:
    """`online` when a document of `page_count` pages and `size_bytes` bytes fits one online
    request (15 pages, 30 with imageless mode; 40 MB), else `batch`."""
    pages = ONLINE_MAX_PAGES_IMAGELESS if imageless else ONLINE_MAX_PAGES
    return "online" if page_count <= pages and size_bytes <= ONLINE_MAX_BYTES else "batch"


def language_hints(spec: str) -> list[str]:
    """Document AI language hints of a PageSage language spec (`auto`, `san+eng`, ...).

    Raises:
        InvalidLanguage: a part is not in `HINTS`.
    """
    hints: list[str] = []
    for part in (spec or "auto").split("+"):
        name = part.strip().removeprefix("script/")
        if name == "auto":
            continue
        if name not in HINTS:
            raise InvalidLanguage(f"language {name!r} is not one Document AI is set up for (known: {', '.join(sorted(HINTS))})")
        hint = HINTS[name]
        if hint and hint not in hints:
            hints.append(hint)
    return hints


def sniff_mime(head: bytes) -> str:
    """MIME type of a file from its first bytes (PDF, PNG, JPEG, TIFF, GIF, BMP, WEBP).

    Raises:
        EngineError: none of them.
    """
    for magic, mime in _MAGIC:
        if head.startswith(magic):
            return mime
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "image/webp"
    raise EngineError("not a file type Document AI reads (PDF, TIFF, PNG, JPEG, GIF, BMP, WEBP)")


def read_gcs_json(uri: str, client=None) -> list[bytes]:
    """Bytes of every `.json` object under the folder `uri` (`gs://bucket/prefix`), by name.

    Args:
        uri: a batch output folder (`individualProcessStatuses[].outputGcsDestination`).
        client: a `google.cloud.storage.Client`; default one from the environment.
    """
    from google.cloud import storage

    match = re.match(r"^gs://([^/]+)/?(.*)$", uri)
    if match is None:
        raise EngineError(f"not a gs:// folder: {uri!r}")
    bucket, prefix = match.groups()
    if prefix and not prefix.endswith("/"):
        prefix += "/"
    client = client or storage.Client()
    try:
        blobs = sorted(client.list_blobs(bucket, prefix=prefix), key=lambda b: b.name)
        return [blob.download_as_bytes() for blob in blobs if blob.name.endswith(".json")]
    except core_exceptions.GoogleAPIError as exc:
        raise map_error(exc) from exc


def map_error(exc: BaseException) -> PageSageError:
    """The PageSage error of a failed Google API call: `TransientError` for 429, 5xx,
    DEADLINE_EXCEEDED, ABORTED, exhausted retries and timeouts; else `EngineError`."""
    if isinstance(exc, _TRANSIENT):
        cause = getattr(exc, "cause", None)
        return TransientError(f"Document AI unavailable: {exc}" + (f" (last error: {cause})" if cause else ""))
    return EngineError(f"Document AI refused the request: {exc}")


def _call(fn, **kwargs):
    try:
        return fn(**kwargs)
    except (core_exceptions.GoogleAPIError, concurrent.futures.TimeoutError) as exc:
        raise map_error(exc) from exc
