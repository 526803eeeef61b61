"""Markdown output renders, through a CommonMark parser, to exactly the recognised text."""

from __future__ import annotations

from factories import make_job
from lxml import html as lxml_html
from markdown_it import MarkdownIt
from pagesage.domain.jobs import JobStatus
from pagesage.domain.pages import (
    BBox,
    EngineConfig,
    Page,
    PageResult,
    PageStatus,
    Token,
)
from pagesage.formats.document import DocumentView, PageView
from pagesage.formats.markdown import escape, render_markdown
from pagesage.text.normalize import normalize_for_search

CONFIG = EngineConfig(languages="eng", psm=3, oem=1, dpi=300)


def tokens(lines: list[list[str]], par_of_line: list[int]) -> list[Token]:
    out = []
    for line_no, (words, par) in enumerate(zip(lines, par_of_line)):
        for word in words:
            out.append(Token(token_no=len(out), text=word, text_norm=normalize_for_search(word),
                             bbox=BBox(x=len(out) * 10, y=line_no * 20, w=9, h=18), confidence=90.0,
                             block=0, par=par, line=line_no))
    return out


def rendered_paragraphs(markdown: str) -> list[str]:
    root = lxml_html.fromstring(f"<div>{MarkdownIt('commonmark').render(markdown)}</div>")
    elements = [child for child in root if isinstance(child.tag, str)]  # page comments are not elements
    assert [child.tag for child in elements] == ["p"] * len(elements), "only paragraphs may come out"
    return [child.text_content() for child in elements]


def document(pages: list[PageView]) -> DocumentView:
    job = make_job()
    job.status = JobStatus.COMPLETED
    return DocumentView(job=job, run=None, pages=pages)


def page(no: int, toks: list[Token]) -> PageView:
    result = PageResult(run_id="r", job_id="j", page_no=no, config=CONFIG, lang_tag="en")
    return PageView(page=Page(source_doc_id="d", job_id="j", page_no=no, status=PageStatus.DONE), result=result, tokens=toks)


def test_markup_characters_render_literally():
    hostile = ["# not a heading", "- not a list", "1. not ordered", "*emph* _under_ `code`", "<b>tag</b> &amp;",
               "[link](http://x) ![img](y)", "a | table | row", "> quote", "+ plus", "2) also", "back\\slash", "~~strike~~"]
    for text in hostile:
        assert rendered_paragraphs(escape(text) + "\n") == [text], text


def test_paragraphs_join_lines_and_mend_hyphenated_words():
    toks = tokens([["The", "exam-"], ["ple", "shows"], ["well-", "Known"], ["# 12", "*stars*"], ["New", "par"]], [0, 0, 0, 0, 1])
    markdown = render_markdown(document([page(1, toks)]))
    assert markdown.startswith("<!-- page 1 -->\n\n")
    assert rendered_paragraphs(markdown) == ["The example shows well- Known # 12 *stars*", "New par"]


def test_pages_are_marked_and_failed_pages_say_why():
    failed = PageView(page=Page(source_doc_id="d", job_id="j", page_no=2, status=PageStatus.FAILED, error_code="corrupted_file"))
    markdown = render_markdown(document([page(1, tokens([["रामः", "वनं"]], [0])), failed, page(3, [])]))
    assert "<!-- page 1 -->" in markdown and "<!-- page 2: failed (corrupted_file) -->" in markdown
    assert "<!-- page 3 -->" in markdown
    assert rendered_paragraphs(markdown) == ["रामः वनं"]
