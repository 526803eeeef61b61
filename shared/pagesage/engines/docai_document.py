"""Saved Google Document AI output -> `documentai.Document` -> PageSage engine words, offline.

Input forms (all seen in real Document AI outputs):
    * camelCase JSON: `Document.to_json()`, the REST API, batch-output shards (`textAnchor`,
      `boundingPoly`, int64 fields such as `endIndex` written as strings);
    * snake_case JSON or dict: proto-plus `Document.to_dict()` (`text_anchor`,
      `detected_break: {"type_": ...}`).
Both parse with the library's own `Document.from_json(..., ignore_unknown_fields=True)`: the
protobuf JSON parser accepts a field's JSON name and its proto name, and proto-plus names the
proto field `type_` (JSON name `type`), so no key is rewritten here.

A batch output of one input document may be split into shards, each a `Document` with its own
`text` and `shardInfo {shardIndex, shardCount, textOffset}` (proto3 omits a 0 `shardIndex`). Text
anchors inside a shard index that shard's text; merging shifts them by the shard's offset in the
joined text (as the Document AI Toolbox does; `Document.ShardInfo` in the v1 reference,
https://cloud.google.com/document-ai/docs/reference/rest/v1/Document#shardinfo).

Conversion (`convert_page`): one `EngineWord` per `page.tokens[i]`:
    * text: `document.text` over the token's `layout.textAnchor.textSegments` (indices are
      Unicode code points, "UTF-8 char index" in the reference), trailing whitespace (the
      detected break) removed, every other character kept;
    * bbox: x, y, w, h in page pixels, origin top-left: the axis-aligned hull of
      `boundingPoly.vertices` (pixels) or, when absent, `normalizedVertices` (0-1) times the
      page size; edges rounded to the nearest pixel and clamped into the page;
    * confidence: `layout.confidence` (0-1) x 100;
    * block, par, line: page-wide 0-based ordinals, in order of first use, of the block,
      paragraph and line whose text span holds the token's first character (the meaning of the
      Tesseract adapter's ordinals);
    * lang: the `languageCode` of highest confidence in the token's `detectedLanguages`, else
      its line's, paragraph's, block's, then page's; None when none has one.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import os
import struct
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from google.cloud import documentai
from google.protobuf import json_format
from google.protobuf.message import Message

from pagesage.domain.pages import QualityMetrics
from pagesage.errors import EngineError
from pagesage.domain.tokens import EngineWord, build_tokens

if TYPE_CHECKING:
    from pagesage.formats.document import DocumentView

Source = str | os.PathLike | bytes | Mapping[str, Any] | documentai.Document
"""One saved output: a path to a JSON file, JSON bytes, a parsed dict, or a Document."""

Matrix = tuple[tuple[float, float, float], tuple[float, float, float], tuple[float, float, float]]
"""A 3x3 homogeneous transform of pixel coordinates, row-major."""

_OPENCV_TYPES = {5: "f", 6: "d"}
"""`Page.Matrix.type` -> struct code: OpenCV CV_32F (5) and CV_64F (6) single-channel matrices
(the reference points to OpenCV's type list); Document AI writes CV_64F 2x3 affine matrices."""


@dataclass(frozen=True)
class ImageQuality:
    """A page's `imageQualityScores`: overall quality 0-1 and defect type -> confidence 0-1
    (e.g. `quality/defect_blurry`), as Document AI reports them when asked for them."""

    score: float
    defects: dict[str, float] = field(default_factory=dict)

    def metrics(self) -> QualityMetrics:
        """As PageSage's `QualityMetrics` (defect names without the `quality/defect_` prefix)."""
        defects = {name.removeprefix("quality/defect_"): score for name, score in self.defects.items()}
        return QualityMetrics.graded(self.score, defects, "document-ai")


@dataclass(frozen=True)
class DocAiPage:
    """One converted page.

    Attributes:
        page_number: Document AI's 1-based `pageNumber` (its position when absent).
        width, height: pixels of the page image Document AI read (`Page.image`), which word
            boxes refer to unless mapped with `target_size`.
        language: BCP 47 code of the page's most confident detected language, or None.
        words: one per Document AI token, in the Document's reading order.
        quality: image quality scores, None when the output has none.
        transform: the 3x3 matrix Document AI applied to the input image to produce the page
            image (`Page.transforms`, composed), None when it applied none.
    """

    page_number: int
    width: int
    height: int
    language: str | None
    words: list[EngineWord]
    quality: ImageQuality | None = None
    transform: Matrix | None = None


# -- loading ---------------------------------------------------------------------------------

def load_document(sources: Source | Sequence[Source]) -> documentai.Document:
    """The Document of one saved output, or of all shards of one batch output in any order.

    Args:
        sources: one source, or a sequence of sources (the shards of one document).

    Returns:
        The Document; shards are merged into one (see `merge_shards`).

    Raises:
        EngineError: a source is not JSON of a Document, or the shards are inconsistent.
    """
    if isinstance(sources, (str, os.PathLike, bytes, Mapping, documentai.Document)):
        sources = [sources]
    documents = [parse_document(source) for source in sources]
    if not documents:
        raise EngineError("no Document AI output given")
    return merge_shards(documents)


def parse_document(source: Source) -> documentai.Document:
    """One saved Document (camelCase or snake_case), parsed by the library.

    Raises:
        EngineError: unreadable file, invalid JSON, or JSON that is not a Document.
    """
    if isinstance(source, documentai.Document):
        return source
    try:
        if isinstance(source, Mapping):
            payload = json.dumps(source)
        elif isinstance(source, bytes):
            payload = source.decode("utf-8")
        else:
            payload = Path(source).read_text(encoding="utf-8")
        return documentai.Document.from_json(payload, ignore_unknown_fields=True)
    except (OSError, UnicodeDecodeError, TypeError, ValueError, json_format.ParseError) as exc:
        raise EngineError(f"not a readable Document AI output: {exc}") from exc


def merge_shards(shards: Sequence[documentai.Document]) -> documentai.Document:
    """One Document from the shards of a batch output, ordered by `shardInfo.shardIndex`.

    Texts are joined in shard order; every text anchor of a shard (pages, entities, relations,
    text changes) is shifted by the shard's offset in the joined text. A single document
    without shard info is returned unchanged.

    Raises:
        EngineError: shard indices are not 0..n-1, `shardCount` differs from the number of
            shards given (a shard is missing), or a `textOffset` disagrees with the text
            lengths of the shards before it.
    """
    if len(shards) == 1 and int(shards[0].shard_info.shard_count) <= 1:
        return shards[0]
    ordered = sorted(shards, key=lambda d: int(d.shard_info.shard_index))
    counts = {int(d.shard_info.shard_count) for d in ordered} - {0}
    if counts and counts != {len(ordered)}:
        raise EngineError(f"shardCount says {sorted(counts)}, {len(ordered)} shard(s) given")
    indices = [int(d.shard_info.shard_index) for d in ordered]
    if indices != list(range(len(ordered))):
        raise EngineError(f"shard indices {indices} are not 0..{len(ordered) - 1}")
    merged = documentai.Document.pb()()
    merged.CopyFrom(documentai.Document.pb(ordered[0]))
    merged.ClearField("shard_info")
    for name in ("pages", "entities", "entity_relations", "text_changes"):
        merged.ClearField(name)
    texts: list[str] = []
    offset = 0
    for shard in ordered:
        declared = int(shard.shard_info.text_offset)
        if declared and declared != offset:
            raise EngineError(f"shard {int(shard.shard_info.shard_index)} has textOffset {declared}, "
                              f"the shards before it hold {offset} characters")
        part = documentai.Document.pb()()
        part.CopyFrom(documentai.Document.pb(shard))
        if offset:
            _shift_anchors(part, offset)
        merged.pages.extend(part.pages)
        merged.entities.extend(part.entities)
        merged.entity_relations.extend(part.entity_relations)
        merged.text_changes.extend(part.text_changes)
        texts.append(shard.text)
        offset += len(shard.text)
    merged.text = "".join(texts)
    return documentai.Document.wrap(merged)


def _shift_anchors(message: Message, offset: int) -> None:
    """Add `offset` to every TextSegment index below `message` (a raw protobuf message)."""
    if message.DESCRIPTOR.name == "TextSegment":
        message.start_index += offset
        message.end_index += offset
        return
    for descriptor, value in message.ListFields():
        if descriptor.message_type is None or descriptor.message_type.GetOptions().map_entry:
            continue
        if descriptor.is_repeated:
            for item in value:
                _shift_anchors(item, offset)
        else:
            _shift_anchors(value, offset)


# -- conversion ------------------------------------------------------------------------------

def convert_document(document: documentai.Document) -> list[DocAiPage]:
    """Every page of `document`, converted (see `convert_page`)."""
    return [convert_page(document, i) for i in range(len(document.pages))]


def convert_page(document: documentai.Document, index: int, *, target_size: tuple[int, int] | None = None) -> DocAiPage:
    """Page `index` (0-based) of `document` as PageSage words.

    Args:
        document: a parsed (merged) Document.
        index: position in `document.pages`.
        target_size: (width, height) in pixels of the image that was sent to Document AI; when
            given, boxes are mapped from the page image into that image through the inverse of
            `Page.transforms` (or scaled when Document AI resized without a transform), so they
            fit the image PageSage stores. None keeps page-image pixels.

    Returns:
        The page; `words` has exactly one entry per Document AI token.

    Raises:
        EngineError: a transform matrix is malformed or not invertible.
    """
    doc_pb = documentai.Document.pb(document)
    page = doc_pb.pages[index]
    width, height = _page_size(page)
    transform = _page_transform(page)
    to_target = None
    out_w, out_h = width, height
    if target_size is not None:
        out_w, out_h = target_size
        if transform is not None:
            to_target = _invert(transform)
        elif (out_w, out_h) != (width, height) and width and height:
            to_target = ((out_w / width, 0.0, 0.0), (0.0, out_h / height, 0.0), (0.0, 0.0, 1.0))
    text = doc_pb.text
    levels = {name: _Spans(getattr(page, name)) for name in ("blocks", "paragraphs", "lines")}
    page_lang = _top_language(page.detected_languages)
    ordinals: dict[str, dict[int, int]] = {name: {} for name in levels}
    words: list[EngineWord] = []
    for token in page.tokens:
        layout = token.layout
        segments = layout.text_anchor.text_segments
        span = "".join(text[s.start_index:s.end_index] for s in segments)
        token_text = span.rstrip()
        start = segments[0].start_index if segments else -1
        found = {name: spans.index_at(start) for name, spans in levels.items()}
        dense = {name: ordinals[name].setdefault(found[name], len(ordinals[name])) for name in levels}
        lang = (_top_language(token.detected_languages)
                or levels["lines"].language(found["lines"])
                or levels["paragraphs"].language(found["paragraphs"])
                or levels["blocks"].language(found["blocks"])
                or page_lang)
        words.append(EngineWord(
            text=token_text,
            bbox=_bbox(layout.bounding_poly, width, height, to_target, out_w, out_h),
            confidence=min(100.0, max(0.0, layout.confidence * 100.0)),
            block=dense["blocks"], par=dense["paragraphs"], line=dense["lines"],
            lang=lang,
            # Document AI marks a break after a token (`detectedBreak`) and keeps it in the
            # token's text span; a token with neither is followed directly ("DATE" ":")
            space_after=token.HasField("detected_break") or span != token_text,
        ))
    return DocAiPage(
        page_number=page.page_number or index + 1,
        width=width, height=height, language=page_lang, words=words,
        quality=_image_quality(page), transform=transform,
    )


def page_size(page: documentai.Document.Page) -> tuple[int, int]:
    """(width, height) in pixels of the page image: `dimension` when its unit is pixels, else
    `image.width/height`, else the page layout's pixel vertices (trimmed shards keep only
    those); (0, 0) when none is given."""
    return _page_size(documentai.Document.Page.pb(page))


def image_quality(page: documentai.Document.Page) -> ImageQuality | None:
    """The page's image quality scores, None when the output carries none."""
    return _image_quality(documentai.Document.Page.pb(page))


def page_transform(page: documentai.Document.Page) -> Matrix | None:
    """`Page.transforms` composed into one 3x3 matrix (input image pixels -> page image pixels),
    None when there are none. Matrices are OpenCV `Mat`s: 2x3 affine or 3x3, row-major,
    CV_32F or CV_64F, little-endian bytes (`Document.Page.Matrix` in the v1 reference).

    Raises:
        EngineError: a matrix has another shape or type, or too few bytes.
    """
    return _page_transform(documentai.Document.Page.pb(page))


def _page_size(page) -> tuple[int, int]:
    dim = page.dimension
    if dim.width and dim.height and dim.unit in ("", "pixels"):
        return round(dim.width), round(dim.height)
    if page.image.width and page.image.height:
        return page.image.width, page.image.height
    vertices = page.layout.bounding_poly.vertices
    if vertices:
        return max(v.x for v in vertices), max(v.y for v in vertices)
    return 0, 0


def _image_quality(page) -> ImageQuality | None:
    if not page.HasField("image_quality_scores"):
        return None
    scores = page.image_quality_scores
    return ImageQuality(
        score=scores.quality_score,
        defects={d.type_: d.confidence for d in scores.detected_defects},
    )


def _page_transform(page) -> Matrix | None:
    total: Matrix | None = None
    for m in page.transforms:
        rows, cols, kind = m.rows, m.cols, m.type_
        code = _OPENCV_TYPES.get(kind)
        if code is None or cols != 3 or rows not in (2, 3):
            raise EngineError(f"unsupported page transform: {rows}x{cols} of OpenCV type {kind}")
        try:
            values = struct.unpack(f"<{rows * cols}{code}", m.data[: rows * cols * struct.calcsize(code)])
        except struct.error as exc:
            raise EngineError(f"malformed page transform: {exc}") from exc
        grid = [tuple(values[r * 3:(r + 1) * 3]) for r in range(rows)]
        if rows == 2:
            grid.append((0.0, 0.0, 1.0))
        step: Matrix = (grid[0], grid[1], grid[2])
        total = step if total is None else _matmul(step, total)
    return total


def text_of(document: documentai.Document, layout: documentai.Document.Page.Layout) -> str:
    """The text a layout's anchor covers, unchanged (whitespace included)."""
    text = document.text
    return "".join(text[int(s.start_index):int(s.end_index)] for s in layout.text_anchor.text_segments)


def processor_version_of(document: documentai.Document) -> str | None:
    """The processor version resource name a Document names in `revisions[].processor`, if any."""
    for revision in document.revisions:
        if "/processorVersions/" in revision.processor:
            return revision.processor
    return None


def source_digest(paths: Sequence[Path]) -> tuple[int, str]:
    """(total bytes, hex SHA-256 of the files' bytes concatenated in the given order)."""
    digest = hashlib.sha256()
    size = 0
    for path in paths:
        data = Path(path).read_bytes()
        digest.update(data)
        size += len(data)
    return size, digest.hexdigest()


class _Spans:
    """Text spans of one layout level (blocks, paragraphs or lines) for offset lookups."""

    def __init__(self, elements) -> None:
        spans = sorted(
            (s.start_index, s.end_index, i)
            for i, element in enumerate(elements)
            for s in element.layout.text_anchor.text_segments
        )
        self._starts = [s for s, _, _ in spans]
        self._spans = spans
        self._elements = elements

    def index_at(self, offset: int) -> int:
        """Index of the element whose span holds `offset` (spans of one level do not overlap),
        else of the nearest one starting before it; 0 when none does."""
        i = bisect.bisect_right(self._starts, offset) - 1
        return self._spans[i][2] if i >= 0 else 0

    def language(self, index: int) -> str | None:
        if 0 <= index < len(self._elements):
            return _top_language(self._elements[index].detected_languages)
        return None


def _top_language(languages) -> str | None:
    best = max(languages, key=lambda lang: lang.confidence, default=None)
    if best is None or not best.language_code:
        return None
    return best.language_code


def _bbox(poly, width: int, height: int, to_target: Matrix | None, out_w: int, out_h: int) -> tuple[int, int, int, int]:
    if poly.vertices:
        points = [(float(v.x), float(v.y)) for v in poly.vertices]
    elif poly.normalized_vertices:
        points = [(v.x * width, v.y * height) for v in poly.normalized_vertices]
    else:
        return 0, 0, 0, 0
    if to_target is not None:
        points = [_apply(to_target, x, y) for x, y in points]
    x0 = _clamp(_round(min(x for x, _ in points)), out_w)
    y0 = _clamp(_round(min(y for _, y in points)), out_h)
    x1 = _clamp(_round(max(x for x, _ in points)), out_w)
    y1 = _clamp(_round(max(y for _, y in points)), out_h)
    return x0, y0, x1 - x0, y1 - y0


def _round(value: float) -> int:
    """Nearest integer, halves up: normalized vertices are float32, so 0.14662756 x 341 is
    49.99999... for an edge at pixel 50."""
    return math.floor(value + 0.5)


def _clamp(value: int, limit: int) -> int:
    return max(0, min(value, limit)) if limit else max(0, value)


def _matmul(a: Matrix, b: Matrix) -> Matrix:
    rows = tuple(tuple(sum(a[r][k] * b[k][c] for k in range(3)) for c in range(3)) for r in range(3))
    return rows  # type: ignore[return-value]


def _apply(m: Matrix, x: float, y: float) -> tuple[float, float]:
    w = m[2][0] * x + m[2][1] * y + m[2][2]
    return (m[0][0] * x + m[0][1] * y + m[0][2]) / w, (m[1][0] * x + m[1][1] * y + m[1][2]) / w


def _invert(m: Matrix) -> Matrix:
    (a, b, c), (d, e, f), (g, h, i) = m
    det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g)
    if abs(det) < 1e-12:
        raise EngineError("page transform is not invertible")
    adj = ((e * i - f * h, c * h - b * i, b * f - c * e),
           (f * g - d * i, a * i - c * g, c * d - a * f),
           (d * h - e * g, b * g - a * h, a * e - b * d))
    return tuple(tuple(v / det for v in row) for row in adj)  # type: ignore[return-value]


# -- read model for the renderers ------------------------------------------------------------

_SUFFIX_FORMATS = {".pdf": "application/pdf", ".png": "image/png", ".jpg": "image/jpeg",
                   ".jpeg": "image/jpeg", ".tif": "image/tiff", ".tiff": "image/tiff"}


def document_view(document: documentai.Document, inputs: Sequence[Path]) -> DocumentView:
    """The PageSage read model (`formats.document.DocumentView`) of a converted Document, so
    that PageSage's own hOCR, JSON and text renderers can write it.

    The records describe the conversion as it happened:
        * job/upload: `file_name` is the source document's name (`Document.uri`, else the first
          JSON file's name); `file_format` its `mimeType`, else guessed from the uri's suffix,
          else application/pdf with a warning on every page; `file_size`, `sha256` and
          `content_type` (application/json) are those of the JSON files read; `original_key`
          is the first JSON file's path.
        * run: engine `docai`, version the processor version the Document names
          (`revisions[].processor`) or `unknown`; config `languages=auto` (Document AI
          detects languages itself), no psm, oem or dpi (Tesseract settings; a saved output
          states no dpi).
        * page results: `lang_tag` the page's most confident detected language (`und` when
          none), tokens from `build_tokens` with each word's own detected language, image
          quality scores stated in `warnings`.

    Args:
        document: a parsed (merged) Document with at least one page.
        inputs: the JSON files it was read from, in shard order.

    Raises:
        EngineError: the Document has no pages.
    """
    from pagesage.domain.jobs import DocumentUpload, FileFormat, Job
    from pagesage.domain.pages import EngineConfig, Page, PageResult, PageStatus, Run
    from pagesage.formats.document import DocumentView, PageView

    converted = convert_document(document)
    if not converted:
        raise EngineError("the Document AI output has no pages")
    size, sha256 = source_digest(inputs)
    file_name = Path(document.uri).name if document.uri else Path(inputs[0]).name
    mime = document.mime_type or _SUFFIX_FORMATS.get(Path(document.uri).suffix.lower(), "")
    notes = ["converted offline from a Document AI output"]
    if mime not in {f.value for f in FileFormat}:
        notes.append(f"source format {mime or 'not stated'} in the Document AI output; recorded as application/pdf")
        mime = FileFormat.PDF.value
    job = Job(languages="auto", upload=DocumentUpload(
        file_name=file_name[:255], file_format=FileFormat(mime), file_size=max(size, 1),
        content_type="application/json", sha256=sha256, original_key=str(inputs[0]),
    ))
    job.start(len(converted))
    config = EngineConfig(languages="auto")
    version = processor_version_of(document)
    run = Run(job_id=job.job_id, source_doc_id=job.source_doc_id, engine="docai", engine_version=version.rsplit("/", 1)[-1] if version else "unknown",
              config=config, status="completed", log=list(notes))
    views = []
    for converted_page in converted:
        tag = converted_page.language or "und"
        tokens = build_tokens(converted_page.words, "auto", page_tag=tag)
        page = Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=converted_page.page_number, status=PageStatus.DONE,
                    width=converted_page.width or None, height=converted_page.height or None)
        result = PageResult(
            run_id=run.run_id, job_id=job.job_id, page_no=page.page_no, config=config, lang_tag=tag,
            mean_confidence=round(sum(t.confidence for t in tokens) / len(tokens), 2) if tokens else None,
            word_count=len(tokens), warnings=notes + _quality_notes(converted_page.quality),
        )
        views.append(PageView(page=page, result=result, tokens=tokens))
    job.complete()
    run.finished_at = job.completion_time
    return DocumentView(job=job, run=run, pages=views)


def _quality_notes(quality: ImageQuality | None) -> list[str]:
    if quality is None:
        return []
    defects = ", ".join(f"{name.removeprefix('quality/defect_')} {score:.2f}"
                        for name, score in sorted(quality.defects.items(), key=lambda kv: -kv[1]))
    return [f"Document AI image quality {quality.score:.2f}" + (f"; defects: {defects}" if defects else "")]
