"""`Latin_eng`, the model `make install` builds from Debian's `Latin` and `eng`
(containers/tesseract/latin-eng-model.sh): installed where Tesseract finds its models, built the
same byte for byte each time, and reading what `eng` cannot (docs/architecture.md, "Languages")."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from pagesage.engines.tesseract import TesseractEngine
from pagesage.text.cer import cer

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "containers" / "tesseract" / "latin-eng-model.sh"
IAST_LETTERS = set("āīūṛṝḷṃṁḥṅñṭḍṇśṣ")


@pytest.fixture(scope="module")
def engine() -> TesseractEngine:
    return TesseractEngine()


def _tessdata() -> Path:
    listing = subprocess.run(["tesseract", "--list-langs"], capture_output=True, text=True, check=True).stdout
    return Path(listing.split('"')[1])


def test_the_model_is_installed_beside_debians(engine):
    assert {"Latin", "eng", "Latin_eng"} <= set(engine.installed_languages())
    assert (_tessdata() / "Latin_eng.traineddata").is_file()


def test_the_build_gives_the_installed_bytes_and_keeps_an_existing_model(tmp_path):
    for model in ("Latin", "eng"):
        shutil.copy(_tessdata() / f"{model}.traineddata", tmp_path)
    subprocess.run(["sh", str(SCRIPT), str(tmp_path)], check=True)
    built = tmp_path / "Latin_eng.traineddata"
    assert built.read_bytes() == (_tessdata() / "Latin_eng.traineddata").read_bytes()
    # its dictionary is eng's word list, not Latin's 89 MB one
    assert built.stat().st_size < (tmp_path / "Latin.traineddata").stat().st_size / 10
    built.write_bytes(b"kept")
    subprocess.run(["sh", str(SCRIPT), str(tmp_path)], check=True)
    assert built.read_bytes() == b"kept" and sorted(p.name for p in tmp_path.iterdir()) == [
        "Latin.traineddata", "Latin_eng.traineddata", "eng.traineddata"]


def test_the_build_fails_without_its_source_models(tmp_path):
    done = subprocess.run(["sh", str(SCRIPT), str(tmp_path)], capture_output=True)
    assert done.returncode != 0 and not (tmp_path / "Latin_eng.traineddata").exists()


def test_it_reads_iast_letters_that_eng_cannot(engine, corpus):
    page = corpus / "san-iast" / "iasttest1.png"
    truth = page.with_name("iasttest1.gt.txt").read_text(encoding="utf-8")
    texts = {}
    for model in ("eng", "Latin_eng"):
        words = engine.recognize(page, languages=model, dpi=300, psm=3).words
        texts[model] = " ".join(w.text for w in words)
    assert not IAST_LETTERS & set(texts["eng"])
    assert len(IAST_LETTERS & set(texts["Latin_eng"])) >= 3 and "uvāca" in texts["Latin_eng"].split()
    assert cer(texts["Latin_eng"], truth) < cer(texts["eng"], truth)
