"""Test data builders."""

from __future__ import annotations

import threading
from pathlib import Path

import pypdfium2 as pdfium

from pagesage.domain.jobs import DocumentUpload, FileFormat, Job
from pagesage.domain.pages import BBox, Token
from pagesage.ports import Task
from pagesage.text.normalize import normalize_for_search


def make_job(languages: str = "eng", **fields) -> Job:
    """A pending job for a 1,234-byte PDF that was never stored (the store tests need no blob)."""
    upload = DocumentUpload(
        file_name="scan.pdf",
        file_format=FileFormat.PDF,
        file_size=1234,
        content_type="application/pdf",
        sha256="0" * 64,
        original_key="originals/x/original.pdf",
    )
    return Job(upload=upload, languages=languages, **fields)


def tokens_of_text(text: str) -> list[Token]:
    """One token per whitespace-separated word of `text`, `line` from the text's lines (boxes and
    confidences are placeholders: for tests of text, not layout)."""
    out = []
    for line_no, line in enumerate(text.splitlines()):
        for word in line.split():
            out.append(Token(token_no=len(out), text=word, text_norm=normalize_for_search(word),
                             bbox=BBox(x=0, y=0, w=1, h=1), confidence=90.0, block=0, par=0, line=line_no))
    return out


class RecordingQueue:
    """A task queue that records tasks instead of running them."""

    def __init__(self):
        self.tasks: list[Task] = []

    def enqueue(self, task: Task) -> None:
        self.tasks.append(task)


SAMPLE_PDF = Path(__file__).resolve().parents[1] / "samples" / "tesseract-testing-2pages.pdf"


def eight_page_pdf(path: Path) -> Path:
    """The two-page sample PDF four times over at `path`: eight real scanned pages."""
    pdf = pdfium.PdfDocument.new()
    sample = pdfium.PdfDocument(SAMPLE_PDF)
    for _ in range(4):
        pdf.import_pages(sample)
    pdf.save(path)
    sample.close()
    pdf.close()
    return path


def run_in_threads(count: int, target) -> None:
    """Start `count` threads on `target(i)` behind a barrier; re-raise the first failure."""
    barrier = threading.Barrier(count)
    errors: list[BaseException] = []

    def body(i: int) -> None:
        try:
            barrier.wait()
            target(i)
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised below
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not any(t.is_alive() for t in threads)
    if errors:
        raise errors[0]
