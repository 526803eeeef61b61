"""Renderers of an `Edition` (`pagesage.book.domain.edition`), one module a format: each has
`render(edition) -> bytes`, `MEDIA_TYPE`, `EXTENSION` and `WORDS` (whether it writes lines and
words, so the edition must load the OCR tokens; docs/exports.md)."""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable

from pagesage.book.domain.edition import Edition
from pagesage.book.domain.export_config import MarkdownExportOptions

MODULES = {"markdown-quarto": "markdown", "hocr": "hocr", "page-xml": "page_xml", "alto": "alto",
           "plain-text": "plain_text", "json": "json_export"}
"""The module of each `ExportFormat`."""


@dataclass(frozen=True)
class Renderer:
    """A format's renderer, its media type (RFC 6838), its file name extension and whether it
    writes words (`words`: the edition needs the OCR tokens)."""

    render: Callable[[Edition], bytes]
    media_type: str
    extension: str
    words: bool


def file_extension(format: str, markdown_options: MarkdownExportOptions | None = None) -> str:
    """The file name extension of an export in `format`: the format's own, except Markdown's,
    which follows the flavour (`qmd` for Quarto, `md` for Pandoc and CommonMark). Raises
    `KeyError` for an unknown format."""
    if format == "markdown-quarto":
        from pagesage.book.formats import markdown

        return markdown.extension(markdown_options)
    return renderer(format).extension


def renderer(format: str) -> Renderer:
    """The renderer of `format`, an `ExportFormat`. Raises `KeyError` for any other."""
    module = importlib.import_module(f"pagesage.book.formats.{MODULES[format]}")
    return Renderer(module.render, module.MEDIA_TYPE, module.EXTENSION, module.WORDS)
