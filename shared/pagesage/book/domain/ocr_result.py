"""What an OCR engine read in one bounding box: the text, its confidence, and (optionally) each
word with its position.

Confidences are 0-1 (an engine's 0-100 is divided by 100 before it is stored here); word
positions are integer pixels relative to the top-left corner of the box the text was read in
(not of the page); `processingTime` is milliseconds; `extractedAt` aware UTC.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import AwareDatetime, Field

from pagesage.book.domain.model import MAX_BOX_TEXT, SCHEMA_VERSION, BookModel, Confidence, Id, Language
from pagesage.domain.jobs import utcnow
from pagesage.domain.limits import MAX_EXACT_INTEGER, LineText, MultilineText, Pixels, PositivePixels

MAX_WORDS = 20_000
"""Most words of one result (a dense page holds ~1,000)."""


class WordBox(BookModel):
    """A word's rectangle in integer pixels, relative to the top-left corner of its box."""

    x: Pixels
    y: Pixels
    width: PositivePixels
    height: PositivePixels


class OcrWord(BookModel):
    """One word as the engine read it: its text, confidence 0-1, rectangle within the box, and
    language where it differs in mixed text."""

    text: LineText = Field(min_length=1, max_length=1000)
    confidence: Confidence
    bounding_box: WordBox
    language: Language | None = None


class OcrResult(BookModel):
    """One engine's reading of one box of one page.

    `engine` names the engine ("google-document-ai", "tesseract"); `script` the writing system
    ("Devanagari", "Latin"); `processingTime` the call's duration, milliseconds; `apiRequestId`
    the provider's request id where it gives one.
    """

    result_id: Id
    page_id: Id
    box_id: Id
    text: MultilineText = Field(max_length=MAX_BOX_TEXT)
    confidence: Confidence
    words: list[OcrWord] | None = Field(default=None, max_length=MAX_WORDS)
    engine: LineText = Field(min_length=1, max_length=100)
    language: Language
    script: LineText = Field(min_length=1, max_length=50)
    processing_time: Annotated[int, Field(ge=0, le=MAX_EXACT_INTEGER)] = Field(
        description="How long the engine took, milliseconds.")
    api_request_id: LineText | None = Field(default=None, max_length=500)
    extracted_at: AwareDatetime = Field(default_factory=utcnow)
    schema_version: str = SCHEMA_VERSION
