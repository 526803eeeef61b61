"""The stages that read one page: render -> analyse -> preprocess -> recognise -> layout.

One `PageContext` is passed through them, as OCRmyPDF's pipeline passes its page context
through its steps; each stage returns what it did (`Done`) and `read_page` times it into a
`StageRecord` (`domain.stages`). The sixth stage, `store`, is the use case's
(`services.ocr_page`); `services.evaluate` runs these five alone to score configurations.
docs/architecture.md, "A page through the pipeline", says what each stage does and why.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from PIL import Image

from pagesage import page_analysis
from pagesage import preprocessing as operations
from pagesage.config import Settings
from pagesage.domain import preprocessing
from pagesage.domain.jobs import FileFormat
from pagesage.domain.languages import AUTO, model_for_script
from pagesage.domain.layout import in_reading_order
from pagesage.domain.pages import LayoutRegion, OsdResult, QualityMetrics, Token
from pagesage.domain.stages import StageName, StageRecord
from pagesage.domain.tokens import build_tokens
from pagesage.imaging import PAGE_PNG_LEVEL, png_bytes, render_page
from pagesage.page_analysis import PageAnalysis
from pagesage.ports import EngineOutput, OcrEngine

_DIRECT_FORMATS = (FileFormat.PNG, FileFormat.JPEG, FileFormat.TIFF)


@dataclass
class PageContext:
    """One page on its way through the stages.

    Set by the caller: `source` (local path of the document), `file_format`, `page_no`
    (1-based), `page_count`, `languages` (the job's spec, `auto` included), `settings`, `work`
    (a private temporary folder). Each stage fills in the rest: `image` and `dpi` (render; the
    pixels the engine reads, changed by preprocess; recognise lets them go as it hands them to
    the engine and keeps their `size`, width x height in pixels), `analysis` and `detection`
    (analyse), `model` (the spec recognition runs with), `engine_input` (the PNG of the current
    pixels, None until written and again after they change) and `output` (recognise), `tokens`
    and `regions` (layout: the tokens numbered in reading order), and appends to `warnings`,
    `preprocessing_applied` and `stages`.
    """

    source: Path
    file_format: FileFormat
    page_no: int
    page_count: int
    languages: str
    settings: Settings
    work: Path
    image: Image.Image | None = None
    size: tuple[int, int] = (0, 0)
    dpi: int = 0
    pixels_changed: bool = False
    analysis: PageAnalysis | None = None
    detection: OsdResult | None = None
    osd_seconds: float = 0.0
    model: str = ""
    engine_input: Path | None = None
    output: EngineOutput | None = None
    tokens: list[Token] = field(default_factory=list)
    regions: list[LayoutRegion] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    preprocessing_applied: list[str] = field(default_factory=list)
    stages: list[StageRecord] = field(default_factory=list)

    @property
    def reads_original(self) -> bool:
        """True when the engine reads the uploaded file itself: a one-page image document whose
        pixels no stage changed (no re-encoding)."""
        return self.file_format in _DIRECT_FORMATS and self.page_count == 1 and not self.pixels_changed

    def quality(self, engine_quality: QualityMetrics | None = None) -> QualityMetrics | None:
        """The page's quality metrics: the analysis's, with the engine's own score and defects
        when it measures them (Document AI's `imageQualityScores`)."""
        if self.analysis is None:
            return engine_quality
        return self.analysis.metrics().combined_with(engine_quality)


@dataclass(frozen=True)
class Done:
    """What a stage did: `applied` steps in order, the `parameters` its decisions rest on, or
    why it did nothing by design (`skipped`)."""

    applied: tuple[str, ...] = ()
    parameters: dict[str, object] = field(default_factory=dict)
    skipped: str | None = None


def read_page(context: PageContext, engine: OcrEngine) -> PageContext:
    """Run render, analyse, preprocess, recognise and layout on `context`, recording each.

    Raises:
        CorruptedFile, EncryptedFile, MemoryLimit: the page cannot be decoded (`imaging`).
        EngineError: the engine failed or timed out.
    """
    for name, stage in STAGES:
        started = time.perf_counter()
        done = stage(context, engine)
        context.stages.append(StageRecord(stage=name, seconds=round(time.perf_counter() - started, 4),
                                          applied=list(done.applied), parameters=done.parameters, skipped=done.skipped))
    return context


def render(context: PageContext, engine: OcrEngine) -> Done:
    """The page's pixels: PDF pages rendered at the configured DPI, image frames decoded."""
    settings = context.settings
    rendered = render_page(context.source, context.file_format, context.page_no, dpi=settings.dpi,
                           max_pixels=settings.max_page_pixels)
    context.image, context.dpi = rendered.image, rendered.dpi
    context.pixels_changed = rendered.converted
    context.warnings.extend(rendered.warnings)
    return Done(parameters={"dpi": rendered.dpi, "width": rendered.image.width, "height": rendered.image.height,
                            "mode": rendered.image.mode})


def analyse(context: PageContext, engine: OcrEngine) -> Done:
    """With `auto` and an engine that leaves it to PageSage, orientation and script detection
    (Tesseract OSD, on a bilevel copy of the page), which picks the model; then image quality
    metrics (`page_analysis`) of the page as it will be turned upright."""
    applied = []
    context.model = context.languages  # `auto` stays `auto` for an engine that detects languages itself
    if context.languages == AUTO and engine.detects_orientation:
        context.detection, context.osd_seconds = engine.detect(_osd_image(context), dpi=context.dpi)
        context.model = _choose_model(context.detection, engine, context.warnings)
        applied.append("osd")
    turn = preprocessing.upright_turn(context.detection)
    upright = context.image.rotate(-turn, expand=True) if turn else context.image
    context.analysis = page_analysis.analyse(upright, dpi=context.dpi)
    applied.append("quality-metrics")
    parameters = context.analysis.parameters()
    if context.detection is not None:
        parameters.update({"osdRotate": context.detection.rotate, "script": context.detection.script,
                           "orientationConfidence": round(context.detection.orientation_confidence, 2)})
    return Done(applied=tuple(applied), parameters=parameters)


def preprocess(context: PageContext, engine: OcrEngine) -> Done:
    """The steps `domain.preprocessing.plan` chooses for this page from its analysis and OSD,
    applied in order (`pagesage.preprocessing`); nothing for an engine that preprocesses pages
    itself (Document AI deskews and turns pages on its side)."""
    if not engine.detects_orientation:
        return Done(skipped=f"{engine.name} turns and deskews pages itself")
    steps = preprocessing.plan(detection=context.detection, skew_angle=context.analysis.skew_angle)
    context.warnings.extend(step.note for step in steps if step.note)
    for step in steps:
        if step.apply:
            context.image = operations.apply(step, context.image)
            context.engine_input = None
            context.pixels_changed = True
            context.preprocessing_applied.append(step.name)
    return Done(applied=tuple(context.preprocessing_applied),
                parameters={step.name: step.value for step in steps if step.value is not None})


def recognise(context: PageContext, engine: OcrEngine) -> Done:
    """The engine's words for the page as preprocessed (the pixels let go as the engine reads them)."""
    path = _engine_file(context)
    context.size, context.image = context.image.size, None
    context.output = engine.recognize(path, languages=context.model, dpi=context.dpi, psm=context.settings.psm)
    return Done(applied=(engine.name,), parameters={"languages": context.model, "psm": context.settings.psm,
                                                    "engineSeconds": round(context.output.seconds, 4)})


def layout(context: PageContext, engine: OcrEngine) -> Done:
    """The engine's words as tokens (`domain.tokens`), cut into regions and renumbered in
    reading order (`domain.layout`: furniture out of the engine's blocks, the body's blocks in
    XY-cut order), so every format that follows the tokens' numbering reads in that order."""
    tokens = build_tokens(context.output.words, context.model)
    context.tokens, context.regions = in_reading_order(tokens, context.size[1])
    counts = Counter(region.region_type.value for region in context.regions)
    moved = sum(1 for before, after in zip(tokens, context.tokens) if before.text != after.text or before.bbox != after.bbox)
    return Done(applied=("reading-order",) if moved else (),
                parameters={"engineBlocks": len({t.block for t in tokens}), "lines": len({t.line for t in tokens}),
                            "words": len(tokens), "wordsMoved": moved, **dict(sorted(counts.items()))})


STAGES: tuple[tuple[StageName, Callable[[PageContext, OcrEngine], Done]], ...] = (
    ("render", render), ("analyse", analyse), ("preprocess", preprocess), ("recognise", recognise), ("layout", layout),
)


def _engine_file(context: PageContext) -> Path:
    """The file the engine reads: the upload itself while `reads_original`, else the current
    pixels as a PNG in the work folder (written once per change of the pixels)."""
    if context.reads_original:
        return context.source
    if context.engine_input is None:
        context.engine_input = context.work / "page.png"
        context.engine_input.write_bytes(png_bytes(context.image, dpi=context.dpi, compress_level=PAGE_PNG_LEVEL))
    return context.engine_input


def _osd_image(context: PageContext) -> Image.Image:
    """The pixels orientation and script detection reads: the page binarised as Tesseract would
    binarise it (`preprocessing.binarised`), or the page itself when it is 1-bit already. OSD
    works on the binary image either way; handed it, Tesseract neither copies nor thresholds
    the grey page for it. Handed over as pixels: the copy is never stored, so no file is
    written for it."""
    return operations.binarised(context.image)


def _choose_model(detection: OsdResult | None, engine: OcrEngine, warnings: list[str]) -> str:
    model, note = model_for_script(detection.script if detection else None, set(engine.installed_languages()))
    if note:
        warnings.append(note)
    return model
