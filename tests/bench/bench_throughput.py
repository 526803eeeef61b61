"""Benchmark: throughput and memory of the local stack on a 200-page scanned PDF, and wall time
against OCRmyPDF on the corpus PDFs, in one interleaved run.

    python tests/bench/bench_throughput.py [--pages 200] [--rounds 1]

* A 200-page PDF is assembled losslessly (img2pdf, 300 dpi) from the corpus's English book
  pages. The local stack (`pagesage serve`: waitress, SQLite, folder blobs, in-process queue,
  Tesseract kept loaded) runs in a child process with PAGESAGE_WORKERS=1 and =2, language
  `auto`, after each worker has read a page with it (`WARM_PAGES`). Each run is timed from the
  start of the upload to the job's `completion_time` (the server's clock, so the client's
  polling, once a second, neither delays nor loads the measurement much); the engine's own time
  is the sum of the page results' `engine_seconds` (OSD and recognition). Peak RSS is the
  largest sum over the child and its descendants, sampled every 0.1 s with psutil.
  Targets: wall <= 1.05 x engine seconds / workers; 2 workers >= 1.9 x one; peak RSS <= 300 MB.
* The corpus PDFs, each read by OCRmyPDF (`--jobs 2 --output-type pdf --optimize 0 --sidecar`,
  `--skip-text`: one page of `ocrmypdf-multipage.pdf` has a text layer, which OCRmyPDF refuses
  by default and leaves alone with it, so it reads less than PageSage;
  `-l eng`, `-l Devanagari` for the Sanskrit one) and by the stack with 2 workers and the same
  language (so neither runs orientation detection; each worker has read a page with each
  first), alternately;
  CER of both where the corpus has ground truth. Target: PageSage <= 0.50 x OCRmyPDF's wall
  time at equal or better CER.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import httpx
import img2pdf
import psutil
from PIL import Image

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "shared"))

from pagesage.client import PageSageClient  # noqa: E402
from pagesage.text.cer import cer  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus"
BOOK_PAGES = sorted((CORPUS / "eng-oldbooks").glob("*.tiff"))
PDFS = {"ocrmypdf-c02-22.pdf": "eng", "ocrmypdf-multipage.pdf": "eng", "ocrmypdf-cardinal.pdf": "eng",
        "ocrmypdf-skew.pdf": "eng", "eng-oldbooks-c029-c031.pdf": "eng", "san-tulasi-8pages.pdf": "Devanagari"}
BIN = Path(sys.executable).parent
ENV = {**os.environ, "OMP_THREAD_LIMIT": "1", "PAGESAGE_RATE_LIMIT": "0"}
POLL_SECONDS = 1.0
"""Seconds between two requests of the client (its status polls)."""
WARM_PAGES = {"Latin": ("eng-tesseract-testing/phototest.tif", "eng-tesseract-testing/eurotext.tif"),
              "Devanagari": ("san-imagessan/shreelipi-p001.png", "san-imagessan/shreelipi-p002.png")}
"""Two one-page documents per script, read at once before the timed runs so that each of the two
workers has loaded the models those runs use (a server that has been up a while has)."""


def book_pdf(pages: int, folder: Path) -> Path:
    """`pages` pages cycling through the corpus's English book scans, as one PDF at 300 dpi."""
    pngs = []
    for i, tiff in enumerate(BOOK_PAGES):
        png = folder / f"{i}.png"
        Image.open(tiff).save(png, dpi=(300, 300))
        pngs.append(str(png))
    target = folder / f"book-{pages}.pdf"
    layout = img2pdf.get_fixed_dpi_layout_fun((300, 300))
    target.write_bytes(img2pdf.convert([pngs[i % len(pngs)] for i in range(pages)], layout_fun=layout))
    return target


class Stack:
    """`pagesage serve` in a child process with `workers` OCR workers and its own data folder."""

    def __init__(self, workers: int, data: Path):
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        env = {**ENV, "PAGESAGE_WORKERS": str(workers), "PAGESAGE_DATA_DIR": str(data), "PORT": str(self.port)}
        self.process = subprocess.Popen([str(BIN / "pagesage"), "serve", "--port", str(self.port)], env=env,
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = PageSageClient(f"http://127.0.0.1:{self.port}", min_interval=POLL_SECONDS, timeout=600)
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/status/none", timeout=2)
                break  # any answer: the server is up
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        self.peak_rss = 0
        self._sampling = True
        self._sampler = threading.Thread(target=self._sample, daemon=True)
        self._sampler.start()

    def _sample(self) -> None:
        parent = psutil.Process(self.process.pid)
        while self._sampling:
            try:
                rss = sum(p.memory_info().rss for p in [parent, *parent.children(recursive=True)])
                self.peak_rss = max(self.peak_rss, rss)
            except psutil.Error:
                pass
            time.sleep(0.1)

    def warm(self, *languages: str) -> None:
        """Read `WARM_PAGES` with each language spec, two documents at a time (one per worker)."""
        for lang in languages:
            pages = WARM_PAGES["Devanagari" if lang == "Devanagari" else "Latin"]
            job_ids = [self.client.submit(CORPUS / page, lang=lang) for page in pages]
            assert all(s["status"] == "completed" for s in self.client.wait(job_ids, timeout=600).values())

    def read(self, path: Path, lang: str) -> tuple[float, float, str]:
        """(wall seconds from the upload's start to the job's completion, summed engine seconds, text)."""
        time.sleep(POLL_SECONDS)  # the client spaces its requests: the upload must not wait for its turn
        started = time.time()
        job_id = self.client.submit(path, lang=lang)
        status = self.client.wait([job_id], timeout=7200)[job_id]
        assert status["status"] == "completed", status
        wall = datetime.fromisoformat(status["completion_time"]).timestamp() - started
        doc = json.loads(self.client.result(job_id, "json"))
        engine = sum(p["result"]["engine_seconds"] for p in doc["pages"] if p["result"])
        return wall, engine, self.client.result(job_id, "text").decode()

    def close(self) -> None:
        self._sampling = False
        self._sampler.join()
        self.client.close()
        self.process.terminate()
        self.process.wait(30)


def ocrmypdf(pdf: Path, lang: str, folder: Path) -> tuple[float, str]:
    sidecar = folder / "sidecar.txt"
    started = time.perf_counter()
    subprocess.run([str(BIN / "ocrmypdf"), "--jobs", "2", "--output-type", "pdf", "--optimize", "0", "--skip-text",
                    "--sidecar", str(sidecar), "-l", lang, "--quiet", str(pdf), str(folder / "out.pdf")],
                   env=ENV, check=True, capture_output=True)
    return time.perf_counter() - started, sidecar.read_text(encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pages", type=int, default=200, help="pages of the book PDF (0: only the OCRmyPDF part)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pagesage-bench-") as tmp:
        folder = Path(tmp)
        results = {}
        book = book_pdf(args.pages, folder) if args.pages else None
        for workers in (1, 2) if book else ():
            stack = Stack(workers, folder / f"data-{workers}")
            try:
                stack.warm("auto")
                stack.peak_rss = 0
                results[workers] = (*stack.read(book, "auto")[:2], stack.peak_rss)
            finally:
                stack.close()
        if results:
            _print_book(args.pages, results)
        _compare_with_ocrmypdf(folder)


def _print_book(pages: int, results: dict) -> None:
    print(f"## {pages}-page scanned PDF, language auto\n")
    print("| workers | wall s | engine s | wall / (engine / workers) | pages/s | peak RSS MB |\n|---|---|---|---|---|---|")
    for workers, (wall, engine, rss) in results.items():
        print(f"| {workers} | {wall:.1f} | {engine:.1f} | {wall / (engine / workers):.3f} | {pages / wall:.2f} | "
              f"{rss / 2**20:.0f} |")
    print(f"\n2 workers / 1 worker: x{results[1][0] / results[2][0]:.2f}\n")


def _compare_with_ocrmypdf(folder: Path) -> None:
    stack = Stack(2, folder / "data-pdfs")
    rows = []
    try:
        stack.warm(*sorted(set(PDFS.values())))
        for i, (name, lang) in enumerate(PDFS.items()):
            pdf = CORPUS / "pdf" / name
            order = (("ocrmypdf", "pagesage") if i % 2 else ("pagesage", "ocrmypdf"))
            seen = {}
            for who in order:
                if who == "pagesage":
                    wall, _, text = stack.read(pdf, lang)
                else:
                    wall, text = ocrmypdf(pdf, lang, folder)
                seen[who] = (wall, text)
            truth = pdf.with_suffix(".gt.txt")
            scores = {w: cer(t, truth.read_text(encoding="utf-8")) if truth.exists() else None for w, (_, t) in seen.items()}
            rows.append((name, seen["pagesage"][0], seen["ocrmypdf"][0], scores["pagesage"], scores["ocrmypdf"]))
    finally:
        stack.close()
    print("## Corpus PDFs: PageSage (2 workers) vs OCRmyPDF 17 (--jobs 2), the same language\n")
    print("| PDF | PageSage s | OCRmyPDF s | ratio | PageSage CER | OCRmyPDF CER |\n|---|---|---|---|---|---|")
    for name, ours, theirs, our_cer, their_cer in rows:
        fmt = (lambda v: "-" if v is None else f"{v:.2%}")
        print(f"| {name} | {ours:.2f} | {theirs:.2f} | {ours / theirs:.2f} | {fmt(our_cer)} | {fmt(their_cer)} |")
    total_ours, total_theirs = sum(r[1] for r in rows), sum(r[2] for r in rows)
    print(f"| all | {total_ours:.2f} | {total_theirs:.2f} | {total_ours / total_theirs:.2f} | | |")


if __name__ == "__main__":
    main()
