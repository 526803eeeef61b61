"""Use case: OCR one page — the reading stages (`services.page_stages`), then `store`.

With the language spec `auto`, Tesseract OSD decides per page how far to turn the page upright
and which model reads its script (`domain.languages.model_for_script`: Latin -> `Latin_eng`,
else `eng`; Devanagari -> the `Devanagari` script model); the detection is kept on the page
result as provenance. A page with too little text for OSD is read with that Latin model and a
warning. Every stage's record is kept on the page result (`stages`).
"""

from __future__ import annotations

import hashlib
import tempfile
import time
from pathlib import Path

from pagesage.config import Settings
from pagesage.domain.jobs import Job
from pagesage.domain.languages import AUTO, bcp47
from pagesage.domain.pages import CostEntry, EngineConfig, Page, PageResult, PageStatus, Run
from pagesage.domain.stages import StageRecord
from pagesage.ports import BlobStore, EngineOutput, OcrEngine, Store
from pagesage.pricing import price_call
from pagesage.services.page_stages import PageContext, read_page


def ocr_page(job: Job, page: Page, run: Run, *, store: Store, blobs: BlobStore, engine: OcrEngine, settings: Settings) -> Page:
    """OCR page `page.page_no` of `job` under `run`; store its image, result, tokens and costs.

    Returns:
        The page record, status `done`, with the page image's size (pixels), DPI, SHA-256, key
        and quality metrics.

    Raises:
        CorruptedFile, EncryptedFile, MemoryLimit: the page cannot be decoded (`imaging`).
        EngineError: the engine failed or timed out.
    """
    with blobs.local_path(job.original.original_key) as original, \
            tempfile.TemporaryDirectory(prefix="pagesage-page-", dir=settings.work_dir) as tmp:
        context = read_page(PageContext(
            source=Path(original), file_format=job.original.file_format, page_no=page.page_no,
            page_count=job.page_count, languages=job.languages, settings=settings, work=Path(tmp),
        ), engine)
        started = time.perf_counter()
        image_key, image_sha256 = _store_image(context, job, page, blobs)
        raw_key = _keep_raw(context.output, job, page, blobs)
        stored = StageRecord(stage="store", seconds=round(time.perf_counter() - started, 4),
                             applied=["page-image"] if image_key != job.original.original_key else [],
                             parameters={"imageKey": image_key})

    output = context.output
    tokens = context.tokens
    config = EngineConfig(languages=context.model, psm=settings.psm, oem=settings.oem, dpi=context.dpi)
    result = PageResult(
        run_id=run.run_id,
        job_id=job.job_id,
        source_doc_id=job.source_doc_id,
        page_no=page.page_no,
        config=config,
        detection=context.detection,
        lang_tag=bcp47(context.model),
        mean_confidence=round(sum(t.confidence for t in tokens) / len(tokens), 2) if tokens else None,
        word_count=len(tokens),
        warnings=context.warnings,
        engine_seconds=round(context.osd_seconds + output.seconds, 3),
        raw_key=raw_key,
        stages=[*context.stages, stored],
        preprocessing_applied=context.preprocessing_applied,
        regions=context.regions,
    )
    store.put_page_result(result, tokens)
    if job.languages == AUTO and engine.detects_orientation:
        _log_cost(store, job, page, engine, "layout-detection", context.osd_seconds, settings)
    _log_cost(store, job, page, engine, "ocr-extraction", output.seconds, settings,
              pages=output.pages_billed, request_id=output.request_id)
    return page.model_copy(update={
        "status": PageStatus.DONE, "width": context.size[0], "height": context.size[1], "dpi": context.dpi,
        "sha256": image_sha256, "image_key": image_key, "quality": context.quality(output.quality),
    })


def _store_image(context: PageContext, job: Job, page: Page, blobs: BlobStore) -> tuple[str, str]:
    """Key and SHA-256 of the page image the engine read: the upload itself, or the PNG the
    stages wrote, stored under `pages/<job_id>/<page_no>.png`."""
    if context.reads_original:
        return job.original.original_key, job.original.sha256
    key = f"pages/{job.job_id}/{page.page_no:05d}.png"
    blobs.put_file(key, context.engine_input, "image/png")
    with open(context.engine_input, "rb") as stored:
        return key, hashlib.file_digest(stored, "sha256").hexdigest()


def _keep_raw(output: EngineOutput, job: Job, page: Page, blobs: BlobStore) -> str | None:
    """Store the engine's own output under `raw/<job_id>/<page_no>.<tsv|json>`; its key."""
    if output.raw is None:
        return None
    suffix = "json" if (output.raw_type or "").startswith("application/json") else "tsv"
    key = f"raw/{job.job_id}/{page.page_no:05d}.{suffix}"
    blobs.put_bytes(key, output.raw, output.raw_type or "application/octet-stream")
    return key


def _log_cost(store: Store, job: Job, page: Page, engine: OcrEngine, operation: str, seconds: float, settings: Settings,
              *, pages: int = 0, request_id: str | None = None) -> None:
    """Log one completed engine call, priced by `pagesage.pricing` for `engine.service`:
    Tesseract as `seconds` on one vCPU at `settings.tesseract_usd_per_vcpu_second`, Document AI
    as `pages` at the first-tier page price. Called only after the call succeeded (a failed
    call raised before). An engine that answers OSD without calling anything (Document AI's
    `detect`: no result, 0 seconds) logs nothing for it. Idempotent on
    `<job_id>:p<page_no>:<operation>`."""
    quote = price_call(engine.service, seconds=seconds, pages=pages,
                       usd_per_vcpu_second=settings.tesseract_usd_per_vcpu_second)
    store.add_cost(CostEntry(
        cost_id=f"{job.job_id}:p{page.page_no}:{operation}",
        job_id=job.job_id, document_sha256=job.original.sha256, page_no=page.page_no, engine=engine.name,
        operation=operation, provider=quote.provider, service=quote.service, units=quote.units, unit=quote.unit,
        unit_cost_usd=quote.unit_cost_usd, total_usd=quote.total_usd, price_version=quote.price_version,
        request_id=request_id, response_ms=round(seconds * 1000),  # rounded as `units` is (pricing)
    ))
