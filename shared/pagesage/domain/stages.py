"""The stages a page goes through, and what each records in the run's provenance.

A page is read in six stages, in this order (docs/architecture.md, "A page through the
pipeline"): `render` (the page's pixels at a DPI), `analyse` (image quality metrics; orientation
and script detection when the engine does not do it itself), `preprocess` (only the steps the
metrics call for: turning upright, deskew, ...), `recognise` (the engine), `layout` (regions and
reading order), `store` (page image, page result, tokens, costs). Every stage runs on every
backend and engine; a stage with nothing to do records why (`skipped`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from pagesage.domain.limits import BoundedModel, LineText, OptionValue

StageName = Literal["render", "analyse", "preprocess", "recognise", "layout", "store"]
STAGES: tuple[StageName, ...] = ("render", "analyse", "preprocess", "recognise", "layout", "store")


class StageRecord(BoundedModel):
    """What one stage did to one page.

    Attributes:
        stage: which stage.
        seconds: its wall seconds (engine calls included).
        applied: the named steps it applied, in order (`deskew`, `rotate`, `osd`, ...); empty
            when it changed nothing.
        parameters: the settings and measurements its decisions rest on, by name (degrees,
            pixels, 0-1 scores), at most 50 values.
        skipped: why the stage did nothing, when it did nothing by design (e.g. the engine
            preprocesses pages itself); None otherwise.
    """

    stage: StageName
    seconds: float = Field(ge=0)
    applied: list[LineText] = Field(default_factory=list, max_length=50)
    parameters: dict[Annotated[str, Field(min_length=1, max_length=100)], OptionValue] = Field(default_factory=dict, max_length=50)
    skipped: LineText | None = Field(default=None, max_length=500)
