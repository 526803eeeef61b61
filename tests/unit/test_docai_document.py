"""Saved Document AI outputs -> words -> hOCR/JSON/text, on real processor outputs
(`tests/fixtures/docai/`, provenance in its SOURCE.md)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import hocr_spec_errors
from google.cloud import documentai
from lxml import etree

from pagesage.cli import main
from pagesage.engines.docai_document import (
    convert_document,
    convert_page,
    document_view,
    load_document,
    merge_shards,
    page_transform,
    parse_document,
    text_of,
)
from pagesage.errors import EngineError
from pagesage.formats.hocr import render_hocr

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "docai"
SHARDS = sorted((FIXTURES / "winnie_the_pooh_shards").glob("*.json"))
NS = {"h": "http://www.w3.org/1999/xhtml"}

# fixture -> tokens on its single page (counted in the raw JSON, not through the library)
OUTPUTS = {
    "toolbox_invoice_test-0.json": 86,
    "multiple_levels.json": 22,
    "upside_down.json": 11,
    "pretrained-ocr-v2.0-2023-06-02_math_output.json": 1,
}


def raw_tokens(name: str) -> list[dict]:
    return json.loads((FIXTURES / name).read_text())["pages"][0]["tokens"]


@pytest.mark.parametrize("name", OUTPUTS)
def test_one_word_per_token_with_the_documents_text(name):
    document = load_document(FIXTURES / name)
    [page] = convert_document(document)
    assert len(page.words) == len(raw_tokens(name)) == OUTPUTS[name]
    for word, token in zip(page.words, document.pages[0].tokens):
        span = text_of(document, token.layout)
        assert word.text == span.rstrip()
        assert word.text  # no token of these outputs is whitespace only


@pytest.mark.parametrize("name", OUTPUTS)
def test_boxes_inside_the_page_and_confidences_on_0_100(name):
    [page] = convert_document(load_document(FIXTURES / name))
    assert page.width > 0 and page.height > 0
    for word in page.words:
        x, y, w, h = word.bbox
        assert 0 <= x and 0 <= y and x + w <= page.width and y + h <= page.height
        assert w > 0 and h > 0
        assert 0 <= word.confidence <= 100
    raw = raw_tokens(name)
    assert [round(w.confidence, 4) for w in page.words] == [round(t["layout"]["confidence"] * 100, 4) for t in raw]


def test_pixel_vertices_are_used_as_given():
    [page] = convert_document(load_document(FIXTURES / "toolbox_invoice_test-0.json"))
    first = raw_tokens("toolbox_invoice_test-0.json")[0]["layout"]["boundingPoly"]["vertices"]
    xs, ys = [v["x"] for v in first], [v["y"] for v in first]
    assert page.words[0].text == "Invoice"
    assert page.words[0].bbox == (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))


def test_normalized_vertices_scale_by_the_page_size_and_keep_every_symbol():
    [page] = convert_document(load_document(FIXTURES / "pretrained-ocr-v2.0-2023-06-02_math_output.json"))
    [word] = page.words
    assert word.text == r"\int_{-\infty}^{\infty}e^{-x^{2}}dx=\sqrt{x}."
    # normalized x 0.14662756..0.9032258 of 341 px, y 0.27891156..0.8027211 of 147 px
    assert word.bbox == (50, 41, 258, 77)
    assert word.confidence == 100.0


def test_languages_per_word_and_page_on_multiple_levels():
    [page] = convert_document(load_document(FIXTURES / "multiple_levels.json"))
    langs = {w.text: w.lang for w in page.words if w.text.isalpha()}
    assert langs["Willkommen"] == "de"
    assert langs["Bienvenue"] == "fr"
    assert langs["Welcome"] == "en" and langs["ultimate"] == "en"
    assert {w.lang for w in page.words} == {"de", "fr", "en"}
    assert page.language == "en"  # the page's most confident detected language (0.77)


def test_image_quality_scores():
    [page] = convert_document(load_document(FIXTURES / "multiple_levels.json"))
    assert page.quality is not None
    assert page.quality.score == pytest.approx(0.9314152)
    assert page.quality.defects == pytest.approx({
        "quality/defect_document_cutoff": 1.0, "quality/defect_glare": 0.6929666, "quality/defect_text_cutoff": 0.5})
    [invoice] = convert_document(load_document(FIXTURES / "toolbox_invoice_test-0.json"))
    assert invoice.quality is None


def test_layout_ordinals_follow_the_documents_lines_and_paragraphs():
    document = load_document(FIXTURES / "multiple_levels.json")
    [page] = convert_document(document)
    lines = [text_of(document, line.layout).rstrip("\n") for line in document.pages[0].lines]
    by_line: dict[int, list[str]] = {}
    for word in page.words:
        by_line.setdefault(word.line, []).append(word.text)
    assert sorted(by_line) == list(range(len(lines)))
    for ordinal, words in by_line.items():
        assert "".join(words) == lines[ordinal].replace(" ", "")
    assert [w.par for w in page.words] == sorted(w.par for w in page.words)
    assert max(w.block for w in page.words) == len(document.pages[0].blocks) - 1

    [invoice] = convert_document(load_document(FIXTURES / "toolbox_invoice_test-0.json"))
    assert [w.text for w in invoice.words if w.line == 1] == ["DATE", ":", "01/01/1970"]
    assert {w.block for w in invoice.words if w.line in (1, 2)} == {1}


def test_upside_down_boxes_in_page_pixels_or_mapped_back_to_the_photo():
    document = load_document(FIXTURES / "upside_down.json")
    transform = page_transform(document.pages[0])
    assert transform is not None
    assert transform[0][0] == pytest.approx(-0.98252473)  # a rotation by about 169 degrees
    [page] = convert_document(document)
    assert (page.width, page.height) == (1150, 472)
    text = " ".join(w.text for w in page.words)
    assert text == "Forty - two , said Deep Thought with infinite majesty ."

    photo = convert_page(document, 0, target_size=(1120, 268))
    assert [w.text for w in photo.words] == [w.text for w in page.words]
    boxes = {w.text: w.bbox for w in photo.words}
    for x, y, w, h in boxes.values():
        assert x + w <= 1120 and y + h <= 268
    # upside down in the photo: the sentence runs from right to left
    assert boxes["Forty"][0] > boxes["said"][0] > boxes["majesty"][0]
    assert boxes["said"] == pytest.approx((690, 140, 108, 82), abs=2)


def test_snake_case_and_camel_case_give_the_same_words():
    for name in OUTPUTS:
        document = load_document(FIXTURES / name)
        camel = documentai.Document.to_json(document)
        snake = type(document).to_dict(document, use_integers_for_enums=False)
        assert '"textAnchor"' in camel or not document.pages[0].tokens
        assert "text_anchor" in json.dumps(snake)
        expected = convert_document(document)
        assert convert_document(parse_document(camel.encode())) == expected
        assert convert_document(parse_document(snake)) == expected
    # the two forms as found on disk: multiple_levels is snake_case, the invoice camelCase
    assert '"text_anchor"' in (FIXTURES / "multiple_levels.json").read_text()
    assert '"textAnchor"' in (FIXTURES / "toolbox_invoice_test-0.json").read_text()


def test_snake_case_detected_break_type_is_read():
    document = load_document(FIXTURES / "multiple_levels.json")
    breaks = [documentai.Document.Page.Token.DetectedBreak.Type(t.detected_break.type_).name
              for t in document.pages[0].tokens]
    raw = [t.get("detected_break", {}).get("type_", "TYPE_UNSPECIFIED") for t in raw_tokens("multiple_levels.json")]
    assert breaks == raw and "WIDE_SPACE" in raw


def test_shards_are_reassembled_in_order_whatever_the_file_order():
    expected_text = "".join(json.loads(p.read_text())["text"] for p in sorted(
        SHARDS, key=lambda p: int(json.loads(p.read_text())["shardInfo"].get("shardIndex", 0))))
    orders = [SHARDS, list(reversed(SHARDS))] + [random.Random(seed).sample(SHARDS, len(SHARDS)) for seed in range(3)]
    merged = [load_document(order) for order in orders]
    for document in merged:
        assert document.text == expected_text
        assert [p.page_number for p in document.pages] == list(range(1, 51))
        assert not document.shard_info.shard_count
    assert all(documentai.Document.to_json(d) == documentai.Document.to_json(merged[0]) for d in merged)


def test_shard_anchors_are_shifted_into_the_joined_text():
    document = load_document(SHARDS)
    by_index = {int(json.loads(p.read_text())["shardInfo"].get("shardIndex", 0)): json.loads(p.read_text()) for p in SHARDS}
    for index, shard in by_index.items():
        for k, raw_page in enumerate(shard["pages"]):
            segment = raw_page["layout"]["textAnchor"]["textSegments"][0]
            local = shard["text"][int(segment.get("startIndex", 0)):int(segment["endIndex"])]
            page = document.pages[index * 10 + k]
            assert page.page_number == raw_page["pageNumber"]
            assert text_of(document, page.layout) == local
    assert text_of(document, document.pages[40].layout).startswith("WINNIE-THE-POOH\n\"Pooh!\" cried Piglet.")
    pages = convert_document(document)
    assert [(p.width, p.height) for p in pages[:1]] == [(1586, 2521)]  # from the page layout's pixel vertices
    assert all(p.words == [] for p in pages)  # upstream trimmed the shards to text and page layout


def test_missing_or_duplicate_shards_are_refused():
    with pytest.raises(EngineError, match="shardCount"):
        load_document(SHARDS[:4])
    shards = [parse_document(p) for p in SHARDS]
    with pytest.raises(EngineError, match="not 0..4"):
        merge_shards(shards[:4] + [shards[0]])
    with pytest.raises(EngineError, match="not a readable"):
        load_document(b"{not json")
    with pytest.raises(EngineError, match="not a readable"):
        load_document(FIXTURES / "no-such-file.json")


def test_hocr_is_valid_and_has_no_duplicated_line_text(tmp_path):
    inputs = [FIXTURES / "toolbox_invoice_test-0.json"]
    document = load_document(inputs)
    path = tmp_path / "invoice.hocr"
    path.write_bytes(render_hocr(document_view(document, inputs)))
    assert hocr_spec_errors(path) == []

    ours = etree.parse(str(path))
    lines = ours.findall(".//h:span[@class='ocr_line']", NS)
    assert len(lines) == len({w.line for w in convert_document(document)[0].words})
    # each line reads as Document AI's own text of that line: its words once, and no space
    # before the punctuation it splits into tokens of their own ("DATE" ":" -> "DATE:")
    page = document.pages[0]
    expected = [" ".join("".join(document.text[s.start_index:s.end_index] for s in line.layout.text_anchor.text_segments).split())
                for line in page.lines]
    assert [" ".join("".join(line.itertext()).split()) for line in lines] == expected
    assert any(" :" not in text and ":" in text for text in expected)
    all_words = [w.text for w in ours.findall(".//h:span[@class='ocrx_word']", NS)]
    assert all_words == [w.text for w in convert_document(document)[0].words]

    # the toolbox's export of the same output repeats each line's text before its words
    toolbox = etree.parse(str(FIXTURES / "docai-toolbox_invoice_test_0.hocr.xml"))
    dup = 0
    for line in toolbox.findall(".//h:span[@class='ocr_line']", NS):
        words = "".join("".join(w.itertext()) for w in line.findall("h:span[@class='ocrx_word']", NS))
        if "".join(line.itertext()).replace(words, "", 1).strip():
            dup += 1
    assert dup > 0


def test_hocr_confidences_and_languages(tmp_path):
    inputs = [FIXTURES / "multiple_levels.json"]
    document = load_document(inputs)
    view = document_view(document, inputs)
    path = tmp_path / "ml.hocr"
    path.write_bytes(render_hocr(view))
    assert hocr_spec_errors(path) == []
    tree = etree.parse(str(path))
    words = tree.findall(".//h:span[@class='ocrx_word']", NS)
    converted = convert_document(document)[0].words
    for element, word in zip(words, converted, strict=True):
        conf = int(element.get("title").split("x_wconf ")[1])
        assert conf == int(word.confidence + 0.5)
        assert element.get("lang", "en") == word.lang  # marked where it differs from the page's `en`
    assert tree.find(".//h:div[@class='ocr_page']", NS).get("lang") == "en"
    meta = tree.find(".//h:meta[@name='ocr-langs']", NS).get("content").split()
    assert sorted(meta) == ["de", "en", "fr"]


@pytest.mark.parametrize("fmt", ["hocr", "json", "text"])
def test_cli_converts_shards_and_single_outputs(tmp_path, fmt):
    runner = CliRunner()
    out = tmp_path / f"invoice.{fmt}"
    result = runner.invoke(main, ["docai-to-hocr", str(FIXTURES / "toolbox_invoice_test-0.json"), "-o", str(out), "--format", fmt])
    assert result.exit_code == 0, result.output
    body = out.read_bytes()
    if fmt == "hocr":
        assert hocr_spec_errors(out) == []
    elif fmt == "json":
        doc = json.loads(body)
        assert doc["word_count"] == 86 and doc["page_count"] == 1
        assert doc["run"]["engine"] == "docai"
        page = doc["pages"][0]
        assert (page["width"], page["height"]) == (1758, 2275)
        assert page["result"]["lang"] == "en"
        assert page["tokens"][0]["text"] == "Invoice" and page["tokens"][0]["confidence"] == pytest.approx(99.26)
    else:
        text = body.decode()
        words = convert_document(load_document(FIXTURES / "toolbox_invoice_test-0.json"))[0].words
        assert "".join(text.split()) == "".join(w.text for w in words)  # every word, in order
        assert text.splitlines()[0] == "Invoice" and "DATE: 01/01/1970" in text

    shards_out = tmp_path / f"pooh.{fmt}"
    shuffled = random.Random(7).sample(SHARDS, len(SHARDS))
    result = runner.invoke(main, ["docai-to-hocr", *map(str, shuffled), "-o", str(shards_out), "--format", fmt])
    assert result.exit_code == 0, result.output
    if fmt == "hocr":
        assert hocr_spec_errors(shards_out) == []
        pages = etree.parse(str(shards_out)).findall(".//h:div[@class='ocr_page']", NS)
        assert [p.get("id") for p in pages] == [f"page_{n}" for n in range(1, 51)]


def test_cli_reports_inconsistent_shards(tmp_path):
    result = CliRunner().invoke(main, ["docai-to-hocr", *map(str, SHARDS[:2]), "-o", str(tmp_path / "x.hocr")])
    assert result.exit_code != 0
    assert "shard" in result.output
    assert not (tmp_path / "x.hocr").exists()
