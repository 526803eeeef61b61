"""Inline reference detection: footnote markers and citations in box text, linked to footnotes.

Pure functions. Positions count code points of `text.corrected` (`model.Position`); geometry is
pixels of the page image.

Markers in text (`find_markers`)
    * superscript digits after a word or punctuation (`principle¹`, `Chapter 2³,`); a run of them
      is split into one marker per digit (`verse¹²³`: three adjacent footnotes; `detect_references`
      joins the run back when the page's footnotes are numbered by the run, `¹²` -> note 12); a
      compound with `⁻` or `,` is one marker (`¹⁻³`). Not after a space (a note's own marker).
    * a footnote symbol `* † ‡ § ‖ ¶`, or one doubled or tripled, attached to the end of a word and
      followed by a space, punctuation or the end (`ladies*.`); not `* * *`, not `f*ll`.
    * a bracketed number of 1-3 ASCII or Devanagari digits (`[5]`, `[१२]`), type `citation`, not
      at the start of a line.
    * Devanagari digits attached to the end of a Devanagari word (`कुरुक्षेत्रे१`); not a verse
      number (`॥ १२ ॥`, `॥१२॥`: after a danda or a space), not `स्तोत्रम्-२`.
    Plain ASCII digits are never markers in text (years, `Chapter 2`): OCR's misread
    superscripts (`principle1`) are found from the tokens' geometry (`raised_tokens`).

Linking (`detect_references`)
    Applied (confident): a marker whose value (`markers.marker_value`) is the value of exactly one
    footnote box of the page (`markers.footnote_value` of its text; a compound links to the note
    of its first value when each value it covers has one note); when the page has no note of
    that value, the next page's first footnote when it starts with that value, or when it
    continues a note (no marker) and the page has no footnote and this is its only marker (when
    it has others, a proposal points there).
    Proposals (for review): geometric detections, markers with several candidate notes, and
    markers with none. Footnote, page-number, verse-number and running-head boxes are not
    scanned (a note's leading marker is no reference); a marker overlapping a reference the box
    already has is skipped.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import Callable, Literal, Sequence

from pydantic import Field

from pagesage.book.domain import references
from pagesage.domain.lines import layout_text
from pagesage.domain.markers import footnote_value, marker_value
from pagesage.book.domain.model import (BookModel, BoundingBox, Confidence, ContentType, Id, InlineReference,
                                        LineText, PageNo, Position)
from pagesage.domain.pages import Token

MarkerKind = Literal["superscript", "symbol", "bracketed", "devanagari", "plain-digit-after-word"]

_SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_DEVANAGARI_LETTER = "\u0900-\u0963\u0971-\u097f"
_PATTERNS: list[tuple[MarkerKind, re.Pattern[str]]] = [
    ("superscript", re.compile(f"(?<=\\S)[{_SUP}]+(?:[⁻,][{_SUP}]+)*")),
    ("symbol", re.compile(r"(?<=[^\s*†‡§‖¶])([*†‡§‖¶])\1{0,2}(?=[\s.,;:!?)\]’”\"']|$)")),
    ("bracketed", re.compile(r"(?<=[^\n])\[[0-9०-९]{1,3}\]")),
    ("devanagari", re.compile(f"(?<=[{_DEVANAGARI_LETTER}])[०-९]{{1,3}}(?![०-९{_DEVANAGARI_LETTER}])")),
]

RAISED_HEIGHT = 0.65
"""Most height of a raised marker token, in its line's median token heights: superscripts
rendered and read by Tesseract measure 0.56; digits on the corpus pages 0.51 and more."""
RAISED_LIFT = 0.35
"""Least lift of a raised marker token's bottom above the line's baseline (the median token
bottom), in median token heights: superscripts 0.53; digits on the corpus pages 0.24 at most
(Devanagari verse numbers)."""
RAISED_TOP = 0.08
"""Least rise of a word's top above the line's median token top, in median token heights, for
the digits it ends with (`principle1`) to be read as a superscript glued to it: glued
superscripts rise 0.09 in rendered text. A tenth of all tokens on the corpus pages rise as
much, so it is tested only on a word ending in digits after a letter (none on those pages)."""
_RAISED_TEXT = re.compile(f"(?=.*[0-9०-९{_SUP}*†‡§°])[0-9०-९{_SUP}*†‡§°'’”?]{{1,3}}")
_TRAILING_DIGITS = re.compile(r"(?<=[^\W\d_])(?:[0-9]{1,3}|°)$")
_SKIPPED = (ContentType.FOOTNOTE, ContentType.PAGE_NUMBER, ContentType.VERSE_NUMBER, ContentType.RUNNING_HEAD)


@dataclass(frozen=True)
class MarkerCandidate:
    """A marker found in a text: where (code points), as written, and how it was found."""

    char_offset: int
    length: int
    display_text: str
    type: Literal["footnote", "citation"]
    kind: MarkerKind

    @property
    def end(self) -> int:
        return self.char_offset + self.length


class ReferenceProposal(BookModel):
    """A reference detection is not sure of, for a person to accept, retarget or reject:
    `targetBoxId` the suggested note (the first of several, None when there is none),
    `targetPageId`/`targetPageNumber` set when it is on the next page; `confidence` 0-1 (0.5
    several notes, 0.4 a raised token or a note continued overleaf, 0.3 no note)."""

    box_id: Id
    position: Position
    display_text: LineText = Field(min_length=1, max_length=100)
    type: Literal["footnote", "citation"] = "footnote"
    target_box_id: Id | None = None
    target_page_id: Id | None = None
    target_page_number: PageNo | None = None
    confidence: Confidence
    reason: LineText = Field(max_length=300)


class DetectionResult(BookModel):
    """What detection found on one page: `applied`, box id -> the references to add to it, by
    offset, `sequenceInText` 1.. among themselves (`apply_detected` merges them into the box and
    numbers them with its own); `proposals`, the rest."""

    page_id: Id
    page_number: PageNo
    applied: dict[str, list[InlineReference]] = Field(default_factory=dict)
    proposals: list[ReferenceProposal] = Field(default_factory=list)


def find_markers(text: str) -> list[MarkerCandidate]:
    """The footnote markers and citations of `text` by the rules of the module docstring, by
    offset (code points), none overlapping."""
    found: list[MarkerCandidate] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(text):
            shown = match.group(0)
            if kind == "superscript" and not re.search("[⁻,]", shown):
                found += [MarkerCandidate(match.start() + i, 1, ch, "footnote", kind) for i, ch in enumerate(shown)]
            else:
                found.append(MarkerCandidate(match.start(), len(shown), shown,
                                             "citation" if kind == "bracketed" else "footnote", kind))
    out: list[MarkerCandidate] = []
    for candidate in sorted(found, key=lambda c: c.char_offset):
        if not out or candidate.char_offset >= out[-1].end:
            out.append(candidate)
    return out


def raised_tokens(tokens_of_line: Sequence[Token]) -> list[tuple[Token, int]]:
    """OCR-misread superscripts of one line (its tokens in order, at least 3): a token of 1-3
    digits, symbols and what Tesseract reads superscripts as (`*†‡§°'’”?`, a digit or symbol
    among them: `*°`, `”8`) no taller than `RAISED_HEIGHT` with its bottom `RAISED_LIFT` above the
    baseline; or a word ending in digits (or `°`) after a letter whose top rises `RAISED_TOP`
    above the line's (`principle1`, `again°`). Each with the code point of the token where the
    marker starts. The first token of a line is never one."""
    if len(tokens_of_line) < 3:
        return []
    height = statistics.median(t.bbox.h for t in tokens_of_line)
    baseline = statistics.median(t.bbox.y1 for t in tokens_of_line)
    top = statistics.median(t.bbox.y for t in tokens_of_line)
    found = []
    for token in tokens_of_line[1:]:
        if _RAISED_TEXT.fullmatch(token.text):
            if token.bbox.h <= RAISED_HEIGHT * height and baseline - token.bbox.y1 >= RAISED_LIFT * height:
                found.append((token, 0))
        elif (match := _TRAILING_DIGITS.search(token.text)) and top - token.bbox.y >= RAISED_TOP * height:
            found.append((token, match.start()))
    return found


def detect_references(boxes: list[BoundingBox], *, page_id: str, page_number: int,
                      next_page: tuple[str, int, list[BoundingBox]] | None, tokens: Sequence[Token] | None,
                      new_reference_id: Callable[[], str]) -> DetectionResult:
    """The inline references of a page's boxes, applied or proposed (module docstring).

    Args:
        boxes: the page's boxes (footnotes among them).
        page_id, page_number: the page, named in the result.
        next_page: the next page's id, number and boxes, for notes that begin overleaf.
        tokens: the page result's tokens, for geometric detection in boxes whose text is still
            the OCR text; None to skip it.
        new_reference_id: a new reference id.
    """
    notes = sorted((b for b in boxes if b.content_type is ContentType.FOOTNOTE), key=lambda b: b.reading_order)
    values = [(footnote_value(b.text.corrected), b) for b in notes]
    overleaf = _first_note(next_page)
    by_no = {t.token_no: t for t in tokens or ()}
    result = DetectionResult(page_id=page_id, page_number=page_number)
    pending: list[tuple[BoundingBox, MarkerCandidate]] = []
    for box in sorted(boxes, key=lambda b: b.reading_order):
        if box.content_type in _SKIPPED:
            continue
        taken = [(r.position.char_offset, r.position.end) for r in box.inline_references]
        found = _join_runs(find_markers(box.text.corrected), values)
        for candidate in found:
            if not any(candidate.char_offset < end and start < candidate.end for start, end in taken):
                pending.append((box, candidate))
        for candidate in _geometric(box, by_no):
            if not any(candidate.char_offset < c.end and c.char_offset < candidate.end for c in found):
                result.proposals.append(_proposal(box, candidate, _targets(candidate, values), 0.4,
                                                  "raised token: an OCR-misread superscript?"))
    for box, candidate in pending:
        targets = _targets(candidate, values)
        reference = None
        if len(targets) == 1:
            reference = _reference(candidate, targets[0], new_reference_id)
        elif not targets and overleaf:
            value, note = overleaf
            if value == marker_value(candidate.display_text) or (value is None and not notes and len(pending) == 1):
                reference = _reference(candidate, note, new_reference_id, next_page[0], next_page[1])
            elif value is None:
                result.proposals.append(_proposal(box, candidate, [note], 0.4, "the next page's first footnote "
                                                  "continues a note, and this page has other markers or notes",
                                                  next_page[0], next_page[1]))
                continue
        if reference:
            result.applied.setdefault(box.box_id, []).append(reference)
        elif targets:
            result.proposals.append(_proposal(box, candidate, targets, 0.5,
                                              f"{len(targets)} footnotes start with {candidate.display_text}"))
        else:
            result.proposals.append(_proposal(box, candidate, [], 0.3,
                                              f"no footnote on this page or the next starts with {candidate.display_text}"))
    for box_id, references in result.applied.items():
        result.applied[box_id] = [r.model_copy(update={"sequence_in_text": i}) for i, r in enumerate(references, start=1)]
    return result


def apply_detected(box: BoundingBox, refs: Sequence[InlineReference]) -> BoundingBox:
    """`box` with `refs` added (`references.renumbered`: sorted by offset, `sequenceInText`
    1..; every target in `linkedBoxes`, in order, no duplicates); a ref whose id the box has, or
    overlapping a live reference of the box, is left out. `box` itself when none is added."""
    live = [r for r in box.inline_references if references.is_live(r)]
    known = {r.reference_id for r in box.inline_references}
    new = [r for r in refs if r.reference_id not in known
           and not any(r.position.char_offset < o.position.end and o.position.char_offset < r.position.end for o in live)]
    if not new:
        return box
    box = box.model_copy(update={"inline_references": references.renumbered([*box.inline_references, *new])})
    return box.model_copy(update={"linked_boxes": references.with_linked_targets(box)})


def _first_note(next_page: tuple[str, int, list[BoundingBox]] | None) -> tuple[str | None, BoundingBox] | None:
    if not next_page:
        return None
    notes = sorted((b for b in next_page[2] if b.content_type is ContentType.FOOTNOTE), key=lambda b: b.reading_order)
    return (footnote_value(notes[0].text.corrected), notes[0]) if notes else None


def _targets(candidate: MarkerCandidate, values: list[tuple[str | None, BoundingBox]]) -> list[BoundingBox]:
    """The notes a marker may point at: those of its value; for a compound, the note of its first
    value when each value it covers has exactly one, all its notes when one has several, none
    when one has none."""
    value = marker_value(candidate.display_text)
    if value is None:
        return []
    exact = [b for v, b in values if v == value]
    members = _members(value)
    if exact or len(members) < 2:
        return exact
    per = [[b for v, b in values if v == member] for member in members]
    if all(len(notes) == 1 for notes in per):
        return per[0]
    return [b for notes in per for b in notes] if any(len(notes) > 1 for notes in per) else []


def _members(compound: str) -> list[str]:
    """The values a compound covers, in order (`1-3,5` -> 1, 2, 3, 5), at most 50."""
    out: list[str] = []
    for part in compound.split(","):
        bounds = part.split("-")
        if len(bounds) == 2 and all(b.isdigit() for b in bounds) and int(bounds[0]) <= int(bounds[1]):
            out += [str(n) for n in range(int(bounds[0]), min(int(bounds[1]), int(bounds[0]) + 49) + 1)]
        elif part.isdigit():
            out.append(part)
    return out[:50]


def _join_runs(found: list[MarkerCandidate], values: list[tuple[str | None, BoundingBox]]) -> list[MarkerCandidate]:
    """Adjacent single superscript digits joined into one marker when the page's notes are
    numbered by the run (`¹²` -> 12) and not by each digit."""
    numbered = {v for v, _ in values if v}
    out: list[MarkerCandidate] = []
    i = 0
    while i < len(found):
        j = i
        while (j + 1 < len(found) and found[j + 1].kind == found[i].kind == "superscript" and found[i].length == 1
               and found[j + 1].length == 1 and found[j + 1].char_offset == found[j].end):
            j += 1
        run = found[i:j + 1]
        joined = "".join(c.display_text for c in run)
        if len(run) > 1 and marker_value(joined) in numbered and not all(marker_value(c.display_text) in numbered for c in run):
            out.append(MarkerCandidate(run[0].char_offset, len(joined), joined, "footnote", "superscript"))
        else:
            out.extend(run)
        i = j + 1
    return out


def _geometric(box: BoundingBox, by_no: dict[int, Token]) -> list[MarkerCandidate]:
    """Raised tokens of a box whose text is still the OCR text rebuilt from its tokens."""
    if not by_no or not box.ocr_source or box.text.corrected != box.text.ocr:
        return []
    tokens = [by_no[n] for n in box.ocr_source.token_nos if n in by_no]
    if len(tokens) != len(box.ocr_source.token_nos):
        return []
    lines: dict[int, list[Token]] = {}
    for token in tokens:
        lines.setdefault(token.line, []).append(token)
    texts, found, start = [], [], 0
    for line in lines.values():
        text, offsets = layout_text(line)
        where = dict(zip((t.token_no for t in line), offsets))
        for token, at in raised_tokens(line):
            shown = token.text[at:]
            found.append(MarkerCandidate(start + where[token.token_no] + at, len(shown), shown, "footnote",
                                         "plain-digit-after-word" if at else "superscript"))
        texts.append(text)
        start += len(text) + 1
    return found if "\n".join(texts) == box.text.corrected else []


def _reference(candidate: MarkerCandidate, target: BoundingBox, new_id: Callable[[], str],
               page_id: str | None = None, page_number: int | None = None) -> InlineReference:
    return InlineReference(reference_id=new_id(), type=candidate.type,
                           position=Position(char_offset=candidate.char_offset, length=candidate.length),
                           target_box_id=target.box_id, display_text=candidate.display_text, sequence_in_text=1,
                           target_page_id=page_id, target_page_number=page_number, created_by="ai")


def _proposal(box: BoundingBox, candidate: MarkerCandidate, targets: list[BoundingBox], confidence: float,
              reason: str, page_id: str | None = None, page_number: int | None = None) -> ReferenceProposal:
    return ReferenceProposal(box_id=box.box_id, position=Position(char_offset=candidate.char_offset, length=candidate.length),
                             display_text=candidate.display_text, type=candidate.type,
                             target_box_id=targets[0].box_id if targets else None, target_page_id=page_id,
                             target_page_number=page_number, confidence=confidence, reason=reason)
