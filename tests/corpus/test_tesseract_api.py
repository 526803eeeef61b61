"""The engine keeps Tesseract loaded (its C API through tesserocr) and reads pages exactly as the
`tesseract` command does: the same TSV rows (words, boxes, confidences, layout numbers) and the
same OSD, on corpus pages of both scripts, with one engine reused across pages and models."""

from __future__ import annotations

import os
import re
import subprocess
import threading

import pytest
from PIL import Image

from pagesage.config import Settings
from pagesage.engines.tesseract import TesseractEngine, parse_tsv
from pagesage.imaging import format_of_file
from pagesage.services import page_stages

PAGES = [
    ("eng-oldbooks/c030.tiff", "eng", 3),
    ("eng-unlv-isri/8087_054.3B.tif", "eng", 3),
    ("san-imagessan/shreelipi-p002.png", "Devanagari", 3),
    ("eng-uw3-lines/0701-010023.bin.png", "eng", 7),
    ("eng-alice-hocrtools/alice_1.png", "eng", 3),
    ("san-iast/iasttest1.png", "Latin_eng", 3),
]
CLI_ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}


@pytest.fixture(scope="module")
def engine() -> TesseractEngine:
    return TesseractEngine()


def _cli(*args: str) -> str:
    return subprocess.run(["tesseract", *args], capture_output=True, text=True, check=True, env=CLI_ENV).stdout


def test_recognition_is_the_clis_tsv_row_for_row(engine, corpus):
    # one engine for every page: models are loaded once and reused, eng and Devanagari in turn
    for path, model, psm in PAGES + PAGES[:1]:
        output = engine.recognize(corpus / path, languages=model, dpi=300, psm=psm)
        cli = _cli(str(corpus / path), "-", "-l", model, "--psm", str(psm), "--oem", "1", "--dpi", "300", "tsv")
        assert output.raw.decode() == cli, path
        assert output.words == parse_tsv(cli) and len(output.words) > 0, path


def test_osd_is_the_clis(engine, corpus):
    for path in ("eng-tesseract-testing/phototest.tif", "san-imagessan/shreelipi-p003.png", "eng-oldbooks/c030.tiff"):
        result, seconds = engine.detect(corpus / path, dpi=300)
        cli = _cli(str(corpus / path), "-", "--psm", "0", "--dpi", "300")
        fields = dict(re.findall(r"^([\w ]+): (\S+)$", cli, re.M))
        assert result.rotate == int(fields["Rotate"]) and result.script == fields["Script"], path
        assert result.orientation_confidence == pytest.approx(float(fields["Orientation confidence"]), abs=0.01)
        assert result.script_confidence == pytest.approx(float(fields["Script confidence"]), abs=0.01)
        assert seconds > 0


def test_osd_on_pixels_is_osd_on_the_file(engine, corpus, tmp_path):
    # the pipeline hands OSD a Pillow image; Tesseract must see the pixels it would read from a file
    for path in ("eng-tesseract-testing/phototest.tif", "san-imagessan/shreelipi-p003.png", "eng-oldbooks/c030.tiff"):
        with Image.open(corpus / path) as opened:
            pixels = opened.convert("1", dither=Image.Dither.NONE) if opened.mode != "1" else opened.copy()
        pixels.save(tmp_path / "page.png")
        on_pixels, on_file = engine.detect(pixels, dpi=300)[0], engine.detect(tmp_path / "page.png", dpi=300)[0]
        assert on_pixels is not None and on_pixels == on_file, path


def test_hocr_is_the_clis_page(engine, corpus):
    path = corpus / "eng-tesseract-testing/phototest.tif"
    hocr, _ = engine.hocr(path, languages="eng", dpi=300, psm=3)
    cli = _cli(str(path), "-", "-l", "eng", "--psm", "3", "--oem", "1", "--dpi", "300", "hocr")
    assert hocr.decode() == cli.replace(f'image "{path}"', 'image "unknown"')  # no server path in the answer


def test_threads_keep_models_of_their_own_and_agree(engine, corpus):
    path = corpus / "eng-oldbooks/c030.tiff"
    expected = engine.recognize(path, languages="eng", dpi=300, psm=3).raw
    outputs = []
    threads = [threading.Thread(target=lambda: outputs.append(engine.recognize(path, languages="eng", dpi=300, psm=3).raw))
               for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert outputs == [expected, expected]


def test_threads_share_one_osd_and_each_get_their_own_page(engine, corpus):
    paths = [corpus / "eng-tesseract-testing/phototest.tif", corpus / "san-imagessan/shreelipi-p003.png"]
    expected = {path: engine.detect(path, dpi=300)[0] for path in paths}
    assert {r.script for r in expected.values()} == {"Latin", "Devanagari"}
    osd = engine._osd
    seen: dict = {}
    threads = [threading.Thread(target=lambda p=path: seen.setdefault(p, [engine.detect(p, dpi=300)[0] for _ in range(3)]))
               for path in paths]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert seen == {path: [expected[path]] * 3 for path in paths}
    assert engine._osd is osd  # loaded once for every thread


def test_missing_models_and_unreadable_images_are_engine_errors(engine, corpus, tmp_path):
    from pagesage.errors import EngineError

    with pytest.raises(EngineError, match="could not load"):
        engine.recognize(corpus / "eng-tesseract-testing/phototest.tif", languages="klingon", dpi=300, psm=3)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"\x89PNG\r\n\x1a\n not really")
    with pytest.raises(EngineError, match="could not read") as caught:
        engine.recognize(broken, languages="eng", dpi=300, psm=3)
    assert str(tmp_path) not in caught.value.detail
    with pytest.raises(EngineError, match="could not read") as caught:
        engine.detect(broken, dpi=300)
    assert str(tmp_path) not in caught.value.detail
    with pytest.raises(EngineError, match="could not read"):
        engine.detect(Image.new("I;16", (600, 800)), dpi=300)
    assert engine.detect(Image.new("1", (600, 800), 1), dpi=300)[0] is None  # the engine is still usable: a blank page
    assert "osd" in engine.installed_languages() and "Devanagari" in engine.installed_languages()
    assert re.fullmatch(r"\d+\.\d+\.\d+", engine.version())


class _Recording:
    """The real engine, noting the mode of every image OSD is handed."""

    def __init__(self, engine: TesseractEngine):
        self.engine, self.osd_modes = engine, []

    def __getattr__(self, name):
        return getattr(self.engine, name)

    def detect(self, image, *, dpi):
        self.osd_modes.append(image.mode)  # handed pixels, not a file
        return self.engine.detect(image, dpi=dpi)


@pytest.mark.parametrize("path", ["eng-alice-hocrtools/alice_1.png", "san-imagessan/shreelipi-p003.png",
                                  "pdf/ocrmypdf-skew.pdf", "san-iast/iasttest1.png"])
def test_osd_reads_a_bilevel_copy_and_decides_as_on_the_grey_page(engine, corpus, tmp_path, path):
    source = corpus / path
    recording = _Recording(engine)
    context = page_stages.PageContext(source=source, file_format=format_of_file(source), page_no=1, page_count=1,
                                      languages="auto", settings=Settings(), work=tmp_path)
    page_stages.render(context, recording)
    assert context.image.mode in ("L", "RGB", "P")  # grey or colour pixels: OSD gets a copy
    page_stages.analyse(context, recording)
    assert recording.osd_modes == ["1"]
    grey = tmp_path / "grey.png"
    context.image.save(grey, dpi=(context.dpi, context.dpi))
    on_grey, _ = engine.detect(grey, dpi=context.dpi)
    assert (context.detection.rotate, context.detection.script) == (on_grey.rotate, on_grey.script)
    assert context.detection.orientation_confidence == pytest.approx(on_grey.orientation_confidence, abs=2.5)
