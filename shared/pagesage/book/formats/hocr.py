"""hOCR export of an edition: hOCR 1.2 ("hOCR - OCR Workflow and Output embedded in HTML",
kba.github.io/hocr-spec/1.2), one XHTML document that `hocr-spec --profile standard` accepts.

Served as `text/html; charset=utf-8`, like the job-level hOCR result (`pagesage.formats.hocr`,
whose document builder this module shares): hOCR is read by HTML tools and browsers, and hOCR
1.2 registers no media type of its own (it proposes `text/vnd.hocr+html`). The file is also
well-formed XML (XHTML namespace, every non-void element with its end tag), so XML tools read
it as they read `application/xhtml+xml`.

Structure (hOCR 1.2 §"Typesetting Elements", §"Float elements", §"Logical Elements",
§"OCR Engine-Specific elements"): one `div.ocr_page` per edition page (id `page_N`; title
`image "<file>"; bbox 0 0 W H; ppageno N-1`, `lpageno` when the page's one page-number box
reads as digits, `scan_res` when its dpi is known), then each box in reading order as one area:

    running-head            div.ocr_header  > lines
    page-number             div.ocr_pageno  > lines
    footnote                div.ocr_textfloat > p.ocr_par > lines
    image, table            div.ocr_image, div.ocr_table > lines
    heading, subheading     div.ocr_carea > h1, h2 > lines
    caption                 div.ocr_carea > p.ocr_caption > lines
    any other content       div.ocr_carea > p.ocr_par > lines

A footnote is a float (outside the text flow, at the page's foot) but not `ocr_footer`, which
the spec keeps for repeated page furniture. A heading is an HTML heading, not `ocr_chapter` or
`ocr_section`: those elements would have to hold the whole chapter or section. Lines are
`span.ocr_line`, words `span.ocrx_word` (ids `line_N_k`, `word_N_k`); words of a line are
separated by a space and lines end with a newline, so the text content reads as the text.

Units and values: `bbox x0 y0 x1 y1` in pixels of the page image (origin top-left, x1 and y1
exclusive): an area's is its box, a line's the union of its words', a word's its OCR token's
(or its share of the tokens it replaced). `x_wconf` is a word's OCR confidence as an integer
0-100 (rounded half up); a word a person wrote (a corrected word) has none. Without word-level
output a line carries the mean of its words' confidences, when every word has one.

Attributes: the area's `id` is the box id; `lang` (and `xml:lang`) the box's BCP 47 tag; HTML
`data-` attributes (which hOCR leaves free) carry the rest: `data-content-type`,
`data-corrected`, `data-low-confidence` (kept low-confidence text; a data attribute rather than a
second class, since hOCR tools match the class exactly), `data-note-id`, `data-continues-note`,
provenance `data-run-id`, `data-page-result-id`, `data-token-nos` (space-separated OCR token
numbers, on areas and words) and `data-page-id`, `data-source-page-id`, `data-commit-sha` on
pages. A reference marker inside a word is an `<a href="#<target box id>">` when its target is
in the export. With `includeMetadata` the head carries Dublin Core fields (`DC.title`,
`DC.creator`…), as hOCR 1.2 §"Document metadata" asks, and with `includeAttribution` one
`DC.contributor` per contributor (names only).

Options (`HocrExportOptions`): `includeConfidence` (no `x_wconf` without it),
`includeBoundingBoxes` (without it no area, line or word carries a `bbox`; the page keeps its
`bbox`, which hOCR 1.2 requires and which only states the image size; areas become
`div.ocrx_block` and lines `span.ocrx_line`, since `ocr_carea`, the floats and `ocr_line`
require a `bbox`), `includeWordLevel` (no `ocrx_word` without it). With no options given,
word-level output is on (word positions and confidences are what an hOCR export is for) and the
other options keep their defaults. `ocr-capabilities` lists every class and property the
chosen options can produce.
"""

from __future__ import annotations

import importlib.metadata
import re
from collections import Counter
from collections.abc import Iterable, Sequence

from lxml import etree

from pagesage.book.domain.edition import Box, Edition, EditionPage, Line, Rect, Word
from pagesage.book.domain.export_config import HocrExportOptions
from pagesage.domain.markers import DEVANAGARI_DIGITS
from pagesage.book.domain.model import LANGUAGE_TAGS, ContentType
from pagesage.formats.hocr import (XHTML_NS, E, document, newlines, quote_value, script_code, separate, set_lang, wconf,
                                   xml_safe)

MEDIA_TYPE = "text/html; charset=utf-8"
EXTENSION = "hocr"
WORDS = True
"""hOCR writes lines and words with their boxes."""

CT = ContentType
LAYOUT: dict[ContentType, tuple[str, str | None, str | None]] = {
    CT.RUNNING_HEAD: ("ocr_header", None, None),
    CT.PAGE_NUMBER: ("ocr_pageno", None, None),
    CT.FOOTNOTE: ("ocr_textfloat", "p", "ocr_par"),
    CT.IMAGE: ("ocr_image", None, None),
    CT.TABLE: ("ocr_table", None, None),
    CT.HEADING: ("ocr_carea", "h1", None),
    CT.SUBHEADING: ("ocr_carea", "h2", None),
    CT.CAPTION: ("ocr_carea", "p", "ocr_caption"),
}
"""Content type -> (area class, tag and class of the element inside holding the lines: None
for lines directly in the area). Other content types: `BODY`."""

BODY = ("ocr_carea", "p", "ocr_par")

SPAN = f"{{{XHTML_NS}}}span"
ANCHOR = f"{{{XHTML_NS}}}a"

_ISO15924_CODE = re.compile(r"^[A-Z][a-z]{3}$")


def render(edition: Edition) -> bytes:
    """The edition as one hOCR 1.2 file (module docstring): UTF-8 XHTML with an XML declaration
    and `<!DOCTYPE html>`, pages in the edition's order, each built and written in turn (the
    document is never one tree in memory).

    Args:
        edition: the edition; `edition.config.hocr` chooses confidences, boxes and word level.

    Returns:
        The encoded file.
    """
    options = options_of(edition)
    targets = {box.box_id for _, box in edition.boxes()}
    pages = (_page(page, options, targets) for page in edition.pages)  # built, written and dropped one by one
    return document(title=edition.project.title, system=_system(), capabilities=capabilities(options), pages=pages,
                    langs=_languages(edition) or ["unknown"],
                    scripts=_scripts(edition) or ["unknown"], lang=edition.lang, head=_dublin_core(edition))


def options_of(edition: Edition) -> HocrExportOptions:
    """The export's hOCR options: `config.hocr`, else the defaults with word-level output on."""
    return edition.config.hocr or HocrExportOptions(include_word_level=True)


def capabilities(options: HocrExportOptions) -> list[str]:
    """The `ocr-capabilities` of an export with `options`: every class and property it can
    produce, whether or not this edition has one."""
    if options.include_bounding_boxes:
        caps = ["ocr_page", "ocr_carea", "ocr_par", "ocr_caption", "ocr_header", "ocr_pageno", "ocr_textfloat",
                "ocr_image", "ocr_table", "ocr_line"]
    else:
        caps = ["ocr_page", "ocrx_block", "ocr_par", "ocr_caption", "ocrx_line"]
    if options.include_word_level:
        caps.append("ocrx_word")
    caps.append("ocrp_lang")
    if options.include_confidence:
        caps.append("ocrp_wconf")
    return caps


def _system() -> str:
    try:
        return f"pagesage {importlib.metadata.version('pagesage')}"
    except importlib.metadata.PackageNotFoundError:
        return "pagesage"


def _languages(edition: Edition) -> list[str]:
    """Language subtags (ISO 639-1) of the boxes' text, most words first; none for "und"."""
    counts: Counter[str] = Counter()
    for _, box in edition.boxes():
        primary = box.lang.split("-")[0]
        if primary != "und":
            counts[primary] += _word_count(box)
    return [tag for tag, _ in counts.most_common()]


def _scripts(edition: Edition) -> list[str]:
    """ISO 15924 codes of the boxes' scripts (`Box.script`, else the script their text starts
    in), most words first."""
    counts: Counter[str] = Counter()
    for _, box in edition.boxes():
        code = box.script if box.script and _ISO15924_CODE.match(box.script) else script_code(box.text)
        if code:
            counts[code] += _word_count(box)
    return [code for code, _ in counts.most_common()]


def _word_count(box: Box) -> int:
    return sum(len(line.words) for line in box.lines)


def _dublin_core(edition: Edition) -> list[etree._Element]:
    """Dublin Core metadata (`DC.*` meta elements) of the project and its contributors."""
    config, project = edition.config, edition.project
    fields: list[tuple[str, str]] = []
    if config.include_metadata:
        fields.append(("DC.title", project.title if not project.subtitle else f"{project.title}: {project.subtitle}"))
        fields += [("DC.creator", author) for author in project.authors]
        if project.publisher:
            fields.append(("DC.publisher", project.publisher))
        if project.publication_year is not None:
            fields.append(("DC.date", str(project.publication_year)))
        fields += [("DC.language", LANGUAGE_TAGS[language]) for language in project.languages]
        fields.append(("DC.identifier", project.project_id))
    if config.include_attribution:
        fields += [("DC.contributor", person.name) for person in edition.contributors]
    if not fields:
        return []
    link = E.link(rel="schema.DC", href="http://purl.org/dc/elements/1.1/")
    return [link, *(E.meta(name=name, content=xml_safe(value)) for name, value in fields)]


def _page(page: EditionPage, options: HocrExportOptions, targets: set[str]) -> etree._Element:
    n = page.page_number
    props = [f'image "{quote_value(page.image_file)}"', f"bbox 0 0 {page.width} {page.height}", f"ppageno {n - 1}"]
    lpageno = _logical_page_number(page)
    if lpageno is not None:
        props.append(f"lpageno {lpageno}")
    if page.dpi:
        props.append(f"scan_res {page.dpi} {page.dpi}")
    div = E.div({"class": "ocr_page", "id": f"page_{n}", "title": "; ".join(props), "data-page-id": page.page_id})
    _set_data(div, {"source-page-id": page.source_page_id, "commit-sha": page.commit_sha})
    ids = _Ids(n)
    for box in page.boxes:
        div.append(_area(box, options, ids, targets))
    newlines(div)
    return div


def _logical_page_number(page: EditionPage) -> int | None:
    """The page number printed on the page: the text of its one page-number box when that is
    digits (ASCII or Devanagari); None otherwise (none, several, or not a number)."""
    numbers = [b.text.strip().translate(DEVANAGARI_DIGITS) for b in page.boxes if b.content_type == CT.PAGE_NUMBER]
    if len(numbers) == 1 and re.fullmatch(r"[0-9]{1,6}", numbers[0]):
        return int(numbers[0])
    return None


class _Ids:
    """Line and word ids of one page: `line_N_k`, `word_N_k`, k counting from 1."""

    def __init__(self, page_number: int) -> None:
        self.page, self.lines, self.words = page_number, 0, 0

    def line(self) -> str:
        self.lines += 1
        return f"line_{self.page}_{self.lines}"

    def word(self) -> str:
        self.words += 1
        return f"word_{self.page}_{self.words}"


def _area(box: Box, options: HocrExportOptions, ids: _Ids, targets: set[str]) -> etree._Element:
    """One box: its area element, the element holding its lines (if any), then its lines."""
    area_class, inner_tag, inner_class = LAYOUT.get(box.content_type, BODY)
    boxes = options.include_bounding_boxes
    area = E.div({"class": area_class if boxes else "ocrx_block", "id": box.box_id})
    if boxes:
        area.set("title", _bbox(box.rect))
    set_lang(area, box.lang)
    _set_data(area, {
        "content-type": box.content_type.value,
        "corrected": "true" if box.corrected else None,
        "low-confidence": "true" if box.low_confidence else None,
        "note-id": box.note_id,
        "continues-note": box.continues_note,
        "run-id": box.provenance.run_id,
        "page-result-id": box.provenance.page_result_id,
        "token-nos": _numbers(box.provenance.token_nos),
    })
    holder = area
    if inner_tag is not None:
        holder = etree.SubElement(area, f"{{{XHTML_NS}}}{inner_tag}")
        if inner_class is not None:
            holder.set("class", inner_class)
            if boxes:
                holder.set("title", _bbox(box.rect))
        newlines(area)
    for line, links in zip(box.lines, _links(box, targets)):
        holder.append(_line(line, links, options, ids))
    separate(holder, "\n", last=True)
    if not len(holder):
        holder.text = ""  # keeps the end tag: an HTML parser reads `<p/>` as an open `<p>`
    elif holder is area:
        area.text = "\n"
    return area


def _line(line: Line, links: Sequence[Sequence[_Link]], options: HocrExportOptions, ids: _Ids) -> etree._Element:
    """A line as `ocr_line` (`ocrx_line` without boxes): its words as `ocrx_word` elements, or
    as text when word-level output is off; `links` are each word's reference links."""
    boxes = options.include_bounding_boxes
    element = E.span({"class": "ocr_line" if boxes else "ocrx_line", "id": ids.line()})
    props = [_bbox(line.rect)] if boxes else []
    last = len(line.words) - 1
    for i, (word, word_links) in enumerate(zip(line.words, links)):
        if options.include_word_level:
            span = _word(element, word, options, ids.word())
            if i < last:
                span.tail = " "
            _fill(span, word.text, word_links)
        else:
            _fill(element, word.text, word_links)
            if i < last:
                _append_text(element, " ")
    confidences = [w.confidence for w in line.words]
    if not options.include_word_level and options.include_confidence and None not in confidences:
        props.append(f"x_wconf {wconf(100 * sum(confidences) / len(confidences))}")
    if props:
        element.set("title", "; ".join(props))
    return element


def _word(line: etree._Element, word: Word, options: HocrExportOptions, word_id: str) -> etree._Element:
    """An `ocrx_word` appended to `line`, without its text: bbox, x_wconf, token numbers."""
    attrib = {"class": "ocrx_word", "id": word_id}
    props = []
    if options.include_bounding_boxes:
        props.append(_bbox(word.rect))
    if options.include_confidence and word.confidence is not None:
        props.append(f"x_wconf {wconf(100 * word.confidence)}")
    if props:
        attrib["title"] = "; ".join(props)
    if word.token_nos:
        attrib["data-token-nos"] = " ".join(map(str, word.token_nos))
    return etree.SubElement(line, SPAN, attrib)


_Link = tuple[int, int, str]
"""A reference marker inside a word: its start and end (code points of the word) and href."""


def _links(box: Box, targets: set[str]) -> list[list[list[_Link]]]:
    """For each line of `box`, for each word, the links of the reference markers inside it:
    references whose target box is in the export (`targets`) and whose marker lies within one
    word. Words are found in `box.text` where its lines split it (runs of non-space)."""
    words = [w for line in box.lines for w in line.words]
    found: list[list[_Link]] = [[] for _ in words]
    refs = [r for r in box.references if r.target_box_id in targets]
    starts = [m.start() for m in re.finditer(r"\S+", box.text)] if refs else []
    if len(starts) == len(words):
        for ref in refs:
            for k, (start, word) in enumerate(zip(starts, words)):
                end = start + len(word.text)
                if start <= ref.offset and ref.offset + ref.length <= end and box.text[start:end] == word.text:
                    found[k].append((ref.offset - start, ref.offset - start + ref.length, f"#{ref.target_box_id}"))
                    break
    out, k = [], 0
    for line in box.lines:
        out.append(found[k:k + len(line.words)])
        k += len(line.words)
    return out


def _fill(element: etree._Element, text: str, links: Sequence[_Link]) -> None:
    """Append `text` to `element`, each linked marker in it as an `<a href>`."""
    at = 0
    for start, end, href in sorted(links):
        if start < at:
            continue
        _append_text(element, xml_safe(text[at:start]))
        anchor = etree.SubElement(element, ANCHOR, href=href)
        anchor.text = xml_safe(text[start:end])
        at = end
    _append_text(element, xml_safe(text[at:]))


def _append_text(element: etree._Element, text: str) -> None:
    """Append `text` after the last child of `element` (or as its text when it has none)."""
    if not text:
        return
    if len(element):
        last = element[-1]
        last.tail = (last.tail or "") + text
    else:
        element.text = (element.text or "") + text


def _bbox(rect: Rect) -> str:
    x, y, w, h = rect
    return f"bbox {x} {y} {x + w} {y + h}"


def _numbers(values: Iterable[int]) -> str | None:
    text = " ".join(str(v) for v in values)
    return text or None


def _set_data(element: etree._Element, values: dict[str, str | None]) -> None:
    """Set `data-<name>` for each value that is not None."""
    for name, value in values.items():
        if value is not None:
            element.set(f"data-{name}", xml_safe(value))
