"""Benchmark: engine output -> PageSage tokens + hOCR, per page, for both engines.

    python tests/bench/bench_docai.py [--rounds N]

Document AI: a saved `Document` JSON (the real outputs in tests/fixtures/docai/) loaded, its
pages converted to tokens (`convert_document`) and rendered as hOCR (`document_view` +
`render_hocr`). Tesseract: the TSV it printed for a real corpus page (produced once, untimed)
parsed to words (`parse_tsv`), numbered and normalized (`build_tokens`) and rendered as hOCR.
Both sides time the same steps, median of the rounds, milliseconds per page.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "tests" / "fixtures" / "docai"
CORPUS = REPO.parent / "shared" / "corpus"
DOCAI = ["toolbox_invoice_test-0.json", "multiple_levels.json", "upside_down.json"]
TESSERACT = [("eng-tesseract-testing/phototest.tif", "eng"), ("eng-alice-hocrtools/alice_1.png", "eng"),
             ("san-imagessan/shreelipi-p001.png", "Devanagari")]


def median_ms(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000


def docai_row(name: str, rounds: int) -> tuple[str, int, int, float]:
    from pagesage.engines.docai_document import convert_document, document_view, load_document
    from pagesage.formats.hocr import render_hocr

    path = FIXTURES / name

    def convert():
        document = load_document([path])
        convert_document(document)
        render_hocr(document_view(document, [path]))

    document = load_document([path])
    pages = convert_document(document)
    return name, len(pages), sum(len(p.words) for p in pages), median_ms(convert, rounds) / len(pages)


def tesseract_row(rel: str, model: str, rounds: int) -> tuple[str, int, int, float]:
    from PIL import Image

    from pagesage.domain.jobs import DocumentUpload, FileFormat, Job, JobStatus
    from pagesage.domain.pages import EngineConfig, Page, PageResult, PageStatus, Run
    from pagesage.domain.languages import bcp47
    from pagesage.engines.tesseract import parse_tsv
    from pagesage.formats.document import DocumentView, PageView
    from pagesage.formats.hocr import render_hocr
    from pagesage.domain.tokens import build_tokens

    image = CORPUS / rel
    tsv = subprocess.run(["tesseract", str(image), "stdout", "-l", model, "--psm", "3", "tsv"], check=True,
                         capture_output=True, text=True, env={**os.environ, "OMP_THREAD_LIMIT": "1"}).stdout
    width, height = Image.open(image).size
    job = Job(upload=DocumentUpload(file_name=image.name, file_format=FileFormat.PNG, file_size=1, content_type="image/png",
                                    sha256="0" * 64, original_key=rel), languages=model, status=JobStatus.COMPLETED, page_count=1)
    config = EngineConfig(languages=model, psm=3, oem=1, dpi=300)
    run = Run(job_id=job.job_id, engine="tesseract", engine_version="5.3.0", config=config, status="completed")
    page = Page(source_doc_id=job.source_doc_id, job_id=job.job_id, page_no=1, status=PageStatus.DONE, width=width, height=height, dpi=300)

    def convert():
        tokens = build_tokens(parse_tsv(tsv), model)
        result = PageResult(run_id=run.run_id, job_id=job.job_id, page_no=1, config=config, lang_tag=bcp47(model),
                            word_count=len(tokens))
        render_hocr(DocumentView(job=job, run=run, pages=[PageView(page=page, result=result, tokens=tokens)]))

    return rel, 1, len(build_tokens(parse_tsv(tsv), model)), median_ms(convert, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    rows = [("docai", *docai_row(name, args.rounds)) for name in DOCAI]
    if (CORPUS / "MANIFEST.tsv").is_file():
        rows += [("tesseract", *tesseract_row(rel, model, args.rounds)) for rel, model in TESSERACT]
    else:
        print(f"(no corpus at {CORPUS}: Tesseract rows skipped)", file=sys.stderr)
    print(f"engine output -> tokens + hOCR, median of {args.rounds} rounds:\n")
    print(f"{'engine':<10} {'source':<40} {'pages':>5} {'tokens':>7} {'ms/page':>8} {'us/token':>9}")
    for engine, name, pages, tokens, ms in rows:
        per_token = ms * 1000 * pages / tokens if tokens else float("nan")
        print(f"{engine:<10} {name:<40} {pages:>5} {tokens:>7} {ms:>8.2f} {per_token:>9.1f}")


if __name__ == "__main__":
    main()
