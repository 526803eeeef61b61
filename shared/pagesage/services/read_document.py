"""Use case: read a document's text through the page stages without storing anything — what
`pagesage eval` scores, so a configuration is judged on exactly what a job would produce."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from pagesage.config import Settings
from pagesage.errors import UnsupportedFormat
from pagesage.formats.text import page_text
from pagesage.imaging import format_of_file, page_sizes
from pagesage.ports import OcrEngine
from pagesage.services.page_stages import PageContext, read_page


def read_document(path: Path, *, languages: str, settings: Settings, engine: OcrEngine) -> tuple[list[PageContext], str, float]:
    """Every page of the PDF or image file at `path` read by the stages with `languages` (a
    spec, `auto` included) and `settings` (DPI, PSM); (page contexts, text, wall seconds).

    The text is the job's plain-text result (`formats.text`): pages joined by form feeds, lines
    and paragraphs in reading order (`domain.layout`).

    Raises:
        UnsupportedFormat: not a PDF, PNG, JPEG or TIFF.
        CorruptedFile, EncryptedFile, MemoryLimit, EngineError: as `page_stages.read_page`.
    """
    started = time.perf_counter()
    file_format = format_of_file(path)
    if file_format is None:
        raise UnsupportedFormat(f"{path.name} is not a PDF, PNG, JPEG or TIFF")
    page_count = len(page_sizes(path, file_format, dpi=settings.dpi, max_pixels=settings.max_page_pixels))
    contexts, texts = [], []
    with tempfile.TemporaryDirectory(prefix="pagesage-eval-", dir=settings.work_dir) as tmp:
        for page_no in range(1, page_count + 1):
            work = Path(tmp) / str(page_no)
            work.mkdir()
            context = read_page(PageContext(source=path, file_format=file_format, page_no=page_no, page_count=page_count,
                                            languages=languages, settings=settings, work=work), engine)
            texts.append(page_text(context.tokens))
            contexts.append(context)
    return contexts, "\f".join(texts), time.perf_counter() - started
