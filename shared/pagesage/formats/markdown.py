"""Markdown output (CommonMark 0.31): paragraphs as they read, page breaks as HTML comments.

Within a paragraph (`token.par`) the lines are joined into one line of text, and a word broken by
a hyphen at a line end is joined again when the next line goes on in lower case ("exam-" +
"ple" -> "example"). Every character that CommonMark could read as markup is backslash-escaped
(§2.4 "Backslash escapes"), so the rendered document shows exactly the recognised text. Each page
starts with `<!-- page N -->` (`<!-- page N: failed (code) -->` for a page without a result),
which renders as nothing but keeps page boundaries findable.
"""

from __future__ import annotations

import itertools
import re

from pagesage.domain.pages import Token
from pagesage.formats.document import DocumentTotals, DocumentView, PageView, line_text

_INLINE = re.compile(r"([\\`*_\[\]<>|~!&])")
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+(?=[.)]))")


def render_markdown(doc: DocumentView) -> str:
    """The document as CommonMark text, ending with a newline."""
    return assemble(doc, doc.totals, [page_part(view) for view in doc.pages])


def page_part(view: PageView) -> str:
    """One page: its page comment and its paragraphs, a blank line between blocks."""
    if view.result is None and view.page.error_code:
        comment = f"<!-- page {view.page.page_no}: failed ({view.page.error_code}) -->"
    else:
        comment = f"<!-- page {view.page.page_no} -->"
    return "\n\n".join([comment, *_paragraphs(view.tokens)])


def assemble(doc: DocumentView, totals: DocumentTotals, parts: list[str]) -> str:
    """The Markdown of a document from its pages' parts, in page order."""
    return "\n\n".join(parts) + "\n"


def escape(text: str) -> str:
    """`text` with CommonMark punctuation backslash-escaped, so it renders literally as one paragraph line."""
    return _LINE_START.sub(_escape_block_marker, _INLINE.sub(r"\\\1", text))


def _escape_block_marker(match: re.Match) -> str:
    lead, marker = match.groups()
    return f"{lead}{marker}\\" if marker.isdigit() else f"{lead}\\{marker}"


def _paragraphs(tokens: list[Token]) -> list[str]:
    paragraphs = []
    for _, par in itertools.groupby(tokens, key=lambda t: t.par):
        lines = [line_text(list(line)) for _, line in itertools.groupby(par, key=lambda t: t.line)]
        paragraphs.append(escape(_join_lines(lines)))
    return paragraphs


def _join_lines(lines: list[str]) -> str:
    text = ""
    for line in lines:
        if not line:
            continue
        if text.endswith("-") and text[-2:-1].strip() and line[:1].islower():
            text = text[:-1] + line  # "exam-" + "ple": the word broken at the line end
        else:
            text = f"{text} {line}" if text else line
    return text
