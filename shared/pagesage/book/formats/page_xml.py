"""PAGE-XML: an edition as PAGE (Page Analysis and Ground-truth Elements) documents, the PRImA
Research Lab's format for page layout and text, schema version 2019-07-15 (namespace
`http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15`), with a METS 1.12 file that
lists them the way OCR-D workspaces do (OCR-D specification, "METS").

Archive
    A PAGE document (`PcGts`) holds one page, so `render` writes a ZIP archive: `mets.xml` and
    one `page-NNN.xml` a page (NNN its page number, three digits or more). Tools that import a
    ZIP of PAGE files (eScriptorium, Transkribus) pair each with its image by the image's file
    name, which `Page/@imageFilename` gives; OCR-D reads `mets.xml`: file group `OCR-D-IMG` (the page images, which the archive does not
    hold: put them beside `mets.xml` under their file names) and `OCR-D-OCR` (the PAGE files),
    each page a `div TYPE="page"` of the physical structure map. Each `pcGtsId` is the METS
    `file/@ID` of its PAGE file. `render_page` writes one page's PAGE document alone.

Regions (`TextRegion/@type`, PAGE's TextTypeSimpleType; PageSage's content type as written)
    | content type | region |
    |---|---|
    | heading, subheading | TextRegion heading |
    | running-head | TextRegion header |
    | page-number | TextRegion page-number |
    | footnote | TextRegion footnote; footnote-continued (and `@continuation`) for the box that continues the previous page's note |
    | caption | TextRegion caption |
    | verse, commentary, translation, transliteration | TextRegion paragraph |
    | verse-number, footnote-reference, other | TextRegion other |
    | image | ImageRegion (its text, if any, in a nested TextRegion other) |
    | table | TableRegion (its text, if any, in a nested TextRegion paragraph) |

    Every region's `@custom` carries the Transkribus-style properties `readingOrder {index:n;}`
    and `structure {type:<content type>;}`. A region's id is its box id, its `Coords` the box
    rectangle (grown to hold its lines where OCR words stick out of it, as PAGE requires children
    inside their parent). `@primaryLanguage` is the box language's PAGE name (Sanskrit, Hindi,
    English; IAST is Sanskrit in script `Latn - Latin`; other is "other"), `@primaryScript` its
    ISO 15924 script as PAGE spells it (`Deva - Devanagari (Nagari)`).

Text
    TextRegion > TextLine > Word, each with `Coords` and `TextEquiv/Unicode`: a word's text, a
    line's words joined by a space, a region's lines joined by a line feed (PAGE's consistency of
    text on all levels). `TextEquiv/@conf` (0-1) is the OCR confidence of a word, and of a region
    nobody corrected; a word a person wrote has none. A line's `@custom` marks each inline
    reference as `footnoteRef {offset:o; length:n; target:<box id>; noteId:<note id>;}` (code
    points of the line's text). No baselines: PageSage does not know them.

Reading order
    The page's `ReadingOrder` is one `OrderedGroup` of two `OrderedGroupIndexed`: "main text"
    (every box but the footnotes, in the page's reading order), then "footnotes" (a group with
    no boxes is left out). Regions are written in the same order, for readers that ignore
    `ReadingOrder`.

Provenance
    `Metadata`: `Creator` PageSage, `Created`/`LastChange` the edition's `generatedAt` (UTC),
    `MetadataItem`s (type other) with the project, page and export ids. Each region's
    `UserDefined` holds `UserAttribute`s contentType, lang (BCP 47), pageId, sourcePageId,
    runId, pageResultId, tokenNos (space-separated), confidence, corrected, lowConfidence (a
    kept low-confidence box), noteId or continuesNote; each word's, its tokenNos.

Units: pixels of the page image, origin top-left; a rectangle (x, y, w, h) is the polygon
`x,y x+w,y x+w,y+h x,y+h`.
"""

from __future__ import annotations

import io
import mimetypes
import re
import uuid
import zipfile
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone

from lxml import etree

from pagesage.book.domain.edition import Box, Edition, EditionPage, Line, Rect, Reference
from pagesage.book.domain.model import LANGUAGE_TAGS, ContentType, Language

MEDIA_TYPE = "application/zip"
EXTENSION = "page.zip"
WORDS = True
"""PAGE writes lines and words with their coordinates."""

NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
SCHEMA_LOCATION = f"{NS} {NS}/pagecontent.xsd"
PAGE_MEDIA_TYPE = "application/vnd.prima.page+xml"
"""The media type OCR-D gives PAGE files in METS."""

METS_NS = "http://www.loc.gov/METS/"
MODS_NS = "http://www.loc.gov/mods/v3"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
METS_SCHEMA_LOCATION = (f"{METS_NS} http://www.loc.gov/standards/mets/mets.xsd "
                        f"{MODS_NS} http://www.loc.gov/standards/mods/mods.xsd")
IMAGE_GROUP = "OCR-D-IMG"
PAGE_GROUP = "OCR-D-OCR"

CT = ContentType
TEXT_TYPES: dict[ContentType, str] = {
    CT.HEADING: "heading", CT.SUBHEADING: "heading", CT.RUNNING_HEAD: "header", CT.PAGE_NUMBER: "page-number",
    CT.FOOTNOTE: "footnote", CT.CAPTION: "caption", CT.VERSE: "paragraph", CT.COMMENTARY: "paragraph",
    CT.TRANSLATION: "paragraph", CT.TRANSLITERATION: "paragraph", CT.VERSE_NUMBER: "other",
    CT.FOOTNOTE_REFERENCE: "other", CT.OTHER: "other"}
"""`TextRegion/@type` of each content type that is text (module docstring)."""

NON_TEXT_REGIONS: dict[ContentType, tuple[str, str]] = {CT.IMAGE: ("ImageRegion", "other"), CT.TABLE: ("TableRegion", "paragraph")}
"""The region element of each content type that is no text region, and the type of the
TextRegion nested in it for its text."""

LANGUAGES: dict[Language, str] = {Language.SANSKRIT: "Sanskrit", Language.HINDI: "Hindi", Language.ENGLISH: "English",
                                  Language.IAST: "Sanskrit", Language.OTHER: "other"}
"""PAGE's name (LanguageSimpleType) of each language."""

SCRIPTS: dict[str, str] = {
    "Deva": "Deva - Devanagari (Nagari)", "Latn": "Latn - Latin", "Beng": "Beng - Bengali", "Gujr": "Gujr - Gujarati",
    "Guru": "Guru - Gurmukhi", "Knda": "Knda - Kannada", "Mlym": "Mlym - Malayalam", "Orya": "Orya - Oriya",
    "Taml": "Taml - Tamil", "Telu": "Telu - Telugu", "Gran": "Gran - Grantha", "Shrd": "Shrd - Sharada, Śāradā",
    "Sidd": "Sidd - Siddham", "Newa": "Newa - Newa, Newar, Newari", "Sinh": "Sinh - Sinhala", "Tibt": "Tibt - Tibetan",
    "Arab": "Arab - Arabic", "Grek": "Grek - Greek", "Cyrl": "Cyrl - Cyrillic", "Hebr": "Hebr - Hebrew"}
"""PAGE's value (ScriptSimpleType, ISO 15924) of the scripts PageSage's books are written in;
any other script code is "other"."""


def render(edition: Edition) -> bytes:
    """The edition as a ZIP archive: `mets.xml`, then one PAGE document a page
    (`page_file_name`), in page order (module docstring, "Archive"); each page's document is
    rendered and compressed into the archive in turn."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(_member("mets.xml", edition.generated_at), mets(edition))
        for page in edition.pages:
            archive.writestr(_member(page_file_name(page), edition.generated_at), render_page(edition, page))
    return buffer.getvalue()


def _member(name: str, moment: datetime) -> zipfile.ZipInfo:
    """An archive member dated `moment` (UTC), deflated, readable by all (mode 0644)."""
    info = zipfile.ZipInfo(name, moment.astimezone(timezone.utc).timetuple()[:6])
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o100644 << 16
    return info


def page_file_name(page: EditionPage) -> str:
    """The archive member of a page's PAGE document: `page-001.xml` for page 1."""
    return f"page-{page.page_number:03d}.xml"


def file_id(group: str, page: EditionPage) -> str:
    """The METS `file/@ID` of a page's file in `group` (`OCR-D-OCR_0001`), OCR-D's naming."""
    return f"{group}_{page.page_number:04d}"


def render_page(edition: Edition, page: EditionPage) -> bytes:
    """One page of the edition (`page`, one of `edition.pages`) as a PAGE 2019-07-15 document,
    UTF-8 with an XML declaration."""
    root = etree.Element(_q("PcGts"), nsmap={None: NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
    root.set("pcGtsId", file_id(PAGE_GROUP, page))
    _metadata(root, edition, page)
    ids = XmlIds()
    main, notes = split_footnotes(page.boxes)
    ordered = [*main, *notes]
    region_ids = {box.box_id: ids(box.box_id) for box in ordered}
    page_el = _sub(root, "Page", imageFilename=page.image_file, imageWidth=page.width, imageHeight=page.height,
                   imageXResolution=page.dpi, imageYResolution=page.dpi, imageResolutionUnit="PPI" if page.dpi else None,
                   type="content", primaryLanguage=LANGUAGES[edition.project.languages[0]] if edition.project.languages else None,
                   conf=_conf(page.confidence))
    _reading_order(page_el, ids, page, [region_ids[b.box_id] for b in main], [region_ids[b.box_id] for b in notes])
    for index, box in enumerate(ordered):
        _region(page_el, ids, box, region_ids[box.box_id], index)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def mets(edition: Edition) -> bytes:
    """The METS 1.12 file of the archive: header (creator PageSage), MODS description (title,
    authors, publisher, year, languages, identifiers), file groups `OCR-D-IMG` and `OCR-D-OCR`
    and the physical structure map, one page `div` a page with `@ORDER` its page number."""
    root = etree.Element(_m("mets"), nsmap={"mets": METS_NS, "mods": MODS_NS, "xlink": XLINK_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", METS_SCHEMA_LOCATION)
    header = etree.SubElement(root, _m("metsHdr"), CREATEDATE=xml_datetime(edition.generated_at))
    agent = etree.SubElement(header, _m("agent"), TYPE="OTHER", OTHERTYPE="SOFTWARE", ROLE="CREATOR")
    etree.SubElement(agent, _m("name")).text = "PageSage"
    _mods(root, edition)
    if edition.pages:
        files = etree.SubElement(root, _m("fileSec"))
        images = etree.SubElement(files, _m("fileGrp"), USE=IMAGE_GROUP)
        pages = etree.SubElement(files, _m("fileGrp"), USE=PAGE_GROUP)
        for page in edition.pages:
            image_type = mimetypes.guess_type(page.image_file)[0] or "application/octet-stream"
            _mets_file(images, file_id(IMAGE_GROUP, page), image_type, page.image_file)
            _mets_file(pages, file_id(PAGE_GROUP, page), PAGE_MEDIA_TYPE, page_file_name(page))
    physical = etree.SubElement(root, _m("structMap"), TYPE="PHYSICAL")
    sequence = etree.SubElement(physical, _m("div"), TYPE="physSequence", ID="PHYS_0000")
    for page in edition.pages:
        div = etree.SubElement(sequence, _m("div"), TYPE="page", ID=f"PHYS_{page.page_number:04d}",
                               ORDER=str(page.page_number), ORDERLABEL=str(page.page_number))
        for group in (IMAGE_GROUP, PAGE_GROUP):
            etree.SubElement(div, _m("fptr"), FILEID=file_id(group, page))
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def split_footnotes(boxes: Iterable[Box]) -> tuple[list[Box], list[Box]]:
    """A page's boxes in reading order split into the main text and the footnotes."""
    boxes = list(boxes)
    return ([b for b in boxes if b.content_type != CT.FOOTNOTE], [b for b in boxes if b.content_type == CT.FOOTNOTE])


def outline(box: Box) -> Rect:
    """The rectangle (pixels) of a box holding all its lines: its own, grown where a line's OCR
    words stick out of it."""
    rects = [box.rect, *(line.rect for line in box.lines)]
    x0, y0 = min(r[0] for r in rects), min(r[1] for r in rects)
    x1, y1 = max(r[0] + r[2] for r in rects), max(r[1] + r[3] for r in rects)
    return (x0, y0, x1 - x0, y1 - y0)


def reference_places(box: Box) -> list[tuple[Reference, int, int, int]]:
    """Each inline reference of `box` with where its marker starts in `box.lines`: (reference,
    line index, word index, code point within the word). The lines are the box text's non-empty
    lines split at whitespace, so a reference offset (code points of `box.text`) falls in one
    word; a reference outside every word is left out."""
    spans: list[tuple[int, int, int, int]] = []
    start, line_no = 0, 0
    for raw in box.text.split("\n"):
        words = list(re.finditer(r"\S+", raw))
        spans += [(start + m.start(), start + m.end(), line_no, k) for k, m in enumerate(words)]
        line_no += bool(words)
        start += len(raw) + 1
    places = []
    for ref in box.references:
        hit = next(((ln, k, ref.offset - s) for s, e, ln, k in spans if s <= ref.offset < e), None)
        if hit and hit[0] < len(box.lines) and hit[1] < len(box.lines[hit[0]].words):
            places.append((ref, *hit))
    return places


_NOT_IN_ID = re.compile(r"[^\w.-]")
_ID_START = re.compile(r"[^\W\d]")


class XmlIds:
    """Values for `xsd:ID` attributes, unique within one document: a wanted id with every
    character an XML name may not hold replaced by `_`, `_` put before one that does not start
    with a letter or `_`, and `_2`, `_3`, ... appended to one already given."""

    def __init__(self) -> None:
        self._given: set[str] = set()

    def __call__(self, wanted: str) -> str:
        base = _NOT_IN_ID.sub("_", wanted) or "_"
        if not _ID_START.match(base):
            base = f"_{base}"
        if base not in self._given:
            self._given.add(base)
            return base
        candidate, n = base, 1
        while candidate in self._given:
            n += 1
            candidate = f"{base}_{n}"
        self._given.add(candidate)
        return candidate


def xml_datetime(moment: datetime) -> str:
    """`moment` as an `xsd:dateTime` in UTC to the second: `2026-12-01T12:00:00Z`."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def custom(properties: Sequence[tuple[str, Mapping[str, object]]]) -> str:
    """A PAGE `@custom` value in the Transkribus convention, `name {key:value; key:value;}` a
    property; `:`, `;`, `{`, `}`, `\\` and whitespace in values written as `\\uXXXX`."""
    return " ".join(f"{name} {{{' '.join(f'{k}:{_escape(v)};' for k, v in values.items())}}}" for name, values in properties)


def _escape(value: object) -> str:
    return re.sub(r"[\\{};:\s]", lambda m: f"\\u{ord(m.group()):04x}", _text(value))


def _metadata(root: etree._Element, edition: Edition, page: EditionPage) -> None:
    meta = _sub(root, "Metadata")
    _sub(meta, "Creator").text = "PageSage"
    _sub(meta, "Created").text = xml_datetime(edition.generated_at)
    _sub(meta, "LastChange").text = xml_datetime(edition.generated_at)
    _sub(meta, "Comments").text = f"{edition.project.title}, page {page.page_number}"
    items = {"projectId": edition.project.project_id, "exportId": edition.config.export_id, "pageId": page.page_id,
             "pageNumber": page.page_number, "sourcePageId": page.source_page_id, "reviewStatus": page.review_status,
             "version": page.version, "commitSha": page.commit_sha}
    for name, value in items.items():
        if value is not None:
            _sub(meta, "MetadataItem", type="other", name=name, value=value)


def _reading_order(page_el: etree._Element, ids: XmlIds, page: EditionPage, main: list[str], notes: list[str]) -> None:
    if not main and not notes:
        return
    top = _sub(_sub(page_el, "ReadingOrder"), "OrderedGroup", id=ids(f"ro_{page.page_id}"), caption="Regions reading order")
    groups = [(caption, refs) for caption, refs in (("main text", main), ("footnotes", notes)) if refs]
    for index, (caption, refs) in enumerate(groups):
        group = _sub(top, "OrderedGroupIndexed", id=ids(f"ro_{page.page_id}_{caption.replace(' ', '_')}"), index=index,
                     caption=caption)
        for k, ref in enumerate(refs):
            _sub(group, "RegionRefIndexed", index=k, regionRef=ref)


def _region(parent: etree._Element, ids: XmlIds, box: Box, region_id: str, index: int) -> None:
    properties = custom([("readingOrder", {"index": index}), ("structure", {"type": box.content_type.value})])
    if box.content_type in NON_TEXT_REGIONS:
        element, nested_type = NON_TEXT_REGIONS[box.content_type]
        region = _sub(parent, element, id=region_id, custom=properties)
        _coords(region, outline(box))
        _user_defined(region, _box_attributes(box))
        if box.lines:
            _text_region(region, ids, box, ids(f"{region_id}_text"), nested_type)
        return
    region_type = "footnote-continued" if box.continues_note else TEXT_TYPES[box.content_type]
    _text_region(parent, ids, box, region_id, region_type, properties, _box_attributes(box))


def _text_region(parent: etree._Element, ids: XmlIds, box: Box, region_id: str, region_type: str,
                 properties: str | None = None, attributes: Mapping[str, object] | None = None) -> None:
    region = _sub(parent, "TextRegion", id=region_id, custom=properties, type=region_type,
                  continuation="true" if box.continues_note else None,
                  primaryLanguage=LANGUAGES[box.language], primaryScript=_script(box.script))
    _coords(region, outline(box))
    if attributes:
        _user_defined(region, attributes)
    references = _line_references(box)
    for n, line in enumerate(box.lines, start=1):
        _line(region, ids, line, f"{region_id}_l{n}", references.get(n - 1, []))
    if box.lines:
        _text_equiv(region, "\n".join(line.text for line in box.lines), None if box.corrected else box.confidence)


def _line(region: etree._Element, ids: XmlIds, line: Line, line_id: str, references: list[dict[str, object]]) -> None:
    line_el = _sub(region, "TextLine", id=ids(line_id), custom=custom([("footnoteRef", r) for r in references]) or None)
    _coords(line_el, line.rect)
    sub = etree.SubElement  # the words are most of a page's elements: made here without `_sub`
    for k, word in enumerate(line.words, start=1):
        word_el = sub(line_el, _WORD, id=ids(f"{line_id}_w{k}"))
        sub(word_el, _COORDS, points=points(word.rect))
        equiv = sub(word_el, _TEXT_EQUIV) if word.confidence is None else sub(word_el, _TEXT_EQUIV, conf=_conf(word.confidence))
        sub(equiv, _UNICODE).text = word.text
        if word.token_nos:  # as `_user_defined` writes it
            sub(sub(word_el, _USER_DEFINED), _USER_ATTRIBUTE, name="tokenNos", type="xsd:string",
                value=" ".join(map(str, word.token_nos)))
    _text_equiv(line_el, line.text, None)


def _line_references(box: Box) -> dict[int, list[dict[str, object]]]:
    """Each line's references: offset and length in the line's text, target box, note id."""
    out: dict[int, list[dict[str, object]]] = {}
    for ref, line_no, word_no, within in reference_places(box):
        words = box.lines[line_no].words
        offset = sum(len(w.text) + 1 for w in words[:word_no]) + within
        entry = {"offset": offset, "length": ref.length, "target": ref.target_box_id}
        if ref.note_id:
            entry["noteId"] = ref.note_id
        out.setdefault(line_no, []).append(entry)
    return out


def _box_attributes(box: Box) -> dict[str, object]:
    p = box.provenance
    return {"contentType": box.content_type.value, "lang": box.lang, "pageId": p.page_id, "sourcePageId": p.source_page_id,
            "runId": p.run_id, "pageResultId": p.page_result_id, "tokenNos": " ".join(map(str, p.token_nos)) or None,
            "confidence": round(box.confidence, 4), "corrected": box.corrected, "lowConfidence": box.low_confidence,
            "noteId": box.note_id, "continuesNote": box.continues_note}


def _user_defined(element: etree._Element, attributes: Mapping[str, object]) -> None:
    """A `UserDefined` of `attributes` (None values left out) at the end of `element`."""
    holder = _sub(element, "UserDefined")
    for name, value in attributes.items():
        if value is not None:
            _sub(holder, "UserAttribute", name=name, type=_xsd_type(value), value=value)


def _xsd_type(value: object) -> str:
    if isinstance(value, bool):
        return "xsd:boolean"
    if isinstance(value, int):
        return "xsd:integer"
    if isinstance(value, float):
        return "xsd:float"
    return "xsd:string"


def _text_equiv(element: etree._Element, text: str, conf: float | None) -> None:
    equiv = _sub(element, "TextEquiv", conf=_conf(conf))
    _sub(equiv, "Unicode").text = text


def _coords(element: etree._Element, rect: Rect) -> None:
    _sub(element, "Coords", points=points(rect))


def points(rect: Rect) -> str:
    """A rectangle (x, y, w, h) as PAGE `Coords/@points`, clockwise from the top-left corner."""
    x, y, w, h = rect
    return f"{x},{y} {x + w},{y} {x + w},{y + h} {x},{y + h}"


def _script(code: str | None) -> str | None:
    return None if code is None else SCRIPTS.get(code, "other")


def _conf(value: float | None) -> str | None:
    return None if value is None else _text(round(value, 4))


def _mods(root: etree._Element, edition: Edition) -> None:
    project = edition.project
    wrap = etree.SubElement(etree.SubElement(root, _m("dmdSec"), ID="DMDLOG_0001"), _m("mdWrap"), MDTYPE="MODS")
    mods = etree.SubElement(etree.SubElement(wrap, _m("xmlData")), _n("mods"))
    # OCR-D looks for a purl, urn, doi or url identifier: a name-based UUID of the project id
    urn = f"urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, f'https://pagesage.dev/projects/{project.project_id}')}"
    for kind, value in (("urn", urn), ("local", project.project_id)):
        etree.SubElement(mods, _n("identifier"), type=kind).text = value
    title = etree.SubElement(mods, _n("titleInfo"))
    etree.SubElement(title, _n("title")).text = project.title
    if project.subtitle:
        etree.SubElement(title, _n("subTitle")).text = project.subtitle
    for author in project.authors:
        name = etree.SubElement(mods, _n("name"), type="personal")
        etree.SubElement(name, _n("namePart")).text = author
        role = etree.SubElement(name, _n("role"))
        etree.SubElement(role, _n("roleTerm"), authority="marcrelator", type="code").text = "aut"
    if project.publisher or project.publication_year:
        origin = etree.SubElement(mods, _n("originInfo"))
        if project.publisher:
            etree.SubElement(origin, _n("publisher")).text = project.publisher
        if project.publication_year:
            etree.SubElement(origin, _n("dateIssued"), encoding="w3cdtf").text = str(project.publication_year)
    for language in project.languages:
        term = etree.SubElement(etree.SubElement(mods, _n("language")), _n("languageTerm"), authority="rfc5646", type="code")
        term.text = LANGUAGE_TAGS[language]


def _mets_file(group: etree._Element, ident: str, media_type: str, href: str) -> None:
    file_el = etree.SubElement(group, _m("file"), ID=ident, MIMETYPE=media_type)
    etree.SubElement(file_el, _m("FLocat"), {"LOCTYPE": "OTHER", "OTHERLOCTYPE": "FILE", f"{{{XLINK_NS}}}href": href})


def _sub(parent: etree._Element, tag: str, **attrs: object) -> etree._Element:
    """A PAGE element `tag` under `parent`, with the attributes that are not None."""
    return etree.SubElement(parent, _q(tag), {k: _text(v) for k, v in attrs.items() if v is not None})


def _text(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


_WORD, _COORDS, _TEXT_EQUIV, _UNICODE, _USER_DEFINED, _USER_ATTRIBUTE = (
    _q(tag) for tag in ("Word", "Coords", "TextEquiv", "Unicode", "UserDefined", "UserAttribute"))


def _m(tag: str) -> str:
    return f"{{{METS_NS}}}{tag}"


def _n(tag: str) -> str:
    return f"{{{MODS_NS}}}{tag}"


