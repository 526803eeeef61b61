"""Unicode word rules, error rates, language specs and Tesseract TSV parsing."""

from __future__ import annotations

import os
import shutil
import subprocess
import unicodedata
from pathlib import Path

import pytest

from pagesage.domain.languages import bcp47, model_for_script, parse_spec, tag_for_script
from pagesage.engines.tesseract import parse_tsv
from pagesage.errors import EngineError, InvalidLanguage
from pagesage.text.cer import cer, normalize_for_scoring, wer
from pagesage.text.normalize import clean_word, normalize_for_search, script_of

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
PHOTOTEST = CORPUS / "eng-tesseract-testing" / "phototest.tif"

ZWNJ, ZWJ = "\u200c", "\u200d"
INSTALLED = {"eng", "san", "hin", "Devanagari", "osd"}


# -- clean_word ------------------------------------------------------------------------------

def test_clean_word_strips_trailing_zwnj_after_virama():
    assert clean_word("सम्" + ZWNJ) == "सम्"
    assert clean_word("सम्" + ZWJ) == "सम्"
    assert clean_word("सम्" + ZWNJ + ZWJ) == "सम्"


def test_clean_word_keeps_inner_joiner():
    word = "क्" + ZWNJ + "ष"
    assert clean_word(word) == word
    assert clean_word(word + ZWNJ) == word


def test_clean_word_applies_nfc_and_strips_spaces():
    decomposed = "cafe\u0301"
    assert len(decomposed) == 5
    assert clean_word(decomposed) == "café"
    assert clean_word(decomposed) == unicodedata.normalize("NFC", decomposed)
    assert len(clean_word(decomposed)) == 4
    assert clean_word("  word \n") == "word"
    # Devanagari nukta: DA + NUKTA stays decomposed under NFC (composition exclusion)
    assert clean_word("\u0921\u093c") == "\u0921\u093c"


def test_clean_word_of_only_joiners_is_empty():
    assert clean_word(ZWNJ + ZWJ) == ""


# -- normalize_for_search ----------------------------------------------------------------

def test_normalize_for_search_casefolds_and_drops_joiners():
    assert normalize_for_search("Straße") == "strasse"
    assert normalize_for_search("HELLO") == "hello"
    assert normalize_for_search("क्" + ZWNJ + "ष") == "क्ष"
    assert normalize_for_search("क्" + ZWJ + "ष") == "क्ष"
    assert normalize_for_search("सम्" + ZWNJ) == "सम्"


def test_normalize_for_search_is_nfc():
    assert normalize_for_search("CAFE\u0301") == "café"
    assert normalize_for_search("Ǆ") == "ǆ"
    out = normalize_for_search("A\u030a")  # A + combining ring -> å
    assert out == "å" and unicodedata.is_normalized("NFC", out)


def test_normalize_for_search_matches_however_joiners_were_typed():
    variants = ["क्षत्रिय", "क्" + ZWNJ + "षत्रिय", "क्" + ZWJ + "षत्रिय" + ZWNJ]
    assert len({normalize_for_search(v) for v in variants}) == 1


# -- script_of -------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "text, script",
    [
        ("संस्कृतम्", "Devanagari"),
        ("१२३ श्री", "Devanagari"),
        ("Hello", "Latin"),
        ("ṛṣi", "Latin"),
        ("123 abc", "Latin"),
        ("2024", None),
        ("१२३", None),
        ("", None),
        ("...!?", None),
        ("Ελληνικά", None),
        ("العربية", None),
    ],
)
def test_script_of(text, script):
    assert script_of(text) == script


# -- cer / wer -------------------------------------------------------------------------------

def test_identical_strings_score_zero():
    assert cer("the quick brown fox", "the quick brown fox") == 0.0
    assert wer("the quick brown fox", "the quick brown fox") == 0.0


def test_whitespace_differences_are_free():
    ref = "the quick\nbrown  fox"
    hyp = "  the   quick brown\n\tfox \n"
    assert cer(hyp, ref) == 0.0
    assert wer(hyp, ref) == 0.0
    assert normalize_for_scoring(hyp) == "the quick brown fox"


def test_one_substitution_in_ten_characters():
    assert cer("abcdefghiX", "abcdefghij") == pytest.approx(0.1)
    assert cer("abcdefghi", "abcdefghij") == pytest.approx(0.1)  # one deletion


def test_cer_counts_nfc_equivalents_as_equal_and_keeps_joiners():
    assert cer("cafe\u0301", "café") == 0.0
    assert cer("क्" + ZWNJ + "ष", "क्ष") == pytest.approx(1 / 3)


def test_cer_can_exceed_one():
    assert cer("abcdef", "ab") == pytest.approx(2.0)


def test_wer_counts_words():
    assert wer("the quick red fox", "the quick brown fox") == pytest.approx(0.25)
    assert wer("the fox", "the quick brown fox") == pytest.approx(0.5)


@pytest.mark.parametrize("ref", ["", "   ", "\n\t"])
def test_empty_reference_raises(ref):
    with pytest.raises(ValueError):
        cer("anything", ref)
    with pytest.raises(ValueError):
        wer("anything", ref)


# -- language specs --------------------------------------------------------------------------

@pytest.mark.parametrize(
    "spec, expected",
    [
        ("auto", "auto"),
        ("", "auto"),
        ("  auto ", "auto"),
        ("eng", "eng"),
        ("san+eng", "san+eng"),
        ("eng+san", "eng+san"),
        ("san+eng+san", "san+eng"),
        (" san + eng ", "san+eng"),
        ("script/Devanagari", "Devanagari"),
        ("script/Devanagari+eng", "Devanagari+eng"),
    ],
)
def test_parse_spec_valid(spec, expected):
    assert parse_spec(spec, INSTALLED) == expected


def test_parse_spec_none_is_auto():
    assert parse_spec(None, INSTALLED) == "auto"


@pytest.mark.parametrize(
    "spec",
    ["xyz", "osd", "eng+osd", "fra", "Eng", "../eng", "eng;rm", "eng;rm -rf /", "eng+", "+eng", "san++eng",
     "script/", "script/../Devanagari", "eng san", "/usr/share/tessdata/eng", "e" * 41, "ENG\n"],
)
def test_parse_spec_refuses(spec):
    with pytest.raises(InvalidLanguage) as info:
        parse_spec(spec, INSTALLED)
    assert info.value.http_status == 400
    assert info.value.error_code == "invalid_language"


def test_parse_spec_unknown_names_installed_models():
    with pytest.raises(InvalidLanguage) as info:
        parse_spec("xyz", INSTALLED)
    assert "Devanagari, eng, hin, san" in info.value.detail
    assert "osd" not in info.value.detail


def test_model_for_script():
    assert model_for_script("Latin", INSTALLED) == ("eng", None)
    assert model_for_script("Latin", INSTALLED | {"Latin_eng"}) == ("Latin_eng", None)
    assert model_for_script("Devanagari", INSTALLED) == ("Devanagari", None)
    assert model_for_script("Devanagari", INSTALLED - {"Devanagari"}) == ("san", None)
    assert model_for_script("Devanagari", {"eng", "hin"}) == ("hin", None)


def test_latin_eng_words_are_english():
    assert bcp47("Latin_eng") == "en" and bcp47("Latin") == "und-Latn"
    assert tag_for_script("Latin", "Latin_eng") == tag_for_script("Latin", "san+eng") == "en"
    assert tag_for_script("Latin", "Latin") == "und-Latn"
    assert tag_for_script("Devanagari", "Latin_eng+san") == "sa"


def test_model_for_unknown_script_falls_back_to_eng_with_warning():
    model, warning = model_for_script("Arabic", INSTALLED)
    assert model == "eng"
    assert warning and "Arabic" in warning
    model, warning = model_for_script("Devanagari", {"eng", "osd"})
    assert model == "eng" and "Devanagari" in warning
    assert model_for_script("Arabic", INSTALLED | {"Latin_eng"}) == ("Latin_eng", "no installed model for script 'Arabic'; used Latin_eng")


def test_too_little_text_for_osd_is_read_as_latin():
    assert model_for_script(None, INSTALLED) == ("eng", "too little text for orientation and script detection; used eng")
    assert model_for_script(None, INSTALLED | {"Latin_eng"})[0] == "Latin_eng"


# -- parse_tsv -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def phototest_tsv() -> str:
    if not PHOTOTEST.is_file():
        pytest.skip("../shared/corpus is not beside the checkout")
    if shutil.which("tesseract") is None:
        pytest.skip("tesseract is not installed")
    out = subprocess.run(
        ["tesseract", str(PHOTOTEST), "stdout", "tsv"],
        capture_output=True, text=True, check=True, timeout=60,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},
    )
    return out.stdout


def test_parse_tsv_of_real_output(phototest_tsv):
    words = parse_tsv(phototest_tsv)
    assert len(words) > 50
    assert all(w.text.strip() for w in words)
    assert all(0 <= w.confidence <= 100 for w in words)
    assert all(w.bbox[2] > 0 and w.bbox[3] > 0 for w in words)
    assert all(0 <= w.bbox[0] < 640 and 0 <= w.bbox[1] < 480 for w in words)
    text = " ".join(w.text for w in words)
    assert "quick" in text and "brown" in text


def test_parse_tsv_word_rows_match_the_tsv(phototest_tsv):
    rows = [line.split("\t") for line in phototest_tsv.splitlines()[1:] if line.strip()]
    word_rows = [r for r in rows if r[0] == "5" and len(r) > 11 and r[11].strip()]
    words = parse_tsv(phototest_tsv)
    assert [w.text for w in words] == [r[11] for r in word_rows]
    assert [w.bbox for w in words] == [tuple(int(v) for v in r[6:10]) for r in word_rows]


def test_parse_tsv_ordinals_are_page_wide_and_non_decreasing(phototest_tsv):
    words = parse_tsv(phototest_tsv)
    for attr in ("block", "par", "line"):
        seq = [getattr(w, attr) for w in words]
        assert seq[0] == 0
        assert all(b - a in (0, 1) for a, b in zip(seq, seq[1:])), attr
    # page-wide: Tesseract restarts line_num in each paragraph, the ordinals do not
    lines = [w.line for w in words]
    assert max(lines) + 1 == len(set(lines)) > 5
    rows = [line.split("\t") for line in phototest_tsv.splitlines()[1:] if line.strip()]
    raw_lines = {int(r[4]) for r in rows if r[0] == "5"}
    assert max(lines) > max(raw_lines)
    # a new line starts with each new paragraph, a new paragraph with each new block
    for a, b in zip(words, words[1:]):
        if b.block != a.block:
            assert b.par != a.par
        if b.par != a.par:
            assert b.line != a.line


def test_parse_tsv_renumbers_across_blocks():
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    rows = [
        "1\t1\t0\t0\t0\t0\t0\t0\t100\t100\t-1\t",
        "5\t1\t1\t1\t1\t1\t1\t1\t5\t5\t90.5\tone",
        "5\t1\t1\t1\t2\t1\t1\t10\t5\t5\t80\ttwo",
        "5\t1\t1\t2\t1\t1\t1\t20\t5\t5\t-1\t ",
        "5\t1\t2\t1\t1\t1\t1\t30\t5\t5\t101\tthree",
        "5\t1\t2\t1\t1\t2\t9\t30\t5\t5\t-3\t\"quoted",
    ]
    words = parse_tsv("\n".join([header, *rows]) + "\n")
    assert [w.text for w in words] == ["one", "two", "three", '"quoted']
    assert [(w.block, w.par, w.line) for w in words] == [(0, 0, 0), (0, 0, 1), (1, 1, 2), (1, 1, 2)]
    assert [w.confidence for w in words] == [90.5, 80.0, 100.0, 0.0]


def test_parse_tsv_without_header_raises():
    with pytest.raises(EngineError):
        parse_tsv("5\t1\t1\t1\t1\t1\t36\t92\t60\t24\t96.8\tThis\n")
    with pytest.raises(EngineError):
        parse_tsv("")


def test_parse_tsv_with_malformed_row_raises():
    header = "level\tpage_num\tblock_num\tpar_num\tline_num\tword_num\tleft\ttop\twidth\theight\tconf\ttext"
    with pytest.raises(EngineError):
        parse_tsv(header + "\n5\t1\t1\t1\t1\t1\tleft?\t92\t60\t24\t96.8\tThis\n")
