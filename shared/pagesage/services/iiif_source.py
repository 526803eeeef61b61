"""Use case: a fetched IIIF Presentation manifest becomes one document whose pages are its canvases
(docs/remote-sources.md).

Each canvas's image service is asked for its `info.json` and then for the image at OCR
resolution (`domain.iiif.image_request`: 300 dpi when the physical size is known, else the full
size, within the service's and this worker's limits); a canvas painted by a fixed image (no
service) is read as it is. Every request goes through the same fetcher, under the same fetch
policy and size limit, as the manifest. The images are kept together as one PDF, in canvas
order, so the pipeline reads them as any PDF; the pages carry the canvas labels and ids.
"""

from __future__ import annotations

import dataclasses
import io
import json
from pathlib import Path

from pagesage.config import Settings
from pagesage.domain.iiif import Canvas, Manifest, image_request, is_manifest, parse_info, parse_manifest
from pagesage.domain.pages import CanvasRef, Page
from pagesage.errors import UnsupportedFormat
from pagesage.imaging import images_to_pdf
from pagesage.ports import SourceFetcher

INFO_BYTES = 1024 * 1024
"""Largest `info.json` read, bytes (a real one is a few KiB, a long `tiles`/`sizes` list tens)."""

JSON_LEAD = (b"{", b"\xef\xbb\xbf{")
"""How a JSON object's bytes may begin (after white space): `{`, or a UTF-8 byte order mark
then `{` (RFC 8259 §8.1 lets a parser accept it)."""


@dataclasses.dataclass(frozen=True)
class ManifestDocument:
    """A manifest read into one PDF: the `manifest`, and the `pdf` whose page n is its canvas n."""

    manifest: Manifest
    pdf: Path

    def pages(self, source_doc_id: str, job_id: str) -> list[Page]:
        """The page records of the PDF, pending, each with its canvas's label and id (a canvas
        without an id gets no `canvas`)."""
        return [Page(source_doc_id=source_doc_id, job_id=job_id, page_no=n, label=c.label,
                     canvas=CanvasRef(id=c.id, width=c.width, height=c.height) if c.id else None)
                for n, c in enumerate(self.manifest.canvases, start=1)]


def manifest_of(path: Path) -> dict | None:
    """The JSON object at `path` when it is a IIIF Presentation manifest, else None (bytes that
    are not JSON, or JSON of another kind)."""
    with path.open("rb") as handle:
        if not handle.read(64).lstrip().startswith(JSON_LEAD):
            return None
    try:
        document = json.loads(path.read_bytes().decode("utf-8-sig"))
    except (UnicodeDecodeError, ValueError):
        return None
    return document if is_manifest(document) else None


def read_manifest(document: dict, *, sources: SourceFetcher, settings: Settings, work: Path) -> ManifestDocument:
    """Fetch every canvas's image of the manifest `document` into `work` and join them into
    `work/document.pdf`.

    Raises:
        UnsupportedFormat (`invalid_format`): not a manifest of image canvases, more canvases
            than `settings.max_pages`, an `info.json` that is not one, an image not JPEG/PNG.
        UrlNotAllowed, FileTooLarge, SourceNotFound, SourceForbidden, FetchFailed: a request
            for an `info.json` or an image (see `SourceFetcher.fetch`). MemoryLimit: an image
            over the worker's pixel limit. CorruptedFile: an image that cannot be decoded.
    """
    manifest = parse_manifest(document)
    if len(manifest.canvases) > settings.max_pages:
        raise UnsupportedFormat(f"the manifest has {len(manifest.canvases)} canvases; the limit is {settings.max_pages}")
    images = []
    for n, canvas in enumerate(manifest.canvases, start=1):
        path = work / f"canvas-{n:05d}"
        with path.open("wb") as out:
            sources.fetch(_image_url(canvas, n, sources, settings), out, max_bytes=settings.max_upload_bytes)
        images.append(path)
    pdf = work / "document.pdf"
    images_to_pdf(images, pdf, dpi=settings.dpi, max_pixels=settings.max_page_pixels)
    for path in images:
        path.unlink()
    return ManifestDocument(manifest=manifest, pdf=pdf)


def _image_url(canvas: Canvas, n: int, sources: SourceFetcher, settings: Settings) -> str:
    """The URL that reads canvas `n`: from its image service's `info.json`, or its fixed image."""
    if canvas.service is None:
        if not canvas.image_url:
            raise UnsupportedFormat(f"canvas {n} of the manifest has neither an image service nor an image")
        return canvas.image_url
    buffer = io.BytesIO()
    sources.fetch(f"{canvas.service.id}/info.json", buffer, max_bytes=INFO_BYTES)
    try:
        info = parse_info(json.loads(buffer.getvalue().decode("utf-8-sig")))
    except (UnicodeDecodeError, ValueError) as exc:
        raise UnsupportedFormat(f"the image information of canvas {n} is not JSON") from exc
    if not info.id:
        info = dataclasses.replace(info, id=canvas.service.id)
    url, _, _ = image_request(canvas, info, dpi=settings.dpi, max_pixels=settings.max_page_pixels)
    return url
