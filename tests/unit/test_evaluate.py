"""`pagesage eval`'s scoring and corpus side: cases from a folder and from the corpus manifest,
the report's arithmetic, the TSV, and the plain-Tesseract baseline on a real page."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import pytest

from pagesage.errors import InputError
from pagesage.services.evaluate import (BASELINE_MODELS, EvalCase, cases_from_folder, cases_from_manifest, format_table,
                                        manifest_language, plain_tesseract, run_eval, score, write_tsv)

INSTALLED = {"eng", "san", "hin", "Devanagari", "Latin", "Latin_eng", "osd"}  # the models `make install` puts here
ZWNJ = "\u200c"


def read_tsv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader((line for line in fh if not line.startswith("#")), delimiter="\t"))


def baseline_row(corpus: Path, name: str) -> dict[str, str]:
    with (corpus / "BASELINE.tsv").open(encoding="utf-8", newline="") as fh:
        return next(r for r in csv.DictReader(fh, delimiter="\t") if r["path"] == name)


def made_case(tmp_path: Path, name: str, truth: str, set_name: str = "s") -> EvalCase:
    gt = tmp_path / f"{name}.gt.txt"
    gt.write_text(truth, encoding="utf-8")
    return EvalCase(path=tmp_path / f"{name}.png", ground_truth_path=gt, set_name=set_name, name=f"{name}.png",
                    language="eng")


# -- cases -----------------------------------------------------------------------------------

def test_folder_pairs_images_with_their_gt_txt(corpus, tmp_path):
    (tmp_path / "pages").mkdir()
    (tmp_path / "lines").mkdir()
    for src, dst in [("eng-tesseract-testing/phototest.tif", "pages/phototest.tif"),
                     ("eng-tesseract-testing/phototest.gt.txt", "pages/phototest.gt.txt"),
                     ("eng-tesseract-testing/eurotext.tif", "pages/eurotext.tif"),  # no ground truth: ignored
                     ("eng-uw3-lines/0175-010047.bin.png", "lines/0175-010047.bin.png"),
                     ("eng-uw3-lines/0175-010047.gt.txt", "lines/0175-010047.gt.txt")]:
        shutil.copy(corpus / src, tmp_path / dst)
    (tmp_path / "lines" / "orphan.gt.txt").write_text("no image", encoding="utf-8")  # skipped

    cases = cases_from_folder(tmp_path, "eng")

    assert [(c.set_name, c.name, c.path.name, c.ground_truth_path.name) for c in cases] == [
        ("lines", "lines/0175-010047.bin.png", "0175-010047.bin.png", "0175-010047.gt.txt"),
        ("pages", "pages/phototest.tif", "phototest.tif", "phototest.gt.txt")]
    assert {(c.language, c.psm) for c in cases} == {("eng", 3)}
    assert {c.psm for c in cases_from_folder(tmp_path / "lines", "eng", psm=7)} == {7}
    assert cases_from_folder(tmp_path / "lines", "eng")[0].set_name == "lines"  # a file directly in the root


def test_manifest_cases_languages_and_psm(corpus):
    cases = cases_from_manifest(corpus / "MANIFEST.tsv", installed=INSTALLED)
    by_name = {c.name: c for c in cases}

    assert len(cases) == 43  # 41 images + 2 PDFs with a ground truth; the hOCR row is no image
    lines = [c for c in cases if c.set_name == "eng-uw3-lines"]
    assert len(lines) == 20 and {c.psm for c in lines} == {7}
    assert {c.psm for c in cases if c.set_name != "eng-uw3-lines"} == {3}
    assert {(c.language, c.baseline_language) for c in cases if c.set_name == "san-imagessan"} == {("Devanagari", "Devanagari")}
    assert by_name["pdf/san-tulasi-8pages.pdf"].language == "Devanagari"
    assert (by_name["san-iast/iasttest1.png"].language, by_name["san-iast/iasttest1.png"].baseline_language) == ("Latin_eng", "eng")
    eurotext = by_name["eng-tesseract-testing/eurotext.tif"]  # deu, fra... not installed
    assert (eurotext.language, eurotext.baseline_language) == ("Latin_eng", "eng")
    assert {c.baseline_language for c in cases if c.set_name.startswith("eng-")} == {"eng"}
    assert by_name["eng-oldbooks/a041.tiff"].set_name == "eng-oldbooks"
    assert by_name["eng-oldbooks/a041.tiff"].ground_truth_path == corpus / "eng-oldbooks" / "a041.gt.txt"
    assert {(c.language, c.baseline_language) for c in cases_from_manifest(corpus / "MANIFEST.tsv", "hin", installed=INSTALLED)} == {("hin", "hin")}
    assert {c.baseline_language for c in cases_from_manifest(corpus / "MANIFEST.tsv", "auto", installed=INSTALLED)} == {"eng"}


def test_manifest_language_keeps_installed_models():
    every = INSTALLED | {"deu", "fra", "ita", "spa", "por"}
    assert manifest_language("eng+deu+fra+ita+spa+por", every) == "Latin_eng+deu+fra+ita+spa+por"
    assert manifest_language("eng+deu+fra+ita+spa+por", INSTALLED) == "Latin_eng"
    assert manifest_language("san-Latn+eng", every) == "Latin_eng"
    assert manifest_language("san", INSTALLED) == "Devanagari"
    assert manifest_language("san", {"eng"}) == "eng"
    debian = INSTALLED - {"Latin", "Latin_eng"}  # without the Latin models: eng, as before
    assert manifest_language("eng", debian) == "eng"
    assert manifest_language("san-Latn+eng", debian) == "eng"


def test_the_baseline_reads_each_language_with_its_own_model():
    every = INSTALLED | {"deu", "fra"}
    assert manifest_language("eng+deu+fra", every, BASELINE_MODELS) == "eng+deu+fra"
    assert manifest_language("san-Latn+eng", every, BASELINE_MODELS) == "eng"
    assert manifest_language("san", every, BASELINE_MODELS) == "Devanagari"


# -- scoring ---------------------------------------------------------------------------------

def test_score_counts_edits_after_nfc_and_whitespace():
    s = score("helo  wrld\n", "hello\nworld")  # two deletions; line break and double space are free
    assert (s.chars, s.edits, s.words, s.word_edits) == (11, 2, 2, 2)
    assert s.cer == pytest.approx(2 / 11) and s.wer == 1.0
    assert score("cafe\u0301", "caf\u00e9").edits == 0  # NFC
    assert score("the cat sat", "the cat sat on").word_edits == 1


def test_joiners_are_kept_unless_stripped():
    reference, hypothesis = "क्" + ZWNJ + "ष", "क्ष"
    assert score(hypothesis, reference).edits == 1
    assert score(hypothesis, reference, strip_joiners=True).edits == 0
    assert score(hypothesis, reference, strip_joiners=True).chars == 3


def test_report_of_perfect_and_empty_readings(tmp_path):
    cases = [made_case(tmp_path, "a", "one two three"), made_case(tmp_path, "b", "four five")]
    truths = {c.name: c.ground_truth_path.read_text(encoding="utf-8") for c in cases}
    seen = []

    report = run_eval(cases, lambda c: (truths[c.name], 1.5), baseline=lambda c: ("", 0.5),
                      progress=lambda done, total, r: seen.append((done, total, r.case.name)))

    assert seen == [(1, 2, "a.png"), (2, 2, "b.png")]
    assert [(r.score.cer, r.score.wer, r.baseline.cer, r.baseline.wer, r.delta_cer) for r in report.results] == [
        (0.0, 0.0, 1.0, 1.0, -1.0)] * 2
    everything = report.summaries()[-1]
    assert (everything.name, everything.files, everything.chars, everything.seconds) == ("all", 2, 22, 3.0)
    assert report.summaries(baseline=True)[-1].seconds == 1.0


def test_pooled_and_mean_cer_differ(tmp_path):
    long, short = made_case(tmp_path, "long", "abcdefghij"), made_case(tmp_path, "short", "x")
    readings = {"long.png": "abcdefghij", "short.png": ""}  # 0 of 10 wrong, 1 of 1 wrong

    report = run_eval([long, short], lambda c: (readings[c.name], 0.0))

    s = report.summaries()[0]
    assert (s.name, s.files, s.chars, s.edits) == ("s", 2, 11, 1)
    assert s.mean_cer == 0.5 and s.pooled_cer == pytest.approx(1 / 11)
    assert s.mean_wer == 0.5 and s.pooled_wer == 0.5


def test_tsv_round_trip(tmp_path):
    cases = [made_case(tmp_path, "a", "hello world", "one"), made_case(tmp_path, "b", "good morning", "two")]
    report = run_eval(cases, lambda c: ("hello world" if c.name == "a.png" else "good mourning", 2.0),
                      baseline=lambda c: ("hello", 1.0), strip_joiners=True)
    out = tmp_path / "results.tsv"

    write_tsv(report, out)

    assert "joiners (U+200C ZWNJ, U+200D ZWJ): removed" in out.read_text(encoding="utf-8")
    rows = read_tsv(out)
    assert list(rows[0]) == ["set", "file", "chars", "edits", "cer", "wer", "baseline_edits", "baseline_cer",
                             "baseline_wer", "delta_cer", "seconds", "baseline_seconds"]
    assert rows[1] == {"set": "two", "file": "b.png", "chars": "12", "edits": "1", "cer": "0.0833", "wer": "0.5000",
                       "baseline_edits": "11", "baseline_cer": "0.9167", "baseline_wer": "1.0000",
                       "delta_cer": "-0.8333", "seconds": "2.000", "baseline_seconds": "1.000"}
    assert [(r["set"], r["file"]) for r in rows[2:]] == [("one", "(mean of 1)"), ("one", "(pooled)"),
                                                         ("two", "(mean of 1)"), ("two", "(pooled)"),
                                                         ("all", "(mean of 2)"), ("all", "(pooled)")]
    assert rows[-1]["cer"] == f"{1 / 23:.4f}" and rows[-2]["cer"] == f"{1 / 24:.4f}"
    assert rows[-1]["edits"] == "1" and rows[-1]["baseline_edits"] == "17"

    table = format_table(report)
    assert "8.33%" in table and "(pooled)" in table and "baseline_cer" in table


def test_tsv_without_baseline_has_no_baseline_columns(tmp_path):
    report = run_eval([made_case(tmp_path, "a", "hello")], lambda c: ("hello", 0.25))
    write_tsv(report, tmp_path / "r.tsv")
    rows = read_tsv(tmp_path / "r.tsv")
    assert list(rows[0]) == ["set", "file", "chars", "edits", "cer", "wer", "seconds"]
    assert "joiners (U+200C ZWNJ, U+200D ZWJ): kept" in (tmp_path / "r.tsv").read_text(encoding="utf-8")


# -- the baseline ----------------------------------------------------------------------------

@pytest.mark.skipif(shutil.which("tesseract") is None, reason="needs the tesseract command")
def test_plain_tesseract_matches_the_corpus_baseline(corpus):
    [case] = [c for c in cases_from_manifest(corpus / "MANIFEST.tsv", installed=INSTALLED)
              if c.name == "eng-tesseract-testing/phototest.tif"]
    expected = baseline_row(corpus, case.name)

    report = run_eval([case], lambda c: ("", 0.0), baseline=plain_tesseract)

    result = report.results[0]
    assert result.baseline.chars == int(expected["gt_chars"])
    assert result.baseline.edits == int(expected["edits"])
    assert f"{result.baseline.cer:.4f}" == expected["cer"]
    assert 0 < result.baseline_seconds < 60


# -- bad input -------------------------------------------------------------------------------

def test_folder_without_pairs_is_refused(tmp_path):
    (tmp_path / "page.png").write_bytes(b"")
    with pytest.raises(InputError, match="no image with a ground truth"):
        cases_from_folder(tmp_path, "eng")
    with pytest.raises(InputError, match="not a folder"):
        cases_from_folder(tmp_path / "missing", "eng")


def test_empty_ground_truth_is_refused(corpus, tmp_path):
    shutil.copy(corpus / "eng-tesseract-testing" / "phototest.tif", tmp_path / "page.tif")
    (tmp_path / "page.gt.txt").write_text(" \n\n", encoding="utf-8")
    with pytest.raises(InputError, match="ground truth .*page.gt.txt is empty"):
        cases_from_folder(tmp_path, "eng")
    with pytest.raises(InputError, match="is empty"):
        run_eval([made_case(tmp_path, "blank", "")], lambda c: pytest.fail("read before the ground truth was checked"))


def test_unreadable_manifest_is_refused(tmp_path):
    with pytest.raises(InputError, match="cannot read the manifest"):
        cases_from_manifest(tmp_path / "MANIFEST.tsv", installed=INSTALLED)
    (tmp_path / "MANIFEST.tsv").write_text("path\tlanguage\nx.png\teng\n", encoding="utf-8")
    with pytest.raises(InputError, match="no column kind, ground_truth_path, notes"):
        cases_from_manifest(tmp_path / "MANIFEST.tsv", installed=INSTALLED)
    (tmp_path / "MANIFEST.tsv").write_bytes(b"path\tkind\tlanguage\tground_truth_path\tnotes\n\xff\xfe\n")
    with pytest.raises(InputError, match="cannot read the manifest"):
        cases_from_manifest(tmp_path / "MANIFEST.tsv", installed=INSTALLED)
    (tmp_path / "MANIFEST.tsv").write_text("path\tkind\tlanguage\tground_truth_path\tnotes\n"
                                           "x.png\timage\teng\tx.gt.txt\t\n", encoding="utf-8")
    with pytest.raises(InputError, match="x.png does not exist"):
        cases_from_manifest(tmp_path / "MANIFEST.tsv", installed=INSTALLED)
