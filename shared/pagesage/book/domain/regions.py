"""The seeding rules: a page's OCR lines cut into regions, each with a content type and a place
in reading order (`seeding` states the rules; the thresholds are here, measured on the corpus
pages of `tests/corpus/test_book_detection.py`).

Heights are ratios to the page's body (`layout.PageMeasures`): `H` its median line height,
`h` its median token height; widths and horizontal positions are fractions of its column width.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from pagesage.book.domain import layout
from pagesage.book.domain.layout import Line, PageMeasures
from pagesage.book.domain.model import ContentType
from pagesage.domain.pages import Token

TOP_ZONE = 0.15
"""Running heads and top page numbers start in this top fraction of the page height (measured:
0.07-0.13 on the corpus pages)."""
HEAD_GAP = 1.0
"""Least gap below a running head that carries no page number, in H (c030: 1.23; a crop's first
line `janaka uvaca`: 0.95)."""
HEAD_MAX = 1.15
"""Most height of a running head, in H: a taller top line is a heading (running heads measured
0.66-0.93 H, top headings 1.23-1.38 H)."""
HEAD_MAX_WORDS = 12
NUMBER_GAP = 2.0
"""Least gap between a running head's words and a page number at either end of its line, in
the line's median token heights (measured 5.7-16.5; words of a line are 0.3-1 apart)."""
NOTE_SMALL = 0.9
"""Most median token height of a footnote line, in h (e052's footnote: 0.82; body lines
0.97-1.04)."""
NOTE_GAP = 0.5
"""Least gap above the footnotes, in H (e052: 1.02)."""
LARGE = 1.2
"""Least height of a heading set in larger type, in H and in h both (measured 1.23-1.38 H and
1.45-1.59 h; body lines reach 1.39 H on a skewed scan and 1.44 h in Devanagari, never both)."""
SHORT = 0.9
"""Most width of a heading in larger type, in column widths (body lines 0.94-1.0)."""
CENTERED = 0.03
"""Most distance of a centered line's middle from the column's middle, in column widths
(measured 0.001-0.003 for headings; body lines' last lines 0.08 and more)."""
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
    """The page's regions in reading order: top band left to right, body in the engine's order
    (verse numbers after the region beside them), footnotes, bottom page number."""
    lines = layout.page_lines(tokens)
    if not lines:
        return []
    m = layout.measure(lines)
    top, taken = _top_furniture(lines, m, page_height)
    rest = [ln for ln in lines if ln not in taken]
    bottom = _bottom_number(rest)
    rest = [ln for ln in rest if ln is not bottom]
    notes = _footnotes(rest, m)
    noted = {ln for region in notes for ln in region.lines}
    body = _order_numbers(_body([ln for ln in rest if ln not in noted], m))
    tail = [Region(ContentType.PAGE_NUMBER, (bottom,))] if bottom else []
    return top + body + notes + tail


def _ratios(line: Line, m: PageMeasures) -> tuple[float, float]:
    return line.height / m.line_height, line.token_height / m.token_height


def _v_overlap(a: Line, b: Line) -> int:
    return min(a.y1, b.y1) - max(a.y0, b.y0)


def _top_furniture(lines: list[Line], m: PageMeasures, page_height: int) -> tuple[list[Region], set[Line]]:
    """The page number and running head of the top band (the lines level with the topmost line,
    when it starts within `TOP_ZONE`), and the lines they take."""
    first = min(lines, key=lambda ln: ln.y0)
    if first.y0 > TOP_ZONE * page_height:
        return [], set()
    band = sorted((ln for ln in lines if _v_overlap(ln, first) >= 0.5 * min(ln.height, first.height)),
                  key=lambda ln: ln.x0)
    below = [ln.y0 for ln in lines if ln not in band]
    gap = (min(below) - max(ln.y1 for ln in band)) / m.line_height if below else float("inf")
    alone_centered = len(band) == 1 and abs(first.center - m.center) <= CENTERED * m.width
    pieces: list[tuple[Line, ContentType]] = []
    heads: list[tuple[Line, list[Line], Line]] = []
    for line in band:
        if layout.is_number(line.text) or (alone_centered and layout.is_number_lookalike(line.text)):
            pieces.append((line, ContentType.PAGE_NUMBER))
        else:
            numbers, head = _split_number(line)
            heads.append((line, numbers, head))
    apart = bool(pieces) or any(numbers for _, numbers, _ in heads) or gap >= HEAD_GAP
    taken = {ln for ln, _ in pieces}
    for line, numbers, head in heads:
        if _is_running_head(head, m, apart):
            pieces += [(n, ContentType.PAGE_NUMBER) for n in numbers] + [(head, ContentType.RUNNING_HEAD)]
            taken.add(line)
    return [Region(kind, (ln,)) for ln, kind in sorted(pieces, key=lambda p: p[0].x0)], taken


def _split_number(line: Line) -> tuple[list[Line], Line]:
    """A page number at either end of a line, apart from its neighbour by `NUMBER_GAP`: the
    numbers (a leading one with any punctuation-only tokens after it) and the rest."""
    tokens = list(line.tokens)
    gap = NUMBER_GAP * line.token_height
    words = [i for i, t in enumerate(tokens) if layout.letters(t.text)]
    if not words:
        return [], line
    start, end = 0, len(tokens)
    numbers = []
    if words[0] and layout.is_digits(tokens[0].text) and tokens[1].bbox.x - tokens[0].bbox.x1 >= gap:
        start = words[0]
        numbers.append(layout.make_line(tokens[:start]))
    if words[-1] < end - 1 and layout.is_digits(tokens[-1].text) and tokens[-1].bbox.x - tokens[-2].bbox.x1 >= gap:
        end -= 1
        numbers.append(layout.make_line(tokens[end:]))
    return numbers, layout.make_line(tokens[start:end]) if numbers else line


def _is_running_head(line: Line, m: PageMeasures, apart: bool) -> bool:
    return (apart and line.height <= HEAD_MAX * m.line_height and line.words <= HEAD_MAX_WORDS
            and layout.letters(line.text) >= 3 and not layout.is_chapter_title(line.text)
            and not layout.is_speaker(line.text) and not layout.ends_with_danda(line.text)
            and not layout.is_verse_end(line.text))


def _bottom_number(lines: list[Line]) -> Line | None:
    if len(lines) < 2:
        return None
    last = max(lines, key=lambda ln: ln.y1)
    above = max(ln.y1 for ln in lines if ln is not last)
    return last if layout.is_number(last.text) and last.y0 >= above else None


def _footnotes(lines: list[Line], m: PageMeasures) -> list[Region]:
    """The footnotes: the lines at the bottom, below a gap of `NOTE_GAP`, all in smaller type
    (`NOTE_SMALL`), one of them starting with a marker; a note starts at each marker (lines
    before the first: a note continued from the previous page)."""
    by_y = sorted(lines, key=lambda ln: (ln.y0, ln.x0))
    start = None
    for i in range(len(by_y) - 1, 0, -1):
        if by_y[i].token_height > NOTE_SMALL * m.token_height:
            break
        gap = by_y[i].y0 - max(ln.y1 for ln in by_y[:i])
        if gap >= NOTE_GAP * m.line_height and any(layout.starts_with_marker(ln) for ln in by_y[i:]):
            start = i
    if start is None:
        return []
    notes: list[list[Line]] = []
    for line in by_y[start:]:
        if not notes or layout.starts_with_marker(line):
            notes.append([])
        notes[-1].append(line)
    return [Region(ContentType.FOOTNOTE, tuple(ls)) for ls in notes]


def _kind(line: Line, m: PageMeasures, alone_in_block: bool) -> str:
    tall, big = _ratios(line, m)
    width = line.width / m.width
    text = line.text
    indent = (line.x0 - m.left) / m.width
    if layout.is_number(text):
        return "verse-number" if alone_in_block else "text"
    if layout.letters(text) < 3:
        return "other"
    if layout.is_chapter_title(text) and line.words <= 4:
        return "heading"
    if layout.is_speaker(text) and line.words <= 5:
        return "subheading"
    if layout.is_verse_end(text):
        return "verse-end"
    if layout.ends_with_danda(text) or line.words > MAX_HEADING_WORDS:
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
                and not layout.ends_with_danda(line.text)):
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
               and start - 1 not in verse_of and layout.ends_with_danda(lines[start - 1].text)
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
