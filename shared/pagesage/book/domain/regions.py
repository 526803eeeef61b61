"""The seeding rules: a page's OCR lines cut into regions, each with a content type and a place
in reading order (`seeding` states the rules; the thresholds are here, measured on the corpus
pages of `tests/corpus/test_book_detection.py`). The furniture (running heads, page numbers,
footnotes) is the page layout's (`pagesage.domain.layout`); the body is cut here.

Heights are ratios to the page's body (`lines.PageMeasures`): `H` its median line height,
`h` its median token height; widths and horizontal positions are fractions of its column width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from pagesage.book.domain.model import ContentType
from pagesage.domain import layout
from pagesage.domain import lines as ocr_lines
from pagesage.domain.layout import CENTERED, Zone
from pagesage.domain.lines import Line, PageMeasures
from pagesage.domain.pages import RegionType, Token

LARGE = 1.2
"""Least height of a heading set in larger type, in H and in h both (measured 1.23-1.38 H and
1.45-1.59 h; body lines reach 1.39 H on a skewed scan and 1.44 h in Devanagari, never both)."""
SHORT = 0.9
"""Most width of a heading in larger type, in column widths (body lines 0.94-1.0)."""
CENTERED_WIDTH = 0.6
INDENT = 0.1
"""Least indent from the column's left of a centered heading or a quoted verse line."""
QUOTE_SMALL = 0.92
"""Most median token height of a quoted verse line, in h (e052: 0.82-0.91); a centered line in
larger type is a heading (b018's `No. III.`: 1.0)."""
QUOTE_WIDTH = 0.7
MAX_HEADING_WORDS = 10
VERSE_LINES = 6
"""Most lines of one verse (a śloka prints in 2; quoted passages of tulasi reach 5)."""


@dataclass(frozen=True)
class Region:
    """Lines that make one box, and its content type."""

    content_type: ContentType
    lines: tuple[Line, ...]

    @property
    def tokens(self) -> list[Token]:
        return [t for ln in self.lines for t in ln.tokens]

    @property
    def y0(self) -> int:
        return min(ln.y0 for ln in self.lines)

    @property
    def y1(self) -> int:
        return max(ln.y1 for ln in self.lines)


def regions(tokens: Sequence[Token], page_height: int) -> list[Region]:
    """The page's regions in reading order: top band left to right, body in the tokens' order
    (the layout stage's reading order; verse numbers after the region beside them), footnotes,
    bottom page number."""
    lines = ocr_lines.page_lines(tokens)
    if not lines:
        return []
    m = ocr_lines.measure(lines)
    found = layout.furniture(lines, m, page_height)
    body = _order_numbers(_body([ln for ln in lines if ln not in found.taken], m))
    tail = [found.bottom] if found.bottom else []
    return [_region(z) for z in found.top] + body + [_region(z) for z in found.footnotes + tail]


_FURNITURE = {RegionType.HEADER: ContentType.RUNNING_HEAD, RegionType.PAGE_NUMBER: ContentType.PAGE_NUMBER,
              RegionType.FOOTNOTE: ContentType.FOOTNOTE}


def _region(zone: Zone) -> Region:
    return Region(_FURNITURE[zone.region_type], zone.lines)


def _ratios(line: Line, m: PageMeasures) -> tuple[float, float]:
    return line.height / m.line_height, line.token_height / m.token_height


def _kind(line: Line, m: PageMeasures, alone_in_block: bool) -> str:
    tall, big = _ratios(line, m)
    width = line.width / m.width
    text = line.text
    indent = (line.x0 - m.left) / m.width
    if ocr_lines.is_number(text):
        return "verse-number" if alone_in_block else "text"
    if ocr_lines.letters(text) < 3:
        return "other"
    if ocr_lines.is_chapter_title(text) and line.words <= 4:
        return "heading"
    if ocr_lines.is_speaker(text) and line.words <= 5:
        return "subheading"
    if ocr_lines.is_verse_end(text):
        return "verse-end"
    if ocr_lines.ends_with_danda(text) or line.words > MAX_HEADING_WORDS:
        return "text"
    if tall >= LARGE and big >= LARGE and width <= SHORT:
        return "heading"
    if width <= QUOTE_WIDTH and indent >= INDENT and (m.right - line.x1) / m.width >= INDENT / 2 and big <= QUOTE_SMALL:
        return "quote"
    if abs(line.center - m.center) <= CENTERED * m.width and width <= CENTERED_WIDTH and indent >= INDENT:
        return "heading"
    return "text"


_TYPES = {"text": ContentType.COMMENTARY, "other": ContentType.OTHER, "heading": ContentType.HEADING,
          "subheading": ContentType.SUBHEADING, "verse": ContentType.VERSE, "verse-number": ContentType.VERSE_NUMBER}


def _body(lines: list[Line], m: PageMeasures) -> list[Region]:
    """Body lines in engine order -> regions: runs of one kind inside one block; each verse one
    region, gathering its half-lines across a block boundary."""
    blocks: dict[int, int] = {}
    for line in lines:
        blocks[line.block] = blocks.get(line.block, 0) + 1
    kinds = [_kind(ln, m, blocks[ln.block] == 1) for ln in lines]
    for i in range(1, len(lines)):  # a short line under a heading and centred on it
        line, above = lines[i], lines[i - 1]
        if (kinds[i - 1] == "heading" and kinds[i] in ("heading", "text") and line.words <= MAX_HEADING_WORDS
                and line.width <= CENTERED_WIDTH * m.width and abs(line.center - above.center) <= CENTERED * m.width
                and not ocr_lines.ends_with_danda(line.text)):
            kinds[i] = "subheading"
    verse_of = _verses(lines, kinds, m)
    for i, kind in enumerate(kinds):
        if kind == "quote":
            neighbours = [j for j in (i - 1, i + 1) if 0 <= j < len(lines) and kinds[j] in ("quote", "quote-verse")
                          and lines[j].block == lines[i].block]
            kinds[i] = "quote-verse" if neighbours else "text"
        elif kind == "verse-end" and i not in verse_of:
            kinds[i] = "text"
    out: list[Region] = []
    current: list[Line] = []
    current_key = None
    for i, line in enumerate(lines):
        kind = "verse" if i in verse_of or kinds[i] == "quote-verse" else kinds[i]
        key = (kind, ("verse", verse_of[i]) if i in verse_of else ("block", line.block))
        if kind == "verse-number" or key != current_key:
            if current:
                out.append(Region(_TYPES[current_key[0]], tuple(current)))
            current, current_key = [], key
        current.append(line)
    if current:
        out.append(Region(_TYPES[current_key[0]], tuple(current)))
    return out


def _verses(lines: list[Line], kinds: list[str], m: PageMeasures) -> dict[int, int]:
    """Line index -> the index of its verse's last line, for each verse: a verse-end line and up
    to `VERSE_LINES` - 1 lines before it, each a half-verse ending in a danda, one below the
    other (gap under 1.5 H); at least 2 lines."""
    verse_of: dict[int, int] = {}
    for end, kind in enumerate(kinds):
        if kind != "verse-end":
            continue
        start = end
        while (end - start < VERSE_LINES - 1 and start > 0 and kinds[start - 1] == "text"
               and start - 1 not in verse_of and ocr_lines.ends_with_danda(lines[start - 1].text)
               and lines[start].y0 - lines[start - 1].y1 <= 1.5 * m.line_height):
            start -= 1
        if end > start:
            verse_of.update({i: end for i in range(start, end + 1)})
    return verse_of


def _order_numbers(body: list[Region]) -> list[Region]:
    """Body regions with each verse-number region moved after the region beside it (the most
    vertical overlap, else the nearest above)."""
    numbers = [r for r in body if r.content_type is ContentType.VERSE_NUMBER]
    others = [r for r in body if r.content_type is not ContentType.VERSE_NUMBER]
    if not others:
        return body
    after: dict[int, list[Region]] = {}
    for number in sorted(numbers, key=lambda r: r.y0):
        def closeness(r: Region) -> tuple[int, int]:
            return min(r.y1, number.y1) - max(r.y0, number.y0), -abs(number.y0 - r.y1)
        host = max(range(len(others)), key=lambda i: closeness(others[i]))
        after.setdefault(host, []).append(number)
    out: list[Region] = []
    for i, region in enumerate(others):
        out.append(region)
        out.extend(after.get(i, []))
    return out
