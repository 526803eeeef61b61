"""`pagesage eval` end to end: a folder of real corpus pages with their `.gt.txt`, read by the
page stages and by the plain `tesseract` command in the same run, scored and written to a TSV."""

from __future__ import annotations

import csv
import shutil

import pytest
from click.testing import CliRunner

from pagesage.cli import main


def _rows(path):
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader((line for line in handle if not line.startswith("#")), delimiter="\t"))


def test_eval_scores_a_folder_against_plain_tesseract(corpus, tmp_path):
    pages = tmp_path / "book"
    (pages / "latin").mkdir(parents=True)
    (pages / "deva").mkdir()
    for rel, where in (("eng-tesseract-testing/phototest.tif", "latin"), ("eng-oldbooks/c030.tiff", "latin"),
                       ("san-imagessan/shreelipi-p003.png", "deva")):
        shutil.copy(corpus / rel, pages / where)
        shutil.copy((corpus / rel).with_suffix(".gt.txt"), pages / where)
    out = tmp_path / "scores.tsv"
    done = CliRunner().invoke(main, ["eval", str(pages), "--baseline", "-o", str(out)])
    assert done.exit_code == 0, done.output
    rows = {(r["set"], r["file"]): r for r in _rows(out)}
    page = rows[("latin", "latin/phototest.tif")]
    assert float(page["cer"]) == 0.0 and float(page["baseline_cer"]) == 0.0  # BASELINE.tsv: 0 edits
    deva = rows[("deva", "deva/shreelipi-p003.png")]
    # `auto` reads the page with the Devanagari script model; the baseline command has no `auto`
    # and reads it as English, so it is far worse
    assert float(deva["cer"]) < 0.08 < float(deva["baseline_cer"])
    c030 = rows[("latin", "latin/c030.tiff")]
    truth = (pages / "latin" / "c030.gt.txt").read_text(encoding="utf-8")
    assert int(c030["chars"]) == len(" ".join(truth.split()))
    assert float(c030["delta_cer"]) == pytest.approx(float(c030["cer"]) - float(c030["baseline_cer"]), abs=2e-4)
    assert {r["file"] for r in rows.values() if r["set"] == "all"}  # the total row
    assert "latin" in done.output and "written to" in done.output


def test_eval_refuses_a_folder_without_ground_truth(tmp_path):
    (tmp_path / "page.png").write_bytes(b"")
    done = CliRunner().invoke(main, ["eval", str(tmp_path)])
    assert done.exit_code != 0 and "ground truth" in done.output and "Traceback" not in done.output
