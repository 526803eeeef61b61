"""Tesseract through its C API (`tesserocr`, built against the system libtesseract): OSD and
recognition with TSV word output, each model loaded once and kept.

The `tesseract` command loads its model on every call (about 0.16 s for `eng` and 0.32 s for
the `Devanagari` script model on one vCPU, against 0.75-1.5 s for a whole 300-dpi page); here a
worker thread keeps an initialised `TessBaseAPI` per recognition model, so a page pays only for
recognition. OSD's model (30 MB resident) is loaded once per engine and its threads take turns
with it (detection is about a fifth of a page's engine time, 0.45 s of 2 s on a 300-dpi book page).
The calls are the CLI's own (`--psm`, `--oem`, `--dpi` as `user_defined_dpi`, the TSV renderer's
`GetTSVText`), so words, boxes and confidences are the ones `tesseract IMAGE - tsv` prints
(tests/corpus/test_tesseract_api.py checks this on corpus pages).

`OMP_THREAD_LIMIT=1` is set before libtesseract is loaded: on 2 vCPUs OpenMP inside one
recognition makes a page 5-8x slower, and parallelism comes from several worker threads, each
with its own `TessBaseAPI` (docs/architecture.md, "Recognise").
"""

from __future__ import annotations

import csv
import ctypes
import ctypes.util
import functools
import io
import logging
import os
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

os.environ.setdefault("OMP_THREAD_LIMIT", "1")  # read by libgomp when libtesseract loads

import tesserocr  # noqa: E402
from PIL import Image  # noqa: E402

from pagesage.domain.pages import OsdResult  # noqa: E402
from pagesage.domain.tokens import EngineWord  # noqa: E402
from pagesage.errors import EngineError  # noqa: E402
from pagesage.ports import EngineOutput  # noqa: E402

log = logging.getLogger(__name__)

_LIBC = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6") if sys.platform.startswith("linux") else None


def release_freed_memory() -> None:
    """Hand back to the system the heap memory glibc keeps after a page's buffers are freed
    (malloc_trim(3), glibc 2.8+), after each detection and recognition: Tesseract's copies of a
    300-dpi page are tens of MB, and without it they stay resident between pages. Measured with
    2 workers (peak RSS of the process, tests/bench/bench_throughput.py): 353 -> 334 MB on 30
    pages, 583 -> 526 MB on 200. A no-op where glibc is not the C library."""
    trim = getattr(_LIBC, "malloc_trim", None)
    if trim is not None:
        trim(0)


M_MMAP_THRESHOLD = -3
"""`mallopt` parameter number of the mmap threshold (glibc `malloc.h`)."""

MMAP_THRESHOLD_BYTES = 128 * 1024
"""Allocations at least this large get pages of their own from the kernel (mmap), handed back
as soon as they are freed; glibc's default is the same 128 KiB, but it raises the threshold
after each such block is freed (up to 32 MiB on 64-bit systems; mallopt(3), M_MMAP_THRESHOLD), after which a page's image buffers come from the
heap and stay resident there. Held fixed, two threads reading 20 of tests/bench/bench_throughput.py's
book pages (`auto`) in one process measured a median RSS of anonymous memory of 175 -> 156 MB
and a peak RSS of 268 -> 259 MB (two runs each), at the same speed."""


def fix_mmap_threshold() -> None:
    """Fix glibc's mmap threshold at `MMAP_THRESHOLD_BYTES` (mallopt(3) `M_MMAP_THRESHOLD`,
    which also turns off its dynamic adjustment), unless the environment already sets it
    (`MALLOC_MMAP_THRESHOLD_`). Process-wide; `TesseractEngine` calls it when constructed. A
    no-op where glibc is not the C library."""
    set_option = getattr(_LIBC, "mallopt", None)
    if set_option is not None and "MALLOC_MMAP_THRESHOLD_" not in os.environ:
        set_option(M_MMAP_THRESHOLD, MMAP_THRESHOLD_BYTES)

_WORD_LEVEL = 5  # TSV `level` of a word (1 page, 2 block, 3 paragraph, 4 line, 5 word)

TSV_COLUMNS = ("level", "page_num", "block_num", "par_num", "line_num", "word_num", "left", "top", "width",
               "height", "conf", "text")
"""Columns of Tesseract's TSV output (`TessTsvRenderer`), which prints them as its header line."""

MODELS_PER_THREAD = 2
"""Recognition models a worker thread keeps loaded (least recently used dropped
first): a mixed book alternates `eng` and `Devanagari`; each loaded model holds 15-60 MB."""

OSD_MIN_CHARACTERS = (50, 10)
"""`min_characters_to_try` of OSD's two attempts: Tesseract's default 50, then 10 for short pages
(a verse, a title page) on which the default gives up ("Too few characters")."""


class TesseractEngine:
    """The `tesseract` engine.

    Args:
        timeout: seconds a recognition may take; past them it raises `EngineError` with code
            `timeout` (Tesseract's own cancellation deadline, `ETEXT_DESC`).
        oem: OCR engine mode (1 = LSTM), as `--oem`.
        tessdata: folder of the models; None for the library's compiled-in default
            (`TESSDATA_PREFIX` when set).
    """

    name = "tesseract"
    service = "tesseract-local"
    detects_orientation = True
    """Priced as compute-seconds at the configured Cloud Run rate (`pagesage.pricing`)."""

    def __init__(self, *, timeout: float = 300.0, oem: int = 1, tessdata: str | None = None) -> None:
        fix_mmap_threshold()  # before the worker threads' arenas fill with page buffers
        self.timeout = timeout
        self.oem = oem
        self.tessdata = tessdata or tesserocr.get_languages()[0]
        self._local = threading.local()
        self._osd_lock = threading.Lock()
        self._osd: tesserocr.PyTessBaseAPI | None = None

    @functools.cache
    def version(self) -> str:
        """Tesseract's version, e.g. `5.3.0`."""
        return tesserocr.tesseract_version().split()[1]

    @functools.cache
    def installed_languages(self) -> frozenset[str]:
        """Model names in the tessdata folder (`osd` and script models such as `Devanagari`
        included), as `tesseract --list-langs` lists them."""
        return frozenset(tesserocr.get_languages(self.tessdata)[1])

    def detect(self, image: Path | Image.Image, *, dpi: int) -> tuple[OsdResult | None, float]:
        """OSD of the page (a file, or a Pillow image handed over as its pixels): rotation to
        upright and script; returns (result, wall seconds).

        Tesseract gives up on pages with fewer than 50 usable characters; such pages are tried
        once more with 10 (`OSD_MIN_CHARACTERS`), and None is returned only when that fails too.
        `rotate` is the clockwise turn that makes the page upright, as the CLI's `Rotate:` line
        (`(360 - orientation) % 360`). Callers should weigh `orientation_confidence`.

        The seconds are the detection's own, not the wait for another thread's detection to end.

        Raises:
            EngineError: the image cannot be read.
        """
        try:
            with self._osd_lock:
                started = time.perf_counter()
                raw = self._detect_os(image, dpi)
                seconds = time.perf_counter() - started
        finally:
            release_freed_memory()  # not under the lock: while another thread allocates, a trim can take 0.1 s or more
        if not raw:
            return None, seconds
        return OsdResult(
            rotate=(360 - int(raw["orient_deg"])) % 360,
            orientation_confidence=float(raw["orient_conf"]),
            script=str(raw["script_name"]),
            script_confidence=float(raw["script_conf"]),
        ), seconds

    def _detect_os(self, image: Path | Image.Image, dpi: int) -> dict | None:
        """tesserocr's `DetectOrientationScript` of `image` with each of `OSD_MIN_CHARACTERS`
        in turn, until one finds enough; the caller holds `_osd_lock`. Raises `EngineError`."""
        if self._osd is None:
            self._osd = self._load("osd", tesserocr.PSM.OSD_ONLY, tesserocr.OEM.DEFAULT)
        try:
            self._set_image(self._osd, image, dpi)
            for least in OSD_MIN_CHARACTERS:
                self._osd.SetVariable("min_characters_to_try", str(least))
                raw = self._osd.DetectOrientationScript()
                if raw:
                    return raw
            return None
        finally:
            self._osd.Clear()

    def recognize(self, image: Path, *, languages: str, dpi: int, psm: int) -> EngineOutput:
        """Words of the page with their boxes (pixels), confidences (0-100) and layout ordinals;
        the raw output is the TSV `tesseract IMAGE - tsv` prints, header included.

        Raises:
            EngineError: a model is missing, the image cannot be read, or the deadline passed
                (code `timeout`).
        """
        started = time.perf_counter()
        with self._recognised(image, languages=languages, dpi=dpi, psm=psm) as api:
            tsv = "\t".join(TSV_COLUMNS) + "\n" + api.GetTSVText(0)
        return EngineOutput(words=parse_tsv(tsv), seconds=time.perf_counter() - started, raw=tsv.encode(),
                            raw_type=TSV_TYPE)

    def hocr(self, image: Path, *, languages: str, dpi: int, psm: int) -> tuple[bytes, float]:
        """Tesseract's own hOCR of the page, as `tesseract IMAGE - hocr` writes it but with the
        image named `unknown` (no server path); (UTF-8 bytes, wall seconds). Not valid by the hOCR spec as Tesseract writes it (undeclared
        `x_size`, `baseline`): `pagesage.formats.hocr` writes what users get.

        Raises:
            EngineError: as `recognize`.
        """
        started = time.perf_counter()
        with self._recognised(image, languages=languages, dpi=dpi, psm=psm) as api:
            body = api.GetHOCRText(0)
        document = (_HOCR_HEAD.format(version=self.version()) + body + " </body>\n</html>\n").encode()
        return document, time.perf_counter() - started

    @contextmanager
    def _recognised(self, image: Path, *, languages: str, dpi: int, psm: int) -> Iterator["tesserocr.PyTessBaseAPI"]:
        """This thread's API for `languages` after recognising `image`, cleared on exit.

        Raises:
            EngineError: as `recognize`.
        """
        api = self._api(languages, psm, self.oem)
        try:
            api.SetPageSegMode(psm)
            self._set_image(api, image, dpi)
            if not api.Recognize(max(1, int(self.timeout * 1000))):
                raise EngineError(f"tesseract timed out after {self.timeout:g} s", error_code="timeout")
            yield api
        finally:
            api.Clear()
            release_freed_memory()

    def _api(self, languages: str, psm: int, oem: int) -> "tesserocr.PyTessBaseAPI":
        """This thread's initialised API for `languages`, loaded on first use (and the least
        recently used model dropped past `MODELS_PER_THREAD`)."""
        apis: OrderedDict = self._local.__dict__.setdefault("apis", OrderedDict())
        key = (languages, oem)
        api = apis.get(key)
        if api is not None:
            apis.move_to_end(key)
            return api
        apis[key] = api = self._load(languages, psm, oem)
        if len(apis) > MODELS_PER_THREAD:
            apis.popitem(last=False)[1].End()
        return api

    def _load(self, languages: str, psm: int, oem: int) -> "tesserocr.PyTessBaseAPI":
        """A new API initialised with `languages` from `tessdata`. Raises `EngineError`."""
        try:
            return tesserocr.PyTessBaseAPI(path=self.tessdata, lang=languages, psm=psm, oem=oem)
        except RuntimeError as exc:
            raise EngineError(f"tesseract could not load the model(s) {languages!r}") from exc

    @staticmethod
    def _set_image(api, image: Path | Image.Image, dpi: int) -> None:
        """Hand `api` the page: a file read by Leptonica (as the CLI reads it), or a Pillow
        image's pixels (`SetImage`: no file written and decoded again; the same OSD as from a
        file of those pixels, tests/corpus/test_tesseract_api.py). Raises `EngineError`."""
        api.SetVariable("user_defined_dpi", str(dpi))
        try:
            if isinstance(image, Image.Image):
                api.SetImage(image)
            else:
                api.SetImageFile(str(image))
        except (RuntimeError, OSError, ValueError) as exc:  # Leptonica failed, then Pillow (tesserocr's fallback)
            log.warning("tesseract could not read %s: %s", image, exc)  # its message names server paths
            raise EngineError("tesseract could not read the page image") from exc


_HOCR_HEAD = """<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN"
    "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">
<html xmlns="http://www.w3.org/1999/xhtml" xml:lang="en" lang="en">
 <head>
  <title></title>
  <meta http-equiv="Content-Type" content="text/html;charset=utf-8"/>
  <meta name='ocr-system' content='tesseract {version}' />
  <meta name='ocr-capabilities' content='ocr_page ocr_carea ocr_par ocr_line ocrx_word ocrp_wconf'/>
 </head>
 <body>
"""
"""The document around `GetHOCRText`'s page, as Tesseract's hOCR renderer (`TessHOcrRenderer`)
writes it."""

TSV_TYPE = "text/tab-separated-values; charset=utf-8"
"""Content-Type of Tesseract's TSV output (IANA `text/tab-separated-values`)."""


def parse_tsv(tsv: str) -> list[EngineWord]:
    """Word rows of Tesseract's TSV output, with page-wide block/paragraph/line ordinals.

    TSV columns: `TSV_COLUMNS`. Tesseract numbers paragraphs within blocks and lines within
    paragraphs; the ordinals here count them across the page in reading order. Words that are
    empty after stripping are dropped.

    Raises:
        EngineError: the header is missing or a row is malformed.
    """
    reader = csv.DictReader(io.StringIO(tsv), delimiter="\t", quoting=csv.QUOTE_NONE)
    if not reader.fieldnames or "conf" not in reader.fieldnames:
        raise EngineError("tesseract wrote no TSV header")
    words: list[EngineWord] = []
    blocks: dict[tuple, int] = {}
    pars: dict[tuple, int] = {}
    lines: dict[tuple, int] = {}
    try:
        for row in reader:
            if int(row["level"]) != _WORD_LEVEL or not (row.get("text") or "").strip():
                continue
            b = (row["page_num"], row["block_num"])
            p = b + (row["par_num"],)
            ln = p + (row["line_num"],)
            words.append(EngineWord(
                text=row["text"],
                bbox=(int(row["left"]), int(row["top"]), int(row["width"]), int(row["height"])),
                confidence=min(100.0, max(0.0, float(row["conf"]))),
                block=blocks.setdefault(b, len(blocks)),
                par=pars.setdefault(p, len(pars)),
                line=lines.setdefault(ln, len(lines)),
            ))
    except (KeyError, TypeError, ValueError) as exc:
        raise EngineError(f"unreadable tesseract TSV: {exc}") from exc
    return words
