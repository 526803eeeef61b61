"""hOCR 1.2 output: a document as well-formed XHTML that `hocr-spec --profile standard` accepts.

Layout: one `div.ocr_page` per page, then `div.ocr_carea` (token.block) > `p.ocr_par`
(token.par) > `span.ocr_line` (token.line) > `span.ocrx_word` (token). Every `title` uses only
properties the hOCR spec defines (`image`, `bbox`, `ppageno`, `scan_res`, `x_wconf`), and every
class and property capability used is declared in `ocr-capabilities`. Words of a line are
separated by one space and lines end with a newline, so the text content of the file reads as
plain text. The markup is built with lxml, which escapes all text and attribute values.

`document`, `wconf`, `set_lang`, `quote_value`, `xml_safe`, `newlines` and `separate` are
shared with the book's hOCR export (`pagesage.book.formats.hocr`).
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Iterable, Iterator, Sequence

from lxml import etree
from lxml.builder import ElementMaker

from pagesage.domain.pages import BBox, Token
from pagesage.formats.document import DocumentTotals, DocumentView, PageView
from pagesage.text.normalize import script_of

XHTML_NS = "http://www.w3.org/1999/xhtml"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

CAPABILITIES = ("ocr_page", "ocr_carea", "ocr_par", "ocr_line", "ocrx_word", "ocrp_lang", "ocrp_wconf")
"""Classes and properties the output uses, declared in the `ocr-capabilities` meta field."""

ISO15924 = {"Latin": "Latn", "Devanagari": "Deva"}
"""ISO 15924 codes of the scripts `script_of` names."""

# Characters XML 1.0 cannot carry (C0 controls other than tab/LF/CR, lone surrogates, U+FFFE/F).
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")

E = ElementMaker(namespace=XHTML_NS, nsmap={None: XHTML_NS})
"""Builds XHTML elements (`E.div(...)`)."""


def render_hocr(doc: DocumentView) -> bytes:
    """The document as hOCR 1.2 (XHTML, UTF-8, with XML declaration and `<!DOCTYPE html>`).

    Pages appear in `doc.pages` order with ids `page_N`; a page without a result is an empty
    `ocr_page` (bbox `0 0 0 0` when its size is unknown). Boxes are `bbox x0 y0 x1 y1` in page
    pixels (x1, y1 exclusive, origin top-left); a container's box is the union of its words'
    boxes. `x_wconf` is the token confidence rounded half up to an integer 0-100. `lang`
    attributes carry BCP 47 tags: the page result's `lang_tag` on `ocr_page` and `ocr_par`,
    `token.lang` on a word that differs from its paragraph.

    Args:
        doc: the document read model.

    Returns:
        The encoded file.
    """
    return assemble(doc, doc.totals, [page_part(view) for view in doc.pages])


def page_part(view: PageView) -> bytes:
    """One page's `ocr_page`, serialized (`render_hocr` says what it holds)."""
    return serialize_page(_page(view))


def assemble(doc: DocumentView, totals: DocumentTotals, parts: list[bytes]) -> bytes:
    """The hOCR file of a document from its pages' parts, in page order; the head's languages
    and scripts from `totals` (`ocr-langs`, `ocr-scripts`, the root's `lang`: its one language,
    `mul` for several, `und` for none)."""
    langs = totals.langs
    doc_lang = langs[0] if len(langs) == 1 else ("mul" if langs else "und")
    start, end = frame(title=doc.job.file_name, system=_system(doc), capabilities=CAPABILITIES,
                       page_count=len(parts), langs=langs, scripts=[ISO15924[name] for name in totals.scripts],
                       lang=doc_lang)
    return start + b"".join(parts) + end


def document(*, title: str, system: str, capabilities: Sequence[str], pages: Iterable[etree._Element],
             langs: Sequence[str], scripts: Sequence[str], lang: str, head: Sequence[etree._Element] = ()) -> bytes:
    """An hOCR file of `pages` (`ocr_page` elements) in the `frame` the other arguments make.

    Each page is serialized as it comes and then dropped, so `pages` may be an iterator that
    builds them one at a time (a long document is never one tree in memory).

    Returns:
        The encoded file.
    """
    parts = [serialize_page(page) for page in pages]
    start, end = frame(title=title, system=system, capabilities=capabilities, page_count=len(parts), langs=langs,
                       scripts=scripts, lang=lang, head=head)
    return start + b"".join(parts) + end


def frame(*, title: str, system: str, capabilities: Sequence[str], page_count: int, langs: Sequence[str],
          scripts: Sequence[str], lang: str, head: Sequence[etree._Element] = ()) -> tuple[bytes, bytes]:
    """The bytes of an hOCR file before its pages and after them: XHTML, UTF-8, with XML
    declaration and `<!DOCTYPE html>`, every element but the void ones written with its end tag.

    The head holds `title`, the Content-Type, the metadata fields hOCR 1.2 requires
    (`ocr-system`, `ocr-capabilities`) and recommends (`ocr-number-of-pages`, then `ocr-langs`
    and `ocr-scripts` when not empty), then the elements of `head` (e.g. Dublin Core metadata).
    `lang` (BCP 47) goes on the root as `lang` and `xml:lang`.
    """
    metas = [
        E.meta({"http-equiv": "Content-Type", "content": "text/html;charset=utf-8"}),
        E.meta(name="ocr-system", content=system),
        E.meta(name="ocr-capabilities", content=" ".join(capabilities)),
        E.meta(name="ocr-number-of-pages", content=str(page_count)),
    ]
    if langs:
        metas.append(E.meta(name="ocr-langs", content=" ".join(langs)))
    if scripts:
        metas.append(E.meta(name="ocr-scripts", content=" ".join(scripts)))
    head_element = E.head(E.title(xml_safe(title)), *metas, *head)
    newlines(head_element)
    body = E.body()
    newlines(body)
    html = E.html(head_element, body, {XML_LANG: lang, "lang": lang})
    newlines(html)
    whole = etree.tostring(html, xml_declaration=True, encoding="UTF-8", doctype="<!DOCTYPE html>") + b"\n"
    start, end = whole.split(b"<body>\n", 1)
    return start + b"<body>\n", end


def serialize_page(page: etree._Element) -> bytes:
    """An `ocr_page` element as it is written inside the body, ending with a newline."""
    # a page serialized alone declares the XHTML namespace, which the document's root holds
    return etree.tostring(page, encoding="UTF-8", with_tail=False).replace(_XHTML_DECLARATION, b"", 1) + b"\n"


_XHTML_DECLARATION = f' xmlns="{XHTML_NS}"'.encode()


def wconf(percent: float) -> int:
    """An `x_wconf` value: a confidence on the 0-100 scale rounded half up, clamped to 0-100."""
    return min(100, max(0, math.floor(percent + 0.5)))


def script_code(text: str) -> str | None:
    """The ISO 15924 code of the script `text` starts in (`Latn`, `Deva`); None for others."""
    return ISO15924.get(script_of(text) or "")


def _system(doc: DocumentView) -> str:
    if doc.run is None:
        return doc.system
    return f"{doc.system} ({doc.run.engine} {doc.run.engine_version})"


def _page(view: PageView) -> etree._Element:
    page = view.page
    n = page.page_no
    if page.width is not None and page.height is not None:
        box = BBox(x=0, y=0, w=page.width, h=page.height)
    elif view.tokens:
        box = BBox.union([t.bbox for t in view.tokens])
    else:
        box = BBox(x=0, y=0, w=0, h=0)
    props = []
    if page.image_key:
        props.append(f'image "{quote_value(page.image_key)}"')
    props += [f"bbox {_bbox(box)}", f"ppageno {n - 1}"]
    if page.dpi:
        props.append(f"scan_res {page.dpi} {page.dpi}")
    div = E.div({"class": "ocr_page", "id": f"page_{n}", "title": "; ".join(props)})
    par_lang = view.result.lang_tag if view.result is not None else None
    set_lang(div, par_lang)
    counters = {level: itertools.count(1) for level in ("block", "par", "line", "word")}
    for block_tokens in _runs(view.tokens, "block"):
        carea = E.div(_container("ocr_carea", f"block_{n}_{next(counters['block'])}", block_tokens))
        for par_tokens in _runs(block_tokens, "par"):
            par = E.p(_container("ocr_par", f"par_{n}_{next(counters['par'])}", par_tokens))
            set_lang(par, par_lang)
            for line_tokens in _runs(par_tokens, "line"):
                line = E.span(_container("ocr_line", f"line_{n}_{next(counters['line'])}", line_tokens))
                for i, token in enumerate(line_tokens):
                    word = _word(token, f"word_{n}_{next(counters['word'])}")
                    if token.space_after and i < len(line_tokens) - 1:
                        word.tail = " "  # no space after punctuation an engine split off
                    line.append(word)
                par.append(line)
            separate(par, "\n", last=True)
            carea.append(par)
        separate(carea, "\n", last=True)
        div.append(carea)
    newlines(div)
    return div


def _word(token: Token, word_id: str) -> etree._Element:
    title = f"bbox {_bbox(token.bbox)}; x_wconf {wconf(token.confidence)}"
    word = E.span(xml_safe(token.text), {"class": "ocrx_word", "id": word_id, "title": title})
    set_lang(word, token.lang)
    return word


def set_lang(element: etree._Element, tag: str | None) -> None:
    """Tag an element's language as hOCR (`lang`) and XML (`xml:lang`) read it."""
    if tag:
        element.set("lang", tag)
        element.set(XML_LANG, tag)


def _container(cls: str, element_id: str, tokens: list[Token]) -> dict[str, str]:
    return {"class": cls, "id": element_id, "title": f"bbox {_bbox(BBox.union([t.bbox for t in tokens]))}"}


def _runs(tokens: list[Token], key: str) -> Iterator[list[Token]]:
    """Maximal runs of consecutive tokens sharing the ordinal `key` (block, par or line)."""
    for _, group in itertools.groupby(tokens, key=lambda t: getattr(t, key)):
        yield list(group)


def _bbox(box: BBox) -> str:
    return f"{box.x} {box.y} {box.x1} {box.y1}"


def separate(parent: etree._Element, sep: str, *, last: bool = False) -> None:
    """Put `sep` after each child of `parent` (after the last one too when `last`)."""
    children = list(parent)
    for i, child in enumerate(children):
        if last or i < len(children) - 1:
            child.tail = sep


def newlines(parent: etree._Element) -> None:
    """Start each child of a block element on its own line; an empty element keeps its end tag."""
    parent.text = "\n"
    for child in parent:
        child.tail = "\n"


def quote_value(value: str) -> str:
    """A value for a double-quoted title property: no quote, semicolon or line break inside."""
    return re.sub(r'["\\;\r\n]', "_", xml_safe(value))


def xml_safe(text: str) -> str:
    """`text` without the characters XML 1.0 cannot carry."""
    return _NOT_XML.sub("\ufffd", text)
