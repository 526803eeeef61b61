"""Tesseract through pytesseract: OSD (`--psm 0`) and recognition with TSV word output.

Every call runs one `tesseract` process with `OMP_THREAD_LIMIT=1`: on 2 vCPUs OpenMP inside one
process makes a page 5-8x slower, and parallelism comes from several worker threads each driving
its own process (docs/architecture.md, "Languages").
"""

from __future__ import annotations

import csv
import functools
import io
import logging
import os
import subprocess
import time
from pathlib import Path

import pytesseract

from pagesage.domain.pages import OsdResult
from pagesage.errors import EngineError
from pagesage.domain.tokens import EngineWord
from pagesage.ports import EngineOutput

log = logging.getLogger(__name__)

_WORD_LEVEL = 5  # TSV `level` of a word (1 page, 2 block, 3 paragraph, 4 line, 5 word)


class TesseractEngine:
    """The `tesseract` engine.

    Args:
        timeout: seconds before a call is killed; it then raises `EngineError` with code `timeout`.
        oem: OCR engine mode passed as `--oem` (1 = LSTM).
    """

    name = "tesseract"
    service = "tesseract-local"
    detects_orientation = True
    """Priced as compute-seconds at the configured Cloud Run rate (`pagesage.pricing`)."""

    def __init__(self, *, timeout: float = 300.0, oem: int = 1) -> None:
        os.environ.setdefault("OMP_THREAD_LIMIT", "1")
        self.timeout = timeout
        self.oem = oem

    @functools.cache
    def version(self) -> str:
        """Tesseract's version, e.g. `5.3.0`."""
        return str(pytesseract.get_tesseract_version())

    @functools.cache
    def installed_languages(self) -> frozenset[str]:
        """Model names `tesseract --list-langs` reports (`osd` included).

        pytesseract's own `get_languages` drops capitalised names such as the script model
        `Devanagari`, so the listing is read here.
        """
        listing = subprocess.run(
            [pytesseract.pytesseract.tesseract_cmd, "--list-langs"],
            capture_output=True, text=True, check=False, timeout=60,
        )
        if listing.returncode != 0:
            raise EngineError(f"tesseract --list-langs failed: {listing.stderr.strip()}")
        return frozenset(line.strip() for line in listing.stdout.splitlines()[1:] if line.strip())

    def detect(self, image: Path, *, dpi: int) -> tuple[OsdResult | None, float]:
        """OSD of the page: rotation to upright and script; returns (result, wall seconds).

        Tesseract gives up on pages with fewer than 50 usable characters ("Too few characters");
        such pages (short verses, title pages) are tried once more with `min_characters_to_try`
        at 10, and None is returned only when that fails too. Callers should weigh
        `orientation_confidence` before turning a page.

        Raises:
            EngineError: Tesseract crashed or timed out.
        """
        started = time.perf_counter()
        raw = None
        for extra in ("", " -c min_characters_to_try=10"):
            try:
                raw = self._call(pytesseract.image_to_osd, image, config=f"--dpi {dpi}{extra}", output_type=pytesseract.Output.DICT)
                break
            except EngineError as exc:
                if "too few characters" not in exc.detail.lower():
                    raise
        seconds = time.perf_counter() - started
        if raw is None:
            return None, seconds
        return OsdResult(
            rotate=int(raw["rotate"]) % 360,
            orientation_confidence=float(raw["orientation_conf"]),
            script=str(raw["script"]),
            script_confidence=float(raw["script_conf"]),
        ), seconds

    def recognize(self, image: Path, *, languages: str, dpi: int, psm: int) -> EngineOutput:
        """Words of the page with their boxes (pixels), confidences (0-100) and layout ordinals.

        Raises:
            EngineError: Tesseract crashed, timed out or wrote unreadable TSV.
        """
        started = time.perf_counter()
        tsv = self._call(
            pytesseract.image_to_data,
            image,
            lang=languages,
            config=f"--psm {psm} --oem {self.oem} --dpi {dpi}",
        )
        return EngineOutput(words=parse_tsv(tsv), seconds=time.perf_counter() - started, raw=tsv.encode(),
                            raw_type=TSV_TYPE)

    def _call(self, fn, image: Path, **kwargs):
        try:
            return fn(str(image), timeout=self.timeout, **kwargs)
        except (pytesseract.TesseractError, KeyError, ValueError) as exc:
            if "too few characters" in str(exc).lower():
                raise EngineError("too few characters for orientation and script detection") from exc
            log.warning("tesseract failed on %s: %s", image, exc)  # its message names server paths
            status = getattr(exc, "status", None)
            raise EngineError("tesseract failed on the page" + (f" (exit status {status})" if status is not None else "")) from exc
        except RuntimeError as exc:  # pytesseract signals a timeout so (TesseractError is one too)
            raise EngineError(f"tesseract timed out after {self.timeout:g} s", error_code="timeout") from exc


TSV_TYPE = "text/tab-separated-values; charset=utf-8"
"""Content-Type of Tesseract's TSV output (IANA `text/tab-separated-values`)."""


def parse_tsv(tsv: str) -> list[EngineWord]:
    """Word rows of Tesseract's TSV output, with page-wide block/paragraph/line ordinals.

    TSV columns: level, page_num, block_num, par_num, line_num, word_num, left, top, width,
    height, conf, text. Tesseract numbers paragraphs within blocks and lines within paragraphs;
    the ordinals here count them across the page in reading order. Words that are empty after
    stripping are dropped.

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
