"""Plain-text export of an edition: the corrected text as UTF-8 `text/plain` (RFC 2046, with the
`charset` parameter of RFC 6657), no byte order mark, lines ending in "\\n".

Layout:
    Pages in the edition's order, separated by a form feed "\\f" (as the job-level text result
    and Tesseract's text output do), so a file of N pages holds N - 1 form feeds; an empty page
    is an empty string between two of them.
    On a page, the boxes in reading order, each its lines as written (trailing spaces and
    blank lines inside a box removed), a blank line between boxes. Running heads and page
    numbers are left out: they are page furniture, not text. Headings, verses, translations,
    commentary, captions, tables and the rest are kept alike, with no markup.
    Footnotes come at the end of their page, after a line `FOOTNOTE_RULE`, a blank line between
    them, each as written with its marker ("1. See …"); a footnote continued from the previous
    page stays at the foot of the page that prints it. Inline reference markers ("dharma¹") stay
    in the text as written.
    With `includeMetadata` the first page starts with a header, then a blank line: the title,
    the subtitle, the authors (comma-separated), the publisher and year, and with
    `includeAttribution` a line "Contributors: " and their names; each line only when known.
    Low-confidence boxes kept by `includeLowConfidence` are not marked (plain text has no
    markup for it); left out, they are simply absent.
"""

from __future__ import annotations

from pagesage.book.domain.edition import Box, Edition, EditionPage
from pagesage.book.domain.model import ContentType

MEDIA_TYPE = "text/plain; charset=utf-8"
EXTENSION = "txt"
WORDS = False
"""Plain text writes each box's text, not its words."""

FOOTNOTE_RULE = "-" * 10
"""The line between a page's text and its footnotes."""

FURNITURE = frozenset({ContentType.RUNNING_HEAD, ContentType.PAGE_NUMBER})
"""Content types left out: repeated on every page, not part of the text."""


def render(edition: Edition) -> bytes:
    """The edition as plain text (module docstring), UTF-8 encoded.

    Args:
        edition: the edition; `config.includeMetadata` and `config.includeAttribution` add the
            header.

    Returns:
        The encoded text, ending with "\\n" (an edition without text gives "\\n").
    """
    pages = [page_text(page) for page in edition.pages] or [""]
    header = _header(edition)
    if header:
        pages[0] = header + ("\n" + pages[0] if pages[0] else "")
    text = "\f".join(pages)
    return (text if text.endswith("\n") else text + "\n").encode("utf-8")


def page_text(page: EditionPage) -> str:
    """One page's text: its body boxes, then its footnotes after `FOOTNOTE_RULE`; each block
    ends with "\\n" and blocks are separated by a blank line. "" for a page without text."""
    body = [_box_text(b) for b in page.boxes if b.content_type not in FURNITURE and b.content_type != ContentType.FOOTNOTE]
    notes = [_box_text(b) for b in page.boxes if b.content_type == ContentType.FOOTNOTE]
    blocks = [t for t in body if t]
    notes = [t for t in notes if t]
    if notes:
        blocks.append(f"{FOOTNOTE_RULE}\n" + "\n".join(notes))
    return "\n".join(blocks)


def _box_text(box: Box) -> str:
    """A box's lines, each ending with "\\n"; "" when it has no text."""
    lines = [line.rstrip() for line in box.text.split("\n")]
    return "".join(line + "\n" for line in lines if line)


def _header(edition: Edition) -> str:
    """The metadata lines, each ending with "\\n"; "" without `includeMetadata`."""
    config, project = edition.config, edition.project
    if not config.include_metadata:
        return ""
    year = str(project.publication_year) if project.publication_year is not None else None
    imprint = ", ".join(part for part in (project.publisher, year) if part)
    lines = [project.title, project.subtitle or "", ", ".join(project.authors), imprint]
    if config.include_attribution and edition.contributors:
        lines.append("Contributors: " + ", ".join(person.name for person in edition.contributors))
    return "".join(line + "\n" for line in lines if line)
