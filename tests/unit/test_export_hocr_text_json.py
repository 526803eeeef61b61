"""The hOCR, plain-text and JSON exports of an edition: the synthetic bilingual book of
`editions` (three pages, a corrected box, a low-confidence box, a note across a page break) and
one real OCR'd corpus page, corrected through the HTTP API."""

from __future__ import annotations

import json
import re
from pathlib import Path

import jsonschema
import pytest
from lxml import etree
from referencing import Registry, Resource

import editions
from conftest import hocr_spec_errors
from pagesage.book.domain import edition as edition_module
from pagesage.book.domain.model import TextCorrectionChange, VersionHistoryEntry
from pagesage.book.formats import hocr, json_export, plain_text, renderer
from pagesage.config import Settings

NS = {"h": "http://www.w3.org/1999/xhtml"}
SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def parsed_hocr(edition, tmp_path: Path) -> etree._Element:
    """Render `edition` as hOCR, check it with hocr-spec (standard profile), parse it as XML."""
    data = hocr.render(edition)
    path = tmp_path / "book.hocr"
    path.write_bytes(data)
    assert hocr_spec_errors(path) == []
    return etree.fromstring(data)


def xpath(element: etree._Element, query: str) -> list:
    return element.xpath(query, namespaces=NS)


def title_props(element: etree._Element) -> dict[str, str]:
    title = element.get("title")
    return dict(part.split(" ", 1) for part in title.split("; ")) if title else {}


def bbox(element: etree._Element) -> tuple[int, int, int, int]:
    return tuple(int(v) for v in title_props(element)["bbox"].split())


def words_of(root: etree._Element, box_id: str) -> list[etree._Element]:
    return xpath(root, f"//*[@id='{box_id}']//h:span[@class='ocrx_word']")


def text_of(element: etree._Element) -> str:
    return "".join(element.itertext())


# -- hOCR --------------------------------------------------------------------------------------

def test_hocr_is_valid_with_a_page_per_edition_page_and_words_where_they_were_read(tmp_path):
    edition = editions.edition("hocr")
    root = parsed_hocr(edition, tmp_path)

    pages = xpath(root, "//h:div[@class='ocr_page']")
    assert [p.get("id") for p in pages] == ["page_1", "page_2", "page_3"]
    assert pages[0].get("title") == 'image "page-001.png"; bbox 0 0 1200 1800; ppageno 0; lpageno 1; scan_res 300 300'
    assert pages[1].get("title") == 'image "page-002.png"; bbox 0 0 1200 1800; ppageno 1; scan_res 300 300'
    assert pages[0].get("data-page-id") == "proj_0123456789abcdef-p001" and pages[0].get("data-source-page-id") == "src_0001_p1"

    corrected = words_of(root, "box-c-1")
    assert " ".join(text_of(w) for w in corrected) == "The principle² is clear."
    assert [title_props(w).get("x_wconf") for w in corrected] == ["91", None, "91", None]
    assert xpath(root, "//*[@id='box-c-1']")[0].get("data-corrected") == "true"
    untouched = words_of(root, "box-tr-1")
    assert " ".join(text_of(w) for w in untouched) == editions.TRANSLATION
    assert {title_props(w)["x_wconf"] for w in untouched} == {"91"}
    assert {title_props(w)["x_wconf"] for w in words_of(root, "box-verse-1")} == {"88"}

    for page in pages:
        for element in xpath(page, ".//*[@title]"):
            x0, y0, x1, y1 = bbox(element)
            assert 0 <= x0 < x1 <= 1200 and 0 <= y0 < y1 <= 1800, element.get("id")
        for line in xpath(page, ".//h:span[@class='ocr_line']"):
            boxes = [bbox(w) for w in line]
            assert bbox(line) == (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes),
                                  max(b[3] for b in boxes))
    assert bbox(xpath(root, "//*[@id='box-c-1']")[0]) == (100, 420, 1100, 460)
    assert [text_of(p).split() for p in pages] == [[w.text for b in p.boxes for ln in b.lines for w in ln.words]
                                                    for p in edition.pages]
    ids = xpath(root, "//@id")
    assert len(ids) == len(set(ids))


def test_hocr_classes_languages_notes_and_provenance(tmp_path):
    root = parsed_hocr(editions.edition("hocr"), tmp_path)

    def area(box_id: str) -> etree._Element:
        (element,) = xpath(root, f"//h:div[@id='{box_id}']")
        return element

    assert {b: area(b).get("lang") for b in ("box-verse-1", "box-iast-1", "box-tr-1", "box-hi-2")} == {
        "box-verse-1": "sa", "box-iast-1": "sa-Latn", "box-tr-1": "en", "box-hi-2": "hi"}
    assert area("box-hi-2").get("{http://www.w3.org/XML/1998/namespace}lang") == "hi"
    assert [area(b).get("class") for b in ("box-rh-1", "box-pn-1", "box-h-1", "box-c-1", "box-fn-1")] == [
        "ocr_header", "ocr_pageno", "ocr_carea", "ocr_carea", "ocr_textfloat"]
    assert [e.get("class") for e in xpath(root, "//h:div[@class='ocr_textfloat']/h:p")] == ["ocr_par"] * 4
    assert [text_of(h).strip() for h in xpath(root, "//h:h1")] == ["Chapter II", "Chapter III"]
    assert area("box-fn-2").get("data-note-id") == "p1-2" and area("box-fn-2b").get("data-continues-note") == "p1-2"
    assert area("box-fn-2b").get("data-note-id") is None
    assert area("box-low-2").get("data-low-confidence") == "true" and area("box-c-2").get("data-low-confidence") is None
    assert area("box-c-1").get("data-run-id") == "run-1" and area("box-c-1").get("data-page-result-id") == "res-p1"
    assert area("box-c-1").get("data-token-nos") == "32 33 34 35"
    assert [w.get("data-token-nos") for w in words_of(root, "box-c-1")] == ["32", "33", "34", "35"]
    (link,) = xpath(root, "//h:div[@id='box-tr-1']//h:a")
    assert link.get("href") == "#box-fn-1" and link.text == "¹" and text_of(link.getparent()) == "dharma¹"

    meta = {m.get("name"): m.get("content") for m in xpath(root, "//h:meta[@name]")}
    assert meta["ocr-number-of-pages"] == "3" and meta["ocr-langs"].split() == ["en", "sa", "hi"]
    assert meta["ocr-scripts"].split() == ["Latn", "Deva"] and meta["DC.creator"] == "Vyāsa"
    used = {e.get("class") for e in xpath(root, "//*[starts-with(@class, 'ocr')]")}
    assert used <= set(meta["ocr-capabilities"].split()) and "ocrp_wconf" in meta["ocr-capabilities"]
    assert root.get("lang") == "sa"


def test_hocr_options_leave_out_confidences_boxes_and_words(tmp_path):
    no_conf = parsed_hocr(editions.edition("hocr", hocr={"includeConfidence": False, "includeWordLevel": True}), tmp_path)
    assert xpath(no_conf, "//h:span[@class='ocrx_word']") and "x_wconf" not in etree.tostring(no_conf).decode()
    assert "ocrp_wconf" not in xpath(no_conf, "//h:meta[@name='ocr-capabilities']/@content")[0]

    no_boxes = parsed_hocr(editions.edition("hocr", hocr={"includeBoundingBoxes": False, "includeWordLevel": True}), tmp_path)
    titled = xpath(no_boxes, "//*[contains(@title, 'bbox')]")
    assert [e.get("class") for e in titled] == ["ocr_page"] * 3
    assert not xpath(no_boxes, "//*[@class='ocr_line' or @class='ocr_carea' or @class='ocr_textfloat']")
    assert len(xpath(no_boxes, "//h:div[@class='ocrx_block']")) == 16
    assert [title_props(w).get("x_wconf") for w in words_of(no_boxes, "box-c-1")] == ["91", None, "91", None]

    lines = parsed_hocr(editions.edition("hocr", hocr={}), tmp_path)  # HocrExportOptions(): no word level
    assert xpath(lines, "//h:span[@class='ocrx_word']") == []
    assert "ocrx_word" not in xpath(lines, "//h:meta[@name='ocr-capabilities']/@content")[0]
    (translation,) = xpath(lines, "//h:div[@id='box-tr-1']//h:span[@class='ocr_line']")
    assert text_of(translation) == editions.TRANSLATION and title_props(translation)["x_wconf"] == "91"
    (commentary,) = xpath(lines, "//h:div[@id='box-c-1']//h:span[@class='ocr_line']")
    assert text_of(commentary) == editions.COMMENTARY and "x_wconf" not in title_props(commentary)
    assert xpath(lines, "//h:div[@id='box-c-1']//h:a/@href") == ["#box-fn-2"]


def test_hocr_leaves_out_low_confidence_boxes_and_links_to_boxes_in_the_export_only(tmp_path):
    root = parsed_hocr(editions.edition("hocr", includeLowConfidence=False, includedPages=[1, 2]), tmp_path)
    assert xpath(root, "//*[@id='box-low-2']") == [] and len(xpath(root, "//h:div[@class='ocr_page']")) == 2
    assert xpath(root, "//h:a/@href") == ["#box-fn-1", "#box-fn-2"]
    only_third = parsed_hocr(editions.edition("hocr", includedPages=[3]), tmp_path)
    assert xpath(only_third, "//h:div[@class='ocr_page']/@title")[0].startswith('image "page-003.png"; bbox 0 0 1200 1800; ppageno 2')
    assert xpath(only_third, "//h:a/@href") == ["#box-fn-3"]


# -- plain text --------------------------------------------------------------------------------

BOOK_TEXT = (
    "The Bhagavad Gītā\nWith commentary\nVyāsa\nExample Press, 1905\nContributors: Ada Lovelace\n\n"
    "Chapter II\n\n"
    f"{editions.VERSE}\n\n{editions.IAST}\n\n{editions.TRANSLATION}\n\n{editions.COMMENTARY}\n\n"
    "----------\n1. See Śaṅkara's commentary.\n\n2. Compare verse 2.11 and\n"
    "\f"
    f"He who sees inaction in action is wise.\n\n{editions.LOW}\n\n{editions.HINDI}\n\n"
    "----------\nthe gloss of Madhusūdana.\n"
    "\f"
    f"Chapter III\n\n{editions.CH3}\n\n----------\n3. On karma.\n"
)


def test_plain_text_is_the_text_in_reading_order_with_footnotes_after_a_rule():
    data = plain_text.render(editions.edition("plain-text"))
    assert data.decode("utf-8") == BOOK_TEXT
    assert "THE BHAGAVAD GĪTĀ" not in data.decode() and data.count(b"\f") == 2 and not data.startswith(b"\xef\xbb\xbf")


def test_plain_text_options():
    dropped = plain_text.render(editions.edition("plain-text", includeLowConfidence=False)).decode()
    assert dropped == BOOK_TEXT.replace(f"{editions.LOW}\n\n", "")
    bare = plain_text.render(editions.edition("plain-text", includeMetadata=False)).decode()
    assert bare == BOOK_TEXT[BOOK_TEXT.index("Chapter II"):]
    anonymous = plain_text.render(editions.edition("plain-text", includeAttribution=False)).decode()
    assert anonymous == BOOK_TEXT.replace("Contributors: Ada Lovelace\n", "")
    second = plain_text.render(editions.edition("plain-text", includedPages=[2], includeMetadata=False)).decode()
    assert second == BOOK_TEXT.split("\f")[1]


# -- JSON --------------------------------------------------------------------------------------

def validator() -> jsonschema.Draft202012Validator:
    jsonschema.Draft202012Validator.check_schema(json_export.SCHEMA)
    history = json.loads((SCHEMAS / "version-history-entry.schema.json").read_text(encoding="utf-8"))
    registry = Registry().with_resource(history["$id"], Resource.from_contents(history))
    return jsonschema.Draft202012Validator(json_export.SCHEMA, registry=registry)


def exported(**fields) -> dict:
    body = json.loads(json_export.render(editions.edition("json", **fields)))
    validator().validate(body)
    return body


def boxes_by_id(body: dict) -> dict[str, dict]:
    return {b["boxId"]: b for p in body["pages"] for b in p["boxes"]}


def test_json_holds_pages_boxes_words_notes_and_provenance():
    data = json_export.render(editions.edition("json"))
    body = json.loads(data)
    validator().validate(body)
    assert data.startswith(b'{\n  "schemaVersion": "1.0.0",\n  "exportId"') and "Gītā".encode() in data  # not \u-escaped
    word = '{"text": "dharma¹", "bbox": {"x": 372, "y": 360, "width": 126, "height": 30}, "confidence": 0.91, "tokenNos": [26]}'
    assert f"\n                {word},\n" in data.decode()  # pretty: a word a line
    assert body == json_export.export_body(editions.edition("json"))
    assert body["exportId"] == "export-0001" and body["generatedAt"] == "2026-12-01T12:00:00Z"
    assert body["project"]["title"] == "The Bhagavad Gītā" and body["project"]["languages"] == ["sanskrit", "english", "hindi"]
    assert body["contributors"] == [{"name": "Ada Lovelace"}]
    assert [p["pageNumber"] for p in body["pages"]] == [1, 2, 3]
    assert body["pages"][0]["image"] == {"fileName": "page-001.png", "width": 1200, "height": 1800, "dpi": 300}
    assert body["pages"][0]["reviewStatus"] == "approved" and "versionHistory" not in body["pages"][0]

    boxes = boxes_by_id(body)
    c1 = boxes["box-c-1"]
    assert c1["text"] == editions.COMMENTARY and c1["ocrText"] == "The prlnciple is c1ear." and c1["isCorrected"]
    assert [(w["text"], w["confidence"]) for w in c1["lines"][0]["words"]] == [
        ("The", 0.91), ("principle²", None), ("is", 0.91), ("clear.", None)]
    assert c1["coordinates"] == {"x": 100, "y": 420, "width": 1000, "height": 40}
    assert c1["references"] == [{"offset": 13, "length": 1, "displayText": "²", "type": "footnote", "targetBoxId": "box-fn-2",
                                 "noteId": "p1-2"}]
    assert c1["provenance"] == {"pageId": "proj_0123456789abcdef-p001", "sourcePageId": "src_0001_p1", "runId": "run-1",
                                "pageResultId": "res-p1", "tokenNos": [32, 33, 34, 35]}
    assert [ln["text"] for ln in boxes["box-verse-1"]["lines"]] == editions.VERSE.split("\n")
    assert boxes["box-verse-1"]["lang"] == "sa" and boxes["box-iast-1"]["language"] == "iast"
    assert boxes["box-low-2"]["lowConfidence"] and not boxes["box-c-2"]["lowConfidence"]
    assert boxes["box-fn-2"]["noteId"] == "p1-2" and boxes["box-fn-2b"]["continuesNote"] == "p1-2"
    assert body["notes"]["p1-2"] == {"text": "Compare verse 2.11 and the gloss of Madhusūdana.",
                                     "boxIds": ["box-fn-2", "box-fn-2b"], "pageNumber": 1}
    assert list(body["notes"]) == ["p1-1", "p1-2", "p3-1"]


def test_json_options():
    compact = json_export.render(editions.edition("json", json={"pretty": False, "includeRawOcr": False}))
    assert b"\n" not in compact.rstrip(b"\n") and b'"schemaVersion":"1.0.0"' in compact
    body = json.loads(compact)
    validator().validate(body)
    assert all("ocrText" not in b for b in boxes_by_id(body).values())
    dropped = exported(includeLowConfidence=False)
    assert "box-low-2" not in boxes_by_id(dropped) and dropped["omittedBoxes"] == 1
    bare = exported(includeMetadata=False, includeAttribution=False)
    assert "project" not in bare and "contributors" not in bare and bare["projectId"] == editions.PROJECT_ID
    assert [p["versionHistory"] for p in exported(json={"includeVersionHistory": True})["pages"]] == [[], [], []]


def test_json_version_history_is_each_page_record_as_the_api_writes_it():
    project, pages, tokens = editions.book()
    entry = VersionHistoryEntry(version=2, timestamp=editions.NOW, edited_by=editions.ADA, change_type="text_correction",
                                changes=TextCorrectionChange(action="text_corrected", box_id="box-c-1",
                                                             before="The prlnciple is c1ear.", after=editions.COMMENTARY),
                                commit_sha="01" + "ab" * 31, note="fixed the OCR")
    pages[0].version_history = [entry]
    config = editions.config("json", includeVersionHistory=True)
    body = json.loads(json_export.render(edition_module.build_edition(project, pages, tokens, config, generated_at=editions.NOW)))
    validator().validate(body)
    assert body["pages"][0]["versionHistory"] == [entry.model_dump(mode="json", by_alias=True)]
    assert body["pages"][0]["versionHistory"][0]["changes"]["after"] == editions.COMMENTARY
    assert body["pages"][1]["versionHistory"] == []


def test_the_registry_serves_the_three_formats():
    for fmt, media_type, extension in (("hocr", "text/html; charset=utf-8", "hocr"),
                                       ("plain-text", "text/plain; charset=utf-8", "txt"),
                                       ("json", "application/json", "json")):
        found = renderer(fmt)
        assert (found.media_type, found.extension) == (media_type, extension)
        assert found.render(editions.edition(fmt))


# -- a real page ---------------------------------------------------------------------------------

@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """The embedded stack's settings, requests made by Ada (a project needs a caller)."""
    return Settings(data_dir=tmp_path / "data", workers=2, rate_limit=0, user="Ada Lovelace <ada@example.org>")


def test_hocr_of_a_real_page_follows_a_correction_made_through_the_api(http, corpus, services, tmp_path):
    from pagesage.book.services import exports

    project_id = editions.corpus_project(http, corpus)
    config = editions.config("hocr", projectId=project_id)
    edition = exports.edition_of(services.book_ports, project_id, config)
    root = parsed_hocr(edition, tmp_path)
    (page,) = edition.pages
    (result_id,) = {b.provenance.page_result_id for b in page.boxes}
    tokens = services.book_ports.ocr.get_tokens(result_id)
    words = xpath(root, "//h:span[@class='ocrx_word']")
    numbers = [[int(n) for n in w.get("data-token-nos").split()] for w in words]
    assert len(tokens) > 100 and sorted(n for ns in numbers for n in ns) == [t.token_no for t in tokens]
    by_no = {t.token_no: t for t in tokens}
    for word, nos in zip(words, numbers):
        read = [by_no[n] for n in nos]
        assert text_of(word) == "".join(t.text for t in read)  # seeding joins a marker to its word: "eodem.”" "*"
        if len(read) == 1:
            (token,) = read
            assert bbox(word) == (token.bbox.x, token.bbox.y, token.bbox.x1, token.bbox.y1)
            assert abs(int(title_props(word)["x_wconf"]) - token.confidence) <= 0.5
    assert sum(len(ns) == 1 for ns in numbers) >= len(tokens) - 2

    box = next(b for b in page.boxes if b.content_type.value == "commentary" and len(b.text) > 40)
    word = re.search(r"\b[A-Za-z]{5,}\b", box.text).group(0)
    got = http.get(f"/api/v1/pages/{page.page_id}")
    answer = http.put(f"/api/v1/pages/{page.page_id}/boxes/{box.box_id}/text",
                      json={"oldText": box.text, "newText": box.text.replace(word, "Emendation", 1)},
                      headers={"If-Match": got.headers["ETag"]})
    assert answer.status_code == 200, answer.get_json()

    after = parsed_hocr(exports.edition_of(services.book_ports, project_id, config), tmp_path)
    before_words, after_words = words_of(root, box.box_id), words_of(after, box.box_id)
    assert len(after_words) == len(before_words)
    k = [text_of(w) for w in before_words].index(word)
    assert text_of(after_words[k]) == "Emendation" and "x_wconf" not in title_props(after_words[k])
    assert bbox(after_words[k]) == bbox(before_words[k])
    for i in (k - 1, k + 1):
        if 0 <= i < len(after_words):
            assert text_of(after_words[i]) == text_of(before_words[i])
            assert title_props(after_words[i])["x_wconf"] == title_props(before_words[i])["x_wconf"]
    assert xpath(after, f"//h:div[@id='{box.box_id}']/@data-corrected") == ["true"]
    assert len(xpath(after, "//h:span[@class='ocrx_word']")) == len(words)
