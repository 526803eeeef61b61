"""Benchmark: the book layer on a synthetic 700-page project (30 boxes a page, 2 footnote
references a page), on the embedded store (SQLite) and on Firestore (its emulator).

    python tests/bench/bench_book.py [--pages 700] [--rounds 30] [--json]

For each store, in this one process and the same minutes:
- creating the project (every page, its first version, 21,000 box index entries);
- validating the whole project (`POST /api/v1/projects/:id/validate`'s use case), 3 runs;
- validating one page (through the box and reference indexes);
- one text correction with a reference to move (`PUT .../text`'s use case): p50/p99;
- one box index lookup (`locate_box`): p50/p99.
Target: embedded project validation <= 1 s for 700 pages. Ratios are Firestore / SQLite.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

from bench_load import percentile

TARGET_VALIDATION_SECONDS = 1.0


def synthetic_project(pages: int, boxes: int):
    """A project of `pages` pages, each with `boxes` boxes: body boxes, 2 footnotes at the
    bottom, the first body box referring to both."""
    from pagesage.book.domain import ids, versions
    from pagesage.book.domain.model import (AI, BoundingBox, CreateChange, ImageMetadata, InlineReference, PageAnnotations,
                                            PageState, Project, SourceDocument, TextContent)

    now = datetime.now(timezone.utc)
    project_id = ids.project_id()
    project = Project(project_id=project_id, slug="bench-book", title="Bench book", created_by=AI,
                      source_document=SourceDocument(file_name="bench.pdf"), created_at=now, updated_at=now)
    records = []
    for n in range(1, pages + 1):
        page_id = ids.page_id(project_id, n)
        notes = [f"box-footnote-{n:04d}-{k}" for k in (1, 2)]
        body = []
        for i in range(boxes - 2):
            text = f"Paragraph {i} of page {n}: the principle¹ and its commentary² run on for a few lines of text."
            refs = []
            if i == 0:
                refs = [InlineReference(reference_id=f"ref-{n}-{k}", position={"charOffset": text.index(m), "length": 1},
                                        target_box_id=notes[k - 1], display_text=m, sequence_in_text=k)
                        for k, m in ((1, "¹"), (2, "²"))]
            body.append(BoundingBox(box_id=f"box-commentary-{n:04d}-{i:02d}", coordinates={"x": 100, "y": 100 + 40 * i,
                                    "width": 1000, "height": 36}, content_type="commentary", reading_order=i + 1,
                                    text=TextContent(ocr=text, corrected=text, ocr_confidence=0.9), created_by="ai",
                                    linked_boxes=notes if i == 0 else [], inline_references=refs))
        for k, box_id in enumerate(notes, start=1):
            text = f"{k}. A note on page {n}."
            body.append(BoundingBox(box_id=box_id, coordinates={"x": 100, "y": 1500 + 40 * k, "width": 1000, "height": 30},
                                    content_type="footnote", reading_order=len(body) + 1,
                                    text=TextContent(ocr=text, corrected=text), created_by="ai"))
        page = PageAnnotations(page_id=page_id, page_number=n, project_id=project_id,
                               image=ImageMetadata(file_name=f"page-{n:03d}.png", format="png", width=1240, height=1754),
                               current_state=PageState(bounding_boxes=body), created_at=now, updated_at=now)
        records.append(versions.commit(page, page.current_state, editor=AI, change_type="ai_generated",
                                       changes=CreateChange(action="created", details="bench"), note="", now=now))
    return project, records


def bench_store(name: str, book, ocr, pages: int, boxes: int, rounds: int) -> dict:
    from pagesage.book.domain.edits import UpdateTextRequest
    from pagesage.book.domain.model import UserAttribution
    from pagesage.book.services import checks, editing
    from pagesage.book.services.ports import BookPorts

    ports = BookPorts(book=book, ocr=ocr, blobs=None)
    project, records = synthetic_project(pages, boxes)
    t0 = time.perf_counter()
    book.create_project(project, records)
    create = time.perf_counter() - t0
    validations = []
    for _ in range(3):
        t0 = time.perf_counter()
        result = checks.validate_project(ports, project.project_id)
        validations.append(time.perf_counter() - t0)
    assert result.is_valid and not result.counts, result.counts
    page_checks = []
    for i in range(rounds):
        t0 = time.perf_counter()
        checks.validate_page(ports, records[i % pages][0].page_id)
        page_checks.append(time.perf_counter() - t0)
    editor = UserAttribution(name="Bench", user_id="bench")
    corrections = []
    for i in range(rounds):
        page, _ = records[i % pages]
        current = book.get_page(page.page_id)
        box = current.boxes[0]
        new = "Indeed, " + box.text.corrected
        t0 = time.perf_counter()
        answer = editing.correct_text(ports, page.page_id, box.box_id, current.commit_sha, editor,
                                      UpdateTextRequest(old_text=box.text.corrected, new_text=new))
        corrections.append(time.perf_counter() - t0)
        assert answer.affected_references.updated
    lookups = []
    for i in range(rounds * 10):
        box_id = records[(i * 7) % pages][0].boxes[i % boxes].box_id
        t0 = time.perf_counter()
        book.locate_box(box_id)
        lookups.append(time.perf_counter() - t0)
    return {"store": name, "pages": pages, "boxes": pages * boxes, "create_s": create,
            "validate_project_s": statistics.median(validations), "validate_page_p50_ms": 1000 * percentile(page_checks, 0.5),
            "correct_p50_ms": 1000 * percentile(corrections, 0.5), "correct_p99_ms": 1000 * percentile(corrections, 0.99),
            "lookup_p50_ms": 1000 * percentile(lookups, 0.5), "lookup_p99_ms": 1000 * percentile(lookups, 0.99)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=700)
    parser.add_argument("--boxes", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    from pagesage import emulators
    from pagesage.adapters.firestore_store import FirestoreStore, firestore_client
    from pagesage.adapters.sqlite_store import SqliteStore
    from pagesage.book.adapters.firestore_book import FirestoreBookStore
    from pagesage.book.adapters.sqlite_book import SqliteBookStore

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "pagesage.db"
        rows.append(bench_store("sqlite", SqliteBookStore(db), SqliteStore(db), args.pages, args.boxes, args.rounds))
    firestore = emulators.firestore().start()
    try:
        import os

        os.environ["FIRESTORE_EMULATOR_HOST"] = f"127.0.0.1:{firestore.port}"
        client = firestore_client(emulators.PROJECT)
        rows.append(bench_store("firestore", FirestoreBookStore(client), FirestoreStore(client), args.pages, args.boxes,
                                args.rounds))
    finally:
        firestore.stop()
    if args.json:
        print(json.dumps(rows, indent=1))
    else:
        print(f"book layer: {args.pages} pages x {args.boxes} boxes, 2 references a page; {args.rounds} rounds")
        print(f"{'store':<10} {'create s':>9} {'validate project s':>19} {'page p50 ms':>12} {'correct p50/p99 ms':>19} "
              f"{'lookup p50/p99 ms':>18}")
        for r in rows:
            print(f"{r['store']:<10} {r['create_s']:>9.2f} {r['validate_project_s']:>19.3f} {r['validate_page_p50_ms']:>12.1f} "
                  f"{r['correct_p50_ms']:>9.1f}/{r['correct_p99_ms']:<9.1f} {r['lookup_p50_ms']:>8.2f}/{r['lookup_p99_ms']:<8.2f}")
        sqlite, fs = rows
        print(f"Firestore/SQLite: validate project x{fs['validate_project_s'] / sqlite['validate_project_s']:.1f}, "
              f"correct x{fs['correct_p50_ms'] / sqlite['correct_p50_ms']:.1f}, lookup x{fs['lookup_p50_ms'] / sqlite['lookup_p50_ms']:.1f}")
        verdict = "meets" if rows[0]["validate_project_s"] <= TARGET_VALIDATION_SECONDS else "MISSES"
        print(f"embedded project validation {rows[0]['validate_project_s']:.3f} s: {verdict} the {TARGET_VALIDATION_SECONDS:g} s target")
    return 0 if rows[0]["validate_project_s"] <= TARGET_VALIDATION_SECONDS else 1


if __name__ == "__main__":
    sys.exit(main())
