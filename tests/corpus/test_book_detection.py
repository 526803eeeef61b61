"""Seeded boxes and detected references on corpus pages against hand labels.

Each page of `tests/fixtures/book/content_type_labels.json` is read as the pipeline reads it
(`imaging.render_page`, `TesseractEngine` with `--psm 3`, `ocr_page.build_tokens`), seeded
(`seeding.seed_boxes`) and scored per content type:
    * recall: a labelled box counts when the seeded box holding the line its key starts is of
      its type;
    * precision: a seeded box counts when its label (that of the first key it holds, else of the
      nearest key above it) is its type.
The thresholds are the figures measured with Tesseract 5.3.0 and Debian's `eng` and
`Devanagari` models (printed by the tests, `-s`), floored to two decimals.
"""

from __future__ import annotations

import itertools
import json
import os
import shutil
import statistics
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pytest
from rapidfuzz import fuzz

from pagesage.book.domain import detection
from pagesage.book.domain.detection import detect_references, find_markers, raised_tokens
from pagesage.book.domain.model import BoundingBox, ContentType, Language
from pagesage.book.domain.seeding import seed_boxes
from pagesage.domain.jobs import FileFormat
from pagesage.domain.pages import Token
from pagesage.domain.languages import bcp47
from pagesage.domain.layout import in_reading_order
from pagesage.domain.lines import layout_text, letters
from pagesage.engines.tesseract import TesseractEngine
from pagesage.imaging import render_page
from pagesage.domain.tokens import build_tokens

pytestmark = [pytest.mark.corpus,
              pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs the tesseract binary and its models")]

LABELS = Path(__file__).resolve().parents[1] / "fixtures" / "book" / "content_type_labels.json"
FORMATS = {".png": FileFormat.PNG, ".tif": FileFormat.TIFF, ".tiff": FileFormat.TIFF}
KEY_SCORE = 80
"""Least `rapidfuzz.fuzz.ratio` (0-100) of a normalised key and the same length of a line's start."""

THRESHOLDS = {
    # page set -> content type -> (least precision, least recall). Not asserted: the IAST crops'
    # `translation` and invocation (`other`) lines, which no rule finds (recall 0).
    "english": {"page-number": (1.0, 1.0), "running-head": (1.0, 1.0), "footnote": (1.0, 1.0), "heading": (1.0, 1.0),
                "subheading": (1.0, 1.0), "verse": (1.0, 1.0), "commentary": (1.0, 1.0)},
    "sanskrit": {"page-number": (0.85, 1.0), "running-head": (1.0, 1.0), "heading": (1.0, 1.0), "subheading": (1.0, 1.0),
                 "verse": (1.0, 1.0), "verse-number": (1.0, 0.8), "commentary": (0.9, 1.0), "other": (1.0, 1.0)},
    "iast": {"page-number": (1.0, 1.0), "heading": (1.0, 1.0), "subheading": (1.0, 1.0), "verse": (0.5, 0.66),
             "commentary": (0.2, 1.0)},
}


@dataclass
class SeededPage:
    label: dict
    tokens: list[Token]
    boxes: list[BoundingBox]

    @property
    def name(self) -> str:
        return f"{self.label['path']}#{self.label['frame']}"

    @property
    def page_set(self) -> str:
        path = self.label["path"]
        return "english" if path.startswith("eng-") else "iast" if path.startswith("san-iast") else "sanskrit"


@pytest.fixture(scope="module")
def pages(corpus, tmp_path_factory) -> list[SeededPage]:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    engine = TesseractEngine()
    folder = tmp_path_factory.mktemp("book-pages")
    ids = itertools.count(1)
    out = []
    for label in json.loads(LABELS.read_text(encoding="utf-8"))["pages"]:
        path = corpus / label["path"]
        model = "Devanagari" if label["path"].startswith("san-imagessan") else "eng"
        rendered = render_page(path, FORMATS[path.suffix.lower()], label["frame"], dpi=300)
        png = folder / f"{path.stem}-{label['frame']}.png"
        rendered.image.save(png, dpi=(rendered.dpi, rendered.dpi))
        words = engine.recognize(png, languages=model, dpi=rendered.dpi, psm=3).words
        tokens, _ = in_reading_order(build_tokens(words, model), rendered.image.height)  # as the layout stage stores them
        boxes = seed_boxes(tokens, width=rendered.image.width, height=rendered.image.height, run_id="run-1",
                           page_result_id=f"result-{label['frame']}", lang_tag=bcp47(model),
                           new_box_id=lambda kind: f"box-{kind.value}-{next(ids)}", now=datetime.now(timezone.utc))
        out.append(SeededPage(label, tokens, boxes))
    return out


def normalized(text: str) -> str:
    """Letters, marks and digits of `text`, case and Latin diacritics folded, joiners dropped."""
    out = []
    for ch in unicodedata.normalize("NFKD", text):
        if unicodedata.category(ch) == "Mn" and out and out[-1].isascii():
            continue
        if ch.isalnum() or unicodedata.category(ch).startswith("M"):
            out.append(ch)
    return unicodedata.normalize("NFC", "".join(out)).casefold()


def box_lines(page: SeededPage) -> list[tuple[int, int, str, int]]:
    """(top, left, text, box index) of every line of every box, top to bottom."""
    by_no = {t.token_no: t for t in page.tokens}
    rows = []
    for index, box in enumerate(page.boxes):
        lines: dict[int, list[Token]] = {}
        for no in box.ocr_source.token_nos:
            lines.setdefault(by_no[no].line, []).append(by_no[no])
        for tokens in lines.values():
            rows.append((min(t.bbox.y for t in tokens), min(t.bbox.x for t in tokens), layout_text(tokens)[0], index))
    return sorted(rows)


def matches(key: str, text: str) -> bool:
    if key == "<ornament>":
        return letters(text) < 3
    line = normalized(text)
    for variant in key.split("|"):
        want = normalized(variant)
        if len(want) < 4 and line.startswith(want) or len(want) >= 4 and fuzz.ratio(want, line[:len(want)]) >= KEY_SCORE:
            return True
    return False


def score(page: SeededPage) -> tuple[list[tuple[str, str | None]], list[tuple[str, str | None]]]:
    """(label type, type of the seeded box holding its key) per label, and (seeded type, its
    label's type) per seeded box."""
    rows = box_lines(page)
    used: set[int] = set()
    found: list[tuple[int, str]] = []  # (row, label type) of matched keys
    outcomes = []
    last = -1
    for key, kind in page.label["boxes"]:
        hits = [i for i, row in enumerate(rows) if i not in used and matches(key, row[2])]
        later = [i for i in hits if i > last]
        hit = (later or hits or [None])[0]
        if hit is None:
            outcomes.append((kind, None))
            continue
        used.add(hit)
        last = hit
        found.append((hit, kind))
        outcomes.append((kind, page.boxes[rows[hit][3]].content_type.value))
    seeded = []
    for index, box in enumerate(page.boxes):
        inside = sorted((row, kind) for row, kind in found if rows[row][3] == index)
        first = min(i for i, row in enumerate(rows) if row[3] == index)
        above = [kind for row, kind in sorted(found) if rows[row][0] <= rows[first][0]]
        seeded.append((box.content_type.value, inside[0][1] if inside else above[-1] if above else None))
    return outcomes, seeded


def figures(pages: list[SeededPage]) -> dict[str, dict[str, tuple[float, float, int, int]]]:
    """Page set -> content type -> (precision, recall, seeded boxes, labelled boxes)."""
    out: dict[str, dict[str, tuple[float, float, int, int]]] = {}
    for page_set in ("english", "sanskrit", "iast"):
        labelled, seeded = [], []
        for page in pages:
            if page.page_set == page_set:
                a, b = score(page)
                labelled += a
                seeded += b
        kinds = sorted({k for k, _ in labelled} | {k for k, _ in seeded})
        out[page_set] = {}
        for kind in kinds:
            truth = [got for want, got in labelled if want == kind]
            made = [want for got, want in seeded if got == kind]
            precision = sum(1 for want in made if want == kind) / len(made) if made else 1.0
            recall = sum(1 for got in truth if got == kind) / len(truth) if truth else 1.0
            out[page_set][kind] = (precision, recall, len(made), len(truth))
    return out


def test_content_types_per_page_set(pages):
    measured = figures(pages)
    report = "\n".join(f"{page_set:9} {kind:13} precision {f'{p:.3f}' if n else '  -  '} ({n:2} seeded)  "
                       f"recall {f'{r:.3f}' if m else '  -  '} ({m:2} labelled)"
                       for page_set, kinds in measured.items() for kind, (p, r, n, m) in kinds.items())
    print("\n" + report)
    for page_set, kinds in THRESHOLDS.items():
        for kind, (least_p, least_r) in kinds.items():
            precision, recall, _, _ = measured[page_set][kind]
            assert precision >= least_p and recall >= least_r, (page_set, kind, report)


def test_e052_footnote_is_found_and_its_asterisk_linked(pages):
    page = next(p for p in pages if p.label["path"] == "eng-oldbooks/e052.tiff")
    notes = [b for b in page.boxes if b.content_type is ContentType.FOOTNOTE]
    assert [n.text.corrected[:12] for n in notes] == ["* Item: For "]
    result = detect_references(page.boxes, page_id="page-e052", page_number=46, next_page=None, tokens=page.tokens,
                               new_reference_id=lambda: "ref-1")
    assert result.proposals == []
    [(box_id, [ref])] = result.applied.items()
    box = next(b for b in page.boxes if b.box_id == box_id)
    assert "pro eodem" in box.text.corrected
    assert (ref.display_text, ref.target_box_id, ref.created_by) == ("*", notes[0].box_id, "ai")
    assert box.text.corrected[ref.position.char_offset:ref.position.end] == "*"
    applied = detection.apply_detected(box, [ref])
    assert applied.linked_boxes == [notes[0].box_id] and applied.inline_references[0].sequence_in_text == 1


def test_labelled_footnote_markers_are_the_only_references(pages):
    for page in pages:
        result = detect_references(page.boxes, page_id="page-1", page_number=1, next_page=None, tokens=page.tokens,
                                   new_reference_id=lambda: "ref-1")
        got = sorted(r.display_text for refs in result.applied.values() for r in refs)
        assert got == sorted(m["marker"] for m in page.label["footnote_markers"]), page.name
        assert result.proposals == [], page.name


def test_verse_numbers_are_not_references(pages):
    verses = [b for p in pages if p.page_set == "sanskrit" for b in p.boxes
              if b.content_type in (ContentType.VERSE, ContentType.VERSE_NUMBER)]
    numbered = [b for b in verses if any("०" <= c <= "९" for c in b.text.corrected)]
    assert len(numbered) >= 30
    assert [b.text.corrected for b in verses if find_markers(b.text.corrected)] == []


def test_no_raised_tokens_on_pages_without_superscripts(pages):
    lines: dict[tuple[str, int], list[Token]] = {}
    for page in pages:
        for token in page.tokens:
            lines.setdefault((page.name, token.line), []).append(token)
    assert [(name, t.text) for (name, _), ts in lines.items() for t, _ in raised_tokens(ts)] == []


def test_languages_and_scripts(pages):
    # the IAST crops are left out (the `eng` model drops their diacritics: `kathaṁ` -> `katham`),
    # and ornaments (OCR reads `—★—` as letters: `TN`)
    expected = {"sanskrit": (Language.SANSKRIT, "Deva"), "english": (Language.ENGLISH, "Latn")}
    for page in pages:
        for box in page.boxes:
            if box.script is not None and box.content_type is not ContentType.OTHER and page.page_set in expected:
                assert (box.language, box.script) == expected[page.page_set], (page.name, box.text.corrected)


def test_boxes_hold_every_token_once_in_reading_order(pages):
    for page in pages:
        nos = sorted(n for b in page.boxes for n in b.ocr_source.token_nos)
        assert nos == sorted(t.token_no for t in page.tokens), page.name
        assert [b.reading_order for b in page.boxes] == list(range(1, len(page.boxes) + 1))
        assert all(b.text.ocr == b.text.corrected and b.created_by == "ai" for b in page.boxes)
        assert statistics.fmean(b.confidence for b in page.boxes) > 0.5
