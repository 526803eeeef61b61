"""Benchmark: exporting a synthetic 700-page project to each format on the embedded stack
(SQLite book and OCR stores, a folder of blobs), through the export use case.

    python tests/bench/bench_exports.py [--pages 700] [--boxes 30] [--json]

The project is `bench_book.synthetic_project` (30 boxes a page, 2 footnote references a page)
with OCR tokens behind every box (a page result of about 15 words a box, 450 a page) and the
first box of each page corrected, so words are re-aligned. Each format is exported in a fresh
child process (fork) after the project is built: wall seconds of `create_export` (render, store,
record) and the child's peak RSS, beside the parent's RSS at the fork (the baseline).
Target: Quarto Markdown <= 5 s for 700 pages.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

from bench_book import synthetic_project

TARGET_QUARTO_SECONDS = 5.0
FORMATS = ("markdown-quarto", "hocr", "page-xml", "alto", "plain-text", "json")
WORDS = "the principle and its commentary run on for a few lines of text in this book".split()


def with_tokens(ocr, project, records):
    """Give every box OCR tokens in a stored page result, and correct each page's first box."""
    from pagesage.domain.pages import BBox, PageResult, Token
    from pagesage.book.domain.model import OcrSource, TextContent

    config = {"engine": "tesseract", "languages": "eng", "psm": 3, "dpi": 300}
    out = []
    for page, version in records:
        result = PageResult(run_id="run-bench", source_doc_id="doc-bench", page_no=page.page_number, config=config, lang_tag="en")
        tokens, boxes = [], []
        for i, box in enumerate(page.boxes):
            words = box.text.corrected.split()
            nos = []
            for k, word in enumerate(words):
                tokens.append(Token(token_no=len(tokens), text=word, text_norm=word.lower(), confidence=88.0, block=i, par=i, line=i,
                                    bbox=BBox(x=100 + 60 * (k % 16), y=box.coordinates.y, w=50, h=30)))
                nos.append(tokens[-1].token_no)
            text = box.text
            if i == 0:
                text = TextContent(ocr=text.ocr, corrected=text.corrected.replace("Paragraph", "Paragraf", 1), is_corrected=True,
                                   ocr_confidence=0.9)
            boxes.append(box.model_copy(update={"ocr_source": OcrSource(run_id="run-bench", page_result_id=result.page_result_id,
                                                                        token_nos=nos), "text": text}))
        ocr.put_page_result(result.model_copy(update={"word_count": len(tokens)}), tokens)
        state = page.current_state.model_copy(update={"bounding_boxes": boxes})
        out.append((page.model_copy(update={"current_state": state}), version.model_copy(update={"state": state})))
    return project, out


def _export(ports, project_id: str, fmt: str, queue) -> None:
    from pagesage.book.domain.model import AI
    from pagesage.book.services import exports

    t0 = time.perf_counter()
    record = exports.create_export(ports, project_id, exports.ExportRequest(format=fmt), AI)
    seconds = time.perf_counter() - t0
    queue.put({"format": fmt, "seconds": round(seconds, 3), "bytes": record.file_size,
               "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)})


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * resource.getpagesize() / 2**20


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=700)
    parser.add_argument("--boxes", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from pagesage.adapters.local_blobs import LocalBlobStore
    from pagesage.adapters.sqlite_store import SqliteStore
    from pagesage.book.adapters.sqlite_book import SqliteBookStore
    from pagesage.book.services.ports import BookPorts

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "pagesage.db"
        book, ocr = SqliteBookStore(db), SqliteStore(db)
        project, records = with_tokens(ocr, *synthetic_project(args.pages, args.boxes))
        book.create_project(project, records)
        ports = BookPorts(book=book, ocr=ocr, blobs=LocalBlobStore(Path(tmp) / "blobs"))
        baseline = _rss_mb()
        context = multiprocessing.get_context("fork")
        for fmt in FORMATS:
            queue = context.Queue()
            child = context.Process(target=_export, args=(ports, project.project_id, fmt, queue))
            child.start()
            child.join()
            if child.exitcode != 0:
                raise SystemExit(f"exporting {fmt} failed (exit status {child.exitcode})")
            rows.append(queue.get(timeout=10))
    quarto = next(r for r in rows if r["format"] == "markdown-quarto")["seconds"]
    if args.json:
        print(json.dumps({"pages": args.pages, "baseline_rss_mb": round(baseline, 1), "rows": rows}, indent=1))
    else:
        print(f"exports: {args.pages} pages x {args.boxes} boxes, tokens behind every box; RSS at fork {baseline:.0f} MB")
        print(f"{'format':<16} {'seconds':>8} {'MB out':>8} {'peak RSS MB':>12}")
        for r in rows:
            print(f"{r['format']:<16} {r['seconds']:>8.2f} {r['bytes'] / 2**20:>8.1f} {r['peak_rss_mb']:>12.0f}")
        verdict = "meets" if quarto <= TARGET_QUARTO_SECONDS else "MISSES"
        print(f"embedded Quarto export {quarto:.2f} s: {verdict} the {TARGET_QUARTO_SECONDS:g} s target")
    return 0 if quarto <= TARGET_QUARTO_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
