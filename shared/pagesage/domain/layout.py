"""A page's layout: its furniture (running heads, page numbers, footnotes), its body blocks and
the reading order of all of them (docs/layout.md).

Pure functions over `Token`s and `lines.Line`s. Units: pixels of the page image, origin
top-left; heights are ratios to the page's body (`lines.PageMeasures`): `H` its median line
height, `h` its median token height. The thresholds were measured on the corpus pages of
`tests/corpus/test_book_detection.py` and `tests/corpus/test_reading_order.py`.

Region types are PAGE's TextRegion `@type` values (`pages.RegionType`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from pagesage.domain import lines as ocr_lines
from pagesage.domain.lines import Line, PageMeasures
from pagesage.domain.limits import MAX_REGIONS
from pagesage.domain.pages import BBox, LayoutRegion, RegionType, Token

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
CENTERED = 0.03
"""Most distance of a centered line's middle from the column's middle, in column widths
(measured 0.001-0.003 for headings; body lines' last lines 0.08 and more)."""
CUT_GAP = 0.5
"""Least empty band between two groups of body blocks for the XY-cut to split them there, in H
(lines of one paragraph are 0.2-0.4 H apart; columns and sections 1 H and more)."""


@dataclass(frozen=True)
class Zone:
    """Lines that make one region, and its type."""

    region_type: RegionType
    lines: tuple[Line, ...]

    @property
    def tokens(self) -> list[Token]:
        return [t for ln in self.lines for t in ln.tokens]


@dataclass(frozen=True)
class Furniture:
    """A page's furniture: `top` (page numbers and running heads of the top band, left to
    right), `footnotes` (one zone per note, top to bottom), `bottom` (the page number standing
    below everything else), and `taken`, the page's lines they hold (a top line split into a
    page number and a running head is taken whole)."""

    top: list[Zone]
    footnotes: list[Zone]
    bottom: Zone | None
    taken: frozenset[Line]


def furniture(page_lines: list[Line], m: PageMeasures, page_height: int) -> Furniture:
    """The furniture of a page's lines (non-empty): the top band's page numbers and running
    head, the page number at the bottom, and the footnotes above it (`TOP_ZONE`, `HEAD_*`,
    `NUMBER_GAP`, `NOTE_*`)."""
    top, taken = _top_furniture(page_lines, m, page_height)
    rest = [ln for ln in page_lines if ln not in taken]
    bottom = _bottom_number(rest)
    rest = [ln for ln in rest if ln is not bottom]
    notes = _footnotes(rest, m)
    taken |= {ln for zone in notes for ln in zone.lines} | ({bottom} if bottom else set())
    return Furniture(top=top, footnotes=notes, bottom=Zone(RegionType.PAGE_NUMBER, (bottom,)) if bottom else None,
                     taken=frozenset(taken))


def reading_order(tokens: Sequence[Token], page_height: int) -> list[Zone]:
    """The page's regions in reading order: the top band left to right, the body's blocks in
    XY-cut order (`xy_cut`), the footnotes, the bottom page number. Every token is in exactly
    one zone; a body zone is what is left of one engine block once the furniture is out."""
    page_lines = ocr_lines.page_lines(tokens)
    if not page_lines:
        return []
    m = ocr_lines.measure(page_lines)
    found = furniture(page_lines, m, page_height)
    blocks: dict[int, list[Line]] = {}
    for line in page_lines:
        if line not in found.taken:
            blocks.setdefault(line.block, []).append(line)
    body = [Zone(RegionType.PARAGRAPH, tuple(ls)) for ls in blocks.values()]
    order = xy_cut([_box(zone.lines) for zone in body], min_gap=CUT_GAP * m.line_height)
    return found.top + [body[i] for i in order] + found.footnotes + ([found.bottom] if found.bottom else [])


def in_reading_order(tokens: Sequence[Token], page_height: int) -> tuple[list[Token], list[LayoutRegion]]:
    """`tokens` renumbered in reading order (`reading_order`), each token's `block` its region's
    index, and the regions (type, union box, first token and token count). Past
    `limits.MAX_REGIONS`, the zones from the last but one on are merged into one `paragraph`."""
    zones = reading_order(tokens, page_height)
    if len(zones) > MAX_REGIONS:
        rest = tuple(ln for zone in zones[MAX_REGIONS - 1:] for ln in zone.lines)
        zones = zones[:MAX_REGIONS - 1] + [Zone(RegionType.PARAGRAPH, rest)]
    out: list[Token] = []
    regions: list[LayoutRegion] = []
    for index, zone in enumerate(zones):
        first = len(out)
        out.extend(t.model_copy(update={"token_no": first + i, "block": index})
                   for i, t in enumerate(zone.tokens))
        x0, y0, x1, y1 = _box(zone.lines)
        regions.append(LayoutRegion(region_type=zone.region_type, bbox=BBox(x=x0, y=y0, w=x1 - x0, h=y1 - y0),
                                    first_token=first, token_count=len(out) - first))
    return out, regions


def xy_cut(boxes: Sequence[tuple[int, int, int, int]], *, min_gap: float) -> list[int]:
    """Recursive XY-cut (Nagy and Seth, "Hierarchical representation of optically scanned
    documents", ICPR 1984): the indices of `boxes` (`x0, y0, x1, y1`, pixels) in reading order.

    A group is cut at every empty horizontal band at least `min_gap` pixels high (top to
    bottom); a group with none is cut at every empty vertical band (columns, left to right);
    a group that cannot be cut keeps the engine's order (ascending index).
    """
    def order(group: list[int]) -> list[int]:
        if len(group) < 2:
            return group
        for lo, hi, gap in ((1, 3, min_gap), (0, 2, 1)):
            parts = _split(group, boxes, lo, hi, gap)
            if len(parts) > 1:
                return [i for part in parts for i in order(part)]
        return sorted(group)
    return order(list(range(len(boxes))))


def _split(group: list[int], boxes: Sequence[tuple[int, int, int, int]], lo: int, hi: int, gap: float) -> list[list[int]]:
    """`group` cut along one axis (coordinates `lo`, `hi` of each box) at empty bands of at
    least `gap` pixels, in ascending position."""
    parts: list[list[int]] = []
    end = None
    for i in sorted(group, key=lambda i: (boxes[i][lo], i)):
        if end is None or boxes[i][lo] - end >= gap:
            parts.append([])
            end = boxes[i][hi]
        parts[-1].append(i)
        end = max(end, boxes[i][hi])
    return [sorted(part) for part in parts]


def _box(zone_lines: Sequence[Line]) -> tuple[int, int, int, int]:
    return (min(ln.x0 for ln in zone_lines), min(ln.y0 for ln in zone_lines),
            max(ln.x1 for ln in zone_lines), max(ln.y1 for ln in zone_lines))


def _v_overlap(a: Line, b: Line) -> int:
    return min(a.y1, b.y1) - max(a.y0, b.y0)


def _top_furniture(page_lines: list[Line], m: PageMeasures, page_height: int) -> tuple[list[Zone], set[Line]]:
    """The page number and running head of the top band (the lines level with the topmost line,
    when it starts within `TOP_ZONE`), and the lines they take."""
    first = min(page_lines, key=lambda ln: ln.y0)
    if first.y0 > TOP_ZONE * page_height:
        return [], set()
    band = sorted((ln for ln in page_lines if _v_overlap(ln, first) >= 0.5 * min(ln.height, first.height)),
                  key=lambda ln: ln.x0)
    below = [ln.y0 for ln in page_lines if ln not in band]
    gap = (min(below) - max(ln.y1 for ln in band)) / m.line_height if below else float("inf")
    alone_centered = len(band) == 1 and abs(first.center - m.center) <= CENTERED * m.width
    pieces: list[tuple[Line, RegionType]] = []
    heads: list[tuple[Line, list[Line], Line]] = []
    for line in band:
        if ocr_lines.is_number(line.text) or (alone_centered and ocr_lines.is_number_lookalike(line.text)):
            pieces.append((line, RegionType.PAGE_NUMBER))
        else:
            numbers, head = _split_number(line)
            heads.append((line, numbers, head))
    apart = bool(pieces) or any(numbers for _, numbers, _ in heads) or gap >= HEAD_GAP
    taken = {ln for ln, _ in pieces}
    for line, numbers, head in heads:
        if _is_running_head(head, m, apart):
            pieces += [(n, RegionType.PAGE_NUMBER) for n in numbers] + [(head, RegionType.HEADER)]
            taken.add(line)
    return [Zone(kind, (ln,)) for ln, kind in sorted(pieces, key=lambda p: p[0].x0)], taken


def _split_number(line: Line) -> tuple[list[Line], Line]:
    """A page number at either end of a line, apart from its neighbour by `NUMBER_GAP`: the
    numbers (a leading one with any punctuation-only tokens after it) and the rest."""
    tokens = list(line.tokens)
    gap = NUMBER_GAP * line.token_height
    words = [i for i, t in enumerate(tokens) if ocr_lines.letters(t.text)]
    if not words:
        return [], line
    start, end = 0, len(tokens)
    numbers = []
    if words[0] and ocr_lines.is_digits(tokens[0].text) and tokens[1].bbox.x - tokens[0].bbox.x1 >= gap:
        start = words[0]
        numbers.append(ocr_lines.make_line(tokens[:start]))
    if words[-1] < end - 1 and ocr_lines.is_digits(tokens[-1].text) and tokens[-1].bbox.x - tokens[-2].bbox.x1 >= gap:
        end -= 1
        numbers.append(ocr_lines.make_line(tokens[end:]))
    return numbers, ocr_lines.make_line(tokens[start:end]) if numbers else line


def _is_running_head(line: Line, m: PageMeasures, apart: bool) -> bool:
    return (apart and line.height <= HEAD_MAX * m.line_height and line.words <= HEAD_MAX_WORDS
            and ocr_lines.letters(line.text) >= 3 and not ocr_lines.is_chapter_title(line.text)
            and not ocr_lines.is_speaker(line.text) and not ocr_lines.ends_with_danda(line.text)
            and not ocr_lines.is_verse_end(line.text))


def _bottom_number(page_lines: list[Line]) -> Line | None:
    if len(page_lines) < 2:
        return None
    last = max(page_lines, key=lambda ln: ln.y1)
    above = max(ln.y1 for ln in page_lines if ln is not last)
    return last if ocr_lines.is_number(last.text) and last.y0 >= above else None


def _footnotes(page_lines: list[Line], m: PageMeasures) -> list[Zone]:
    """The footnotes: the lines at the bottom, below a gap of `NOTE_GAP`, all in smaller type
    (`NOTE_SMALL`), one of them starting with a marker; a note starts at each marker (lines
    before the first: a note continued from the previous page)."""
    by_y = sorted(page_lines, key=lambda ln: (ln.y0, ln.x0))
    start = None
    for i in range(len(by_y) - 1, 0, -1):
        if by_y[i].token_height > NOTE_SMALL * m.token_height:
            break
        gap = by_y[i].y0 - max(ln.y1 for ln in by_y[:i])
        if gap >= NOTE_GAP * m.line_height and any(ocr_lines.starts_with_marker(ln) for ln in by_y[i:]):
            start = i
    if start is None:
        return []
    notes: list[list[Line]] = []
    for line in by_y[start:]:
        if not notes or ocr_lines.starts_with_marker(line):
            notes.append([])
        notes[-1].append(line)
    return [Zone(RegionType.FOOTNOTE, tuple(ls)) for ls in notes]
