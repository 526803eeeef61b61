"""JSON export of an edition: one JSON text (RFC 8259), UTF-8, camelCase keys, described by the
JSON Schema (draft 2020-12) `SCHEMA`.

Shape (keys always present unless marked):

    {schemaVersion, exportId, projectId, generatedAt, omittedBoxes,
     project: {projectId, slug, title, subtitle, authors, languages, publisher,
               publicationYear, edition, category, sourceDocument}      with includeMetadata
     contributors: [{name, githubUsername?}]                         with includeAttribution
     pages: [{pageId, pageNumber, sourcePageId, image: {fileName, width, height, dpi},
              reviewStatus, confidence, commitSha, version,
              boxes: [{boxId, contentType, language, lang, script,
                       coordinates: {x, y, width, height}, readingOrder, confidence,
                       isCorrected, lowConfidence, text, ocrText (with includeRawOcr),
                       lines: [{text, bbox, words: [{text, bbox, confidence, tokenNos}]}],
                       references: [{offset, length, displayText, type, targetBoxId, noteId}],
                       noteId, continuesNote,
                       provenance: {pageId, sourcePageId, runId, pageResultId, tokenNos}}],
              versionHistory (with either includeVersionHistory)}],
     notes: {<noteId>: {text, boxIds, pageNumber}}}

Values: coordinates and every `bbox` are `{x, y, width, height}` in pixels of the page image
(origin top-left); confidences are 0-1 (a word a person wrote has `confidence` null); `offset`
and `length` count code points of `text`; `generatedAt` is ISO 8601 UTC; `language` is the
book's language name (`sanskrit`, `iast`…) and `lang` its BCP 47 tag; `contentType` and
`reviewStatus` as in the page records. Unknown values are null, not left out. `text` is the
corrected text (it starts as the OCR text), `ocrText` the engine's. `versionHistory` entries are
the page's version records as the API writes them (`version-history-entry.schema.json`).
Contributors are named, without e-mail addresses or user ids: an export is made to be shared.
`omittedBoxes` counts the low-confidence boxes left out (without `includeLowConfidence`).

Options (`JsonExportOptions`, its defaults when `config.json` is absent): `pretty` writes one
member a line, indented by 2 spaces a level, except that each word, rectangle, image and list
of numbers, ids, authors or languages is written on one line (a word on 14 lines would make a
book's file several times longer and slower to write and read); without it there is no
whitespace at all. Non-ASCII text is written as itself, not escaped.
"""

from __future__ import annotations

import json
from datetime import timezone
from collections.abc import Iterator
from typing import Any

from pagesage.book.domain.edition import Box, Edition, EditionPage, Line, Rect, Word
from pagesage.book.domain.export_config import JsonExportOptions
from pagesage.book.domain.model import SCHEMA_VERSION, ContentType, Language, ReviewStatus

MEDIA_TYPE = "application/json"
EXTENSION = "json"
WORDS = True
"""JSON writes lines and words with their boxes."""

SCHEMA_ID = "https://pagesage.dev/schemas/book-export.schema.json"


def render(edition: Edition) -> bytes:
    """The edition as JSON (module docstring), UTF-8 encoded, ending with a newline: the bytes
    of `export_body` encoded whole, written a page at a time (each page's value is built,
    encoded and dropped, so the whole export is never one value in memory).

    Args:
        edition: the edition; `config.json` chooses indentation, raw OCR text and history.

    Returns:
        The encoded JSON text.
    """
    options = options_of(edition)
    history = _history(edition)
    pages = (_page(page, raw_ocr=options.include_raw_ocr, history=history) for page in edition.pages)
    members: list[tuple[str, Any]] = [*_head(edition).items(), ("pages", pages), ("notes", _notes(edition))]
    parts = _pretty_parts(members) if options.pretty else _compact_parts(members)
    chunks = [part.encode("utf-8") for part in parts]
    chunks.append(b"\n")
    return b"".join(chunks)


def _pretty_parts(members: list[tuple[str, Any]]) -> Iterator[str]:
    """The export's members as `pretty` JSON text (as `_indented` writes the whole value), in
    parts: each page of `pages` (an iterable, consumed here) one part."""
    for i, (key, member) in enumerate(members):
        head = ("{\n" if i == 0 else ",\n") + "  " + _ONE_LINE.encode(key) + ": "
        if key != "pages":
            out = [head]
            _member(key, member, out, "  ")
            yield "".join(out)
            continue
        yield head
        k = -1
        for k, page in enumerate(member):
            out = [("[\n" if k == 0 else ",\n") + "    "]
            _indented(page, out, "    ")
            yield "".join(out)
        yield "[]" if k < 0 else "\n  ]"
    yield "\n}"


def _compact_parts(members: list[tuple[str, Any]]) -> Iterator[str]:
    """The export's members as compact JSON text, in parts: each page of `pages` one part."""
    for i, (key, member) in enumerate(members):
        yield ("{" if i == 0 else ",") + _COMPACT.encode(key) + ":"
        if key != "pages":
            yield _COMPACT.encode(member)
            continue
        yield "["
        for k, page in enumerate(member):
            yield ("," if k else "") + _COMPACT.encode(page)
        yield "]"
    yield "}"


_COMPACT = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(",", ":"))
_ONE_LINE = json.JSONEncoder(ensure_ascii=False, allow_nan=False, separators=(", ", ": "))

ONE_LINE_KEYS = frozenset({"image", "coordinates", "bbox", "tokenNos", "boxIds", "authors", "languages"})
"""Keys whose values `pretty` output writes on one line."""

ONE_LINE_ITEMS = frozenset({"words"})
"""Keys whose array items `pretty` output writes one a line."""


def _indented(value: Any, out: list[str], indent: str, *, items_on_one_line: bool = False) -> None:
    """Append `value` as indented JSON to `out`: 2 spaces a level, a member a line; values of
    `ONE_LINE_KEYS` and items of `ONE_LINE_ITEMS` arrays on one line each."""
    inner = indent + "  "
    if isinstance(value, dict) and value:
        for i, (key, member) in enumerate(value.items()):
            out.append(("{\n" if i == 0 else ",\n") + inner + _ONE_LINE.encode(key) + ": ")
            _member(key, member, out, inner)
        out.append("\n" + indent + "}")
    elif isinstance(value, list) and value:
        for i, item in enumerate(value):
            out.append(("[\n" if i == 0 else ",\n") + inner)
            if items_on_one_line:
                out.append(_ONE_LINE.encode(item))
            else:
                _indented(item, out, inner)
        out.append("\n" + indent + "]")
    else:
        out.append(_ONE_LINE.encode(value))


def _member(key: str, member: Any, out: list[str], indent: str) -> None:
    """Append the value of the member `key` of an object indented by `indent` to `out`."""
    if key in ONE_LINE_KEYS:
        out.append(_ONE_LINE.encode(member))
    else:
        _indented(member, out, indent, items_on_one_line=key in ONE_LINE_ITEMS)


def options_of(edition: Edition) -> JsonExportOptions:
    """The export's JSON options: `config.json`, else `JsonExportOptions()`."""
    return edition.config.json_options or JsonExportOptions()


def export_body(edition: Edition) -> dict[str, Any]:
    """The JSON value of the export (module docstring), before encoding."""
    options = options_of(edition)
    history = _history(edition)
    return {**_head(edition),
            "pages": [_page(page, raw_ocr=options.include_raw_ocr, history=history) for page in edition.pages],
            "notes": _notes(edition)}


def _history(edition: Edition) -> bool:
    """Whether pages carry their version history (either `includeVersionHistory`)."""
    return edition.config.include_version_history or options_of(edition).include_version_history


def _head(edition: Edition) -> dict[str, Any]:
    """The members of the export's value before `pages`."""
    config = edition.config
    body: dict[str, Any] = {
        "schemaVersion": SCHEMA_VERSION,
        "exportId": config.export_id,
        "projectId": edition.project.project_id,
        "generatedAt": edition.generated_at.astimezone(timezone.utc).isoformat().replace("+00:00", "Z"),
        "omittedBoxes": edition.omitted_boxes,
    }
    if config.include_metadata:
        body["project"] = _project(edition)
    if config.include_attribution:
        body["contributors"] = [_contributor(person.name, person.github_username) for person in edition.contributors]
    return body


def _notes(edition: Edition) -> dict[str, Any]:
    return {note.note_id: {"text": note.text, "boxIds": list(note.box_ids), "pageNumber": note.page_number}
            for note in edition.notes.values()}


def _project(edition: Edition) -> dict[str, Any]:
    project = edition.project
    source = project.source_document
    return {
        "projectId": project.project_id, "slug": project.slug, "title": project.title, "subtitle": project.subtitle,
        "authors": list(project.authors), "languages": [language.value for language in project.languages],
        "publisher": project.publisher, "publicationYear": project.publication_year, "edition": project.edition,
        "category": project.category,
        "sourceDocument": {"fileName": source.file_name, "sourceDocId": source.source_doc_id, "jobId": source.job_id,
                           "sha256": source.sha256},
    }


def _contributor(name: str, github_username: str | None) -> dict[str, str]:
    return {"name": name} | ({"githubUsername": github_username} if github_username else {})


def _page(page: EditionPage, *, raw_ocr: bool, history: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "pageId": page.page_id, "pageNumber": page.page_number, "sourcePageId": page.source_page_id,
        "image": {"fileName": page.image_file, "width": page.width, "height": page.height, "dpi": page.dpi},
        "reviewStatus": page.review_status, "confidence": page.confidence, "commitSha": page.commit_sha,
        "version": page.version, "boxes": [_box(box, raw_ocr=raw_ocr) for box in page.boxes],
    }
    if history:
        out["versionHistory"] = [entry.model_dump(mode="json", by_alias=True) for entry in page.history]
    return out


def _box(box: Box, *, raw_ocr: bool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "boxId": box.box_id, "contentType": box.content_type.value, "language": box.language.value, "lang": box.lang,
        "script": box.script, "coordinates": _rect(box.rect), "readingOrder": box.reading_order,
        "confidence": box.confidence, "isCorrected": box.corrected, "lowConfidence": box.low_confidence, "text": box.text,
    }
    if raw_ocr:
        out["ocrText"] = box.ocr_text
    source = box.provenance
    out |= {
        "lines": [_line(line) for line in box.lines],
        "references": [{"offset": r.offset, "length": r.length, "displayText": r.display_text, "type": r.type,
                        "targetBoxId": r.target_box_id, "noteId": r.note_id} for r in box.references],
        "noteId": box.note_id, "continuesNote": box.continues_note,
        "provenance": {"pageId": source.page_id, "sourcePageId": source.source_page_id, "runId": source.run_id,
                       "pageResultId": source.page_result_id, "tokenNos": list(source.token_nos)},
    }
    return out


def _line(line: Line) -> dict[str, Any]:
    return {"text": line.text, "bbox": _rect(line.rect), "words": [_word(word) for word in line.words]}


def _word(word: Word) -> dict[str, Any]:
    return {"text": word.text, "bbox": _rect(word.rect), "confidence": word.confidence, "tokenNos": list(word.token_nos)}


def _rect(rect: Rect) -> dict[str, int]:
    x, y, width, height = rect
    return {"x": x, "y": y, "width": width, "height": height}


# -- the JSON Schema ---------------------------------------------------------------------------

def _object(properties: dict[str, Any], *, optional: tuple[str, ...] = (), description: str | None = None) -> dict[str, Any]:
    """An object schema with these properties, all required but `optional`, no others."""
    schema: dict[str, Any] = {"type": "object", "properties": properties,
                              "required": [name for name in properties if name not in optional],
                              "additionalProperties": False}
    return {"description": description, **schema} if description else schema


_STRING = {"type": "string"}
_NULLABLE_STRING = {"type": ["string", "null"]}
_PIXELS = {"type": "integer", "minimum": 0}
_CONFIDENCE = {"type": "number", "minimum": 0, "maximum": 1}
_TOKEN_NOS = {"type": "array", "items": {"type": "integer", "minimum": 0}, "description": "OCR token numbers."}
_RECT = {"$ref": "#/$defs/Rect"}

SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": SCHEMA_ID,
    "title": "Book export (JSON)",
    "description": "A project exported from its corrected text, in reading order (pagesage.book.formats.json_export).",
    "$defs": {
        "Rect": _object({"x": _PIXELS, "y": _PIXELS, "width": _PIXELS, "height": _PIXELS},
                        description="A rectangle in pixels of the page image, origin top-left."),
        "Word": _object({"text": _STRING, "bbox": _RECT,
                         "confidence": {**_CONFIDENCE, "type": ["number", "null"],
                                        "description": "OCR confidence 0-1; null for a word a person wrote."},
                         "tokenNos": _TOKEN_NOS}),
        "Line": _object({"text": _STRING, "bbox": _RECT, "words": {"type": "array", "items": {"$ref": "#/$defs/Word"}}}),
        "Reference": _object({"offset": {"type": "integer", "minimum": 0, "description": "Code points into `text`."},
                              "length": {"type": "integer", "minimum": 1}, "displayText": _STRING,
                              "type": {"enum": ["footnote", "verse-number", "citation"]}, "targetBoxId": _STRING,
                              "noteId": _NULLABLE_STRING}),
        "Provenance": _object({"pageId": _STRING, "sourcePageId": _NULLABLE_STRING, "runId": _NULLABLE_STRING,
                               "pageResultId": _NULLABLE_STRING, "tokenNos": _TOKEN_NOS}),
        "Box": _object({
            "boxId": _STRING, "contentType": {"enum": [c.value for c in ContentType]},
            "language": {"enum": [language.value for language in Language]},
            "lang": {"type": "string", "description": "BCP 47 language tag."}, "script": _NULLABLE_STRING,
            "coordinates": _RECT, "readingOrder": {"type": "integer"}, "confidence": _CONFIDENCE,
            "isCorrected": {"type": "boolean"}, "lowConfidence": {"type": "boolean"},
            "text": {"type": "string", "description": "The corrected text."},
            "ocrText": {"type": "string", "description": "The engine's text (with includeRawOcr)."},
            "lines": {"type": "array", "items": {"$ref": "#/$defs/Line"}},
            "references": {"type": "array", "items": {"$ref": "#/$defs/Reference"}},
            "noteId": _NULLABLE_STRING, "continuesNote": _NULLABLE_STRING, "provenance": {"$ref": "#/$defs/Provenance"},
        }, optional=("ocrText",)),
        "Page": _object({
            "pageId": _STRING, "pageNumber": {"type": "integer", "minimum": 1}, "sourcePageId": _NULLABLE_STRING,
            "image": _object({"fileName": _STRING, "width": _PIXELS, "height": _PIXELS,
                              "dpi": {"type": ["integer", "null"], "minimum": 1}}),
            "reviewStatus": {"enum": [s.value for s in ReviewStatus]}, "confidence": _CONFIDENCE,
            "commitSha": _NULLABLE_STRING, "version": {"type": "integer", "minimum": 0},
            "boxes": {"type": "array", "items": {"$ref": "#/$defs/Box"}},
            "versionHistory": {"type": "array",
                               "items": {"$ref": "https://pagesage.dev/schemas/version-history-entry.schema.json"}},
        }, optional=("versionHistory",)),
        "Note": _object({"text": _STRING, "boxIds": {"type": "array", "items": _STRING, "minItems": 1},
                         "pageNumber": {"type": "integer", "minimum": 1}}),
    },
    **_object({
        "schemaVersion": _STRING, "exportId": _STRING, "projectId": _STRING,
        "generatedAt": {"type": "string", "format": "date-time"},
        "omittedBoxes": {"type": "integer", "minimum": 0, "description": "Low-confidence boxes left out."},
        "project": _object({
            "projectId": _STRING, "slug": _STRING, "title": _STRING, "subtitle": _NULLABLE_STRING,
            "authors": {"type": "array", "items": _STRING},
            "languages": {"type": "array", "items": {"enum": [language.value for language in Language]}},
            "publisher": _NULLABLE_STRING, "publicationYear": {"type": ["integer", "null"]},
            "edition": _NULLABLE_STRING, "category": _NULLABLE_STRING,
            "sourceDocument": _object({"fileName": _STRING, "sourceDocId": _NULLABLE_STRING, "jobId": _NULLABLE_STRING,
                                       "sha256": _NULLABLE_STRING}),
        }),
        "contributors": {"type": "array", "items": _object({"name": _STRING, "githubUsername": _STRING},
                                                          optional=("githubUsername",))},
        "pages": {"type": "array", "items": {"$ref": "#/$defs/Page"}},
        "notes": {"type": "object", "additionalProperties": {"$ref": "#/$defs/Note"}},
    }, optional=("project", "contributors")),
}
"""The JSON Schema (draft 2020-12) of the export; `versionHistory` items refer to the version
records' schema by its `$id`."""
