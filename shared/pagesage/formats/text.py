"""Plain-text output: the recognised words of every page, in reading order."""

from __future__ import annotations

import itertools

from pagesage.domain.pages import Token
from pagesage.formats.document import DocumentTotals, DocumentView, PageView, line_text


def render_text(doc: DocumentView) -> str:
    """The document as plain text.

    Within a page, words of a line are joined by one space (none after a word whose
    `space_after` is false), lines end with "\\n" and a blank
    line separates paragraphs (a change of `token.par`). Pages are separated by a form feed
    "\\f", also around pages without words (failed or blank), so the page count is the number of
    form feeds plus one. The text ends with "\\n".

    Args:
        doc: the document read model.

    Returns:
        The text (a str; encode as UTF-8 to serve it).
    """
    return assemble(doc, doc.totals, [page_part(view) for view in doc.pages])


def page_part(view: PageView) -> str:
    """One page's part of the text (`page_text`)."""
    return page_text(view.tokens)


def assemble(doc: DocumentView, totals: DocumentTotals, parts: list[str]) -> str:
    """The text of a document from its pages' parts, in page order."""
    text = "\f".join(parts)
    return text if text.endswith("\n") else text + "\n"


def page_text(tokens: list[Token]) -> str:
    """One page's words as lines and blank-line-separated paragraphs; "" when it has none.

    Args:
        tokens: the page's tokens in reading order (token_no order).

    Returns:
        The page text, each line ending with "\\n".
    """
    paragraphs = []
    for _, par in itertools.groupby(tokens, key=lambda t: t.par):
        lines = [line_text(list(line)) for _, line in itertools.groupby(par, key=lambda t: t.line)]
        paragraphs.append("".join(line + "\n" for line in lines))
    return "\n".join(paragraphs)
