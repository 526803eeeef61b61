"""Seeding a page's boxes from its OCR tokens: `seed_boxes`, a pure function.

Units: pixels of the page image (origin top-left); heights as ratios to the page's body, `H` its
median line height and `h` its median token height, widths as fractions of its text column
(`layout.PageMeasures`); text offsets in code points. The thresholds, measured on the corpus
pages of `tests/corpus/test_book_detection.py`, are the constants of `regions`.

Text
    A line is the tokens sharing Tesseract's `line` ordinal, in token order: words joined by one
    space, none after a token whose `space_after` is False nor before a footnote-symbol or
    superscript token touching its left neighbour (`layout.ATTACH_GAP`: Tesseract splits the `*`
    of `eodem.”*` off). A box's lines are joined by "\\n" (a verse keeps its lines).

Boxes
    A box is a run of consecutive lines of one kind inside one Tesseract block: one box per block
    when its lines are alike, split where the kind changes (a block holding a speaker line, two
    verses and a mantra gives four boxes). Exceptions: a verse may gather its half-lines across a
    block boundary and each verse is a box of its own; the page furniture and the footnotes leave
    their blocks (c030's page number shares a block with the last body line).

Content types, in the order they are tried
    1. page-number: in the top band (the lines level with the topmost line, when it starts in
       the top 15% of the page) a line that is a number (1-4 ASCII or Devanagari digits, maybe in
       dashes, brackets or dots), or, alone and centred, 1-3 characters OCR reads for digits
       (a041's `31` read `ol`); a number at either end of a top line, 2 token heights or more
       from the next word (`46 THE CORSET…`); the bottom line of the page when it is a number
       below every other line.
    2. running-head: a top-band line (what is left of it once its page number is split off) of
       at most 12 words, at least 3 letters and at most 1.15 H tall, when the band holds a page
       number or the gap below the band is at least 1 H; not a chapter title, a speaker line or a
       verse line. A top line that is none stays in the body (its page number is not split off).
    3. footnote: the lines at the bottom of the page below a gap of 0.5 H, all with median token
       height at most 0.9 h, one of them starting with a marker (`markers.footnote_value`) and
       words; each line starting with a marker starts a footnote box, lines before the first
       are a footnote continued from the previous page.
    Then each body line gets a kind:
    4. verse-number: a number that is a Tesseract block of its own (verse numbers printed in the
       margin, shreelipi p004-p006); reading order puts it after the box beside it.
    5. other: fewer than 3 letters (an ornament: `* * *`, `—★—`).
    6. heading: a chapter title (`Chapter III`, `… अध्यायः`) of at most 4 words.
    7. subheading: a speaker line (`… उवाच`, `ऋषय ऊचुः`, `uvāca`) of at most 5 words.
    8. verse: a verse-end line (Devanagari ending in `॥`, `॥ १२ ॥`, `॥१२॥`, `।। १२ ।।`, or a misread
       number; transliteration ending in `|| 12 ||` / `.. 12..`) with the lines just above it
       ending in a danda (`।`), up to 6 lines, at least 2; also 2 or more consecutive lines of
       one block in smaller type (median token height at most 0.92 h), indented 0.1 column
       widths or more on both sides and at most 0.7 wide (quoted poetry, e052). A verse-end line
       left alone is prose; the verse number printed on the line stays in the verse's text.
    9. heading: a line taller than 1.2 H with tokens taller than 1.2 h, at most 0.9 column widths
       and 10 words, not ending in a danda; or a line of at most 10 words centred on the column
       (within 0.03 column widths), at most 0.6 wide, indented 0.1 or more and not in smaller type
       (a single indented line in smaller type is prose).
    10. subheading: a line right under a heading, centred on it (within 0.03 column widths), at
        most 0.6 column widths wide (j030's title under `CHAPTER III`).
    11. commentary: any other line (body prose).

Language and script (per box)
    `script` is the ISO 15924 code of most of its letters, `Deva` (U+0900-U+097F) or `Latn`, else
    `Deva` for Devanagari digits, else None. Devanagari is `hindi` when its tokens' BCP 47 tags
    (a token's `lang`, else the run's `lang_tag`) are mostly `hi`, `sanskrit` when mostly `sa`;
    under another tag (the script model's `und-Deva`) `hindi` when Hindi function words (है, में,
    और, से, को, की, था, नहीं, …) make 5% of its words and at least 2, else `sanskrit`. Latin is `iast`
    when tagged `sa-Latn`, or when 20% of its words carry IAST letters (ā ī ū ṛ ṝ ḷ ṃ ṁ ḥ ś ṣ ṅ ñ ṭ
    ḍ ṇ), else `english`. A box without letters takes the run's language.

Reading order
    1-based: the top band left to right, then the body boxes in the engine's order (by first
    token; Tesseract's block order is its reading order) with each verse-number box after the
    box it stands beside, then the footnotes, then a bottom page number.
"""

from __future__ import annotations

import unicodedata
from collections import Counter
from datetime import datetime
from typing import Callable, Sequence

from pagesage.book.domain.model import (AI, BoundingBox, BoxCoordinates, ContentType, Language, OcrSource,
                                        TextContent)
from pagesage.book.domain.regions import Region, regions
from pagesage.domain.pages import Token
from pagesage.text.normalize import script_of

IAST_LETTERS = frozenset("āīūṛṝḷḹṃṁḥśṣṅñṭḍṇĀĪŪṚṜḶḸṂṀḤŚṢṄÑṬḌṆ")
IAST_SHARE = 0.2
"""Least share of a Latin box's words carrying an IAST letter for it to be `iast`."""
HINDI_WORDS = frozenset("है हैं में और से को की था थे थी नहीं भी यह वह ने लिए किया गया".split())
HINDI_SHARE = 0.05
_SCRIPT_NAMES = {"Deva": "Devanagari", "Latn": "Latin"}


def seed_boxes(tokens: Sequence[Token], *, width: int, height: int, run_id: str, page_result_id: str,
               lang_tag: str, new_box_id: Callable[[ContentType], str], now: datetime) -> list[BoundingBox]:
    """The boxes of one page from its OCR tokens, by the rules of this module's docstring.

    Args:
        tokens: the page result's tokens (pixels of the page image, confidence 0-100).
        width, height: the page image's size, pixels; boxes are clamped inside it.
        run_id, page_result_id: provenance, kept in each box's `ocrSource`.
        lang_tag: the run's BCP 47 tag for the page (`PageResult.lang_tag`: "sa", "hi", "en",
            "und-Deva"…), for tokens without a `lang` of their own.
        new_box_id: a new box id for a box of that content type.
        now: when the boxes are made (`lastModifiedAt`).

    Returns:
        The boxes in reading order, `readingOrder` 1.., text as OCR read it (`ocr == corrected`),
        `confidence` and `text.ocrConfidence` the mean token confidence / 100, `createdBy` "ai".
    """
    boxes = []
    for order, region in enumerate(regions(tokens, height), start=1):
        boxes.append(_box(region, order, width=width, height=height, run_id=run_id, page_result_id=page_result_id,
                          lang_tag=lang_tag, box_id=new_box_id(region.content_type), now=now))
    return boxes


def _box(region: Region, order: int, *, width: int, height: int, run_id: str, page_result_id: str, lang_tag: str,
         box_id: str, now: datetime) -> BoundingBox:
    tokens = region.tokens
    text = "\n".join(line.text for line in region.lines)
    confidence = round(sum(t.confidence for t in tokens) / len(tokens) / 100, 4)
    language, script = language_of(tokens, lang_tag)
    return BoundingBox(
        box_id=box_id, coordinates=clamped(tokens, width, height), content_type=region.content_type,
        language=language, script=script, reading_order=order, confidence=confidence,
        text=TextContent(ocr=text, corrected=text, ocr_confidence=confidence),
        created_by="ai", last_modified_by=AI, last_modified_at=now,
        ocr_source=OcrSource(run_id=run_id, page_result_id=page_result_id, token_nos=sorted(t.token_no for t in tokens)))


def clamped(tokens: Sequence[Token], width: int, height: int) -> BoxCoordinates:
    """The union of the tokens' boxes inside a `width` x `height` image (at least 1 pixel)."""
    x0 = min(max(min(t.bbox.x for t in tokens), 0), width - 1)
    y0 = min(max(min(t.bbox.y for t in tokens), 0), height - 1)
    x1 = min(max(t.bbox.x1 for t in tokens), width)
    y1 = min(max(t.bbox.y1 for t in tokens), height)
    return BoxCoordinates(x=x0, y=y0, width=max(x1 - x0, 1), height=max(y1 - y0, 1))


def _char_script(ch: str) -> str | None:
    if "\u0900" <= ch <= "\u0963" or "\u0971" <= ch <= "\u097f":
        return "Deva"
    if ch.isalpha() and unicodedata.name(ch, "").startswith("LATIN"):
        return "Latn"
    return None


def language_of(tokens: Sequence[Token], lang_tag: str) -> tuple[Language, str | None]:
    """A box's language and ISO 15924 script from its tokens (see the module docstring)."""
    counts = Counter(s for t in tokens for s in map(_char_script, t.text) if s)
    if not counts:
        digits = any("०" <= ch <= "९" for t in tokens for ch in t.text)
        return _tag_language(lang_tag), "Deva" if digits else None
    script = counts.most_common(1)[0][0]
    words = [t for t in tokens if script_of(t.text) == _SCRIPT_NAMES[script]] or list(tokens)
    tag = Counter((t.lang or lang_tag).lower() for t in words).most_common(1)[0][0]
    if script == "Deva":
        if tag.split("-")[0] in ("hi", "sa"):
            return _tag_language(tag), script
        hindi = sum(1 for t in words if t.text.strip("।॥,.") in HINDI_WORDS)
        return (Language.HINDI if hindi >= 2 and hindi >= HINDI_SHARE * len(words) else Language.SANSKRIT), script
    if tag == "sa-latn":
        return Language.IAST, script
    marked = sum(1 for t in words if any(ch in IAST_LETTERS for ch in t.text))
    return (Language.IAST if marked and marked >= IAST_SHARE * len(words) else Language.ENGLISH), script


def _tag_language(tag: str) -> Language:
    """`sa-Latn` iast; primary subtag `sa` sanskrit, `hi` hindi, `en` english; another tag
    naming Devanagari (`und-Deva`) sanskrit; anything else english."""
    tag = tag.lower()
    if tag == "sa-latn":
        return Language.IAST
    return {"sa": Language.SANSKRIT, "hi": Language.HINDI, "en": Language.ENGLISH}.get(
        tag.split("-")[0], Language.SANSKRIT if "deva" in tag.split("-")[1:] else Language.ENGLISH)
