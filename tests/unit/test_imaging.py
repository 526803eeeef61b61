"""Format detection, page counting and page rendering on real corpus files."""

from __future__ import annotations

from pathlib import Path

import pypdfium2 as pdfium
import pytest
from PIL import Image

from pagesage.domain.jobs import FileFormat
from pagesage.errors import CorruptedFile
from pagesage.imaging import MAGIC_BYTES_NEEDED, detect_format, page_sizes, render_page

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"

C030 = "eng-oldbooks/c030.tiff"
TULASI = "san-imagessan/tulasi-8pages.tif"
PDF3 = "pdf/eng-oldbooks-c029-c031.pdf"
PDF1 = "pdf/ocrmypdf-c02-22.pdf"
PHOTOTEST = "eng-tesseract-testing/phototest.tif"
SHREELIPI = "san-imagessan/shreelipi-p001.png"
JPEG = "docai/pix2info/upside_down.jpg"


@pytest.fixture(scope="module")
def corpus() -> Path:
    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.skip("../shared/corpus is not beside the checkout")
    return CORPUS


# -- detect_format ---------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name, expected",
    [
        (C030, FileFormat.TIFF),
        (TULASI, FileFormat.TIFF),
        (PHOTOTEST, FileFormat.TIFF),
        (SHREELIPI, FileFormat.PNG),
        (PDF3, FileFormat.PDF),
        (PDF1, FileFormat.PDF),
        (JPEG, FileFormat.JPEG),
    ],
)
def test_detect_format_of_corpus_files(corpus, name, expected):
    with open(corpus / name, "rb") as f:
        head = f.read(MAGIC_BYTES_NEEDED)
    assert detect_format(head) is expected


@pytest.mark.parametrize(
    "head",
    [
        b"",
        b"\x00" * 1024,
        b"hello, this is plain text\n" * 20,
        b"GIF89a\x01\x00\x01\x00\x80\x00\x00",
        b"GIF87a" + b"\x00" * 100,
        b"BM" + b"\x00" * 100,  # BMP
        b"\xff\xd8",  # JPEG SOI without a marker
        b"\x89PNG\r\n",  # PNG signature cut short
        b"II*",  # TIFF header cut short
        b"%PDF",  # no dash
        b"<html><body>%PD F-</body></html>",
    ],
)
def test_detect_format_refuses_other_bytes(head):
    assert detect_format(head) is None


def test_pdf_with_leading_junk_is_pdf(corpus):
    pdf = (corpus / PDF1).read_bytes()
    assert detect_format(b"\r\n\x00junk" + pdf[:MAGIC_BYTES_NEEDED]) is FileFormat.PDF
    junk = b"X" * 500 + pdf
    assert detect_format(junk[:MAGIC_BYTES_NEEDED]) is FileFormat.PDF


def test_pdf_marker_beyond_first_kib_is_not_pdf():
    assert detect_format(b"X" * MAGIC_BYTES_NEEDED + b"%PDF-1.7") is None


def test_bigtiff_and_big_endian_tiff_headers():
    assert detect_format(b"MM\x00*\x00\x00\x00\x08") is FileFormat.TIFF
    assert detect_format(b"II+\x00\x08\x00\x00\x00") is FileFormat.TIFF


# -- page_sizes ------------------------------------------------------------------------------

def test_page_sizes_of_multiframe_tiff(corpus):
    sizes = page_sizes(corpus / TULASI, FileFormat.TIFF, dpi=300)
    assert len(sizes) == 8
    assert len(set(sizes)) == 8
    with Image.open(corpus / TULASI) as im:
        expected = []
        for i in range(im.n_frames):
            im.seek(i)
            expected.append(im.width * im.height)
    assert sizes == expected


def test_page_sizes_of_single_images(corpus):
    assert page_sizes(corpus / PHOTOTEST, FileFormat.TIFF, dpi=300) == [640 * 480]
    with Image.open(corpus / SHREELIPI) as im:
        assert page_sizes(corpus / SHREELIPI, FileFormat.PNG, dpi=300) == [im.width * im.height]


def test_page_sizes_of_pdf_at_300_dpi(corpus):
    sizes = page_sizes(corpus / PDF3, FileFormat.PDF, dpi=300)
    assert len(sizes) == 3
    pdf = pdfium.PdfDocument(corpus / PDF3)
    try:
        dims = [pdf[i].get_size() for i in range(len(pdf))]
    finally:
        pdf.close()
    assert sizes == [int(w * 300 / 72) * int(h * 300 / 72) for w, h in dims]
    # 336 x 496.08 pt at 300 dpi: 1400 x 2066 px (truncated per dimension)
    assert sizes[0] == 1400 * 2066


def test_page_sizes_scale_with_dpi(corpus):
    at_150 = page_sizes(corpus / PDF1, FileFormat.PDF, dpi=150)
    at_300 = page_sizes(corpus / PDF1, FileFormat.PDF, dpi=300)
    assert len(at_150) == len(at_300) == 1
    assert 3.9 < at_300[0] / at_150[0] < 4.1


@pytest.mark.parametrize("suffix, fmt", [(".pdf", FileFormat.PDF), (".png", FileFormat.PNG), (".tif", FileFormat.TIFF)])
def test_page_sizes_of_garbage_raises_corrupted(tmp_path, suffix, fmt):
    path = tmp_path / f"garbage{suffix}"
    path.write_bytes(b"this is not an image or a document\n" * 50)
    with pytest.raises(CorruptedFile):
        page_sizes(path, fmt, dpi=300)


@pytest.mark.parametrize("keep", [16, 100, 2000, None])
def test_page_sizes_of_truncated_pdf_raises_corrupted(corpus, tmp_path, keep):
    data = (corpus / PDF3).read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: keep or len(data) // 2])
    with pytest.raises(CorruptedFile):
        page_sizes(path, FileFormat.PDF, dpi=300)


@pytest.mark.parametrize("keep", [16, 40, 100])
def test_page_sizes_of_truncated_png_raises_corrupted(corpus, tmp_path, keep):
    path = tmp_path / "cut.png"
    path.write_bytes((corpus / SHREELIPI).read_bytes()[:keep])
    with pytest.raises(CorruptedFile):
        page_sizes(path, FileFormat.PNG, dpi=300)


def test_empty_file_raises_corrupted(tmp_path):
    path = tmp_path / "empty.pdf"
    path.write_bytes(b"")
    with pytest.raises(CorruptedFile):
        page_sizes(path, FileFormat.PDF, dpi=300)


# -- render_page -----------------------------------------------------------------------------

def test_render_tiff_without_valid_dpi_assumes_requested_dpi(corpus):
    page = render_page(corpus / C030, FileFormat.TIFF, 1, dpi=300)
    assert page.dpi == 300
    assert len(page.warnings) == 1
    assert "assumed 300 dpi" in page.warnings[0]
    assert page.image.mode == "1"
    with Image.open(corpus / C030) as im:
        assert page.image.size == im.size


def test_render_assumed_dpi_follows_the_argument(corpus):
    page = render_page(corpus / C030, FileFormat.TIFF, 1, dpi=400)
    assert page.dpi == 400
    assert "assumed 400 dpi" in page.warnings[0]


def test_render_image_with_valid_dpi_keeps_it(tmp_path):
    path = tmp_path / "scan.png"
    Image.new("L", (50, 40), 200).save(path, dpi=(600, 600))
    page = render_page(path, FileFormat.PNG, 1, dpi=300)
    assert page.dpi == 600
    assert page.warnings == ()
    assert page.image.size == (50, 40)


def test_render_low_dpi_tag_is_treated_as_missing(tmp_path):
    path = tmp_path / "scan.png"
    Image.new("L", (50, 40), 200).save(path, dpi=(72, 72))
    assert render_page(path, FileFormat.PNG, 1, dpi=300).dpi == 72
    Image.new("L", (50, 40), 200).save(path, dpi=(69, 69))
    page = render_page(path, FileFormat.PNG, 1, dpi=300)
    assert page.dpi == 300
    assert page.warnings


def test_render_each_tiff_frame(corpus):
    with Image.open(corpus / TULASI) as im:
        im.seek(4)
        fifth = im.size
    page = render_page(corpus / TULASI, FileFormat.TIFF, 5, dpi=300)
    assert page.image.size == fifth


def test_render_pdf_page_is_greyscale_at_dpi(corpus):
    page = render_page(corpus / PDF3, FileFormat.PDF, 2, dpi=300)
    assert page.image.mode == "L"
    assert page.dpi == 300
    assert page.warnings == ()
    pdf = pdfium.PdfDocument(corpus / PDF3)
    try:
        w_pt, h_pt = pdf[1].get_size()
    finally:
        pdf.close()
    w, h = page.image.size
    assert abs(w - w_pt * 300 / 72) <= 1
    assert abs(h - h_pt * 300 / 72) <= 1
    lo, hi = page.image.getextrema()
    assert lo < 64 and hi > 192  # real ink on paper, not a blank page


def test_render_pdf_pages_differ(corpus):
    first = render_page(corpus / PDF3, FileFormat.PDF, 1, dpi=100)
    third = render_page(corpus / PDF3, FileFormat.PDF, 3, dpi=100)
    assert first.image.tobytes() != third.image.tobytes()


@pytest.mark.parametrize("page_no", [0, 4, -1])
def test_render_pdf_page_out_of_range(corpus, page_no):
    with pytest.raises(CorruptedFile):
        render_page(corpus / PDF3, FileFormat.PDF, page_no, dpi=72)


@pytest.mark.parametrize(
    "name, fmt, page_no",
    [(PHOTOTEST, FileFormat.TIFF, 2), (TULASI, FileFormat.TIFF, 9), (TULASI, FileFormat.TIFF, 0),
     (SHREELIPI, FileFormat.PNG, 2), (JPEG, FileFormat.JPEG, 2), (JPEG, FileFormat.JPEG, 0)],
)
def test_render_image_frame_out_of_range(corpus, name, fmt, page_no):
    with pytest.raises(CorruptedFile):
        render_page(corpus / name, fmt, page_no, dpi=300)


def test_render_jpeg(corpus):
    page = render_page(corpus / JPEG, FileFormat.JPEG, 1, dpi=300)
    with Image.open(corpus / JPEG) as im:
        assert page.image.size == im.size
    assert page.image.mode in ("L", "RGB")


def test_render_half_png_raises_corrupted(corpus, tmp_path):
    data = (corpus / SHREELIPI).read_bytes()
    path = tmp_path / "half.png"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(CorruptedFile):
        render_page(path, FileFormat.PNG, 1, dpi=300)


def test_render_garbage_pdf_raises_corrupted(tmp_path):
    path = tmp_path / "bad.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"\x00garbage" * 100)
    with pytest.raises(CorruptedFile):
        render_page(path, FileFormat.PDF, 1, dpi=300)


def test_render_keeps_palette_and_flattens_alpha_onto_white(tmp_path):
    path = tmp_path / "p.png"
    Image.new("P", (10, 10), 3).save(path)
    page = render_page(path, FileFormat.PNG, 1, dpi=300)
    assert page.image.mode == "P" and not page.converted
    Image.new("RGBA", (10, 10), (10, 20, 30, 255)).save(path)
    page = render_page(path, FileFormat.PNG, 1, dpi=300)
    assert page.image.mode == "RGB" and page.converted
    assert page.image.getpixel((0, 0)) == (10, 20, 30)
    clear = Image.new("RGBA", (10, 10), (0, 0, 0, 0))  # transparent "black": paper must stay white
    clear.putpixel((1, 1), (0, 0, 0, 255))
    clear.save(path)
    page = render_page(path, FileFormat.PNG, 1, dpi=300)
    assert page.image.getpixel((0, 0)) == (255, 255, 255) and page.image.getpixel((1, 1)) == (0, 0, 0)


def test_render_16_bit_greyscale_keeps_its_tones(tmp_path):
    path = tmp_path / "grey16.png"
    ramp = Image.new("I;16", (256, 1))
    ramp.putdata([v * 257 for v in range(256)])  # 0, 257, ..., 65535
    ramp.save(path)
    page = render_page(path, FileFormat.PNG, 1, dpi=300)
    assert page.image.mode == "L" and page.converted
    assert page.image.getpixel((0, 0)) == 0
    assert abs(page.image.getpixel((128, 0)) - 128) <= 1
    assert page.image.getpixel((255, 0)) == 255


def test_huge_pdf_pages_render_at_a_dpi_that_fits(tmp_path):
    import pypdfium2 as pdfium

    from pagesage.imaging import MAX_RENDER_PIXELS, MAX_RENDER_SIDE, render_dpi

    assert render_dpi(612, 792, 300) == 300  # US Letter renders as asked
    width_pt = height_pt = 14_400  # 200 x 200 inches, the largest page PDF allows
    dpi = render_dpi(width_pt, height_pt, 300)
    assert dpi < 300 and (width_pt * dpi / 72) * (height_pt * dpi / 72) <= MAX_RENDER_PIXELS
    assert render_dpi(14_400, 100, 300) * 14_400 / 72 <= MAX_RENDER_SIDE

    pdf = pdfium.PdfDocument.new()
    pdf.new_page(width_pt, height_pt)
    path = tmp_path / "poster.pdf"
    pdf.save(path)
    page = render_page(path, FileFormat.PDF, 1, dpi=300)
    assert page.dpi == dpi and page.image.width * page.image.height <= MAX_RENDER_PIXELS * 1.01
    assert page.warnings and "rendered at" in page.warnings[0]
