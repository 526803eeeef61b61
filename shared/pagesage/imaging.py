"""Input formats and page images: magic-byte detection, page counting, rendering.

PDF pages are rendered with PDFium (pypdfium2) as anti-aliased greyscale, page by page: PDFium
is not thread-safe, so every PDFium call holds one process-wide lock, and every PDFium object is
closed explicitly under it (never left to a garbage-collection finalizer in another thread). Images are decoded with
Pillow; a multi-frame TIFF yields one page per frame.
"""

from __future__ import annotations

import math
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
from PIL import Image, UnidentifiedImageError

from pagesage.domain.jobs import FileFormat
from pagesage.errors import CorruptedFile

Image.MAX_IMAGE_PIXELS = 400_000_000  # ~A0 at 600 dpi; larger is refused as corrupt/hostile
_PDFIUM_LOCK = threading.Lock()
_MIN_VALID_DPI = 70  # below this a DPI tag is a placeholder (old-books TIFFs say 1x1)

MAX_RENDER_PIXELS = 150_000_000
"""Largest PDF page PageSage renders (A0 at 300 dpi is 139 M pixels; a 150 MP greyscale page
needs 150 MB). Bigger pages are rendered at the highest DPI that fits, with a warning."""

MAX_RENDER_SIDE = 30_000
"""Longest side rendered, in pixels (Tesseract/Leptonica refuse sides over 32,767)."""

ENGINE_MODES = ("1", "L", "RGB", "P")
"""Pillow modes Tesseract (Leptonica) reads as they are: 1-bit, grey, RGB, opaque palette."""

MAGIC_BYTES_NEEDED = 1024
"""How many leading bytes `detect_format` looks at (PDF headers may sit within the first KiB)."""


def detect_format(head: bytes) -> FileFormat | None:
    """The format of a file from its first bytes, or None when unsupported.

    Signatures: JPEG `FF D8 FF`; PNG `89 50 4E 47 0D 0A 1A 0A`; TIFF `II*\\0`/`MM\\0*` (and
    BigTIFF `II+\\0`/`MM\\0+`); PDF `%PDF-` within the first 1024 bytes (ISO 32000-1 §7.5.2,
    Annex H.3 tolerance for leading garbage).
    """
    if head.startswith(b"\xff\xd8\xff"):
        return FileFormat.JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return FileFormat.PNG
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return FileFormat.TIFF
    if b"%PDF-" in head[:MAGIC_BYTES_NEEDED]:
        return FileFormat.PDF
    return None


@dataclass(frozen=True)
class PageImage:
    """A rendered page: a Pillow image, the DPI it is at, and notes on how it was obtained.

    `converted` is True when the pixels had to be changed from the file's (alpha flattened,
    16 bits scaled, CMYK to RGB): the engine must then read `image`, not the file.
    """

    image: Image.Image
    dpi: int
    warnings: tuple[str, ...] = ()
    converted: bool = False


def page_sizes(path: Path, fmt: FileFormat, *, dpi: int) -> list[int]:
    """Pixel area of each page at `dpi` (images: as stored), in page order.

    Raises:
        CorruptedFile: the file cannot be opened as `fmt` or has no pages.
    """
    try:
        if fmt is FileFormat.PDF:
            with _PDFIUM_LOCK:
                pdf = pdfium.PdfDocument(path)
                try:
                    sizes = [_pdf_area(pdf, i, dpi) for i in range(len(pdf))]
                finally:
                    pdf.close()
        else:
            with _open_image(path) as im:
                sizes = []
                for frame in range(getattr(im, "n_frames", 1)):
                    im.seek(frame)
                    sizes.append(im.width * im.height)
    except CorruptedFile:
        raise
    except (pdfium.PdfiumError, OSError, ValueError, SyntaxError, EOFError) as exc:
        raise CorruptedFile(f"cannot open {fmt.name} file: {exc}") from exc
    if not sizes:
        raise CorruptedFile(f"{fmt.name} file has no pages")
    return sizes


def render_page(path: Path, fmt: FileFormat, page_no: int, *, dpi: int) -> PageImage:
    """Page `page_no` (1-based) as an image: PDF rendered at `dpi` in greyscale; an image frame
    decoded as stored, or converted to greyscale or RGB when not in ENGINE_MODES.

    Images whose DPI tag is missing or below 70 are assumed to be at `dpi` (a warning says so).

    Raises:
        CorruptedFile: the page cannot be decoded or rendered.
    """
    try:
        if fmt is FileFormat.PDF:
            return _render_pdf_page(path, page_no, dpi)
        return _decode_frame(path, page_no, dpi)
    except CorruptedFile:
        raise
    except (pdfium.PdfiumError, OSError, ValueError, SyntaxError, EOFError, IndexError) as exc:
        raise CorruptedFile(f"page {page_no} cannot be decoded: {exc}") from exc


def _pdf_area(pdf: pdfium.PdfDocument, index: int, dpi: int) -> int:
    page = pdf[index]
    width_pt, height_pt = page.get_size()
    page.close()
    used = render_dpi(width_pt, height_pt, dpi)
    return int(width_pt * used / 72) * int(height_pt * used / 72)


def render_dpi(width_pt: float, height_pt: float, dpi: int) -> int:
    """The DPI to render a page of that size (PDF points, 1/72 in) at: `dpi`, or less so that
    the page stays within MAX_RENDER_PIXELS and MAX_RENDER_SIDE."""
    fit_area = math.sqrt(MAX_RENDER_PIXELS / max(width_pt * height_pt / 72 / 72, 1e-9))
    fit_side = MAX_RENDER_SIDE / max(width_pt / 72, height_pt / 72, 1e-9)
    return max(1, min(dpi, int(fit_area), int(fit_side)))


def _render_pdf_page(path: Path, page_no: int, dpi: int) -> PageImage:
    notes: tuple[str, ...] = ()
    with _PDFIUM_LOCK:
        pdf = pdfium.PdfDocument(path)
        try:
            if not 1 <= page_no <= len(pdf):
                raise CorruptedFile(f"PDF has {len(pdf)} pages, no page {page_no}")
            page = pdf[page_no - 1]
            used = render_dpi(*page.get_size(), dpi)
            if used < dpi:
                notes = (f"page too large for {dpi} dpi; rendered at {used} dpi",)
            bitmap = page.render(scale=used / 72, grayscale=True)
            image = bitmap.to_pil().copy()  # own the pixels: the bitmap's buffer is freed below
            bitmap.close()
        finally:
            pdf.close()  # closes the page too, still under the lock
    return PageImage(image=image, dpi=used, warnings=notes)


def _decode_frame(path: Path, page_no: int, dpi: int) -> PageImage:
    with _open_image(path) as im:
        im.seek(page_no - 1)
        im.load()
        notes: list[str] = []
        frame_dpi = _image_dpi(im)
        if frame_dpi is None:
            frame_dpi = dpi
            notes.append(f"image has no valid DPI tag; assumed {dpi} dpi")
        readable = im.mode in ENGINE_MODES and "transparency" not in im.info
        image = (im if readable else _to_engine_mode(im)).copy()
    return PageImage(image=image, dpi=frame_dpi, warnings=tuple(notes), converted=not readable)


def _to_engine_mode(im: Image.Image) -> Image.Image:
    """16-bit grey is scaled to 8 bits (not clipped); an alpha
    channel (or a transparent palette colour) is flattened onto white paper; other modes
    (palette, CMYK, YCbCr) become RGB."""
    if im.mode.startswith("I"):
        return im.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    if im.mode == "F":
        return im.convert("L")
    if im.mode in ("LA", "RGBA", "PA", "La", "RGBa") or "transparency" in im.info:
        rgba = im.convert("RGBA")
        paper = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(paper, rgba).convert("L" if im.mode in ("LA", "La") else "RGB")
    return im.convert("RGB")


def _image_dpi(im: Image.Image) -> int | None:
    raw = im.info.get("dpi")
    if not raw:
        return None
    try:
        value = int(round(float(raw[0])))
    except (TypeError, ValueError, IndexError):
        return None
    return value if value >= _MIN_VALID_DPI else None


def _open_image(path: Path) -> Image.Image:
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            return Image.open(path)
        except (UnidentifiedImageError, Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
            raise CorruptedFile(f"cannot decode image: {exc}") from exc
