"""ALTO: an edition as one ALTO (Analyzed Layout and Text Object) document, the Library of
Congress's format for OCR'd text with its layout, schema version 4.4 (namespace
`http://www.loc.gov/standards/alto/ns-v4#`, schema `http://www.loc.gov/standards/alto/v4/alto-4-4.xsd`).

Structure
    `Description`: `MeasurementUnit` pixel; `sourceImageInformation` (the source document's
    file name, the project id); `OCRProcessing` (PageSage, the export time; a
    `postProcessingStep` contentModification when people corrected text); one `Processing` an
    OCR run the text came from. `Tags`, `ReadingOrder`, then `Layout` with one `Page` a page
    (`@PHYSICAL_IMG_NR` its page number, `@PRINTED_IMG_NR` the text of its page-number box,
    `@WIDTH`/`@HEIGHT` the image's pixels, `@PC` its mean OCR confidence 0-1) holding a
    `PrintSpace` as large as the page with the page's blocks in reading order.

Blocks (`@TAGREFS` names the `StructureTag` of the content type, `TYPE="contentType"`)
    | content type | block |
    |---|---|
    | every text type | TextBlock |
    | image | Illustration; a ComposedBlock TYPE="illustration" of an Illustration and a TextBlock when it has text |
    | table | ComposedBlock TYPE="table", its text in a TextBlock |

    A block's `@ID` is its box id, its position (`@HPOS`/`@VPOS`/`@WIDTH`/`@HEIGHT`) the box
    rectangle grown to hold its lines where OCR words stick out of it, `@LANG` the box's BCP 47
    tag, `@CS` true when a person corrected it, `@PROCESSINGREFS` the OCR run.
    TextBlock > TextLine > String (`@CONTENT` the word, `@WC` its OCR confidence 0-1 where it
    has one; `@CS` true for a word a person wrote, in a corrected box or one drawn by hand),
    `SP` between the strings of a line.

Notes, quality, provenance (`OtherTag`s, ALTO 4.4 having no free attribute)
    A note's tag (`TYPE="footnote"`, `@LABEL` its id, `@DESCRIPTION` its whole text) is named
    by the footnote blocks it is made of (a note continued on the next page: both) and by the
    String holding each inline reference to it (a reference to a box that is no note of the
    edition names a tag of that box, `TYPE="reference"`). A kept low-confidence box names the tag
    `low-confidence`. Each box names its provenance tag (`TYPE="provenance"`), whose `XmlData`
    holds a `provenance` element in the namespace `https://pagesage.dev/ns/provenance` with the
    page, source page, run and page result ids, the box's OCR token numbers and each String's.

Reading order
    One `OrderedGroup` of one `OrderedGroup` a page, which holds an `OrderedGroup` of the main
    text (every box but the footnotes) and one of the footnotes (`@TAGREFS` the footnote tag),
    each an `ElementRef` a block.

Units: pixels of each page image, origin top-left (`MeasurementUnit` pixel). Ids, outlines
and reference positions are worked out as for PAGE-XML (`pagesage.book.formats.page_xml`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from importlib import metadata

from lxml import etree

from pagesage.book.domain.edition import Box, Edition, EditionPage, Line, Rect, Reference
from pagesage.book.domain.model import ContentType
from pagesage.book.formats.page_xml import XmlIds, outline, reference_places, split_footnotes, xml_datetime

MEDIA_TYPE = "application/xml"
EXTENSION = "alto.xml"
WORDS = True
"""ALTO writes lines and strings with their coordinates."""

NS = "http://www.loc.gov/standards/alto/ns-v4#"
SCHEMA_LOCATION = f"{NS} http://www.loc.gov/standards/alto/v4/alto-4-4.xsd"
XLINK_NS = "http://www.w3.org/1999/xlink"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
PROVENANCE_NS = "https://pagesage.dev/ns/provenance"
"""The namespace of the `provenance` elements in the provenance tags' `XmlData`."""

PROCESSING_ID = "pagesage"
LOW_CONFIDENCE_TAG = "low-confidence"

try:
    VERSION: str | None = metadata.version("pagesage")
except metadata.PackageNotFoundError:  # running from a source tree that is not installed
    VERSION = None


@dataclass
class _Refs:
    """The ids of one document: blocks by box id, tags, OCR runs' processing steps."""

    ids: XmlIds = field(default_factory=XmlIds)
    blocks: dict[str, str] = field(default_factory=dict)
    type_tags: dict[ContentType, str] = field(default_factory=dict)
    note_tags: dict[str, str] = field(default_factory=dict)
    runs: dict[str, str] = field(default_factory=dict)
    low_confidence: str | None = None


def render(edition: Edition) -> bytes:
    """The edition as one ALTO 4.4 document, UTF-8 with an XML declaration: every page a `Page`
    in page order (module docstring).

    Written a page at a time: each page's `Page` and the tags its blocks name are built in a
    scratch tree, serialized and dropped, so the whole layout is never one tree in memory. The
    document's frame (`Description`, the head of `Tags`, `ReadingOrder`) is one small tree the
    pages' parts are spliced into; the bytes are those `etree.tostring(root, pretty_print=True)`
    gives for the whole tree."""
    refs = _Refs()
    for _, box in edition.boxes():
        refs.blocks[box.box_id] = refs.ids(box.box_id)
    root = _root()
    description = _sub(root, "Description")
    tags = _sub(root, "Tags")
    order = _sub(root, "ReadingOrder")
    layout = _sub(root, "Layout")
    _description(description, edition, refs)
    _content_tags(tags, edition, refs)
    page_tags: list[bytes] = []
    pages: list[bytes] = []
    for page in edition.pages:
        scratch = _root()
        scratch_tags = _sub(scratch, "Tags")
        _page(_sub(scratch, "Layout"), scratch_tags, edition, page, refs)
        page_tags += (_part(tag) for tag in scratch_tags)
        pages += (_part(page_el) for page_el in scratch[1])
    _reading_order(order, edition, refs)
    if page_tags and len(tags) == 0:  # cannot happen: a box's content type has a tag
        raise AssertionError("ALTO tags of blocks without the content type tags")
    for element in (tags, order):
        if len(element) == 0:
            root.remove(element)
    frame = etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
    if page_tags:
        head, tail = frame.split(b"  </Tags>\n", 1)
        frame = b"".join((head, *page_tags, b"  </Tags>\n", tail))
    if pages:
        head, tail = frame.split(b"  <Layout/>\n", 1)
        frame = b"".join((head, b"  <Layout>\n", *pages, b"  </Layout>\n", tail))
    return frame


def _root() -> etree._Element:
    """An empty `alto` root element, declaring the document's namespaces."""
    root = etree.Element(_q("alto"), nsmap={None: NS, "xlink": XLINK_NS, "xsi": XSI_NS}, SCHEMAVERSION="4.4")
    root.set(f"{{{XSI_NS}}}schemaLocation", SCHEMA_LOCATION)
    return root


_DECLARATIONS = f' xmlns="{NS}" xmlns:xlink="{XLINK_NS}" xmlns:xsi="{XSI_NS}"'.encode()
"""The namespace declarations lxml copies from the root onto a child serialized alone."""


def _part(element: etree._Element) -> bytes:
    """A child of `Tags` or `Layout` (two levels down) serialized as the whole document's pretty
    printing writes it: indented, on its own lines, without the root's namespace declarations."""
    etree.indent(element, space="  ", level=2)
    return b"    " + etree.tostring(element, encoding="UTF-8", with_tail=False).replace(_DECLARATIONS, b"", 1) + b"\n"


def _description(description: etree._Element, edition: Edition, refs: _Refs) -> None:
    _sub(description, "MeasurementUnit").text = "pixel"
    source = _sub(description, "sourceImageInformation")
    _sub(source, "fileName").text = edition.project.source_document.file_name
    _sub(source, "documentIdentifier", documentIdentifierLocation="PageSage projectId").text = edition.project.project_id
    processing = _sub(description, "OCRProcessing", ID=refs.ids(PROCESSING_ID))
    config = edition.config
    _step(_sub(processing, "ocrProcessingStep"), "contentGeneration", edition,
          "The project's edition: OCR text, as people corrected it, in reading order",
          settings=f"exportId={config.export_id}; confidenceThreshold={config.confidence_threshold}; "
                   f"includeLowConfidence={str(config.include_low_confidence).lower()}", software=True)
    if any(box.corrected for _, box in edition.boxes()):
        _step(_sub(processing, "postProcessingStep"), "contentModification", edition,
              'Corrected by people in review: corrected TextBlocks and the Strings people wrote have CS="true"',
              agency="; ".join(p.name for p in edition.contributors) or None)
    runs = dict.fromkeys(box.provenance.run_id for _, box in edition.boxes() if box.provenance.run_id)
    for run_id in runs:
        refs.runs[run_id] = refs.ids(f"ocr-{run_id}")
        run = _sub(description, "Processing", ID=refs.runs[run_id])
        _sub(run, "processingCategory").text = "contentGeneration"
        _sub(run, "processingStepDescription").text = f"OCR run {run_id}"
        _sub(run, "processingStepSettings").text = f"runId={run_id}"


def _step(step: etree._Element, category: str, edition: Edition, description: str, *, agency: str | None = None,
          settings: str | None = None, software: bool = False) -> None:
    """A processing step's children, in the schema's order."""
    _sub(step, "processingCategory").text = category
    _sub(step, "processingDateTime").text = xml_datetime(edition.generated_at)
    if agency:
        _sub(step, "processingAgency").text = agency
    _sub(step, "processingStepDescription").text = description
    if settings:
        _sub(step, "processingStepSettings").text = settings
    if software:
        program = _sub(step, "processingSoftware")
        _sub(program, "softwareName").text = "PageSage"
        if VERSION:
            _sub(program, "softwareVersion").text = VERSION


def _content_tags(tags: etree._Element, edition: Edition, refs: _Refs) -> None:
    """The content types' StructureTags, the low-confidence tag and the notes' tags."""
    for _, box in edition.boxes():
        if box.content_type not in refs.type_tags:
            refs.type_tags[box.content_type] = tag = refs.ids(f"type-{box.content_type.value}")
            _sub(tags, "StructureTag", ID=tag, TYPE="contentType", LABEL=box.content_type.value,
                 DESCRIPTION=f"PageSage content type {box.content_type.value}")
        if box.low_confidence and refs.low_confidence is None:
            refs.low_confidence = refs.ids(LOW_CONFIDENCE_TAG)
            _sub(tags, "OtherTag", ID=refs.low_confidence, TYPE="quality", LABEL=LOW_CONFIDENCE_TAG,
                 DESCRIPTION=f"OCR confidence below {edition.config.confidence_threshold}, not corrected")
    for note in edition.notes.values():
        refs.note_tags[note.note_id] = tag = refs.ids(f"note-{note.note_id}")
        _sub(tags, "OtherTag", ID=tag, TYPE="footnote", LABEL=note.note_id, DESCRIPTION=note.text)


def _reference_tag(tags: etree._Element, refs: _Refs, ref: Reference) -> str:
    """The tag of a reference's note; for a reference to a box that is no note of this
    edition, a tag of that box, made on first use."""
    key = ref.note_id if ref.note_id in refs.note_tags else f"box:{ref.target_box_id}"
    if key not in refs.note_tags:
        refs.note_tags[key] = tag = refs.ids(f"reference-{ref.target_box_id}")
        _sub(tags, "OtherTag", ID=tag, TYPE="reference", LABEL=ref.target_box_id,
             DESCRIPTION=f"Inline {ref.type} reference to box {ref.target_box_id}")
    return refs.note_tags[key]


def _page(layout: etree._Element, tags: etree._Element, edition: Edition, page: EditionPage, refs: _Refs) -> None:
    number = next((b.text.strip() for b in page.boxes if b.content_type == ContentType.PAGE_NUMBER and b.text.strip()), None)
    page_el = _sub(layout, "Page", ID=refs.ids(page.page_id), PHYSICAL_IMG_NR=page.page_number, PRINTED_IMG_NR=number,
                   WIDTH=page.width, HEIGHT=page.height, PC=round(page.confidence, 4), PROCESSINGREFS=PROCESSING_ID,
                   LANG=edition.lang if edition.lang != "und" else None)
    space = _sub(page_el, "PrintSpace", HPOS=0, VPOS=0, WIDTH=page.width, HEIGHT=page.height)
    main, notes = split_footnotes(page.boxes)
    for box in (*main, *notes):
        _block(space, tags, box, refs)


def _block(parent: etree._Element, tags: etree._Element, box: Box, refs: _Refs) -> None:
    block_id = refs.blocks[box.box_id]
    provenance = refs.ids(f"provenance-{box.box_id}")
    attrs = {"ID": block_id, "TAGREFS": " ".join(_box_tags(box, refs, provenance)),
             "PROCESSINGREFS": refs.runs.get(box.provenance.run_id or ""), **_position(outline(box))}
    strings: list[tuple[str, tuple[int, ...]]] = []
    if box.content_type == ContentType.IMAGE and not box.lines:
        _sub(parent, "Illustration", **attrs, TYPE="image")
    elif box.content_type in (ContentType.IMAGE, ContentType.TABLE):
        composed = _sub(parent, "ComposedBlock", **attrs, TYPE="table" if box.content_type == ContentType.TABLE else "illustration")
        if box.content_type == ContentType.IMAGE:
            _sub(composed, "Illustration", ID=refs.ids(f"{block_id}_image"), TYPE="image", **_position(outline(box)))
        strings = _text_block(composed, tags, box, refs, {"ID": refs.ids(f"{block_id}_text"), **_position(outline(box))})
    else:
        strings = _text_block(parent, tags, box, refs, attrs)
    _provenance_tag(tags, box, provenance, strings)


def _text_block(parent: etree._Element, tags: etree._Element, box: Box, refs: _Refs,
                attrs: dict[str, object]) -> list[tuple[str, tuple[int, ...]]]:
    """A TextBlock of the box's lines; each String's id and token numbers."""
    block = _sub(parent, "TextBlock", **attrs, CS="true" if box.corrected else None, LANG=box.lang)
    markers: dict[tuple[int, int], list[str]] = {}
    for ref, line_no, word_no, _ in reference_places(box):
        markers.setdefault((line_no, word_no), []).append(_reference_tag(tags, refs, ref))
    by_person = box.corrected or not box.provenance.token_nos
    strings: list[tuple[str, tuple[int, ...]]] = []
    for n, line in enumerate(box.lines):
        line_markers = {k: v for (ln, k), v in markers.items() if ln == n}
        strings += _line(block, refs, line, f"{attrs['ID']}_l{n + 1}", line_markers, by_person)
    return strings


def _line(block: etree._Element, refs: _Refs, line: Line, line_id: str, markers: dict[int, list[str]],
          by_person: bool) -> list[tuple[str, tuple[int, ...]]]:
    """A TextLine of `line` (`markers`: the tags of the references in each word; `by_person`: its
    words without confidence were written by a person); each String's id and token numbers."""
    line_el = _sub(block, "TextLine", ID=refs.ids(line_id), **_position(line.rect))
    strings = []
    sub = etree.SubElement  # the strings are most of a page's elements: made here without `_sub`
    words = line.words
    for k, word in enumerate(words):
        x, y, w, h = word.rect
        if k:
            px, py, pw, _ = words[k - 1].rect
            gap = x - (px + pw)
            space = {"HPOS": str(px + pw), "VPOS": str(py)}
            if gap > 0:
                space["WIDTH"] = str(gap)
            sub(line_el, _SP, space)
        string_id = refs.ids(f"{line_id}_w{k + 1}")
        attrs = {"ID": string_id}
        if k in markers:
            attrs["TAGREFS"] = " ".join(dict.fromkeys(markers[k]))
        attrs |= {"HPOS": str(x), "VPOS": str(y), "WIDTH": str(w), "HEIGHT": str(h), "CONTENT": word.text}
        if word.confidence is not None:
            attrs["WC"] = str(round(word.confidence, 4))
        elif by_person:
            attrs["CS"] = "true"
        sub(line_el, _STRING, attrs)
        strings.append((string_id, word.token_nos))
    return strings


def _box_tags(box: Box, refs: _Refs, provenance: str) -> list[str]:
    """The tags a box names: content type, low confidence, its note, its provenance."""
    names = [refs.type_tags[box.content_type]]
    if box.low_confidence and refs.low_confidence:
        names.append(refs.low_confidence)
    note = box.note_id or box.continues_note
    if note in refs.note_tags:
        names.append(refs.note_tags[note])
    return [*names, provenance]


def _provenance_tag(tags: etree._Element, box: Box, tag_id: str, strings: list[tuple[str, tuple[int, ...]]]) -> None:
    """The box's provenance tag: its `XmlData` a `provenance` element (module docstring)."""
    p = box.provenance
    tag = _sub(tags, "OtherTag", ID=tag_id, TYPE="provenance", LABEL=box.box_id)
    attributes = {"box": box.box_id, "pageId": p.page_id, "sourcePageId": p.source_page_id, "runId": p.run_id,
                  "pageResultId": p.page_result_id, "tokenNos": " ".join(map(str, p.token_nos)) or None,
                  "confidence": str(round(box.confidence, 4)), "corrected": str(box.corrected).lower()}
    record = etree.SubElement(_sub(tag, "XmlData"), f"{{{PROVENANCE_NS}}}provenance",
                              {k: v for k, v in attributes.items() if v is not None}, nsmap={"ps": PROVENANCE_NS})
    for string_id, token_nos in strings:
        if token_nos:
            etree.SubElement(record, f"{{{PROVENANCE_NS}}}string", ref=string_id, tokenNos=" ".join(map(str, token_nos)))


def _reading_order(order: etree._Element, edition: Edition, refs: _Refs) -> None:
    pages = [(page, *split_footnotes(page.boxes)) for page in edition.pages if page.boxes]
    if not pages:
        return
    top = _sub(order, "OrderedGroup", ID=refs.ids("reading-order"))
    for page, main, notes in pages:
        group = _sub(top, "OrderedGroup", ID=refs.ids(f"ro_{page.page_id}"))
        for name, boxes in (("main_text", main), ("footnotes", notes)):
            if not boxes:
                continue
            tag = refs.type_tags[ContentType.FOOTNOTE] if name == "footnotes" else None
            part = _sub(group, "OrderedGroup", ID=refs.ids(f"ro_{page.page_id}_{name}"), TAGREFS=tag)
            for box in boxes:
                _sub(part, "ElementRef", ID=refs.ids(f"ro_{box.box_id}"), REF=refs.blocks[box.box_id])


def _position(rect: Rect) -> dict[str, int]:
    x, y, w, h = rect
    return {"HPOS": x, "VPOS": y, "WIDTH": w, "HEIGHT": h}


def _sub(parent: etree._Element, tag: str, **attrs: object) -> etree._Element:
    """An ALTO element `tag` under `parent`, with the attributes that are not None."""
    return etree.SubElement(parent, _q(tag), {k: str(v) for k, v in attrs.items() if v is not None})


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


_SP, _STRING = _q("SP"), _q("String")
