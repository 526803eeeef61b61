"""Page layout: furniture out of the engine's blocks, the body in XY-cut order, tokens renumbered."""

from __future__ import annotations

from pagesage.domain.layout import in_reading_order, reading_order, xy_cut
from pagesage.domain.limits import MAX_REGIONS
from pagesage.domain.pages import PageResult
from pagesage.domain.pages import BBox, Token
from pagesage.formats.text import page_text

WORD_W, LINE_H, GAP = 90, 30, 12


def line_tokens(words: list[str], *, x: int, y: int, block: int, line: int, height: int = LINE_H) -> list[Token]:
    """One line of words 100 px apart starting at (x, y); token numbers are set by `page`."""
    return [Token(token_no=0, text=w, text_norm=w.lower(), bbox=BBox(x=x + 100 * i, y=y, w=WORD_W, h=height),
                  confidence=90, block=block, par=0, line=line) for i, w in enumerate(words)]


def page(*lines: list[Token]) -> list[Token]:
    """The lines' tokens in the given (engine) order, numbered."""
    tokens = [t for ln in lines for t in ln]
    return [t.model_copy(update={"token_no": i}) for i, t in enumerate(tokens)]


def column(words: str, *, x: int, y: int, block: int, first_line: int, rows: int) -> list[list[Token]]:
    return [line_tokens([f"{words}{r}a", f"{words}{r}b", f"{words}{r}c"], x=x, y=y + r * (LINE_H + GAP),
                        block=block, line=first_line + r) for r in range(rows)]


def test_two_columns_under_a_title_read_title_left_column_right_column():
    title = line_tokens(["A", "Title", "Across", "Both", "Columns"], x=100, y=300, block=0, line=0)
    left = column("L", x=100, y=400, block=1, first_line=1, rows=6)
    right = column("R", x=500, y=400, block=2, first_line=7, rows=6)
    # the engine interleaves: right column before the title, left last
    tokens = page(*right, title, *left)
    ordered, regions = in_reading_order(tokens, page_height=1400)
    words = [t.text for t in ordered]
    assert words[:5] == ["A", "Title", "Across", "Both", "Columns"]
    assert words[5:8] == ["L0a", "L0b", "L0c"] and words[-3:] == ["R5a", "R5b", "R5c"]
    assert words.index("L5c") < words.index("R0a")
    assert [t.token_no for t in ordered] == list(range(len(tokens)))
    assert [r.region_type for r in regions] == ["paragraph"] * 3
    assert [(r.first_token, r.token_count) for r in regions] == [(0, 5), (5, 18), (23, 18)]
    assert [t.block for t in ordered[5:23]] == [1] * 18


def test_running_head_page_number_and_footnote_are_regions_of_their_own():
    head = line_tokens(["THE", "RUNNING", "HEAD"], x=200, y=60, block=0, line=0)
    number = line_tokens(["46"], x=900, y=60, block=0, line=1)
    body = column("B", x=100, y=200, block=1, first_line=2, rows=8)
    note = line_tokens(["*", "See", "the", "note."], x=100, y=700, block=2, line=10, height=22)
    foot_number = line_tokens(["47"], x=450, y=800, block=3, line=11)
    tokens = page(*body, note, foot_number, number, head)
    ordered, regions = in_reading_order(tokens, page_height=900)
    assert [r.region_type for r in regions] == ["header", "page-number", "paragraph", "footnote", "page-number"]
    assert [t.text for t in ordered][:4] == ["THE", "RUNNING", "HEAD", "46"]
    assert [t.text for t in ordered][-5:] == ["*", "See", "the", "note.", "47"]
    assert regions[3].bbox == BBox(x=100, y=700, w=390, h=22)


def test_every_token_lands_in_exactly_one_region():
    lines = [*column("L", x=100, y=100, block=0, first_line=0, rows=4),
             line_tokens(["7"], x=460, y=150, block=1, line=4),
             *column("R", x=600, y=100, block=2, first_line=5, rows=4)]
    tokens = page(*lines)
    ordered, regions = in_reading_order(tokens, page_height=2000)
    assert sorted((t.text, t.bbox.x, t.bbox.y) for t in ordered) == sorted((t.text, t.bbox.x, t.bbox.y) for t in tokens)
    assert sum(r.token_count for r in regions) == len(tokens)
    assert [r.first_token for r in regions] == [0, 12, 13]


def test_the_text_follows_the_new_order():
    left = column("L", x=100, y=100, block=1, first_line=0, rows=2)
    right = column("R", x=500, y=100, block=0, first_line=2, rows=2)
    ordered, _ = in_reading_order(page(*right, *left), page_height=2000)
    assert page_text(ordered).split()[:3] == ["L0a", "L0b", "L0c"]


def test_xy_cut_keeps_the_engine_order_where_nothing_can_be_cut():
    # three overlapping boxes: no empty band either way
    boxes = [(0, 0, 100, 100), (50, 50, 150, 150), (90, 20, 200, 120)]
    assert xy_cut(boxes, min_gap=10) == [0, 1, 2]


def test_xy_cut_needs_a_band_of_min_gap_to_cut_rows():
    boxes = [(500, 0, 900, 100), (0, 105, 400, 200)]  # right box above, 5 px apart
    assert xy_cut(boxes, min_gap=10) == [1, 0]  # not cut as rows, so cut as columns: left first
    assert xy_cut(boxes, min_gap=5) == [0, 1]


def test_an_empty_page_has_no_regions():
    assert reading_order([], page_height=1000) == []
    assert in_reading_order([], page_height=1000) == ([], [])


def test_a_page_of_specks_keeps_at_most_max_regions():
    # one-word blocks on a grid, each its own block and line: more blocks than regions allowed
    specks = [line_tokens(["x"], x=100 * (i % 60), y=40 * (i // 60), block=i, line=i) for i in range(MAX_REGIONS + 30)]
    tokens = page(*specks)
    ordered, regions = in_reading_order(tokens, page_height=40 * (len(specks) // 60 + 1))
    assert len(regions) == MAX_REGIONS and sum(r.token_count for r in regions) == len(tokens)
    assert regions[-1].token_count == 31 and {t.block for t in ordered[-31:]} == {MAX_REGIONS - 1}
    PageResult(run_id="r", page_no=1, config={"languages": "eng"}, lang_tag="en", regions=regions)  # storable
