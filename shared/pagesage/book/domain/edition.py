"""A project as an edition: what every export format renders (docs/exports.md).

`build_edition` is a pure function of the project, its pages, their OCR tokens and the
`ExportConfiguration`; each renderer (`pagesage.book.formats`) turns the `Edition` into bytes.
Units: pixels of each page image (origin top-left); confidences 0-1; text offsets in code points.

Rules
    Text: a box's corrected text (`text.corrected`, which starts as the OCR text), its lines
    split at "\\n", in the page's reading order; pages in page-number order.
    Low confidence: a box is low-confidence when nobody corrected it and its OCR confidence
    (`text.ocrConfidence`, else the box's `confidence`) is below `confidenceThreshold`. With
    `includeLowConfidence` it is kept and marked (`Box.low_confidence`), without it left out.
    Words: each word of the text keeps the box, confidence and token numbers of the OCR word it
    came from. A corrected box's words are aligned to its OCR tokens (difflib's
    `SequenceMatcher` over the word sequences): an unchanged word keeps its token; a run of
    changed words shares the run of tokens it replaces, its box split across them in proportion
    to their lengths, with no confidence (a person wrote it); a word inserted beside unchanged
    ones joins the run of its left (else right) neighbour. A run whose letters are the tokens'
    letters spaced otherwise (seeding joins a footnote marker `*` to its word) is still the
    engine's reading: its words keep the lowest confidence of the run. A box without tokens (drawn by a
    person) has its lines stacked evenly in it and each line's words spread by length.
    Notes: every footnote box is a note, id `p{page}-{n}` (the n-th footnote box of page `page`
    in reading order), its text without its leading marker. A footnote box that is the first of
    its page and starts with no marker continues the last note of the previous page: its text
    is appended to that note (one note across the page break) and it is no note of its own.
    An inline reference whose target is a note carries that note's id (`Reference.note_id`).
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Mapping, Sequence

from pagesage.domain import markers
from pagesage.book.domain.export_config import ExportConfiguration
from pagesage.book.domain.model import (LANGUAGE_TAGS, BoundingBox, ContentType, Language, PageAnnotations, Project,
                                        UserAttribution, VersionHistoryEntry)
from pagesage.domain.pages import Token

Rect = tuple[int, int, int, int]
"""x, y, width, height in pixels."""


@dataclass(frozen=True)
class Word:
    """One word: its text, box, confidence (0-1; None for a word a person wrote) and the OCR
    token numbers it came from (empty when none)."""

    text: str
    rect: Rect
    confidence: float | None
    token_nos: tuple[int, ...] = ()


@dataclass(frozen=True)
class Line:
    """One line of a box: its words and their union box."""

    words: tuple[Word, ...]
    rect: Rect

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


@dataclass(frozen=True)
class Reference:
    """An inline reference in a box's text: code-point `offset`/`length` of its marker, the
    marker as written, its type, the target box and, when the target is a note, the note's id."""

    offset: int
    length: int
    display_text: str
    type: str
    target_box_id: str
    note_id: str | None


@dataclass(frozen=True)
class Provenance:
    """Where a box's text came from: the project page, the OCR page (`sourcePageId`), the run
    and page result, and the token numbers."""

    page_id: str
    source_page_id: str | None
    run_id: str | None
    page_result_id: str | None
    token_nos: tuple[int, ...]


@dataclass(frozen=True)
class Box:
    """One region in reading order: `text` its (corrected) text, `ocr_text` the engine's,
    `lines` its lines with words; `rect` in pixels; `confidence` 0-1."""

    box_id: str
    content_type: ContentType
    language: Language
    lang: str
    script: str | None
    rect: Rect
    reading_order: int
    confidence: float
    corrected: bool
    low_confidence: bool
    text: str
    ocr_text: str
    lines: tuple[Line, ...]
    references: tuple[Reference, ...]
    provenance: Provenance
    note_id: str | None = None
    continues_note: str | None = None


@dataclass(frozen=True)
class Note:
    """A footnote: its id, text (marker removed; a continuation appended after a space) and the
    boxes it was made of (the first is its own)."""

    note_id: str
    text: str
    box_ids: tuple[str, ...]
    page_number: int


@dataclass(frozen=True)
class EditionPage:
    """One page: its ids, image (file name, pixel size, dpi, blob key), review status, mean OCR
    confidence (0-1), boxes in reading order and, when asked for, its version history."""

    page_id: str
    page_number: int
    source_page_id: str | None
    image_file: str
    image_key: str | None
    width: int
    height: int
    dpi: int | None
    review_status: str
    confidence: float
    commit_sha: str | None
    version: int
    boxes: tuple[Box, ...]
    history: tuple[VersionHistoryEntry, ...] = ()


@dataclass(frozen=True)
class Edition:
    """A project ready to render: its metadata, contributors, pages and notes by id."""

    project: Project
    config: ExportConfiguration
    generated_at: datetime
    pages: tuple[EditionPage, ...]
    notes: Mapping[str, Note]
    contributors: tuple[UserAttribution, ...]
    omitted_boxes: int = 0

    @property
    def lang(self) -> str:
        """The document's BCP 47 tag: its first language's, "und" when it has none."""
        return LANGUAGE_TAGS[self.project.languages[0]] if self.project.languages else "und"

    @property
    def page_numbers(self) -> list[int]:
        return [p.page_number for p in self.pages]

    def boxes(self) -> Iterable[tuple[EditionPage, Box]]:
        for page in self.pages:
            for box in page.boxes:
                yield page, box


def build_edition(project: Project, pages: Sequence[PageAnnotations], tokens: Mapping[str, Sequence[Token]] | None,
                  config: ExportConfiguration, *, generated_at: datetime) -> Edition:
    """The edition of `project` as `config` selects it.

    Args:
        pages: the project's pages (any order); those `config.includedPages` names are kept.
        tokens: each page result's tokens by `pageResultId` (missing ones: boxes without
            words); None for an edition of text only, whose boxes have no `lines`.

    Raises:
        ValueError: `includedPages` names a page the project does not have.
    """
    by_number = {p.page_number: p for p in pages}
    wanted = sorted(by_number) if config.included_pages == "all" else sorted(config.included_pages)
    missing = [n for n in wanted if n not in by_number]
    if missing:
        raise ValueError(f"includedPages: the project has no page {', '.join(map(str, missing))}")
    chosen = [by_number[n] for n in wanted]
    notes, note_of_box = _notes(chosen)
    out_pages, omitted, people = [], 0, {}
    by_number_of = None if tokens is None else {key: {t.token_no: t for t in run} for key, run in tokens.items()}
    for page in chosen:
        boxes = []
        for box in sorted(page.boxes, key=lambda b: b.reading_order):
            low = _low_confidence(box, config.confidence_threshold)
            if low and not config.include_low_confidence:
                omitted += 1
                continue
            boxes.append(_box(page, box, low, by_number_of, note_of_box))
            for person in (box.last_modified_by, *(c.edited_by for c in box.text.correction_history)):
                if person is not None and person.user_id != "pagesage-ai":
                    people.setdefault(person.user_id or person.name, person)
        state = page.current_state
        for person in (state.reviewed_by, state.approved_by):
            if person is not None:
                people.setdefault(person.user_id or person.name, person)
        out_pages.append(EditionPage(
            page_id=page.page_id, page_number=page.page_number, source_page_id=page.source_page_id,
            image_file=page.image.file_name, image_key=page.image.blob_key, width=page.image.width, height=page.image.height,
            dpi=page.image.dpi, review_status=state.review_status.value, confidence=state.confidence, commit_sha=page.commit_sha,
            version=page.version, boxes=tuple(boxes), history=tuple(page.version_history) if wants_history(config) else ()))
    return Edition(project=project, config=config, generated_at=generated_at, pages=tuple(out_pages), notes=notes,
                   contributors=tuple(people.values()) if config.include_attribution else (), omitted_boxes=omitted)


def wants_history(config: ExportConfiguration) -> bool:
    """True when the export carries each page's version history (`includeVersionHistory`, or
    the JSON option of that name)."""
    return config.include_version_history or bool(config.json_options and config.json_options.include_version_history)


def _low_confidence(box: BoundingBox, threshold: float) -> bool:
    confidence = box.text.ocr_confidence if box.text.ocr_confidence is not None else box.confidence
    return not box.text.is_corrected and confidence < threshold


def _notes(pages: Sequence[PageAnnotations]) -> tuple[dict[str, Note], dict[str, str]]:
    """Notes by id, and the note id of every footnote box (continuations included)."""
    notes: dict[str, Note] = {}
    note_of_box: dict[str, str] = {}
    last: Note | None = None
    previous_number = None
    for page in pages:
        footnotes = [b for b in sorted(page.boxes, key=lambda b: b.reading_order) if b.content_type == ContentType.FOOTNOTE]
        n = 0
        for i, box in enumerate(footnotes):
            text = box.text.corrected.strip()
            if (i == 0 and last is not None and previous_number == page.page_number - 1
                    and markers.footnote_value(text) is None):
                last = Note(last.note_id, f"{last.text} {_flat(text)}".strip(), (*last.box_ids, box.box_id), last.page_number)
                notes[last.note_id] = last
                note_of_box[box.box_id] = last.note_id
                continue
            n += 1
            last = Note(f"p{page.page_number}-{n}", _flat(markers.footnote_body(text)), (box.box_id,), page.page_number)
            notes[last.note_id] = last
            note_of_box[box.box_id] = last.note_id
        if not footnotes:
            last = None
        previous_number = page.page_number
    return notes, note_of_box


def _flat(text: str) -> str:
    return " ".join(text.split())


def _box(page: PageAnnotations, box: BoundingBox, low: bool, tokens: Mapping[str, Mapping[int, Token]] | None,
         note_of_box: Mapping[str, str]) -> Box:
    c = box.coordinates
    rect = (c.x, c.y, c.width, c.height)
    source = box.ocr_source
    token_nos = tuple(source.token_nos) if source else ()
    text = box.text.corrected
    lines: tuple[Line, ...] = ()
    if tokens is not None:
        by_no = tokens.get(source.page_result_id, {}) if source else {}
        lines = align_words(text, [by_no[n] for n in token_nos if n in by_no], rect)
    refs = tuple(Reference(r.position.char_offset, r.position.length, r.display_text, r.type, r.target_box_id,
                           note_of_box.get(r.target_box_id))
                 for r in sorted(box.inline_references, key=lambda r: r.position.char_offset))
    note_id = note_of_box.get(box.box_id)
    is_continuation = note_id is not None and not note_id.startswith(f"p{page.page_number}-")
    return Box(box_id=box.box_id, content_type=box.content_type, language=box.language, lang=LANGUAGE_TAGS[box.language],
               script=box.script, rect=rect, reading_order=box.reading_order, confidence=_confidence(box), corrected=box.text.is_corrected,
               low_confidence=low, text=text, ocr_text=box.text.ocr, lines=lines, references=refs,
               provenance=Provenance(page.page_id, page.source_page_id, source.run_id if source else None,
                                     source.page_result_id if source else None, token_nos),
               note_id=None if is_continuation else note_id, continues_note=note_id if is_continuation else None)


def _confidence(box: BoundingBox) -> float:
    return box.text.ocr_confidence if box.text.ocr_confidence is not None else box.confidence


def align_words(text: str, tokens: Sequence[Token], rect: Rect) -> tuple[Line, ...]:
    """The lines of `text` (split at "\\n", words at whitespace) with each word placed on the
    OCR `tokens` it came from (module rules, "Words"); `rect` (pixels) places words when there
    are no tokens. Empty lines are dropped."""
    lines = [ln.split() for ln in text.split("\n")]
    lines = [ln for ln in lines if ln]
    if not lines:
        return ()
    if not tokens:
        return _spread(lines, rect)
    flat = [(i, w) for i, ln in enumerate(lines) for w in ln]
    placed: list[Word | None] = [None] * len(flat)
    old = [t.text for t in tokens]
    new = [w for _, w in flat]
    ops = _merged_opcodes(difflib.SequenceMatcher(None, old, new, autojunk=False).get_opcodes())
    for tag, i1, i2, j1, j2 in ops:
        if tag == "equal":
            for k in range(i2 - i1):
                t = tokens[i1 + k]
                placed[j1 + k] = Word(new[j1 + k], (t.bbox.x, t.bbox.y, t.bbox.w, t.bbox.h), round(t.confidence / 100, 4), (t.token_no,))
        elif j2 > j1:
            run = tokens[i1:i2]
            respaced = "".join(old[i1:i2]) == "".join(new[j1:j2])
            for k, word in enumerate(_share(new[j1:j2], run)):
                # the same letters only spaced otherwise (a marker joined to its word): still the engine's reading
                placed[j1 + k] = Word(word.text, word.rect, min(t.confidence for t in run) / 100, word.token_nos) if respaced else word
    grouped: dict[int, list[Word]] = {}
    for (line_no, _), word in zip(flat, placed):
        assert word is not None
        grouped.setdefault(line_no, []).append(word)
    return tuple(Line(tuple(ws), _union([w.rect for w in ws])) for _, ws in sorted(grouped.items()))


def _merged_opcodes(ops: list[tuple[str, int, int, int, int]]) -> list[tuple[str, int, int, int, int]]:
    """Opcodes with each pure insertion folded into the last word of its left neighbour (else the
    first of its right one), so every new word has OCR tokens to stand on."""
    out: list[tuple[str, int, int, int, int]] = []
    leading: int | None = None  # j1 of an insertion before any other opcode
    for tag, i1, i2, j1, j2 in ops:
        if tag == "insert" and out:
            ptag, pi1, pi2, pj1, pj2 = out.pop()
            if ptag == "equal" and pi2 - pi1 > 1:
                out.append(("equal", pi1, pi2 - 1, pj1, pj2 - 1))
                pi1, pj1 = pi2 - 1, pj2 - 1
            out.append(("replace", pi1, pi2, pj1, j2))
        elif tag == "insert":
            leading = j1
        elif leading is not None:
            if tag == "equal" and i2 - i1 > 1:
                out += [("replace", i1, i1 + 1, leading, j1 + 1), ("equal", i1 + 1, i2, j1 + 1, j2)]
            else:
                out.append(("replace", i1, i2, leading, j2))
            leading = None
        else:
            out.append((tag, i1, i2, j1, j2))
    return out


def _share(words: list[str], run: Sequence[Token]) -> list[Word]:
    """`words` placed on the tokens `run` they replace, with no confidence: shared out over the
    run's OCR lines in proportion to their letters, then spread along each line's union box in
    proportion to their lengths."""
    groups: list[list[Token]] = []
    for t in run:
        if groups and groups[-1][-1].line == t.line:
            groups[-1].append(t)
        else:
            groups.append([t])
    sizes = [sum(len(t.text) for t in g) for g in groups]
    total, letters = sum(sizes), sum(len(w) for w in words)
    out: list[Word] = []
    start, seen, done = 0, 0, 0
    for k, group in enumerate(groups):
        seen += sizes[k]
        end = len(words) if k == len(groups) - 1 else start
        while end < len(words) and (done + len(words[end]) / 2) <= letters * seen / total:
            done += len(words[end])
            end += 1
        part = words[start:end]
        if part:
            rect = _union([(t.bbox.x, t.bbox.y, t.bbox.w, t.bbox.h) for t in group])
            nos = tuple(t.token_no for t in group)
            out += [Word(w, r, None, nos) for w, r in zip(part, _split(rect, [len(w) for w in part]))]
        start = end
    return out


def _spread(lines: list[list[str]], rect: Rect) -> tuple[Line, ...]:
    x, y, w, h = rect
    step = max(1, h // len(lines))
    out = []
    for i, words in enumerate(lines):
        line_rect = (x, y + i * step, w, step if i < len(lines) - 1 else max(1, h - i * step))
        placed = tuple(Word(t, r, None, ()) for t, r in zip(words, _split(line_rect, [len(t) for t in words])))
        out.append(Line(placed, line_rect))
    return tuple(out)


def _split(rect: Rect, weights: list[int]) -> list[Rect]:
    """`rect` cut left to right into len(weights) boxes of widths in proportion to `weights`
    (a space's width between them), each at least 1 pixel wide."""
    x, y, w, h = rect
    gaps = len(weights) - 1
    total = sum(weights) + gaps
    out, at = [], x
    for k, weight in enumerate(weights):
        width = max(1, round(w * weight / total))
        if k == len(weights) - 1:
            width = max(1, x + w - at)
        out.append((at, y, width, h))
        at += width + round(w / total)
    return out


def _union(rects: Sequence[Rect]) -> Rect:
    x0 = min(r[0] for r in rects)
    y0 = min(r[1] for r in rects)
    x1 = max(r[0] + r[2] for r in rects)
    y1 = max(r[1] + r[3] for r in rects)
    return (x0, y0, max(1, x1 - x0), max(1, y1 - y0))
