"""Bounds of every number and text PageSage accepts and stores, and of the pages it decodes.

Each bound is far beyond any real scan and well inside what both stores hold (SQLite and
Firestore integers are 64-bit; a Firestore document holds at most 1 MiB), so a value that
passes is one both can write and read back. The bounds, in one place (docs/limits.md):

| what | bound |
|---|---|
| a pixel coordinate or size (`x`, `y`, `w`, `h`, page `width`/`height`) | 0 .. 1,000,000 px (a 42 m scroll at 600 dpi) |
| an ordinal or count (`token_no`, `block`, `par`, `line`, `page_no`, counters) | 0 .. 10,000,000 |
| a resolution | 1 .. 10,000 dpi |
| a number in free-form options and metadata | finite (no NaN or Infinity: they are not JSON, RFC 8259 §6) |
| a text value in options and metadata | 10,000 code points |
| a source document's `metadata` | 50 keys, 64 KiB of JSON |
| an engine config's `options` | 50 keys, 4 KiB of JSON (the config is copied into each of a run's page results) |
| a run's `log` | 1,000 lines, 64 KiB of JSON |

A page's pixels are bounded by memory instead: `max_page_pixels`.
"""

from __future__ import annotations

import json
import math
import unicodedata
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PlainValidator, WithJsonSchema

MAX_COORDINATE = 1_000_000
"""Largest pixel coordinate or size."""

MAX_ORDINAL = 10_000_000
"""Largest ordinal or count (token, block, paragraph, line, page numbers)."""

MAX_DPI = 10_000
"""Largest resolution, dots per inch."""

MAX_EXACT_INTEGER = 2**53
"""Largest integer magnitude JSON numbers carry exactly everywhere (RFC 8259 §6)."""

MAX_OPTION_TEXT = 10_000
"""Longest text value in free-form options and metadata, code points."""

MAX_METADATA_BYTES = 64 * 1024
"""Largest `metadata` of a source document, bytes of its JSON."""

MAX_OPTIONS_BYTES = 4 * 1024
"""Largest `options` of an engine config, bytes of its JSON: every page result of a run holds a
copy, so a 10,000-page run stores it 10,000 times."""

MAX_LOG_BYTES = 64 * 1024
"""Largest `log` of a run, bytes of its JSON."""

MAX_REGIONS = 2_000
"""Most layout regions of one page result (about 110 bytes of JSON each, well inside a Firestore
document's 1 MiB); `domain.layout` merges the rest of a page of specks read as thousands of
blocks into its last region."""

Pixels = Annotated[int, Field(ge=0, le=MAX_COORDINATE)]
"""A pixel coordinate or size."""

PositivePixels = Annotated[int, Field(ge=1, le=MAX_COORDINATE)]
"""A pixel size that cannot be 0 (a page's width or height)."""

Ordinal = Annotated[int, Field(ge=0, le=MAX_ORDINAL)]
"""A 0-based ordinal or a count."""

Area = Annotated[int, Field(ge=0, le=MAX_COORDINATE**2)]
"""A pixel area (a page's, estimated before rendering)."""

PageNo = Annotated[int, Field(ge=1, le=MAX_ORDINAL)]
"""A 1-based page number."""

Dpi = Annotated[int, Field(ge=1, le=MAX_DPI)]
"""A resolution in dots per inch."""

OptionText = Annotated[str, Field(max_length=MAX_OPTION_TEXT)]
"""A text value of options or metadata."""



class BoundedModel(BaseModel):
    """Base of PageSage's models: floats must be finite (NaN and Infinity are not JSON, RFC 8259
    §6, so a record holding one could be written but not read back)."""

    model_config = ConfigDict(allow_inf_nan=False)


def _option_value(value: Any) -> str | int | float | bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if abs(value) > MAX_EXACT_INTEGER:
            raise ValueError(f"an integer must be within ±2^53 ({MAX_EXACT_INTEGER:,})")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError("a number must be finite (NaN and Infinity are not JSON)")
        return value
    if isinstance(value, str):
        if len(value) > MAX_OPTION_TEXT:
            raise ValueError(f"a text value holds at most {MAX_OPTION_TEXT:,} characters")
        return value
    raise ValueError("must be text, a boolean, an integer within ±2^53 or a finite number")


OptionValue = Annotated[Any, PlainValidator(_option_value), WithJsonSchema(
    {"type": ["string", "integer", "number", "boolean"], "description": "text (at most 10,000 characters), a boolean, "
     "an integer within ±2^53 or a finite number"})]
"""A value of free-form options or metadata: text, a boolean, an integer JSON numbers carry
exactly (|n| <= 2^53, RFC 8259 §6) or a finite number."""

MetadataValue = Annotated[Any, PlainValidator(lambda v: v if v is None else _option_value(v)), WithJsonSchema(
    {"type": ["string", "integer", "number", "boolean", "null"], "description": "text (at most 10,000 characters), "
     "a boolean, an integer within ±2^53, a finite number or null"})]
"""A value of a source document's metadata: an `OptionValue` or null."""


def _small_metadata(value: dict[str, Any]) -> dict[str, Any]:
    if any(len(k) > 100 or not k for k in value):
        raise ValueError("metadata keys have 1-100 characters")
    return small_json(value, max_bytes=MAX_METADATA_BYTES)


Metadata = Annotated[dict[str, MetadataValue], Field(max_length=50), AfterValidator(_small_metadata)]
"""A source document's metadata: at most 50 keys of 1-100 characters, 64 KiB of JSON."""


def _small_log(value: list[str]) -> list[str]:
    return small_json(value, max_bytes=MAX_LOG_BYTES)


RunLog = Annotated[list[Annotated[str, Field(max_length=MAX_OPTION_TEXT)]], Field(max_length=1000), AfterValidator(_small_log)]
"""A run's log: at most 1,000 lines of 10,000 characters, 64 KiB of JSON in all."""


def small_json(value: Any, *, max_bytes: int) -> Any:
    """`value` unchanged when its JSON takes at most `max_bytes` bytes (UTF-8).

    Raises:
        ValueError: saying its size and the limit (the field's path says whose).
    """
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode())
    if size > max_bytes:
        raise ValueError(f"takes {size:,} bytes of JSON; at most {max_bytes:,} are allowed")
    return value


# -- text ------------------------------------------------------------------------------------

_KEPT_FORMAT = {"\u200c", "\u200d"}
"""Format characters (Unicode category Cf) that text keeps: ZWNJ and ZWJ, which select
conjunct forms in Devanagari and other Indic scripts (The Unicode Standard, ch. 12.2)."""


def is_unsafe_char(char: str, *, newlines: bool = False) -> bool:
    """True for a character text must not carry: controls (Cc: NUL, form feed, ESC, ... ; line
    feed and tab only where `newlines`), format characters (Cf: bidirectional overrides and
    isolates such as U+202E, which reorder what a reader sees, Unicode Standard Annex #9) except
    ZWNJ/ZWJ, surrogates, private-use and unassigned code points, and the line and paragraph
    separators U+2028/U+2029."""
    if newlines and char in "\n\t":
        return False
    category = unicodedata.category(char)
    if category == "Cf":
        return char not in _KEPT_FORMAT
    return category in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp")


def checked_text(value: str, *, newlines: bool = False) -> str:
    """`value` unchanged when no character of it `is_unsafe_char`.

    Every unsafe character is one `str.isprintable` refuses (those categories, and Zs), so text
    that is printable once the kept characters are set aside needs no scan one by one.

    Raises:
        ValueError: naming the first unsafe character's code point.
    """
    if value.isprintable():
        return value
    kept = value.replace("\u200c", "").replace("\u200d", "")
    if (kept.replace("\n", "").replace("\t", "") if newlines else kept).isprintable():
        return value
    bad = next((c for c in value if is_unsafe_char(c, newlines=newlines)), None)
    if bad is not None:
        raise ValueError(f"must not contain the control or format character U+{ord(bad):04X}")
    return value


def _clean_line(value: str) -> str:
    return checked_text(value)


def _clean_text(value: str) -> str:
    return checked_text(value, newlines=True)


LineText = Annotated[str, AfterValidator(_clean_line)]
"""Text of one line (a word, a title, a name): no character `is_unsafe_char` refuses."""

MultilineText = Annotated[str, AfterValidator(_clean_text)]
"""Text that may hold line feeds and tabs (a reviewed page, a note), and nothing else unsafe."""


# -- memory ----------------------------------------------------------------------------------

BYTES_PER_PIXEL = 24
"""Peak memory one page costs per pixel while it is read: Pillow's decoded frame and its copy
(up to 6 bytes a pixel for RGB) held while Tesseract runs on it, and Tesseract's own images
(11.5 bytes a pixel for an RGB page, 4.7 for greyscale: peak RSS of `tesseract` on 36-megapixel
pages, `/usr/bin/time -f %M`), rounded up."""

MEMORY_SHARE = 0.5
"""Part of a worker's share of memory one page may take: the rest is the process itself
(models, libraries, the other requests)."""


def max_page_pixels(memory_bytes: int, workers: int) -> int:
    """Most pixels of one page a worker decodes and recognises: its share of `memory_bytes`
    (the memory all `workers` share, bytes) times `MEMORY_SHARE`, over `BYTES_PER_PIXEL`.

    24 GiB and 2 workers allow 268 megapixels a page; a 2 GiB Cloud Run instance with one
    worker 44 megapixels (an A4 page at 600 dpi in colour is 35). Larger pages fail with
    `memory_limit` before they are decoded; PDF pages are rendered at a lower DPI that fits.
    """
    return int(memory_bytes / max(1, workers) * MEMORY_SHARE / BYTES_PER_PIXEL)
