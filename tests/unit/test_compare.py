"""Word alignment and error rates of two runs of a page, on real ground truth and Tesseract output."""

from __future__ import annotations

import csv
import unicodedata
from pathlib import Path

import pytest
from factories import tokens_of_text as tokens
from rapidfuzz.distance import Levenshtein

from pagesage.domain.pages import Token
from pagesage.errors import InputError
from pagesage.services.compare import RunDiff, compare_tokens
from pagesage.text.cer import cer, normalize_for_scoring, wer

# Two lines of san-imagessan/shreelipi-p001: the ground truth and the plain Tesseract reading.
GT_LINES = "अनादीशाय । अनन्ताय । आनन्दाय । अध्यात्मबोघकाय ।\nनमः।(१०२५)"
OCR_LINES = "अनादीश्ाय । अनन्ताय । आनन्दाय । अध्यात्मबोधकाय ।\nनमः । (१०२५)\n\nनैः नैः नः"


def side_words(diff: RunDiff, side: str) -> list[str]:
    return [w for op in diff.ops for w in getattr(op, f"{side}_words")]


def assert_consistent(diff: RunDiff, a: list[Token], b: list[Token]) -> None:
    """The alignment reconstructs both runs and its counts add up."""
    assert side_words(diff, "a") == [t.text for t in a]
    assert side_words(diff, "b") == [t.text for t in b]
    pos_a = pos_b = 0
    for op in diff.ops:
        assert (op.a_start, op.b_start) == (pos_a, pos_b)
        pos_a, pos_b = op.a_end, op.b_end
        if op.op == "equal":
            assert [normalize_for_scoring(w) for w in op.a_words] == [normalize_for_scoring(w) for w in op.b_words]
        if op.op == "replace":
            assert len(op.a_words) == len(op.b_words) == len(op.char_edits)
            for x, y, d in zip(op.a_words, op.b_words, op.char_edits):
                assert d == Levenshtein.distance(normalize_for_scoring(x), normalize_for_scoring(y)) > 0
        else:
            assert op.char_edits is None
        assert op.op != "insert" or op.a_start == op.a_end
        assert op.op != "delete" or op.b_start == op.b_end
    assert (pos_a, pos_b) == (len(a), len(b))
    assert diff.words_equal + diff.words_replaced + diff.words_deleted == diff.a_words == len(a)
    assert diff.words_equal + diff.words_replaced + diff.words_inserted == diff.b_words == len(b)
    assert diff.word_edits == diff.words_replaced + diff.words_inserted + diff.words_deleted


# -- without the corpus ------------------------------------------------------------------------

def test_ocr_lines_against_ground_truth():
    a, b = tokens(GT_LINES), tokens(OCR_LINES)
    diff = compare_tokens(a, b)
    assert_consistent(diff, a, b)
    assert diff.cer == cer(OCR_LINES, GT_LINES)
    assert diff.wer == wer(OCR_LINES, GT_LINES)
    replaced = [(op.a_words, op.b_words, op.char_edits) for op in diff.ops if op.op == "replace"]
    assert (["अनादीशाय"], ["अनादीश्ाय"], [1]) in replaced
    assert (["अध्यात्मबोघकाय"], ["अध्यात्मबोधकाय"], [1]) in replaced
    assert diff.words_inserted >= 3  # the three words Tesseract read into the ornament
    assert diff.ops[-1].op == "insert" and diff.ops[-1].b_words == ["नैः", "नैः", "नः"]


def test_identical_runs_are_one_equal_operation():
    a = tokens(GT_LINES)
    diff = compare_tokens(a, tokens(GT_LINES))
    assert diff.cer == 0 and diff.wer == 0 and diff.char_edits == 0 and diff.word_edits == 0
    assert [op.op for op in diff.ops] == ["equal"]
    assert (diff.ops[0].a_start, diff.ops[0].a_end) == (0, len(a))


def test_tokens_are_taken_in_token_no_order():
    a, b = tokens(GT_LINES), tokens(OCR_LINES)
    assert compare_tokens(list(reversed(a)), list(reversed(b))) == compare_tokens(a, b)


def test_words_are_compared_after_nfc():
    composed = "vairāgyaṁ ca kathaṁ prāptaṁ"
    decomposed = unicodedata.normalize("NFD", composed)
    assert decomposed != composed
    diff = compare_tokens(tokens(composed), tokens(decomposed))
    assert [op.op for op in diff.ops] == ["equal"] and diff.cer == 0
    assert side_words(diff, "b") == decomposed.split()


def test_empty_reference_has_no_rates():
    b = tokens(OCR_LINES)
    diff = compare_tokens([], b)
    assert diff.cer is None and diff.wer is None
    assert [op.op for op in diff.ops] == ["insert"] and diff.words_inserted == len(b)
    both = compare_tokens([], [])
    assert both.ops == [] and both.cer is None and both.a_chars == 0


def test_empty_hypothesis_deletes_everything():
    a = tokens(GT_LINES)
    diff = compare_tokens(a, [])
    assert diff.cer == 1.0 and diff.wer == 1.0
    assert [op.op for op in diff.ops] == ["delete"] and diff.words_deleted == len(a)


def test_token_numbers_must_be_contiguous():
    a = tokens(GT_LINES)
    with pytest.raises(InputError, match="run b"):
        compare_tokens(a, a[:2] + a[3:])
    with pytest.raises(InputError, match="run a"):
        compare_tokens([a[0], a[0]], a)


def test_json_shape():
    body = compare_tokens(tokens(GT_LINES), tokens(OCR_LINES)).model_dump(mode="json")
    assert set(body) == {"a_words", "b_words", "cer", "wer", "char_edits", "a_chars", "word_edits",
                         "words_equal", "words_replaced", "words_inserted", "words_deleted", "ops"}
    assert set(body["ops"][0]) == {"op", "a_start", "a_end", "b_start", "b_end", "a_words", "b_words", "char_edits"}
    assert RunDiff.model_validate(body) == compare_tokens(tokens(GT_LINES), tokens(OCR_LINES))


# -- on the corpus: ground truth as run a, the plain Tesseract baseline as run b ----------------

def baseline_pages(corpus: Path) -> list[tuple[str, Path, Path, dict]]:
    """(image path, ground truth, Tesseract text, BASELINE.tsv row) of every baselined image with GT."""
    with (corpus / "BASELINE.tsv").open(encoding="utf-8") as f:
        scores = {row["path"]: row for row in csv.DictReader(f, delimiter="\t")}
    pages = []
    with (corpus / "MANIFEST.tsv").open(encoding="utf-8") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            ocr = corpus / "baseline-tesseract" / f"{row['path']}.txt"
            if row["kind"] == "image" and row["ground_truth_path"] != "-" and ocr.is_file() and row["path"] in scores:
                pages.append((row["path"], corpus / row["ground_truth_path"], ocr, scores[row["path"]]))
    return pages


def test_corpus_pages_score_as_the_baseline(corpus):
    pages = baseline_pages(corpus)
    assert len(pages) >= 20
    assert any(p.startswith("san-imagessan/") for p, *_ in pages) and any(p.startswith("san-iast/") for p, *_ in pages)
    for path, gt_file, ocr_file, score in pages:
        gt, ocr = gt_file.read_text(encoding="utf-8"), ocr_file.read_text(encoding="utf-8")
        a, b = tokens(gt), tokens(ocr)
        diff = compare_tokens(a, b)
        assert diff.cer == cer(ocr, gt), path
        assert diff.wer == wer(ocr, gt), path
        assert (diff.a_chars, diff.char_edits) == (int(score["gt_chars"]), int(score["edits"])), path
        assert_consistent(diff, a, b)


def test_devanagari_page_alignment(corpus):
    gt = (corpus / "san-imagessan" / "shreelipi-p001.gt.txt").read_text(encoding="utf-8")
    ocr = (corpus / "baseline-tesseract" / "san-imagessan" / "shreelipi-p001.png.txt").read_text(encoding="utf-8")
    diff = compare_tokens(tokens(gt), tokens(ocr))
    assert round(diff.cer, 4) == 0.1134  # BASELINE.tsv
    assert (diff.a_words, diff.b_words) == (126, 121)
    assert diff.wer == wer(ocr, gt) and diff.word_edits == 56
    pairs = {(x, y): d for op in diff.ops if op.op == "replace" for x, y, d in zip(op.a_words, op.b_words, op.char_edits)}
    assert pairs[("मन्त्रं", "मन्तरं")] == 1  # virama of त्र lost
    assert pairs[("राज्यमकण्टकम्", "राज्यमकण्टकम्\u200c")] == 1  # Tesseract's ZWNJ after a final virama
    # `भुक्तिमुक्तिप्रदायकम् । महारिष्ट...` read as `भुक्तिमुक्तिप्रदायकम्‌। महारिष्ट...`: of the two
    # minimal word alignments, the one pairing each long word with its reading is kept, and the
    # danda the OCR glued on is a deletion.
    assert pairs[("भुक्तिमुक्तिप्रदायकम्", "भुक्तिमुक्तिप्रदायकम्\u200c।")] == 2
    assert pairs[("महारिष्टमहापापसर्वदुःखनिवारणम्", "महारिष्टमहापापसनंदुःखनिवारणम्\u200c")] == 4
    assert not any(d > 10 for d in pairs.values())
    equal_words = [w for op in diff.ops if op.op == "equal" for w in op.a_words]
    assert "विभीषणाय" in equal_words and "रामदूताय" in equal_words


def test_pairing_needs_the_fewest_character_edits():
    a = tokens("भुक्तिमुक्तिप्रदायकम् । महारिष्टमहापापसर्वदुःखनिवारणम् ॥ २")
    b = tokens("भुक्तिमुक्तिप्रदायकम्\u200c। महारिष्टमहापापसनंदुःखनिवारणम्\u200c ॥ २")
    diff = compare_tokens(a, b)
    assert_consistent(diff, a, b)
    assert [(op.op, op.a_words) for op in diff.ops if op.op != "equal"] == [
        ("replace", ["भुक्तिमुक्तिप्रदायकम्"]), ("delete", ["।"]), ("replace", ["महारिष्टमहापापसर्वदुःखनिवारणम्"])]
    assert diff.word_edits == Levenshtein.distance([t.text for t in a], [t.text for t in b]) == 3
