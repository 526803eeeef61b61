"""A page's OCR lines, the measures of its body and the text patterns the layout (`domain.layout`)
and the book layer's seeding rules test.

Pure functions over `pagesage.domain.pages.Token`s. Units: pixels of the page image, origin
top-left, right and bottom edges exclusive; text offsets count code points.
"""

from __future__ import annotations

import re
import statistics
from dataclasses import dataclass
from typing import Sequence

from pagesage.domain.markers import SYMBOLS, footnote_value
from pagesage.domain.pages import Token

ATTACH_GAP = 0.3
"""A token made only of footnote symbols or superscript digits whose left edge is at most this
many of its line's median token heights right of the previous token's right edge is joined to it
with no space: Tesseract splits the attached `*` of `eodem.”*` (e052) into a word of its own,
overlapping the one before."""

_ATTACHABLE = re.compile(f"[{re.escape(SYMBOLS)}⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+")
_NUMBER = re.compile(r"^[\[(\-–—.\s]*[0-9०-९]{1,4}[\])\-–—.\s]*$")
_DIGITS = re.compile(r"^[0-9०-९]{1,4}$")
_NUMBER_LOOKALIKE = re.compile(r"^[0-9०-९oOlIiSsZzB]{1,3}$")
_DANDA_END = re.compile(r"(?:[।|]|\s\.)\s*[)\]]?\s*$")
_VERSE_END_DEVANAGARI = re.compile(r"(?:॥|।\s*।)[॥।]*\s*(?:[^\s॥।]{1,4}\s*[॥।]*)?\s*[)\]]?\s*(?:[-—–]+.*)?$")
_VERSE_END_LATIN = re.compile(r"(?:\|\||\.\.)\s*[0-9]{1,3}\s*(?:\|\||\.\.)?\s*$")
_SPEAKER = re.compile(r"(?:[उु][वबन]ाच|[ऊउूु]चु[ः:]?|uv[aā]ca)[\s\-—–:]*$", re.IGNORECASE)
_CHAPTER = re.compile(r"^(?:chapter|book|part|canto|section|lecture)\s+(?:[ivxlcdm]+|[0-9]+)\b\.?"
                      r"|(?:ध्याय|सर्ग|प्रकरण|स्कन्ध|काण्ड)[ःम्]*[\s।॥]*$", re.IGNORECASE)


@dataclass(frozen=True, eq=False)
class Line:
    """One OCR line: its tokens in order, its text and where each token starts in it (code
    points), its union box (`x0, y0, x1, y1`, pixels) and median token height (pixels).
    Lines compare by identity."""

    tokens: tuple[Token, ...]
    text: str
    offsets: tuple[int, ...]
    x0: int
    y0: int
    x1: int
    y1: int
    token_height: float

    @property
    def block(self) -> int:
        return self.tokens[0].block

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def center(self) -> float:
        return (self.x0 + self.x1) / 2

    @property
    def words(self) -> int:
        return len(self.tokens)


def layout_text(tokens: Sequence[Token]) -> tuple[str, list[int]]:
    """The text of one line's tokens and each token's start in it (code points): words joined by
    one space, none after a token whose `space_after` is False nor before an attached marker
    token (`ATTACH_GAP`)."""
    height = statistics.median(t.bbox.h for t in tokens) if tokens else 0
    parts: list[str] = []
    offsets: list[int] = []
    length = 0
    for i, token in enumerate(tokens):
        if i:
            previous = tokens[i - 1]
            attached = (_ATTACHABLE.fullmatch(token.text) is not None
                        and token.bbox.x - previous.bbox.x1 <= ATTACH_GAP * height)
            if previous.space_after and not attached:
                parts.append(" ")
                length += 1
        offsets.append(length)
        parts.append(token.text)
        length += len(token.text)
    return "".join(parts), offsets


def make_line(tokens: Sequence[Token]) -> Line:
    """The line of `tokens` (non-empty, in order)."""
    text, offsets = layout_text(tokens)
    return Line(tokens=tuple(tokens), text=text, offsets=tuple(offsets),
                x0=min(t.bbox.x for t in tokens), y0=min(t.bbox.y for t in tokens),
                x1=max(t.bbox.x1 for t in tokens), y1=max(t.bbox.y1 for t in tokens),
                token_height=statistics.median(t.bbox.h for t in tokens))


def page_lines(tokens: Sequence[Token]) -> list[Line]:
    """The page's lines (tokens sharing a `line` ordinal) in the engine's order, by first token."""
    grouped: dict[int, list[Token]] = {}
    for token in sorted(tokens, key=lambda t: t.token_no):
        grouped.setdefault(token.line, []).append(token)
    return [make_line(ts) for ts in sorted(grouped.values(), key=lambda ts: ts[0].token_no)]


@dataclass(frozen=True)
class PageMeasures:
    """The body of a page, from its lines of at least 3 tokens (all its lines when none has 3):
    `line_height` their median union height, `token_height` the median height of their tokens,
    `left`/`right` the 10th percentile of their left edges and the 90th of their right edges
    (the text column), all pixels."""

    line_height: float
    token_height: float
    left: float
    right: float

    @property
    def width(self) -> float:
        return max(self.right - self.left, 1.0)

    @property
    def center(self) -> float:
        return (self.left + self.right) / 2


def measure(lines: Sequence[Line]) -> PageMeasures:
    """The measures of a page's lines (non-empty)."""
    body = [ln for ln in lines if ln.words >= 3] or list(lines)
    lefts = sorted(ln.x0 for ln in body)
    rights = sorted(ln.x1 for ln in body)
    return PageMeasures(line_height=max(statistics.median(ln.height for ln in body), 1),
                        token_height=max(statistics.median(t.bbox.h for ln in body for t in ln.tokens), 1),
                        left=lefts[len(lefts) // 10], right=rights[(len(rights) * 9) // 10])


def letters(text: str) -> int:
    """Letters and combining marks of `text` (a Devanagari vowel sign counts)."""
    return sum(1 for c in text if c.isalpha() or "\u0900" <= c <= "\u0963")


def is_number(text: str) -> bool:
    """A number standing alone: 1-4 ASCII or Devanagari digits, maybe inside dashes, brackets or
    dots (`26`, `- 1 -`, `[12]`, `१२३.`)."""
    return _NUMBER.match(text.strip()) is not None


def is_digits(text: str) -> bool:
    return _DIGITS.match(text) is not None


def is_number_lookalike(text: str) -> bool:
    """1-3 characters Tesseract reads for page-number digits (`31` read `ol` on a041)."""
    return _NUMBER_LOOKALIKE.match(text.strip()) is not None


def ends_with_danda(text: str) -> bool:
    """A half-verse end: `।` (or `|`, or ` .` in transliteration), maybe before a bracket."""
    return _DANDA_END.search(text) is not None


def is_verse_end(text: str) -> bool:
    """A verse's last line: Devanagari ending in a double danda (`॥`, `।।`, OCR's `॥।`), maybe
    with a verse number or a misread one of up to 4 characters, a closing `॥` or bracket and a
    dash-introduced source (`॥ १२ ॥`, `॥१२॥`, `॥। २३ —ब्रह्मपुराणतः`); or transliteration
    ending in `|| 12 ||` / `.. 12..` (a number required)."""
    text = text.rstrip()
    if any("\u0900" <= c <= "\u097f" for c in text):
        return _VERSE_END_DEVANAGARI.search(text) is not None
    return _VERSE_END_LATIN.search(text) is not None


def is_speaker(text: str) -> bool:
    """A speaker line: ends in `उवाच` / `ऊचुः`, also joined to the name (`वाल्मीकिरुवाच`) or as OCR
    reads them (`उबाच`, `उचुः`), or `uvāca`; maybe a dash after."""
    return _SPEAKER.search(text.strip()) is not None


def is_chapter_title(text: str) -> bool:
    """`Chapter III`, `Book 2`…, or Devanagari ending in `अध्यायः`, `सर्गः`, `प्रकरणम्`…"""
    return _CHAPTER.search(text.strip()) is not None


def starts_with_marker(line: Line) -> bool:
    """The line starts with a footnote marker followed by words (`* Item: …`, `1. See …`)."""
    return line.words >= 2 and footnote_value(line.text) is not None and letters(line.text) >= 3
