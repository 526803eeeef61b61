"""Input formats and page images: magic-byte detection, page counting, rendering.

PDF pages are rendered with PDFium (pypdfium2) as anti-aliased greyscale, page by page: PDFium
is not thread-safe, so every PDFium call holds one process-wide lock, and every PDFium object is
closed explicitly under it (never left to a garbage-collection finalizer in another thread). Images are decoded with
Pillow; a multi-frame TIFF yields one page per frame, turned upright by its EXIF orientation.

A page larger than `max_pixels` (derived from the worker's memory, `domain.limits`) is refused
before it is decoded: `MemoryLimit`; a PDF page is rendered at a lower DPI that fits instead.
Errors say what is wrong in plain words; the library's own message (which may name a server
path) goes to the log.
"""

from __future__ import annotations

import io
import logging
import math
import threading
import warnings
from dataclasses import dataclass
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image, UnidentifiedImageError

from pagesage.domain.jobs import FileFormat
from pagesage.errors import CorruptedFile, EncryptedFile, InputError, MemoryLimit, UnsupportedFormat

log = logging.getLogger(__name__)

# Pillow's own decompression-bomb guard, a backstop behind `max_pixels`: refused at open.
Image.MAX_IMAGE_PIXELS = 1_000_000_000
_PDFIUM_LOCK = threading.Lock()
_MIN_VALID_DPI = 70  # below this a DPI tag is a placeholder (old-books TIFFs say 1x1)

MAX_RENDER_PIXELS = 150_000_000
"""Largest PDF page PageSage renders (A0 at 300 dpi is 139 M pixels; a 150 MP greyscale page
needs 150 MB), and less when the worker's `max_pixels` is lower. Bigger pages are rendered at
the highest DPI that fits, with a warning."""

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
    16 bits scaled, CMYK to RGB, turned by its EXIF orientation): the engine must then read
    `image`, not the file.
    """

    image: Image.Image
    dpi: int
    warnings: tuple[str, ...] = ()
    converted: bool = False


def page_sizes(path: Path, fmt: FileFormat, *, dpi: int, max_pixels: int = MAX_RENDER_PIXELS) -> list[int]:
    """Pixel area of each page at `dpi` (images: as stored; PDF pages: as rendered within
    `max_pixels`), in page order.

    Raises:
        CorruptedFile: the file cannot be opened as `fmt` or has no pages. EncryptedFile: a
            PDF that needs a password to open. MemoryLimit: an image frame over `max_pixels`.
    """
    try:
        if fmt is FileFormat.PDF:
            with _PDFIUM_LOCK:
                pdf = _open_pdf(path)
                try:
                    sizes = [_pdf_area(pdf, i, dpi, max_pixels) for i in range(len(pdf))]
                finally:
                    pdf.close()
        else:
            with _open_image(path) as im:
                sizes = []
                for frame in range(getattr(im, "n_frames", 1)):
                    im.seek(frame)
                    _check_pixels(im, frame + 1, max_pixels)
                    sizes.append(im.width * im.height)
    except (CorruptedFile, EncryptedFile, MemoryLimit):
        raise
    except (pdfium.PdfiumError, OSError, ValueError, SyntaxError, EOFError) as exc:
        log.info("cannot open %s: %r", path, exc)
        raise CorruptedFile(f"the file cannot be opened as {fmt.name}: it is damaged or truncated") from exc
    if not sizes:
        raise CorruptedFile(f"{fmt.name} file has no pages")
    return sizes


def render_page(path: Path, fmt: FileFormat, page_no: int, *, dpi: int, max_pixels: int = MAX_RENDER_PIXELS) -> PageImage:
    """Page `page_no` (1-based) as an image: PDF rendered at `dpi` (or less, to stay within
    `max_pixels`) in greyscale, whatever the resolution of the scan it holds (measured against
    reading scans at their own: docs/preprocessing.md); an image frame decoded as stored,
    turned upright by its EXIF orientation (CIPA DC-008 "Exif", tag 0x0112), and converted to
    greyscale or RGB when not in ENGINE_MODES.

    Images whose DPI tag is missing or below 70 are assumed to be at `dpi` (a warning says so).

    Raises:
        CorruptedFile: the page cannot be decoded or rendered. EncryptedFile: a PDF that needs a
            password. MemoryLimit: an image frame over `max_pixels`.
    """
    try:
        if fmt is FileFormat.PDF:
            return _render_pdf_page(path, page_no, dpi, max_pixels)
        return _decode_frame(path, page_no, dpi, max_pixels)
    except (CorruptedFile, EncryptedFile, MemoryLimit):
        raise
    except (pdfium.PdfiumError, OSError, ValueError, SyntaxError, EOFError, IndexError) as exc:
        log.info("cannot decode page %d of %s: %r", page_no, path, exc)
        raise CorruptedFile("the page cannot be decoded: the file is damaged or truncated") from exc


def format_of_file(path: Path) -> FileFormat | None:
    """`detect_format` of the file at `path` (its first `MAGIC_BYTES_NEEDED` bytes).

    Raises:
        OSError: the file cannot be read.
    """
    with path.open("rb") as handle:
        return detect_format(handle.read(MAGIC_BYTES_NEEDED))


def to_png(path: Path, *, dpi: int) -> bytes:
    """The first page of the image file at `path` as PNG bytes, with the pixels the engine reads
    (`render_page`: EXIF orientation applied, modes converted), so page coordinates keep their
    meaning. Raises `InputError` when the file is no image this module reads."""
    fmt = format_of_file(path)
    if fmt is None:
        raise InputError("not an image PageSage reads")
    page = render_page(path, fmt, 1, dpi=dpi)
    return png_bytes(page.image, dpi=page.dpi)


PAGE_PNG_LEVEL = 1
"""zlib level of the page images the pipeline writes, once per page: on a 1851 x 2621 grey book
page level 1 takes 36 ms for 372 kB where Pillow's default 6 takes 71 ms for 316 kB."""


def png_bytes(image: Image.Image, *, dpi: int, compress_level: int = 6) -> bytes:
    """`image` encoded as PNG (ISO/IEC 15948) with its resolution, `dpi` dots per inch, in the
    `pHYs` chunk, at zlib `compress_level` (0-9; 6 is Pillow's default). The one PNG encoder of
    page images: the pipeline's engine input, `to_png` and the remote engine's uploads.

    Raises:
        OSError: a Pillow mode PNG cannot hold (such as CMYK).
    """
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(dpi, dpi), compress_level=compress_level)
    return out.getvalue()


def _open_pdf(path: Path) -> pdfium.PdfDocument:
    """Open a PDF (the caller holds `_PDFIUM_LOCK`). A PDF with only an owner password (ISO
    32000-1 §7.6.3.1: permissions, no secret to read) opens; one with a user password does not.

    Raises:
        EncryptedFile: it needs a password. pdfium.PdfiumError: it cannot be opened otherwise.
    """
    try:
        return pdfium.PdfDocument(path)
    except pdfium.PdfiumError as exc:
        if getattr(exc, "err_code", None) in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise EncryptedFile("the PDF is encrypted with a password; upload it without the password") from exc
        raise


def _pdf_area(pdf: pdfium.PdfDocument, index: int, dpi: int, max_pixels: int) -> int:
    page = pdf[index]
    width_pt, height_pt = page.get_size()
    page.close()
    used = render_dpi(width_pt, height_pt, dpi, max_pixels)
    return int(width_pt * used / 72) * int(height_pt * used / 72)


def render_dpi(width_pt: float, height_pt: float, dpi: int, max_pixels: int = MAX_RENDER_PIXELS) -> int:
    """The DPI to render a page of that size (PDF points, 1/72 in) at: `dpi`, or less so that
    the page stays within MAX_RENDER_PIXELS, `max_pixels` and MAX_RENDER_SIDE."""
    fit_area = math.sqrt(min(MAX_RENDER_PIXELS, max_pixels) / max(width_pt * height_pt / 72 / 72, 1e-9))
    fit_side = MAX_RENDER_SIDE / max(width_pt / 72, height_pt / 72, 1e-9)
    return max(1, min(dpi, int(fit_area), int(fit_side)))


def _render_pdf_page(path: Path, page_no: int, dpi: int, max_pixels: int) -> PageImage:
    notes: tuple[str, ...] = ()
    with _PDFIUM_LOCK:
        pdf = _open_pdf(path)
        try:
            if not 1 <= page_no <= len(pdf):
                raise CorruptedFile(f"PDF has {len(pdf)} pages, no page {page_no}")
            page = pdf[page_no - 1]
            used = render_dpi(*page.get_size(), dpi, max_pixels)
            if used < dpi:
                notes = (f"page too large for {dpi} dpi; rendered at {used} dpi",)
            bitmap = page.render(scale=used / 72, grayscale=True)
            image = bitmap.to_pil().copy()  # own the pixels: the bitmap's buffer is freed below
            bitmap.close()
        finally:
            pdf.close()  # closes the page too, still under the lock
    return PageImage(image=image, dpi=used, warnings=notes)


def _decode_frame(path: Path, page_no: int, dpi: int, max_pixels: int) -> PageImage:
    with _open_image(path) as im:
        im.seek(page_no - 1)
        _check_pixels(im, page_no, max_pixels)
        im.load()
        notes: list[str] = []
        frame_dpi = _image_dpi(im)
        if frame_dpi is None:
            frame_dpi = dpi
            notes.append(f"image has no valid DPI tag; assumed {dpi} dpi")
        readable = im.mode in ENGINE_MODES and "transparency" not in im.info
        image = im if readable else _to_engine_mode(im)
        orientation = im.getexif().get(ORIENTATION_TAG, 1)
        upright = image.transpose(_UPRIGHT[orientation]) if orientation in _UPRIGHT else None
        if upright is not None:
            notes.append(f"turned upright by its EXIF orientation {orientation}")
            image = upright
        elif image is im:
            image = im.copy()
    return PageImage(image=image, dpi=frame_dpi, warnings=tuple(notes), converted=not readable or upright is not None)


ORIENTATION_TAG = 0x0112
"""EXIF `Orientation`: 1 upright; 2-8 mirrored and/or turned (CIPA DC-008, Exif 2.32 §4.6.4)."""

_UPRIGHT = {2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180, 4: Image.Transpose.FLIP_TOP_BOTTOM,
            5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE,
            8: Image.Transpose.ROTATE_90}
"""The transposition that makes each EXIF orientation upright (as `PIL.ImageOps.exif_transpose`)."""


def _check_pixels(im: Image.Image, page_no: int, max_pixels: int) -> None:
    """Refuse a frame whose size (read from its header, nothing decoded yet) is over
    `max_pixels`. Raises `MemoryLimit`."""
    if im.width * im.height > max_pixels:
        raise MemoryLimit(f"page {page_no} is {im.width:,} x {im.height:,} pixels ({im.width * im.height / 1e6:,.0f} "
                          f"megapixels); this server reads pages of at most {max_pixels / 1e6:,.0f} megapixels")


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
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # `_check_pixels` decides
        try:
            return Image.open(path)
        except Image.DecompressionBombError as exc:
            raise MemoryLimit("the image has more pixels than this server reads") from exc
        except UnidentifiedImageError as exc:
            log.info("cannot identify %s: %r", path, exc)
            raise CorruptedFile("the image cannot be decoded: it is damaged or not the format its first bytes claim") from exc


def images_to_pdf(images: list[Path], dest: Path, *, dpi: int, max_pixels: int) -> None:
    """Write the JPEG or PNG `images` as the pages of one PDF at `dest`, in order, each page
    sized so that rendering it at `dpi` gives back the image's own pixels. JPEG bytes are
    embedded as they are (DCTDecode, no re-encoding), PNG losslessly (img2pdf, imported here:
    only a IIIF manifest needs it, and it brings pikepdf).

    Raises:
        UnsupportedFormat: an image that is not JPEG or PNG. MemoryLimit: one over
            `max_pixels`. CorruptedFile: one that cannot be decoded, or has an alpha channel.
    """
    import img2pdf

    for n, path in enumerate(images, start=1):
        if format_of_file(path) not in (FileFormat.JPEG, FileFormat.PNG):
            raise UnsupportedFormat(f"image {n} is not JPEG or PNG")
        with _open_image(path) as im:
            _check_pixels(im, n, max_pixels)
    try:
        with dest.open("wb") as out:
            img2pdf.convert([str(p) for p in images], layout_fun=img2pdf.get_fixed_dpi_layout_fun((dpi, dpi)),
                            outputstream=out, rotation=img2pdf.Rotation.ifvalid)
    except (img2pdf.ImageOpenError, img2pdf.AlphaChannelError, OSError, ValueError) as exc:
        log.info("cannot assemble %d images into a PDF: %r", len(images), exc)
        raise CorruptedFile("an image cannot be read: it is damaged, or has an alpha channel") from exc
