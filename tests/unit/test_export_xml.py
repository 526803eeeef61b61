"""PAGE-XML and ALTO exports (`pagesage.book.formats.page_xml`, `pagesage.book.formats.alto`).

Every document is checked against its schema: PAGE 2019-07-15 and METS 1.12 as the installed
`ocrd_validators` ships them, ALTO 4.4 vendored in tests/fixtures/schemas (SOURCE.md). PAGE is
read back with ocrd_models and checked with OCR-D's own validators (text consistency across
levels, coordinates inside their parents, the METS workspace); ALTO is read with lxml. The
values read back are compared with the synthetic book's edition (`editions`), then with a real
OCR'd corpus page.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import zipfile
from pathlib import Path

import ocrd_validators
import pytest
from lxml import etree
from ocrd_models.ocrd_page import parseString
from ocrd_validators.page_validator import PageValidator

import editions
from pagesage.book.domain.model import ContentType
from pagesage.book.formats import alto, page_xml, renderer
from pagesage.book.services import exports
from pagesage.config import Settings

OCRD_SCHEMAS = Path(ocrd_validators.__file__).parent
ALTO_XSD = Path(__file__).resolve().parents[1] / "fixtures" / "schemas" / "alto-4-4.xsd"
LOC_XLINK = "http://www.loc.gov/standards/xlink/xlink.xsd"
PC = {"pc": page_xml.NS}
A = {"a": alto.NS, "ps": alto.PROVENANCE_NS}
M = {"mets": page_xml.METS_NS, "xlink": page_xml.XLINK_NS, "mods": page_xml.MODS_NS}

REGION_TYPES = {
    "box-rh-1": "header", "box-pn-1": "page-number", "box-h-1": "heading", "box-verse-1": "paragraph",
    "box-iast-1": "paragraph", "box-tr-1": "paragraph", "box-c-1": "paragraph", "box-fn-1": "footnote", "box-fn-2": "footnote",
    "box-c-2": "paragraph", "box-low-2": "paragraph", "box-hi-2": "paragraph", "box-fn-2b": "footnote-continued",
    "box-h-3": "heading", "box-tr-3": "paragraph", "box-fn-3": "footnote"}
"""The PAGE region type each box of the synthetic book must get."""


# -- schemas and readers ---------------------------------------------------------------------

class _LocalXlink(etree.Resolver):
    """Answers the ALTO schema's XLink import with the copy ocrd_validators ships."""

    def resolve(self, url, pubid, context):
        if url == LOC_XLINK:
            return self.resolve_filename(str(OCRD_SCHEMAS / "xlink.xsd"), context)
        return None


@functools.cache
def _schema(name: str) -> etree.XMLSchema:
    if name == "alto":
        parser = etree.XMLParser()
        parser.resolvers.add(_LocalXlink())
        return etree.XMLSchema(etree.parse(str(ALTO_XSD), parser))
    return etree.XMLSchema(etree.parse(str(OCRD_SCHEMAS / f"{name}.xsd")))


def _valid(name: str, data: bytes) -> etree._Element:
    """`data` parsed, asserting it is valid against schema `name` (page, mets, alto)."""
    doc = etree.fromstring(data)
    schema = _schema(name)
    assert schema.validate(doc), [str(e) for e in schema.error_log][:5]
    return doc


def _archive(edition) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(page_xml.render(edition))) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def _pages(edition) -> dict[int, object]:
    """Each page's PAGE document, schema-checked, as ocrd_models reads it, by page number."""
    archive = _archive(edition)
    out = {}
    for page in edition.pages:
        data = archive[page_xml.page_file_name(page)]
        _valid("page", data)
        out[page.page_number] = parseString(data, silence=True)
    return out


def _consistent(pcgts) -> None:
    report = PageValidator.validate(ocrd_page=pcgts, page_textequiv_consistency="strict", check_coords=True)
    assert report.is_valid, report.errors[:5]


def _rect(points: str) -> tuple[int, int, int, int]:
    xs, ys = zip(*((int(a), int(b)) for a, b in (p.split(",") for p in points.split())))
    return (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def _user(element) -> dict[str, str]:
    return {a.name: a.value for a in element.get_UserDefined().get_UserAttribute()}


def _regions(pcgts) -> dict[str, object]:
    return {r.id: r for r in pcgts.get_Page().get_AllRegions(order="reading-order")}


def _alto(edition) -> etree._Element:
    return _valid("alto", alto.render(edition))


# -- PAGE-XML --------------------------------------------------------------------------------

def test_the_page_xml_archive_holds_a_valid_mets_and_one_valid_pcgts_a_page():
    edition = editions.edition("page-xml")
    output = renderer("page-xml")
    assert (output.media_type, output.extension) == ("application/zip", "page.zip")
    archive = _archive(edition)
    assert list(archive) == ["mets.xml", "page-001.xml", "page-002.xml", "page-003.xml"]
    with zipfile.ZipFile(io.BytesIO(page_xml.render(edition))) as z:
        assert {(i.compress_type, i.external_attr >> 16 & 0o777, i.date_time) for i in z.infolist()} == {
            (zipfile.ZIP_DEFLATED, 0o644, (2026, 12, 1, 12, 0, 0))}
    mets = _valid("mets", archive["mets.xml"])
    groups = {g.get("USE"): g for g in mets.iterfind(".//mets:fileGrp", M)}
    assert list(groups) == ["OCR-D-IMG", "OCR-D-OCR"]
    hrefs = [f.find("mets:FLocat", M).get(f"{{{page_xml.XLINK_NS}}}href") for f in groups["OCR-D-OCR"]]
    assert hrefs == ["page-001.xml", "page-002.xml", "page-003.xml"]
    assert [f.get("MIMETYPE") for f in groups["OCR-D-OCR"]] == ["application/vnd.prima.page+xml"] * 3
    assert [f.find("mets:FLocat", M).get(f"{{{page_xml.XLINK_NS}}}href") for f in groups["OCR-D-IMG"]] == [
        "page-001.png", "page-002.png", "page-003.png"]
    divs = mets.findall(".//mets:structMap[@TYPE='PHYSICAL']/mets:div/mets:div[@TYPE='page']", M)
    assert [d.get("ORDER") for d in divs] == ["1", "2", "3"]
    file_ids = {f.get("ID") for f in mets.iterfind(".//mets:file", M)}
    assert all(fptr.get("FILEID") in file_ids for d in divs for fptr in d) and len(file_ids) == 6
    assert mets.findtext(".//mods:title", namespaces=M) == "The Bhagavad Gītā"
    assert mets.find(".//mods:identifier[@type='urn']", M).text.startswith("urn:uuid:")
    for number, (name, ocr_file) in enumerate(zip(hrefs, groups["OCR-D-OCR"]), start=1):
        pcgts = parseString(archive[name], silence=True)
        _valid("page", archive[name])
        _consistent(pcgts)
        assert pcgts.get_pcGtsId() == ocr_file.get("ID")  # OCR-D: the PcGts id is the METS file id
        page = pcgts.get_Page()
        assert (page.imageFilename, page.imageWidth, page.imageHeight) == (f"page-{number:03d}.png", 1200, 1800)
        assert pcgts.get_Metadata().get_Creator() == "PageSage"
        assert pcgts.get_Metadata().get_Created().isoformat().startswith("2026-12-01T12:00:00")
        items = {i.name: i.value for i in pcgts.get_Metadata().get_MetadataItem()}
        assert items["pageId"] == f"{editions.PROJECT_ID}-p{number:03d}" and items["sourcePageId"] == f"src_0001_p{number}"


def test_render_page_is_the_archive_member_of_that_page():
    edition = editions.edition("page-xml")
    archive = _archive(edition)
    for page in edition.pages:
        assert page_xml.render_page(edition, page) == archive[page_xml.page_file_name(page)]


def test_page_regions_read_back_with_their_types_ids_reading_order_text_and_coordinates():
    edition = editions.edition("page-xml")
    pages = _pages(edition)
    for page in edition.pages:
        pcgts = pages[page.page_number]
        main = [b.box_id for b in page.boxes if b.content_type != ContentType.FOOTNOTE]
        notes = [b.box_id for b in page.boxes if b.content_type == ContentType.FOOTNOTE]
        top = pcgts.get_Page().get_ReadingOrder().get_OrderedGroup()
        groups = top.get_AllIndexed()
        assert [g.caption for g in groups] == ["main text", "footnotes"]
        assert [[r.regionRef for r in g.get_AllIndexed()] for g in groups] == [main, notes]
        regions = _regions(pcgts)
        assert list(regions) == main + notes
        for box in page.boxes:
            region = regions[box.box_id]
            assert region.get_type() == REGION_TYPES[box.box_id]
            assert f"structure {{type:{box.content_type.value};}}" in region.get_custom()
            assert _rect(region.get_Coords().points) == box.rect
            assert region.get_TextEquiv()[0].Unicode == box.text
            lines = region.get_TextLine()
            assert [ln.get_TextEquiv()[0].Unicode for ln in lines] == [ln.text for ln in box.lines]
            for line_el, line in zip(lines, box.lines, strict=True):
                assert _rect(line_el.get_Coords().points) == line.rect
                words = line_el.get_Word()
                assert [w.get_TextEquiv()[0].Unicode for w in words] == [w.text for w in line.words]
                assert [_rect(w.get_Coords().points) for w in words] == [w.rect for w in line.words]
                assert [w.get_TextEquiv()[0].conf for w in words] == [w.confidence for w in line.words]
                assert [_user(w)["tokenNos"] for w in words] == [" ".join(map(str, w.token_nos)) for w in line.words]
            attrs = _user(region)
            assert attrs["contentType"] == box.content_type.value and attrs["lang"] == box.lang
            assert (attrs["pageId"], attrs["runId"], attrs["pageResultId"]) == (page.page_id, "run-1", f"res-p{page.page_number}")
            assert attrs["tokenNos"] == " ".join(map(str, box.provenance.token_nos))


def test_the_corrected_commentary_has_its_corrected_words_without_confidence_and_its_reference():
    edition = editions.edition("page-xml")
    region = _regions(_pages(edition)[1])["box-c-1"]
    assert region.get_TextEquiv()[0].Unicode == "The principle² is clear."
    assert region.get_TextEquiv()[0].conf is None  # a person wrote it
    assert _user(region)["corrected"] == "true"
    (line,) = region.get_TextLine()
    words = [(w.get_TextEquiv()[0].Unicode, w.get_TextEquiv()[0].conf) for w in line.get_Word()]
    assert words == [("The", 0.91), ("principle²", None), ("is", 0.91), ("clear.", None)]
    assert line.get_custom() == "footnoteRef {offset:13; length:1; target:box-fn-2; noteId:p1-2;}"
    assert line.get_TextEquiv()[0].Unicode[13] == "²"
    translation = _regions(_pages(edition)[1])["box-tr-1"].get_TextLine()[0]
    assert "footnoteRef {offset:22; length:1; target:box-fn-1; noteId:p1-1;}" == translation.get_custom()


def test_page_languages_and_scripts_use_the_schema_names():
    regions = {**_regions(_pages(editions.edition("page-xml"))[1]), **_regions(_pages(editions.edition("page-xml"))[2])}
    verse = regions["box-verse-1"]
    assert (verse.get_primaryLanguage(), verse.get_primaryScript()) == ("Sanskrit", "Deva - Devanagari (Nagari)")
    assert (regions["box-iast-1"].get_primaryLanguage(), regions["box-iast-1"].get_primaryScript()) == ("Sanskrit", "Latn - Latin")
    assert (regions["box-hi-2"].get_primaryLanguage(), regions["box-hi-2"].get_primaryScript()) == ("Hindi", "Deva - Devanagari (Nagari)")
    assert (regions["box-tr-1"].get_primaryLanguage(), regions["box-tr-1"].get_primaryScript()) == ("English", "Latn - Latin")
    assert regions["box-verse-1"].get_TextEquiv()[0].Unicode.split("\n")[1].endswith("॥ १ ॥")


def test_a_footnote_continued_overleaf_is_footnote_continued_and_names_its_note():
    pages = _pages(editions.edition("page-xml"))
    first, second = _regions(pages[1]), _regions(pages[2])
    assert (_user(first["box-fn-1"])["noteId"], _user(first["box-fn-2"])["noteId"]) == ("p1-1", "p1-2")
    continued = second["box-fn-2b"]
    assert continued.get_type() == "footnote-continued" and continued.get_continuation() is True
    assert _user(continued)["continuesNote"] == "p1-2" and "noteId" not in _user(continued)
    assert first["box-fn-2"].get_continuation() is None


def test_low_confidence_boxes_are_marked_or_left_out():
    kept = _regions(_pages(editions.edition("page-xml"))[2])
    assert _user(kept["box-low-2"])["lowConfidence"] == "true" and kept["box-low-2"].get_TextEquiv()[0].conf == 0.41
    assert _user(kept["box-c-2"])["lowConfidence"] == "false"
    strict = editions.edition("page-xml", includeLowConfidence=False)
    assert list(_regions(_pages(strict)[2])) == ["box-c-2", "box-hi-2", "box-fn-2b"]
    doc = _alto(strict)
    assert not doc.xpath("//a:*[@ID='box-low-2']", namespaces=A) and not doc.xpath("//a:OtherTag[@LABEL='low-confidence']", namespaces=A)
    assert "Tbe" not in alto.render(strict).decode()


def test_the_archive_is_an_ocrd_workspace_that_ocrd_validates(tmp_path):
    from ocrd.resolver import Resolver
    from ocrd_validators import WorkspaceValidator
    from PIL import Image

    edition = editions.edition("page-xml")
    for name, data in _archive(edition).items():
        (tmp_path / name).write_bytes(data)
    for page in edition.pages:  # the archive does not hold the images: stand-ins of their size
        Image.new("L", (page.width, page.height), 255).save(tmp_path / page.image_file, dpi=(page.dpi, page.dpi))
    report = WorkspaceValidator.validate(Resolver(), str(tmp_path / "mets.xml"), src_dir=str(tmp_path))
    assert report.is_valid, (report.errors, report.warnings)
    assert not report.warnings


# -- ALTO ------------------------------------------------------------------------------------

def test_alto_is_one_valid_document_of_every_page():
    edition = editions.edition("alto")
    assert (renderer("alto").media_type, renderer("alto").extension) == ("application/xml", "alto.xml")
    doc = _alto(edition)
    assert doc.get("SCHEMAVERSION") == "4.4"
    assert doc.findtext("a:Description/a:MeasurementUnit", namespaces=A) == "pixel"
    assert doc.findtext("a:Description/a:sourceImageInformation/a:fileName", namespaces=A) == "gita.pdf"
    assert doc.findtext(".//a:ocrProcessingStep/a:processingSoftware/a:softwareName", namespaces=A) == "PageSage"
    pages = doc.findall("a:Layout/a:Page", A)
    assert len(pages) == 3
    for page_el, page in zip(pages, edition.pages, strict=True):
        assert page_el.get("ID") == page.page_id and page_el.get("PHYSICAL_IMG_NR") == str(page.page_number)
        assert (page_el.get("WIDTH"), page_el.get("HEIGHT"), float(page_el.get("PC"))) == ("1200", "1800", page.confidence)
        blocks = page_el.findall("a:PrintSpace/a:TextBlock", A)
        assert [b.get("ID") for b in blocks] == [b.box_id for b in page.boxes]
        assert [b.get("LANG") for b in blocks] == [b.lang for b in page.boxes]
        for block, box in zip(blocks, page.boxes):
            assert tuple(int(block.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT")) == box.rect
            strings = [s for line in block.findall("a:TextLine", A) for s in line.findall("a:String", A)]
            words = [w for line in box.lines for w in line.words]
            assert [s.get("CONTENT") for s in strings] == [w.text for w in words]
            assert [None if s.get("WC") is None else float(s.get("WC")) for s in strings] == [w.confidence for w in words]
            assert [tuple(int(s.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT")) for s in strings] == [w.rect for w in words]
            for line in block.findall("a:TextLine", A):
                kinds = [child.tag.split("}")[1] for child in line]
                assert kinds[::2] == ["String"] * ((len(kinds) + 1) // 2) and set(kinds[1::2]) <= {"SP"}
    assert pages[0].get("PRINTED_IMG_NR") == "1" and pages[1].get("PRINTED_IMG_NR") is None
    assert len(_alto(editions.edition("alto", includedPages=[1])).findall("a:Layout/a:Page", A)) == 1


def test_alto_references_resolve_and_tags_carry_content_types_notes_and_provenance():
    edition = editions.edition("alto")
    doc = _alto(edition)
    ids = {e.get("ID") for e in doc.iter() if e.get("ID")}
    for attr in ("TAGREFS", "REF", "PROCESSINGREFS"):
        for element in doc.xpath(f"//*[@{attr}]"):
            assert set(element.get(attr).split()) <= ids, (attr, element.get(attr))
    tags = {t.get("ID"): t for t in doc.find("a:Tags", A)}
    for _, box in edition.boxes():
        (block,) = doc.xpath("//a:TextBlock[@ID=$id]", namespaces=A, id=box.box_id)
        named = [tags[t] for t in block.get("TAGREFS").split()]
        structure = [t for t in named if t.tag == f"{{{alto.NS}}}StructureTag"]
        assert [(t.get("TYPE"), t.get("LABEL")) for t in structure] == [("contentType", box.content_type.value)]
        (provenance,) = [t for t in named if t.get("TYPE") == "provenance"]
        record = provenance.find("a:XmlData/ps:provenance", A)
        assert (record.get("box"), record.get("pageResultId"), record.get("tokenNos")) == (
            box.box_id, box.provenance.page_result_id, " ".join(map(str, box.provenance.token_nos)))
        assert (block.get("CS") == "true") == box.corrected
    note = tags["note-p1-2"]
    assert (note.get("TYPE"), note.get("DESCRIPTION")) == ("footnote", "Compare verse 2.11 and the gloss of Madhusūdana.")
    naming = [e.get("ID") for e in doc.xpath("//*[contains(concat(' ', @TAGREFS, ' '), ' note-p1-2 ')]")]
    assert naming == ["box-c-1_l1_w2", "box-fn-2", "box-fn-2b"]  # the reference ² and both parts of the note
    (marker,) = doc.xpath("//a:String[@ID='box-c-1_l1_w2']", namespaces=A)
    assert (marker.get("CONTENT"), marker.get("WC"), marker.get("CS")) == ("principle²", None, "true")
    low = doc.xpath("//a:TextBlock[@ID='box-low-2']", namespaces=A)[0]
    assert "low-confidence" in low.get("TAGREFS").split() and tags["low-confidence"].get("TYPE") == "quality"


def test_alto_reading_order_puts_each_pages_footnotes_in_a_group_of_their_own():
    edition = editions.edition("alto")
    doc = _alto(edition)
    (top,) = doc.findall("a:ReadingOrder/a:OrderedGroup", A)
    page_groups = top.findall("a:OrderedGroup", A)
    assert len(page_groups) == 3
    footnote_tag = doc.xpath("//a:StructureTag[@LABEL='footnote']/@ID", namespaces=A)[0]
    for group, page in zip(page_groups, edition.pages, strict=True):
        main, notes = group.findall("a:OrderedGroup", A)
        assert [r.get("REF") for r in main.findall("a:ElementRef", A)] == [
            b.box_id for b in page.boxes if b.content_type != ContentType.FOOTNOTE]
        assert [r.get("REF") for r in notes.findall("a:ElementRef", A)] == [
            b.box_id for b in page.boxes if b.content_type == ContentType.FOOTNOTE]
        assert notes.get("TAGREFS") == footnote_tag and main.get("TAGREFS") is None


# -- ids, images and tables ------------------------------------------------------------------

def test_every_content_type_has_a_region():
    mapped = set(page_xml.TEXT_TYPES) | set(page_xml.NON_TEXT_REGIONS)
    assert mapped == set(ContentType) and not set(page_xml.TEXT_TYPES) & set(page_xml.NON_TEXT_REGIONS)


def test_xml_ids_are_names_and_unique():
    ids = page_xml.XmlIds()
    assert [ids("box-a"), ids("box-a"), ids("3:b"), ids("3_b"), ids(".x"), ids("")] == [
        "box-a", "box-a_2", "_3_b", "_3_b_2", "_.x", "_"]


def _odd_page_three():
    """Page 3 with its heading an image, its translation a table (box id `3:table`), its
    footnote's box id `3_table` (the same id once made an XML name) and an image with no text."""
    edition = editions.edition("page-xml", includedPages=[3])
    (page,) = edition.pages
    heading, translation, note = page.boxes
    boxes = (dataclasses.replace(heading, content_type=ContentType.IMAGE),
             dataclasses.replace(translation, content_type=ContentType.TABLE, box_id="3:table"),
             dataclasses.replace(heading, box_id="box-figure-3", content_type=ContentType.IMAGE, lines=(), text="", references=()),
             dataclasses.replace(note, box_id="3_table"))
    return dataclasses.replace(edition, pages=(dataclasses.replace(page, boxes=boxes),))


def test_images_tables_and_ids_that_are_no_xml_names_stay_valid():
    edition = _odd_page_three()
    pcgts = _pages(edition)[3]
    _consistent(pcgts)
    regions = _regions(pcgts)
    assert list(regions)[:4] == ["box-h-3", "_3_table", "box-figure-3", "_3_table_2"]
    image, table, figure = regions["box-h-3"], regions["_3_table"], regions["box-figure-3"]
    assert (type(image).__name__, type(table).__name__, type(figure).__name__) == ("ImageRegionType", "TableRegionType", "ImageRegionType")
    assert [r.get_TextEquiv()[0].Unicode for r in image.get_TextRegion()] == ["Chapter III"]
    assert table.get_TextRegion()[0].get_TextEquiv()[0].Unicode.startswith("Action is better")
    assert figure.get_TextRegion() == [] and _user(figure)["contentType"] == "image"
    assert regions["_3_table_2"].get_type() == "footnote"
    doc = _alto(edition)
    blocks = doc.find("a:Layout/a:Page/a:PrintSpace", A)
    assert [(b.tag.split("}")[1], b.get("ID"), b.get("TYPE")) for b in blocks] == [
        ("ComposedBlock", "box-h-3", "illustration"), ("ComposedBlock", "_3_table", "table"),
        ("Illustration", "box-figure-3", "image"), ("TextBlock", "_3_table_2", None)]
    assert [c.tag.split("}")[1] for c in blocks[0]] == ["Illustration", "TextBlock"]
    assert blocks[1].find("a:TextBlock/a:TextLine/a:String", A).get("CONTENT") == "Action"


# -- a real OCR'd page -----------------------------------------------------------------------

@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The shared settings with a caller: making a project needs one."""
    return Settings(data_dir=tmp_path / "data", workers=2, rate_limit=0, user="Ada Lovelace <ada@example.org>")


def test_a_real_ocr_page_exports_valid_page_xml_and_alto_with_every_token(http, corpus, services):
    project_id = editions.corpus_project(http, corpus)
    edition = exports.edition_of(services.book_ports, project_id, editions.config("page-xml", projectId=project_id))
    (page,) = edition.pages
    archive = _archive(edition)
    _valid("mets", archive["mets.xml"])
    pcgts = _pages(edition)[1]
    _consistent(pcgts)
    (result_id,) = {box.provenance.page_result_id for box in page.boxes}
    tokens = services.book_ports.ocr.get_tokens(result_id)
    regions = _regions(pcgts)
    assert list(regions) == [b.box_id for b in page.boxes if b.content_type != ContentType.FOOTNOTE] + [
        b.box_id for b in page.boxes if b.content_type == ContentType.FOOTNOTE]
    words = [w for r in regions.values() for line in r.get_TextLine() for w in line.get_Word()]
    for word in words:
        x, y, w, h = _rect(word.get_Coords().points)
        assert 0 <= x and 0 <= y and w > 0 and h > 0 and x + w <= page.width and y + h <= page.height
    carried = sorted(int(n) for w in words for n in _user(w)["tokenNos"].split())
    assert carried == sorted(t.token_no for t in tokens)  # every OCR token, once
    assert len(words) == sum(len(line.words) for box in page.boxes for line in box.lines)
    assert len(words) == len(tokens) - sum(len(w.token_nos) - 1 for box in page.boxes for line in box.lines for w in line.words)
    doc = _alto(edition)
    strings = doc.findall(".//a:String", A)
    assert [s.get("CONTENT") for s in strings] == [w.get_TextEquiv()[0].Unicode for w in words]
    for s in strings:
        x, y, w, h = (int(s.get(k)) for k in ("HPOS", "VPOS", "WIDTH", "HEIGHT"))
        assert x + w <= page.width and y + h <= page.height
    assert not doc.xpath("//a:*[@CS]", namespaces=A)  # nobody corrected this page
    # the page's `*` footnote: its reference marked on the line and on the String, the note in the footnote group
    (note_box,) = [b for b in page.boxes if b.content_type == ContentType.FOOTNOTE]
    referring = [(box, ref) for box in page.boxes for ref in box.references if ref.target_box_id == note_box.box_id]
    assert referring and note_box.note_id
    assert any(f"target:{note_box.box_id};" in (line.get_custom() or "")
               for line in regions[referring[0][0].box_id].get_TextLine())
    assert doc.xpath("//a:String[contains(@TAGREFS, $tag)]", namespaces=A, tag=f"note-{note_box.note_id}")
    footnote_group = doc.findall("a:ReadingOrder/a:OrderedGroup/a:OrderedGroup/a:OrderedGroup", A)[-1]
    assert [r.get("REF") for r in footnote_group] == [note_box.box_id]
