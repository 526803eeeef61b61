"""OCR accuracy through the whole pipeline on corpus pages with third-party ground truth.

Each document is uploaded over HTTP with the default language `auto` and its text result is
scored as `../shared/corpus/BASELINE.tsv` scores plain `tesseract` (pagesage.text.cer). Thresholds,
from that baseline (Tesseract 5.3.0, same Debian models):
    * English: `auto` reads Latin-script pages with `Latin_eng`, which makes fewer errors than
      `eng` over the corpus but not on every page, so a page's CER may exceed the `-l eng`
      baseline's by at most 0.5 points (docs/architecture.md, "Languages").
    * Devanagari: `auto` picks the Devanagari script model, which beats `san` on every corpus
      page (mean 7.3 % vs 10.6 %, docs/architecture.md, "Languages"), so PageSage must beat the
      `-l san` baseline by at least 1.5 points.
"""

from __future__ import annotations

import csv

import pytest
from conftest import upload, wait_finished

from pagesage.text.cer import cer

ENGLISH_SLACK = 0.005
DEVANAGARI_GAIN = 0.015

DOCUMENTS = [
    ("eng-oldbooks/c030.tiff", "eng"),
    ("eng-tesseract-testing/eurotext.tif", "eng"),
    ("eng-alice-hocrtools/alice_1.png", "eng"),
    ("pdf/eng-oldbooks-c029-c031.pdf", "eng"),
    ("san-imagessan/shreelipi-p001.png", "san"),
    ("san-imagessan/shreelipi-p004.png", "san"),
    ("san-imagessan/tulasi-8pages.tif", "san"),
]


@pytest.fixture(scope="module")
def baseline(corpus) -> dict[str, float]:
    with open(corpus / "BASELINE.tsv", newline="") as handle:
        return {row["path"]: float(row["cer"]) for row in csv.DictReader(handle, delimiter="\t") if not row["path"].startswith("SUMMARY")}


def test_cer_pages_and_scripts_against_ground_truth(http, corpus, baseline):
    # every document uploaded at once: the workers run them in parallel
    jobs = {path: upload(http, corpus / path).get_json()["job_id"] for path, _ in DOCUMENTS}
    rows = []
    for path, language in DOCUMENTS:
        job_id = jobs[path]
        status = wait_finished(http, job_id, timeout=600)
        assert status["status"] == "completed", (path, status)
        _check_structure(http, job_id, path, language)
        text = http.get(f"/result/{job_id}?format=text").get_data(as_text=True)
        truth = (corpus / path).with_suffix(".gt.txt").read_text(encoding="utf-8")
        score = cer(text, truth)
        limit = baseline[path] + ENGLISH_SLACK if language == "eng" else baseline[path] - DEVANAGARI_GAIN
        rows.append((path, score, baseline[path], limit))
    report = "\n".join(f"{p:40} cer {s:.4f}  baseline {b:.4f}  limit {lim:.4f}" for p, s, b, lim in rows)
    print("\n" + report)
    assert all(score <= limit for _, score, _, limit in rows), report


def _check_structure(http, job_id: str, path: str, language: str) -> None:
    expected_pages = {"pdf/eng-oldbooks-c029-c031.pdf": 3, "san-imagessan/tulasi-8pages.tif": 8}
    doc = http.get(f"/result/{job_id}?format=json").get_json()
    assert doc["page_count"] == expected_pages.get(path, 1)
    models = {p["result"]["config"]["languages"] for p in doc["pages"]}
    assert models == ({"Latin_eng"} if language == "eng" else {"Devanagari"}), path
    hocr = http.get(f"/result/{job_id}").data
    assert hocr.count(b'class="ocr_page"') == doc["page_count"]
    assert hocr.count(b'class="ocrx_word"') == doc["word_count"] == sum(len(p["tokens"]) for p in doc["pages"])
