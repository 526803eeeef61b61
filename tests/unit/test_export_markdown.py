"""The Markdown renderer (`pagesage.book.formats.markdown`), read back by Pandoc itself (its JSON
AST, its HTML writer) and by markdown-it-py: notes, verse line blocks, classed divs with
languages, headings, provenance, parallel text, escaping, the three flavours, a real scan."""

from __future__ import annotations

import dataclasses
import json

import pypandoc
import pytest
import yaml
from markdown_it import MarkdownIt

import editions
from pagesage.book.formats import markdown, renderer
from pagesage.config import Settings


# Pandoc's AST


def ast(md: str, fmt: str = "markdown") -> dict:
    return json.loads(pypandoc.convert_text(md, "json", format=fmt))


def walk(node):
    """Every element (a dict with "t") in `node`, depth first, document order."""
    if isinstance(node, dict):
        if "t" in node:
            yield node
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def text_of(node, *, notes: bool = True) -> str:
    """The text of `node`: its Str elements, a space for each Space/SoftBreak/LineBreak; Note
    contents left out unless `notes`."""
    out: list[str] = []

    def visit(n):
        if isinstance(n, list):
            for v in n:
                visit(v)
        elif isinstance(n, dict):
            t = n.get("t")
            if t == "Str":
                out.append(n["c"])
            elif t in ("Space", "SoftBreak", "LineBreak"):
                out.append(" ")
            elif t == "Note" and not notes:
                return
            elif t == "RawBlock":
                return
            else:
                visit(n.get("c"))

    visit(node)
    return "".join(out)


def elements(doc: dict, kind: str) -> list[dict]:
    return [n for n in walk(doc["blocks"]) if n["t"] == kind]


def attrs(node: dict) -> tuple[str, list[str], dict[str, str]]:
    """The (identifier, classes, key-values) of a Div or Header."""
    ident, classes, pairs = node["c"][0] if node["t"] == "Div" else node["c"][1]
    return ident, classes, dict(pairs)


def divs(doc: dict, cls: str) -> list[dict]:
    return [d for d in elements(doc, "Div") if cls in attrs(d)[1]]


def meta_text(value: dict) -> str:
    if value["t"] == "MetaList":
        return " ".join(meta_text(v) for v in value["c"])
    return text_of(value["c"]) if value["t"] in ("MetaInlines", "MetaBlocks") else str(value["c"])


def render(**fields) -> str:
    return markdown.render_text(editions.edition("markdown-quarto", **fields))


@pytest.fixture(scope="module")
def quarto() -> tuple[str, dict]:
    md = render()
    return md, ast(md)


# the synthetic book


def test_the_registry_serves_the_module():
    r = renderer("markdown-quarto")
    assert (r.media_type, r.extension) == ("text/markdown; charset=utf-8", "qmd")
    data = r.render(editions.edition("markdown-quarto"))
    assert data.decode("utf-8") == render()
    assert [markdown.extension(editions.config(markdown={"flavor": f}).markdown) for f in ("quarto", "pandoc", "commonmark")] \
        == ["qmd", "md", "md"]
    assert markdown.extension(None) == "qmd"


def test_notes_are_pandoc_footnotes_defined_once_with_the_joined_text(quarto):
    md, doc = quarto
    edition = editions.edition("markdown-quarto")
    notes = elements(doc, "Note")
    assert [text_of(n["c"]) for n in notes] == [edition.notes[i].text for i in ("p1-1", "p1-2", "p3-1")]
    assert "Madhusūdana" in text_of(notes[1]["c"]) and text_of(notes[0]["c"]) == "See Śaṅkara's commentary."
    for note_id in edition.notes:
        assert md.count(f"[^{note_id}]:") == 1
    body = text_of(doc["blocks"], notes=False)
    assert "¹" not in body and "²" not in body and "³" not in body
    assert "Compare verse" not in body and "the gloss of" not in body  # footnote boxes are not body text


def test_a_verse_is_a_line_block_in_a_sanskrit_div(quarto):
    _, doc = quarto
    (verse,) = divs(doc, "verse")
    assert attrs(verse)[2]["lang"] == "sa"
    (block,) = [n for n in walk(verse["c"][1]) if n["t"] == "LineBlock"]
    assert [text_of(line) for line in block["c"]] == editions.VERSE.split("\n")


def test_commentary_translation_and_transliteration_are_classed_divs_with_their_languages(quarto):
    _, doc = quarto
    langs = {cls: [attrs(d)[2]["lang"] for d in divs(doc, cls)] for cls in ("commentary", "translation", "transliteration")}
    assert langs == {"commentary": ["en", "en", "en", "hi"], "translation": ["en", "en"], "transliteration": ["sa-Latn"]}
    (hindi,) = [d for d in divs(doc, "commentary") if attrs(d)[2]["lang"] == "hi"]
    assert text_of(hindi["c"][1]) == editions.HINDI
    (iast,) = divs(doc, "transliteration")
    assert text_of(iast["c"][1]) == editions.IAST


def test_headings_are_level_one_with_their_language(quarto):
    _, doc = quarto
    headers = elements(doc, "Header")
    assert [(h["c"][0], text_of(h["c"][2])) for h in headers] == [(1, "Chapter II"), (1, "Chapter III")]
    assert all(attrs(h)[2]["lang"] == "en" for h in headers)  # the document is Sanskrit ("sa")


def test_running_heads_and_page_numbers_are_comments_not_body_text(quarto):
    md, doc = quarto
    assert "THE BHAGAVAD GĪTĀ" not in text_of(doc["blocks"])
    raw = [n["c"][1] for n in elements(doc, "RawBlock")]
    assert "<!-- running-head: THE BHAGAVAD GĪTĀ -->" in raw and "<!-- page-number: 1 -->" in raw
    for page in editions.edition("markdown-quarto").pages:
        assert f"<!-- page {page.page_number} (pageId {page.page_id}, sourcePageId {page.source_page_id}) -->" in raw


def test_the_front_matter_is_pandoc_metadata(quarto):
    md, doc = quarto
    meta = doc["meta"]
    assert meta_text(meta["title"]) == "The Bhagavad Gītā" and meta_text(meta["subtitle"]) == "With commentary"
    assert meta_text(meta["author"]) == "Vyāsa" and meta_text(meta["date"]) == "1905"
    assert meta_text(meta["lang"]) == "sa" and meta_text(meta["languages"]) == "sa en hi"
    assert meta["toc"] == {"t": "MetaBool", "c": True} and meta_text(meta["toc-depth"]) == "3"
    assert meta_text(meta["contributors"]) == "Ada Lovelace"
    assert meta_text(meta["pagesage"]["c"]["projectId"]) == editions.PROJECT_ID
    bare = ast(render(includeMetadata=False, includeAttribution=False, markdown={"tocDepth": 0}))["meta"]
    assert "pagesage" not in bare and "contributors" not in bare and "toc" not in bare and "title" in bare
    assert not render(markdown={"includeYamlFrontmatter": False}).startswith("---")


def test_metadata_text_is_quoted_yaml_and_literal_markdown():
    edition = editions.edition("markdown-quarto")
    title, author = 'No: "the" *Gītā* -- it\'s @x $5', "no"
    edition = dataclasses.replace(edition, project=edition.project.model_copy(update={"title": title, "authors": [author]}))
    md = markdown.render_text(edition)
    front = yaml.safe_load(md.split("---\n")[1])
    assert front["author"] == ["no"] and front["date"] == "1905" and front["toc-depth"] == 3
    assert front["pagesage"]["pages"] == [1, 2, 3] and front["lang"] == "sa"
    meta = ast(md)["meta"]
    assert meta_text(meta["title"]) == title and meta_text(meta["author"]) == author


def test_the_corrected_text_is_written_with_its_note(quarto):
    md, doc = quarto
    (commentary,) = [d for d in divs(doc, "commentary") if attrs(d)[2]["data-box-id"] == "box-c-1"]
    (para,) = commentary["c"][1]
    words = [n for n in para["c"] if n["t"] != "Space"]
    assert [n["t"] for n in words] == ["Str", "Str", "Note", "Str", "Str"] and words[1]["c"] == "principle"
    assert text_of(para, notes=False) == "The principle is clear."
    assert "prlnciple" not in md and "c1ear" not in md


def test_every_box_is_traceable_to_its_page_tokens_and_run(quarto):
    md, doc = quarto
    edition = editions.edition("markdown-quarto")
    marked = {attrs(n)[2].get("data-box-id"): attrs(n)[2] for n in elements(doc, "Div") + elements(doc, "Header")}
    raw = "\n".join(n["c"][1] for n in elements(doc, "RawBlock"))
    for page, box in edition.boxes():
        if box.box_id in marked:
            pairs = marked[box.box_id]
            assert pairs["data-page"] == str(page.page_number) and pairs["data-run"] == "run-1"
            assert pairs["data-tokens"] == markdown.token_ranges(box.provenance.token_nos)
            assert pairs["data-page-result"] == box.provenance.page_result_id
        else:
            assert box.box_id in raw or box.content_type.value in ("running-head", "page-number"), box.box_id
    assert marked["box-verse-1"]["data-tokens"] == "6-17"


def test_low_confidence_boxes_are_marked_or_left_out(quarto):
    _, doc = quarto
    (low,) = divs(doc, "low-confidence")
    assert attrs(low)[1] == ["commentary", "low-confidence"] and attrs(low)[2]["data-confidence"] == "0.41"
    assert text_of(low["c"][1]) == editions.LOW
    without = ast(render(includeLowConfidence=False))
    assert not divs(without, "low-confidence") and "Tbe rnost" not in text_of(without["blocks"])


def test_parallel_text_sets_verse_and_transliteration_beside_the_translation():
    doc = ast(render(markdown={"parallelText": True}))
    (columns,) = divs(doc, "columns")
    left, right = columns["c"][1]
    assert [attrs(c)[1] for c in (left, right)] == [["column"], ["column"]]
    assert all(attrs(c)[2]["width"] == "50%" for c in (left, right))
    assert [attrs(d)[1][0] for d in left["c"][1]] == ["verse", "transliteration"]
    assert [attrs(d)[2]["data-box-id"] for d in right["c"][1]] == ["box-tr-1"]
    assert len(divs(doc, "translation")) == 2  # page 3's translation has no verse: not in columns
    assert len(elements(doc, "Note")) == 3


def test_classes_and_language_tags_can_be_left_out():
    doc = ast(render(markdown={"useSemanticClasses": False, "languageTags": False}))
    for div in elements(doc, "Div"):
        _, classes, pairs = attrs(div)
        assert classes in ([], ["low-confidence"]) and "lang" not in pairs and "data-box-id" in pairs
    assert all("lang" not in attrs(h)[2] for h in elements(doc, "Header"))


def test_a_note_nothing_references_is_kept_as_a_footnote_div():
    doc = ast(render(includedPages=[2]))  # page 2 alone: its first footnote is a note of its own
    (note,) = divs(doc, "footnote")
    assert attrs(note)[2]["data-note-id"] == "p2-1" and text_of(note["c"][1]) == "the gloss of Madhusūdana."
    assert not elements(doc, "Note")


TRICKY = "* starred [1] costs $5 for @x\n# not a heading\n1. not a list\n: not a definition\n<b>x</b> a_b_ ~s~ ^s^ `c` \\ &amp; --- ... \"q\" it's :smile: | x"


def _with_text(text: str, flavor: str = "quarto"):
    edition = editions.edition("markdown-quarto", markdown={"flavor": flavor})
    pages = list(edition.pages)
    boxes = [dataclasses.replace(b, text=text, references=()) if b.box_id == "box-c-2" else b for b in pages[1].boxes]
    pages[1] = dataclasses.replace(pages[1], boxes=tuple(boxes))
    return dataclasses.replace(edition, pages=tuple(pages))


def test_a_reference_at_a_line_start_before_a_colon_stays_a_reference():
    edition = editions.edition("markdown-quarto")
    page = edition.pages[0]
    boxes = [dataclasses.replace(b, text="¹: a gloss", references=(dataclasses.replace(b.references[0], offset=0),))
             if b.box_id == "box-tr-1" else b for b in page.boxes]
    edition = dataclasses.replace(edition, pages=(dataclasses.replace(page, boxes=tuple(boxes)), *edition.pages[1:]))
    for flavor, fmt in (("quarto", "markdown"), ("commonmark", "gfm")):
        md = markdown.render_text(dataclasses.replace(edition, config=editions.config(markdown={"flavor": flavor})))
        doc = ast(md, fmt)
        para = next(p for p in elements(doc, "Para") if text_of(p, notes=False) == ": a gloss")
        assert para["c"][0]["t"] == "Note" and len(elements(doc, "Note")) == 3


def _literal(text: str) -> str:
    return " ".join(" ".join(line.split()) for line in text.split("\n"))


def test_ocr_text_never_becomes_markup():
    doc = ast(markdown.render_text(_with_text(TRICKY)))
    (div,) = [d for d in elements(doc, "Div") if attrs(d)[2].get("data-box-id") == "box-c-2"]
    (para,) = div["c"][1]
    assert para["t"] == "Para" and {n["t"] for n in walk(para["c"])} <= {"Str", "Space", "SoftBreak"}
    assert text_of(para) == _literal(TRICKY)
    assert len(elements(doc, "Header")) == 2 and not elements(doc, "Cite") and not elements(doc, "Math")


@pytest.mark.parametrize("text", ["* x", "[1] y", "$5 and $6", "@x", "# not a heading", "a. b", "x\n===", "Term\n: def",
                                  "    indented", "| a | b |\n|---|---|", "::: {.x}", "--", "Head {.x}", "x  \ny"])
@pytest.mark.parametrize("flavor,fmt", [("quarto", "markdown"), ("commonmark", "gfm"), ("commonmark", "commonmark")])
def test_escaped_text_reads_back_as_itself(text, flavor, fmt):
    doc = ast(markdown.escape(text, flavor), fmt)
    assert [b["t"] for b in doc["blocks"]] == ["Para"] and text_of(doc["blocks"]) == _literal(text)


def test_devanagari_needs_no_escaping():
    assert markdown.escape(editions.VERSE) == "\n".join(line.strip() for line in editions.VERSE.split("\n"))
    assert markdown.escape("यह सिद्धान्त स्पष्ट है।", "commonmark") == "यह सिद्धान्त स्पष्ट है।"


def test_comments_cannot_be_closed_by_the_text():
    made = markdown.comment("a --> b --- c\n d")
    assert made == "<!-- a - -> b - - - c d -->" and "--" not in made[4:-3]
    (raw,) = ast(f"{made}\n\ntext")["blocks"][:1]
    assert raw == {"t": "RawBlock", "c": ["html", made]}


def test_the_pandoc_flavour_is_the_same_markdown_without_quarto_in_the_name():
    assert ast(render(markdown={"flavor": "pandoc"}))["blocks"] == ast(render())["blocks"]


def test_commonmark_has_no_divs_and_github_reads_its_footnotes():
    md = render(markdown={"flavor": "commonmark", "parallelText": True})
    assert ":::" not in md and "\n| " not in md and not md.startswith("---")
    tokens = MarkdownIt("commonmark").parse(md)
    kinds = {t.type for t in tokens}
    assert {"heading_open", "paragraph_open", "html_block"} <= kinds
    headings = [tokens[i + 1].content for i, t in enumerate(tokens) if t.type == "heading_open"]
    assert headings == ["Chapter II", "Chapter III"]
    comments = [t.content for t in tokens if t.type == "html_block"]
    assert any("verse lang=sa box-id=box-verse-1" in c for c in comments)
    assert comments[0].startswith("<!-- metadata\n") and comments[0].endswith("\n-->\n")
    assert yaml.safe_load(comments[0][len("<!-- metadata\n"):-len("-->\n")])["title"] == "The Bhagavad Gītā"
    doc = ast(md, "gfm")
    assert [text_of(n["c"]) for n in elements(doc, "Note")] == [
        "See Śaṅkara's commentary.", "Compare verse 2.11 and the gloss of Madhusūdana.", "On karma."]
    assert not elements(doc, "Div") and not elements(doc, "LineBlock")
    verse = next(p for p in elements(doc, "Para") if text_of(p).startswith("धर्मक्षेत्रे"))
    assert [n["t"] for n in verse["c"]].count("LineBreak") == 1
    assert "THE BHAGAVAD GĪTĀ" not in text_of(doc["blocks"])


def test_commonmark_escaping_keeps_text_literal():
    doc = ast(markdown.render_text(_with_text(TRICKY + " http://x.org a@b.com", "commonmark")), "gfm")
    para = next(p for p in elements(doc, "Para") if text_of(p).startswith("* starred"))
    assert text_of(para) == _literal(TRICKY + " http://x.org a@b.com") and not elements(doc, "Link")


def test_pandoc_html_has_languages_and_footnotes():
    html = pypandoc.convert_text(render(), "html5", format="markdown", extra_args=["--standalone"])
    assert '<html xmlns="http://www.w3.org/1999/xhtml" lang="sa" xml:lang="sa">' in html
    assert '<div class="verse" lang="sa"' in html and 'lang="sa-Latn"' in html and 'lang="hi"' in html
    assert 'class="footnotes' in html and html.count('role="doc-noteref"') == 3 and "Madhusūdana" in html
    assert 'data-box-id="box-verse-1"' in html and "THE BHAGAVAD GĪTĀ</" not in html
    assert "<title>The Bhagavad Gītā</title>" in html and '<p class="subtitle">With commentary</p>' in html


# a real scan


@pytest.fixture
def settings(tmp_path) -> Settings:
    """conftest's settings with a configured user, who makes the project."""
    return Settings(data_dir=tmp_path / "data", workers=2, rate_limit=0, user="Ada Lovelace <ada@example.org>")


def test_a_real_scan_has_its_starred_footnote_as_a_pandoc_note(http, corpus, services):
    from pagesage.book.services import exports

    project_id = editions.corpus_project(http, corpus)
    edition = exports.edition_of(services.book_ports, project_id, editions.config("markdown-quarto"))
    doc = ast(markdown.render_text(edition))
    (note,) = elements(doc, "Note")
    (footnote,) = [b for _, b in edition.boxes() if b.note_id]
    assert footnote.text.lstrip().startswith("*")
    assert text_of(note["c"]) == " ".join(footnote.text.lstrip().removeprefix("*").split()) == edition.notes["p1-1"].text
    (para,) = [p for p in elements(doc, "Para") if note in p["c"]]
    at = para["c"].index(note)
    assert text_of(para["c"][:at]).endswith("eodem.”") and "*" not in text_of(para, notes=False)
    assert "Pro ix ulnis" in text_of(para)
