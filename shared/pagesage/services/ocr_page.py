"""Use case: OCR one page — render, detect orientation and script, recognise, store.

With the language spec `auto`, Tesseract OSD decides per page how far to turn the page upright
and which model reads its script (Latin -> `eng`, Devanagari -> the `Devanagari` script model);
the detection is kept on the page result as provenance. A page with too little text for OSD is
read with `eng` and a warning.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path

from pagesage.config import Settings
from pagesage.domain.jobs import FileFormat, Job
from pagesage.domain.languages import AUTO, bcp47, model_for_script
from pagesage.domain.pages import CostEntry, EngineConfig, OsdResult, Page, PageResult, PageStatus, Run
from pagesage.domain.tokens import build_tokens
from pagesage.imaging import render_page
from pagesage.ports import BlobStore, EngineOutput, OcrEngine, Store
from pagesage.pricing import price_call

_DIRECT_FORMATS = (FileFormat.PNG, FileFormat.JPEG, FileFormat.TIFF)

ROTATE_THRESHOLD = 14.0
"""Least OSD orientation confidence for which a page is turned: OCRmyPDF's default
`--rotate-pages-threshold`. Below it a wrong turn costs more than leaving the page as scanned."""


def ocr_page(job: Job, page: Page, run: Run, *, store: Store, blobs: BlobStore, engine: OcrEngine, settings: Settings) -> Page:
    """OCR page `page.page_no` of `job` under `run`; store its image, result, tokens and costs.

    Returns:
        The page record, status `done`, with the page image's size (pixels), DPI, SHA-256 and key.

    Raises:
        CorruptedFile, EncryptedFile, MemoryLimit: the page cannot be decoded (`imaging`).
        EngineError: the engine failed or timed out.
    """
    warnings: list[str] = []
    with blobs.local_path(job.upload.original_key) as original, \
            tempfile.TemporaryDirectory(prefix="pagesage-page-", dir=settings.work_dir) as tmp:
        rendered = render_page(original, job.upload.file_format, page.page_no, dpi=settings.dpi,
                               max_pixels=settings.max_page_pixels)
        warnings.extend(rendered.warnings)
        image = rendered.image
        rendered_key = f"pages/{job.job_id}/{page.page_no:05d}.png"
        # a one-page image goes to the engine as uploaded (no re-encoding) unless decoding had to
        # change it (alpha flattened, 16 bits scaled, CMYK converted)
        single_image = (job.upload.file_format in _DIRECT_FORMATS and job.page_count == 1
                        and not rendered.converted)
        engine_input = original if single_image else _save_png(image, Path(tmp) / "page.png", rendered.dpi)
        image_key = job.upload.original_key if single_image else rendered_key

        detection, osd_seconds = None, 0.0
        model = job.languages  # `auto` stays `auto` for an engine that detects languages itself
        if job.languages == AUTO and engine.detects_orientation:
            detection, osd_seconds = engine.detect(engine_input, dpi=rendered.dpi)
            model = _choose_model(detection, engine, warnings)
            if _should_turn(detection, warnings):
                image = image.rotate(-detection.rotate, expand=True)
                engine_input = _save_png(image, Path(tmp) / "upright.png", rendered.dpi)
                image_key = rendered_key

        output = engine.recognize(engine_input, languages=model, dpi=rendered.dpi, psm=settings.psm)
        if image_key == job.upload.original_key:
            image_sha256 = job.upload.sha256
        else:
            blobs.put_file(image_key, engine_input, "image/png")
            with open(engine_input, "rb") as stored:
                image_sha256 = hashlib.file_digest(stored, "sha256").hexdigest()

    tokens = build_tokens(output.words, model)
    config = EngineConfig(languages=model, psm=settings.psm, oem=settings.oem, dpi=rendered.dpi)
    result = PageResult(
        run_id=run.run_id,
        job_id=job.job_id,
        source_doc_id=job.source_doc_id,
        page_no=page.page_no,
        config=config,
        detection=detection,
        lang_tag=bcp47(model),
        mean_confidence=round(sum(t.confidence for t in tokens) / len(tokens), 2) if tokens else None,
        word_count=len(tokens),
        warnings=warnings,
        engine_seconds=round(osd_seconds + output.seconds, 3),
        raw_key=_keep_raw(output, job, page, blobs),
    )
    store.put_page_result(result, tokens)
    if job.languages == AUTO and engine.detects_orientation:
        _log_cost(store, job, page, engine, "layout-detection", osd_seconds, settings)
    _log_cost(store, job, page, engine, "ocr-extraction", output.seconds, settings,
              pages=output.pages_billed, request_id=output.request_id)
    return page.model_copy(update={
        "status": PageStatus.DONE, "width": image.width, "height": image.height, "dpi": rendered.dpi,
        "sha256": image_sha256, "image_key": image_key, "quality": output.quality,
    })


def _choose_model(detection: OsdResult | None, engine: OcrEngine, warnings: list[str]) -> str:
    if detection is None:
        warnings.append("too little text for orientation and script detection; used eng")
        return "eng"
    model, note = model_for_script(detection.script, set(engine.installed_languages()))
    if note:
        warnings.append(note)
    return model


def _should_turn(detection: OsdResult | None, warnings: list[str]) -> bool:
    if detection is None or not detection.rotate:
        return False
    if detection.orientation_confidence < ROTATE_THRESHOLD:
        warnings.append(f"OSD suggests turning the page {detection.rotate} degrees, with confidence "
                        f"{detection.orientation_confidence:.1f} < {ROTATE_THRESHOLD}; left as scanned")
        return False
    warnings.append(f"page turned {detection.rotate} degrees clockwise to upright")
    return True


def _keep_raw(output: EngineOutput, job: Job, page: Page, blobs: BlobStore) -> str | None:
    """Store the engine's own output under `raw/<job_id>/<page_no>.<tsv|json>`; its key."""
    if output.raw is None:
        return None
    suffix = "json" if (output.raw_type or "").startswith("application/json") else "tsv"
    key = f"raw/{job.job_id}/{page.page_no:05d}.{suffix}"
    blobs.put_bytes(key, output.raw, output.raw_type or "application/octet-stream")
    return key


def _save_png(image, path: Path, dpi: int) -> Path:
    image.save(path, format="PNG", compress_level=1, dpi=(dpi, dpi))
    return path


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
        job_id=job.job_id, document_sha256=job.upload.sha256, page_no=page.page_no, engine=engine.name,
        operation=operation, provider=quote.provider, service=quote.service, units=quote.units, unit=quote.unit,
        unit_cost_usd=quote.unit_cost_usd, total_usd=quote.total_usd, price_version=quote.price_version,
        request_id=request_id, response_ms=int(seconds * 1000),
    ))
