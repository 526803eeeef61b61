"""Seeding boxes from synthetic tokens (one test per rule of `book.domain.seeding`) and inline
reference detection (`book.domain.detection`: each marker kind, geometry, linking)."""

from __future__ import annotations

import itertools
from datetime import datetime, timezone

import pytest

from pagesage.book.domain.detection import (DetectionResult, ReferenceProposal, apply_detected, detect_references,
                                            find_markers, raised_tokens)
from pagesage.book.domain.model import (AI, BookModel, BoundingBox, BoxCoordinates, ContentType, InlineReference,
                                        Language, Position, TextContent)
from pagesage.book.domain.seeding import seed_boxes
from pagesage.domain.pages import BBox, Token
from pagesage.text.normalize import normalize_for_search

NOW = datetime(2026, 11, 1, tzinfo=timezone.utc)
PROSE = "the quick brown fox jumps over the lazy dog and runs on"
CT = ContentType


class Page:
    """Tokens laid out line by line: each word `CHAR` pixels a letter wide, `GAP` apart."""

    CHAR, GAP = 14, 15

    def __init__(self, width: int = 1000, height: int = 1400) -> None:
        self.width, self.height = width, height
        self.tokens: list[Token] = []
        self.lines = 0

    def line(self, words, *, y: int, x: int = 100, h: int = 30, block: int = 0, conf: float = 90.0,
             lang: str | None = None) -> Page:
        """One line of `words` (a string, or a list of words and (word, overrides) pairs) at `y`."""
        items = words.split() if isinstance(words, str) else words
        for item in items:
            text, extra = (item, {}) if isinstance(item, str) else item
            box = {"x": x, "y": y, "w": len(text) * self.CHAR, "h": h} | extra.pop("bbox", {})
            self.tokens.append(Token(token_no=len(self.tokens), text=text, text_norm=normalize_for_search(text),
                                     bbox=BBox(**box), confidence=extra.pop("conf", conf), block=block, par=block,
                                     line=self.lines, lang=extra.pop("lang", lang), **extra))
            x = box["x"] + box["w"] + self.GAP
        self.lines += 1
        return self

    def prose(self, lines: int, *, y: int, block: int, pitch: int = 40, text: str = PROSE) -> Page:
        for i in range(lines):
            self.line(text, y=y + i * pitch, block=block)
        return self

    def seed(self, lang_tag: str = "en") -> list[BoundingBox]:
        ids = itertools.count(1)
        return seed_boxes(self.tokens, width=self.width, height=self.height, run_id="run-1", page_result_id="result-1",
                          lang_tag=lang_tag, new_box_id=lambda kind: f"box-{kind.value}-{next(ids)}", now=NOW)


def kinds(boxes: list[BoundingBox]) -> list[tuple[str, str]]:
    return [(b.content_type.value, b.text.corrected.split("\n")[0]) for b in boxes]


# -- boxes, text, coordinates, provenance ------------------------------------------------------

def test_a_block_of_prose_is_one_commentary_box_with_its_lines_and_provenance():
    page = Page().prose(3, y=300, block=1)
    page.tokens[0] = page.tokens[0].model_copy(update={"confidence": 60.0})
    [box] = page.seed()
    assert box.content_type is CT.COMMENTARY and box.reading_order == 1
    assert box.text.ocr == box.text.corrected == "\n".join([PROSE] * 3)
    assert box.coordinates == BoxCoordinates(x=100, y=300, width=page.tokens[11].bbox.x1 - 100, height=110)
    expected = round((60 + 90 * 35) / 36 / 100, 4)
    assert box.confidence == box.text.ocr_confidence == expected
    assert (box.created_by, box.last_modified_by, box.last_modified_at) == ("ai", AI, NOW)
    assert (box.ocr_source.run_id, box.ocr_source.page_result_id, box.ocr_source.token_nos) == ("run-1", "result-1", list(range(36)))
    assert (box.language, box.script) == (Language.ENGLISH, "Latn")


def test_words_join_without_a_space_after_space_after_false_and_before_an_attached_symbol():
    page = Page().prose(2, y=300, block=1)
    page.line(["DATE", ("eodem.”", {"space_after": False}), ":", "pro"], y=380, block=1)
    page.line(["pro", "eodem.”", ("*", {"bbox": {"x": 100 + 3 * 14 + 15 + 7 * 14 - 5, "y": 380 + 40, "w": 10, "h": 30}}),
               "And", "so"], y=420, block=1)
    text = page.seed()[0].text.corrected
    assert text.split("\n")[2:] == ["DATE eodem.”: pro", "pro eodem.”* And so"]


def test_a_separate_asterisk_is_not_attached_when_it_stands_apart():
    page = Page().line(["one", "two", "*", "three"], y=300, block=1)
    assert page.seed()[0].text.corrected == "one two * three"


def test_coordinates_are_clamped_inside_the_image():
    page = Page(width=500, height=400).line(["wide", ("word", {"bbox": {"x": 450, "y": 380, "w": 90, "h": 50}}), "x"],
                                            y=350, x=10, block=0)
    [box] = page.seed()
    c = box.coordinates
    assert (c.x, c.y, c.right, c.bottom) == (10, 350, 500, 400)


def test_no_tokens_no_boxes():
    assert Page().seed() == []


# -- furniture -----------------------------------------------------------------------------------

def test_a_top_line_with_a_page_number_apart_is_a_page_number_and_a_running_head():
    page = Page().line(["46", ("THE", {"bbox": {"x": 400, "y": 60, "w": 40, "h": 20}}), "CORSET", "AND", "CRINOLINE"],
                       y=60, block=0)
    page.prose(3, y=140, block=1)
    boxes = page.seed()
    assert kinds(boxes)[:2] == [("page-number", "46"), ("running-head", "THE CORSET AND CRINOLINE")]
    assert [b.reading_order for b in boxes] == [1, 2, 3] and boxes[2].content_type is CT.COMMENTARY


def test_a_trailing_page_number_and_a_page_number_beside_the_head():
    trailing = Page().line(["THOMAS", "DUN", ("17", {"bbox": {"x": 800, "y": 60, "w": 28, "h": 30}})], y=60, block=0)
    trailing.prose(3, y=140, block=1)
    assert kinds(trailing.seed())[:2] == [("running-head", "THOMAS DUN"), ("page-number", "17")]
    beside = Page().line("THE STOTRA", y=60, x=400, block=0).line("123", y=62, x=850, block=1).prose(3, y=140, block=2)
    assert kinds(beside.seed())[:2] == [("running-head", "THE STOTRA"), ("page-number", "123")]


def test_a_number_close_to_the_words_stays_in_the_head():
    page = Page().line("4 THE ARMY OF MEN", y=60, block=0).prose(3, y=140, block=1)
    assert kinds(page.seed())[0] == ("running-head", "4 THE ARMY OF MEN")


def test_a_top_line_without_a_number_is_a_running_head_only_above_a_gap():
    apart = Page().line("THE BOY APPRENTICED TO AN ENCHANTER", y=60, block=0).prose(3, y=140, block=1)
    assert kinds(apart.seed())[0] == ("running-head", "THE BOY APPRENTICED TO AN ENCHANTER")
    close = Page().line("THE BOY APPRENTICED TO AN ENCHANTER", y=60, block=0).prose(3, y=100, block=1)
    assert kinds(close.seed())[0] == ("commentary", "THE BOY APPRENTICED TO AN ENCHANTER")


def test_a_top_line_lower_than_the_top_zone_is_no_running_head():
    page = Page().line("THE BOY APPRENTICED", y=300, block=0).prose(3, y=380, block=1)
    assert kinds(page.seed())[0][0] != "running-head"


def test_a_taller_top_line_is_a_heading_and_a_chapter_title_is_a_heading():
    tall = Page().line("GREAT TITLE", y=60, x=380, h=48, block=0).prose(3, y=160, block=1)
    assert kinds(tall.seed())[0] == ("heading", "GREAT TITLE")
    chapter = Page().line("CHAPTER III", y=60, block=0).prose(3, y=140, block=1)
    assert kinds(chapter.seed())[0] == ("heading", "CHAPTER III")


def test_a_lone_centred_top_line_of_digit_lookalikes_is_a_page_number():
    page = Page().prose(3, y=140, block=1)
    page.line("ol", y=60, x=centred_x(page, "ol"), block=0)
    assert kinds(page.seed())[0] == ("page-number", "ol")


@pytest.mark.parametrize("number", ["26", "- 1 -", "[12]", "१२३"])
def test_the_bottom_line_is_a_page_number_even_inside_the_last_block(number):
    page = Page().prose(3, y=140, block=1).line(number, y=290, x=450, block=1)
    boxes = page.seed()
    assert kinds(boxes)[-1] == ("page-number", number) and boxes[-1].reading_order == len(boxes)
    assert boxes[0].text.corrected == "\n".join([PROSE] * 3)


def test_a_number_level_with_the_last_line_is_no_bottom_page_number():
    page = Page().prose(3, y=140, block=1).line("12", y=222, x=950, block=2)
    assert kinds(page.seed())[-1] == ("verse-number", "12")


# -- footnotes -----------------------------------------------------------------------------------

def test_smaller_lines_at_the_bottom_after_a_gap_starting_with_markers_are_footnotes():
    page = Page().prose(4, y=140, block=1)
    page.line("1. See the first note here", y=330, h=22, block=2)
    page.line("and its second line goes on", y=358, h=22, block=2)
    page.line("2. Compare the other book", y=386, h=22, block=2)
    page.line("26", y=430, x=450, block=3)
    boxes = page.seed()
    assert kinds(boxes) == [("commentary", PROSE), ("footnote", "1. See the first note here"),
                            ("footnote", "2. Compare the other book"), ("page-number", "26")]
    assert boxes[1].text.corrected == "1. See the first note here\nand its second line goes on"


def test_a_note_continued_from_the_previous_page_is_a_footnote_box_of_its_own():
    page = Page().prose(4, y=140, block=1)
    page.line("the rest of a long note", y=330, h=22, block=2).line("* The new note", y=358, h=22, block=2)
    assert kinds(page.seed())[1:] == [("footnote", "the rest of a long note"), ("footnote", "* The new note")]


@pytest.mark.parametrize("case", ["body size", "no gap", "no marker"])
def test_bottom_lines_are_no_footnotes_without_smaller_type_a_gap_or_a_marker(case):
    h = 30 if case == "body size" else 22
    y = 300 if case == "no gap" else 330
    text = "See the first note here" if case == "no marker" else "1. See the first note here"
    page = Page().prose(4, y=140, block=1).line(text, y=y, h=h, block=2)
    assert CT.FOOTNOTE not in [b.content_type for b in page.seed()]


# -- body kinds ------------------------------------------------------------------------------------

VERSE_1 = "धर्मक्षेत्रे कुरुक्षेत्रे समवेता युयुत्सवः ।"
VERSE_2 = "मामकाः पाण्डवाश्चैव किमकुर्वत सञ्जय ॥ १ ॥"


@pytest.mark.parametrize("end", ["॥ १ ॥", "॥१॥", "।। १ ।।", "॥ १", "॥", "॥। २३ —ब्रह्मपुराणतः"])
def test_a_verse_is_its_half_lines_up_to_the_verse_end(end):
    page = Page().prose(2, y=140, block=1, text="अथ कथा आरभ्यते इति श्रूयते पुरा किल")
    page.line(VERSE_1, y=240, block=2).line(f"मामकाः पाण्डवाश्चैव किमकुर्वत सञ्जय {end}", y=280, block=2)
    boxes = page.seed("sa")
    assert [b.content_type for b in boxes] == [CT.COMMENTARY, CT.VERSE]
    assert boxes[1].text.corrected == f"{VERSE_1}\nमामकाः पाण्डवाश्चैव किमकुर्वत सञ्जय {end}"
    assert (boxes[1].language, boxes[1].script) == (Language.SANSKRIT, "Deva")


def test_two_verses_in_one_block_are_two_boxes_and_a_verse_may_cross_a_block():
    page = Page().line(VERSE_1, y=140, block=1).line(VERSE_2, y=180, block=1)
    page.line(VERSE_1, y=240, block=2).line(VERSE_2.replace("१", "२"), y=280, block=3)
    boxes = page.seed("sa")
    assert [b.content_type for b in boxes] == [CT.VERSE, CT.VERSE]
    assert boxes[1].text.corrected.endswith("॥ २ ॥")


def test_a_verse_end_alone_or_after_prose_lines_is_prose():
    page = Page().line("ओ ऐं ह्रीं श्रीं हनूमते रामदूताय लङ्काविध्वंसनाय", y=140, block=1)
    page.line("हनुमते देवाय ओं ह्रीं ह्रौं फट् स्वाहा ॥", y=180, block=1)
    assert [b.content_type for b in page.seed("sa")] == [CT.COMMENTARY]


def test_transliterated_verse_needs_a_number():
    page = Page().line("madasuram susantam vai drstva visnumukhah surah .", y=140, block=1)
    page.line("bhrgvadayasca munaya ekadantam samayayuh .. 1..", y=180, block=1)
    page.line("and the prose after it is written here..", y=260, block=2)
    assert [b.content_type for b in page.seed("sa")] == [CT.VERSE, CT.COMMENTARY]


def test_a_verse_number_printed_as_a_block_of_its_own_follows_its_verse():
    page = Page().line(VERSE_1, y=140, block=1).line(VERSE_2.replace(" ॥ १ ॥", " ॥"), y=180, block=1)
    page.line(VERSE_1, y=240, block=2).line(VERSE_2.replace(" ॥ १ ॥", " ॥"), y=280, block=2)
    page.line("११", y=182, x=900, block=3).line("१२", y=282, x=900, block=4)
    boxes = page.seed("sa")
    assert kinds(boxes) == [("verse", VERSE_1), ("verse-number", "११"), ("verse", VERSE_1), ("verse-number", "१२")]
    assert [b.reading_order for b in boxes] == [1, 2, 3, 4]


def test_a_block_mixing_kinds_splits_where_the_kind_changes():
    page = Page().line("ऋषय ऊचुः —", y=140, block=1).line(VERSE_1, y=180, block=1).line(VERSE_2, y=220, block=1)
    page.line("वाल्मीकिरुवाच", y=260, block=1).line("इति श्रुत्वा ते मुनयः प्रहृष्टाः परमं वचनं अब्रुवन्", y=300, block=1)
    assert kinds(page.seed("sa")) == [("subheading", "ऋषय ऊचुः —"), ("verse", VERSE_1), ("subheading", "वाल्मीकिरुवाच"),
                                      ("commentary", "इति श्रुत्वा ते मुनयः प्रहृष्टाः परमं वचनं अब्रुवन्")]


def test_a_large_short_line_is_a_heading_and_a_centred_line_under_it_a_subheading():
    page = Page().prose(2, y=140, block=1)
    page.line("THE SECOND BOOK", y=260, x=330, h=44, block=2)
    page.line("Of the Army", y=320, x=370, block=3)
    page.prose(2, y=380, block=4)
    assert kinds(page.seed())[1:3] == [("heading", "THE SECOND BOOK"), ("subheading", "Of the Army")]


def centred_x(page: Page, text: str) -> int:
    """Where a line of `text` starts to sit in the middle of the page's prose column."""
    right = max(t.bbox.x1 for t in page.tokens)
    width = sum(len(w) for w in text.split()) * Page.CHAR + (len(text.split()) - 1) * Page.GAP
    return int((100 + right) / 2 - width / 2)


def test_a_centred_short_line_is_a_heading_and_a_left_one_is_prose():
    centred = Page().prose(2, y=140, block=1)
    centred.line("No. III.", y=240, x=centred_x(centred, "No. III."), block=2).prose(2, y=300, block=3)
    assert kinds(centred.seed())[1] == ("heading", "No. III.")
    left = Page().prose(2, y=140, block=1).line("No. III.", y=240, block=2).prose(2, y=300, block=3)
    assert kinds(left.seed())[1] == ("commentary", "No. III.")


def test_indented_lines_in_smaller_type_are_a_quoted_verse_and_one_alone_is_prose():
    page = Page().prose(2, y=140, block=1)
    page.line("Their kirtles were of rede", y=240, x=300, h=24, block=2).line("I laced smalle and well", y=272, x=310, h=24, block=2)
    page.prose(2, y=330, block=3)
    assert [b.content_type for b in page.seed()] == [CT.COMMENTARY, CT.VERSE, CT.COMMENTARY]
    alone = Page().prose(2, y=140, block=1).line("Their kirtles were of rede", y=240, x=300, h=24, block=2).prose(2, y=300, block=3)
    assert [b.content_type for b in alone.seed()] == [CT.COMMENTARY] * 3


def test_a_line_of_fewer_than_three_letters_is_other():
    page = Page().prose(2, y=140, block=1).line("* * *", y=240, x=450, block=2).prose(2, y=300, block=3)
    assert kinds(page.seed())[1] == ("other", "* * *")


# -- language and script ---------------------------------------------------------------------------

@pytest.mark.parametrize(("tag", "language"), [("hi", Language.HINDI), ("sa", Language.SANSKRIT), ("sa-Deva", Language.SANSKRIT),
                                               ("und-Deva", Language.SANSKRIT)])
def test_devanagari_language_from_the_run_tag(tag, language):
    [box] = Page().line("अथ कथा आरभ्यते इति श्रूयते", y=300, block=1).seed(tag)
    assert (box.language, box.script) == (language, "Deva")


def test_devanagari_language_from_a_token_tag_and_from_hindi_words():
    tagged = Page().line("अथ कथा आरभ्यते", y=300, block=1, lang="hi").seed("sa")
    assert tagged[0].language is Language.HINDI
    hindi = Page().line("यह कथा बहुत पुरानी है और सब लोग इसे जानते हैं", y=300, block=1).seed("und-Deva")
    assert hindi[0].language is Language.HINDI


def test_latin_with_iast_letters_is_iast_and_a_number_takes_the_run_language():
    iast = Page().line("kathaṁ jñānam avāpnoti kathaṁ muktir bhaviṣyati", y=300, block=1).seed("en")
    english = Page().line("the word ātman occurs once in this long sentence here", y=300, block=1).seed("en")
    tagged = Page().line("katham jnanam", y=300, block=1, lang="sa-Latn").seed("en")
    number = Page().line("१२", y=300, block=1).seed("sa")
    assert [b[0].language for b in (iast, english, tagged)] == [Language.IAST, Language.ENGLISH, Language.IAST]
    assert (number[0].language, number[0].script) == (Language.SANSKRIT, "Deva")


# -- find_markers ----------------------------------------------------------------------------------

def markers(text: str) -> list[tuple[int, int, str, str, str]]:
    return [(m.char_offset, m.length, m.display_text, m.type, m.kind) for m in find_markers(text)]


def test_a_superscript_after_a_word():
    text = "The principle¹ is clear."
    assert markers(text) == [(13, 1, "¹", "footnote", "superscript")] and text[13] == "¹"


def test_three_superscripts_in_one_sentence():
    text = "The first principle² appears in Chapter 2³, followed by the second⁴ in Chapter 3."
    assert [m[0] for m in markers(text)] == [text.index("²"), text.index("³"), text.index("⁴")] == [19, 41, 66]


def test_adjacent_superscripts_are_separate_markers_at_consecutive_offsets():
    text = "धर्मक्षेत्रे कुरुक्षेत्रे¹²³"
    assert markers(text) == [(25, 1, "¹", "footnote", "superscript"), (26, 1, "²", "footnote", "superscript"),
                             (27, 1, "³", "footnote", "superscript")]


def test_a_compound_superscript_is_one_marker():
    assert markers("as shown¹⁻³ before") == [(8, 3, "¹⁻³", "footnote", "superscript")]


def test_a_bracketed_number_is_a_citation_but_not_at_a_line_start():
    assert markers("As stated in the Mahābhārata[5].") == [(28, 3, "[5]", "citation", "bracketed")]
    assert markers("states [१२] that") == [(7, 4, "[१२]", "citation", "bracketed")]
    assert markers("[1] Smith, History") == []


@pytest.mark.parametrize(("text", "offset", "shown"), [("ladies*. And", 6, "*"), ("more† here", 4, "†"), ("so‡", 2, "‡"),
                                                      ("end§,", 3, "§"), ("word** then", 4, "**")])
def test_a_symbol_attached_to_the_end_of_a_word(text, offset, shown):
    assert markers(text) == [(offset, len(shown), shown, "footnote", "symbol")]


@pytest.mark.parametrize("text", ["* * *", "5 * 3", "f*ll", "* Item: a note"])
def test_symbols_not_attached_to_a_word_end_are_no_markers(text):
    assert markers(text) == []


def test_devanagari_digits_attached_to_a_word():
    assert markers("धर्मक्षेत्रे१ कुरु") == [(12, 1, "१", "footnote", "devanagari")]


@pytest.mark.parametrize("text", ["कथासुधारसं पीत्वा न तृप्यामः परन्तप ॥ १२ ॥", "परन्तप ॥१२॥", "परन्तप।। १२ ।।",
                                  "श्री हनुमत्सहस्रनामस्तोत्रम्-२", "नमः । (१०२५)", "the year 1308 and Chapter 2 of 3 parts",
                                  "principle1 is clear"])
def test_verse_numbers_and_plain_digits_are_no_markers(text):
    assert markers(text) == []


# -- raised_tokens -----------------------------------------------------------------------------------

def line_tokens(*words) -> list[Token]:
    page = Page()
    page.line(list(words), y=300, block=0)
    return page.tokens


def test_a_small_raised_digit_token_is_a_misread_superscript():
    tokens = line_tokens("The", "principle", ("1", {"bbox": {"x": 260, "y": 298, "w": 8, "h": 16}}), "is", "clear")
    assert [(t.text, at) for t, at in raised_tokens(tokens)] == [("1", 0)]


@pytest.mark.parametrize("bbox", [{"x": 260, "y": 300, "w": 8, "h": 30},   # a normal digit
                                  {"x": 260, "y": 310, "w": 8, "h": 16},   # small, on the baseline
                                  {"x": 260, "y": 280, "w": 8, "h": 26}])  # raised but not small
def test_a_digit_token_not_small_and_raised_is_no_superscript(bbox):
    tokens = line_tokens("The", "principle", ("1", {"bbox": bbox}), "is", "clear")
    assert raised_tokens(tokens) == []


def test_a_trailing_digit_run_of_a_raised_word_is_found_only_geometrically():
    raised = line_tokens("The", ("principle1", {"bbox": {"x": 74, "y": 295, "w": 140, "h": 35}}), "is", "clear")
    level = line_tokens("The", "principle1", "is", "clear")
    assert [(t.text, at) for t, at in raised_tokens(raised)] == [("principle1", 9)]
    assert raised_tokens(level) == [] and find_markers("The principle1 is clear") == []


def test_the_first_token_and_short_lines_give_no_raised_token():
    first = line_tokens(("1", {"bbox": {"x": 100, "y": 298, "w": 8, "h": 16}}), "See", "the", "book")
    assert raised_tokens(first) == [] and raised_tokens(first[:2]) == []


# -- detect_references ------------------------------------------------------------------------------

def box(box_id: str, text: str, kind: ContentType = CT.COMMENTARY, order: int = 1, **fields) -> BoundingBox:
    return BoundingBox(box_id=box_id, coordinates=BoxCoordinates(x=0, y=order * 100, width=500, height=90),
                       content_type=kind, reading_order=order, text=TextContent(ocr=text, corrected=text), **fields)


def detect(boxes, next_page=None, tokens=None) -> DetectionResult:
    ids = itertools.count(1)
    return detect_references(boxes, page_id="page-1", page_number=7, next_page=next_page, tokens=tokens,
                             new_reference_id=lambda: f"ref-{next(ids)}")


def refs(result: DetectionResult) -> dict[str, list[tuple[int, str, str]]]:
    return {k: [(r.position.char_offset, r.display_text, r.target_box_id) for r in v] for k, v in result.applied.items()}


def test_a_marker_matching_exactly_one_footnote_is_applied():
    result = detect([box("b1", "The principle¹ is clear†."), box("n1", "1. See Manu.", CT.FOOTNOTE, 2),
                     box("n2", "† Compare.", CT.FOOTNOTE, 3)])
    assert refs(result) == {"b1": [(13, "¹", "n1"), (23, "†", "n2")]} and result.proposals == []
    assert [r.sequence_in_text for r in result.applied["b1"]] == [1, 2]
    ref = result.applied["b1"][0]
    assert (ref.type, ref.created_by, ref.position.length, ref.target_page_id) == ("footnote", "ai", 1, None)
    assert (result.page_id, result.page_number) == ("page-1", 7)


def test_adjacent_superscripts_link_to_three_notes_and_a_run_joins_for_note_twelve():
    notes = [box(f"n{i}", f"{i}. Note {i}.", CT.FOOTNOTE, i + 1) for i in (1, 2, 3)]
    three = detect([box("b1", "धर्मक्षेत्रे कुरुक्षेत्रे¹²³"), *notes])
    assert refs(three) == {"b1": [(25, "¹", "n1"), (26, "²", "n2"), (27, "³", "n3")]}
    twelve = detect([box("b1", "as the Smriti says¹² here"), box("n12", "12. The Smriti.", CT.FOOTNOTE, 2)])
    assert refs(twelve) == {"b1": [(18, "¹²", "n12")]}


def test_a_compound_links_to_the_note_of_its_first_value():
    notes = [box(f"n{i}", f"{i}. Note {i}.", CT.FOOTNOTE, i + 1) for i in (1, 2, 3)]
    assert refs(detect([box("b1", "as shown¹⁻³ before"), *notes])) == {"b1": [(8, "¹⁻³", "n1")]}
    partial = detect([box("b1", "as shown¹⁻³ before"), *notes[:2]])
    assert partial.applied == {} and partial.proposals[0].target_box_id is None


def test_a_bracketed_citation_links_as_a_citation():
    result = detect([box("b1", "As stated in the Mahābhārata[5]."), box("n5", "[5] Mbh. 1.1.", CT.FOOTNOTE, 2)])
    assert refs(result) == {"b1": [(28, "[5]", "n5")]} and result.applied["b1"][0].type == "citation"


def test_several_candidate_notes_or_none_give_proposals():
    several = detect([box("b1", "clear*."), box("n1", "* One.", CT.FOOTNOTE, 2), box("n2", "* Two.", CT.FOOTNOTE, 3)])
    none = detect([box("b1", "clear‡."), box("n1", "* One.", CT.FOOTNOTE, 2)])
    assert several.applied == none.applied == {}
    [maybe] = several.proposals
    assert (maybe.box_id, maybe.position, maybe.target_box_id, maybe.confidence) == ("b1", Position(char_offset=5, length=1), "n1", 0.5)
    assert "2 footnotes" in maybe.reason
    assert none.proposals[0].target_box_id is None and none.proposals[0].confidence == 0.3
    assert isinstance(maybe, ReferenceProposal) and isinstance(maybe, BookModel)


def test_a_note_beginning_on_the_next_page_is_linked_across_pages():
    overleaf = ("page-2", 8, [box("m1", "* The note.", CT.FOOTNOTE, 5)])
    result = detect([box("b1", "clear*.")], next_page=overleaf)
    [ref] = result.applied["b1"]
    assert (ref.target_box_id, ref.target_page_id, ref.target_page_number) == ("m1", "page-2", 8)
    other_value = detect([box("b1", "clear†.")], next_page=overleaf)
    assert other_value.applied == {} and len(other_value.proposals) == 1


def test_a_continued_note_overleaf_takes_the_only_marker_of_a_page_without_notes():
    overleaf = ("page-2", 8, [box("m1", "and so the note goes on.", CT.FOOTNOTE, 5)])
    assert refs(detect([box("b1", "clear*.")], next_page=overleaf)) == {"b1": [(5, "*", "m1")]}
    two = detect([box("b1", "clear*. And more†.")], next_page=overleaf)
    assert two.applied == {}
    assert [(p.display_text, p.target_box_id, p.target_page_id, p.target_page_number) for p in two.proposals] == [
        ("*", "m1", "page-2", 8), ("†", "m1", "page-2", 8)]


def test_footnote_and_furniture_boxes_are_not_scanned_and_known_references_are_kept():
    note = box("n1", "1. See¹ the other¹.", CT.FOOTNOTE, 2)
    head = box("h1", "THE BOOK*", CT.RUNNING_HEAD, 1)
    known = InlineReference(reference_id="ref-old", position=Position(char_offset=13, length=1), target_box_id="n1",
                            display_text="¹", sequence_in_text=1)
    body = box("b1", "The principle¹ is clear¹.", order=3, inline_references=[known], linked_boxes=["n1"])
    assert refs(detect([head, note, body])) == {"b1": [(23, "¹", "n1")]}


def test_raised_tokens_become_proposals_with_their_offset_in_the_box_text():
    page = Page().line(["The", "principle", ("1", {"bbox": {"x": 260, "y": 298, "w": 8, "h": 16}}), "is", "clear"], y=300, block=1)
    [seeded] = page.seed()
    assert seeded.text.corrected == "The principle 1 is clear"
    note = box("n1", "1. See Manu.", CT.FOOTNOTE, 2)
    result = detect([seeded, note], tokens=page.tokens)
    [maybe] = result.proposals
    assert (maybe.position.char_offset, maybe.display_text, maybe.target_box_id, maybe.confidence) == (14, "1", "n1", 0.4)
    corrected = seeded.model_copy(update={"text": TextContent(ocr=seeded.text.ocr, corrected="The principle is clear")})
    assert detect([corrected, note], tokens=page.tokens).proposals == []


def test_apply_detected_orders_references_and_links_their_targets():
    text = "The first principle¹ appears here² and there."
    known = InlineReference(reference_id="ref-old", position=Position(char_offset=text.index("²"), length=1),
                            target_box_id="n2", display_text="²", sequence_in_text=1)
    body = box("b1", text, inline_references=[known], linked_boxes=["n2"])
    result = detect([body, box("n1", "1. One.", CT.FOOTNOTE, 2), box("n2", "2. Two.", CT.FOOTNOTE, 3)])
    applied = apply_detected(body, result.applied["b1"])
    assert [(r.position.char_offset, r.sequence_in_text, r.target_box_id) for r in applied.inline_references] == [
        (19, 1, "n1"), (33, 2, "n2")]
    assert applied.linked_boxes == ["n2", "n1"]
    assert apply_detected(applied, result.applied["b1"]) == applied
