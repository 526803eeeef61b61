"""Reading IIIF documents: a Presentation API manifest (2.1 or 3.0) as the canvases of one source
document, an Image API `info.json` (2.1 or 3.0) as what its image service can deliver, and the
image request that reads a canvas at OCR resolution. Pure rules, no I/O; docs/remote-sources.md
says how they are used.

Sources of the rules:
    * IIIF Presentation API 3.0 §3 (`label` and `metadata` as language maps), §5.3 (a Manifest's
      `items` are its Canvases in order), §5.4-5.5 (a Canvas painted by Annotations whose
      `motivation` is `painting` and whose `body` is an Image with a `service`).
    * IIIF Presentation API 2.1 §5.2-5.4 (`sequences[0].canvases`, each with `images` whose
      `resource` carries the image `service`), §3.1 (`label`, `metadata` as strings or
      `{"@value", "@language"}` lists).
    * IIIF Image API 3.0 §4.2 and 2.1 §4.2 (size `w,`, `max`/`full`; upscaling needs `^` in
      3.0), §5 (`info.json`: `width`, `height`, `sizes`, `maxWidth`, `maxHeight`, `maxArea`;
      2.1 puts the limits in the second `profile` entry), and the compliance levels (a level 0
      service serves only the `sizes` it lists, besides the full size).
    * IIIF Physical Dimensions service (annex): `physicalScale` physical units per pixel of
      the resource it is attached to, `physicalUnits` `in`, `cm` or `mm`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from pagesage.domain.limits import is_unsafe_char
from pagesage.errors import UnsupportedFormat

PRESENTATION_2 = "http://iiif.io/api/presentation/2/context.json"
PRESENTATION_3 = "http://iiif.io/api/presentation/3/context.json"
PHYSDIM_PROFILE = "http://iiif.io/api/annex/services/physdim"
MM_PER_UNIT = {"in": 25.4, "cm": 10.0, "mm": 1.0}
"""Millimetres in one physical unit a Physical Dimensions service may name."""
METADATA_BUDGET = 48 * 1024
"""Bytes of UTF-8 text a manifest's metadata may bring (the source document holds 64 KiB of
JSON metadata, escapes included)."""
MAX_LABEL = 200
"""Characters of a page label kept (longer labels are cut)."""
_TAGS = re.compile(r"<[^>]+>")


@dataclass(frozen=True)
class ImageService:
    """An Image API service: its base URI `id` (no trailing `/`) and major `version` (2 or 3)."""

    id: str
    version: int


@dataclass(frozen=True)
class Canvas:
    """One canvas of a manifest: `id`, display `label`, size in canvas units (`width`,
    `height`, often the full image's pixels), the painted image's `service` (None: only
    `image_url`, a fixed image), the image's own pixel size when the manifest states it, and
    `mm_per_unit` (millimetres per canvas unit) when a Physical Dimensions service says."""

    id: str
    label: str | None
    width: int | None
    height: int | None
    image_url: str | None
    service: ImageService | None
    mm_per_unit: float | None = None


@dataclass(frozen=True)
class Manifest:
    """A manifest's `label` (title), `metadata` (label -> value, text), and `canvases` in order."""

    id: str
    label: str | None
    metadata: dict[str, str]
    canvases: list[Canvas]


@dataclass(frozen=True)
class ImageInfo:
    """An `info.json`: full `width`/`height` in pixels, the service's `level` (0, 1, 2), the
    `sizes` it lists, its `max_width`/`max_height`/`max_area` limits, and `mm_per_pixel` when
    a Physical Dimensions service says."""

    id: str
    version: int
    width: int
    height: int
    level: int
    sizes: list[tuple[int, int]]
    max_width: int | None = None
    max_height: int | None = None
    max_area: int | None = None
    mm_per_pixel: float | None = None


def is_manifest(document: Any) -> bool:
    """True for a JSON object that names a Presentation API 2 or 3 context and is a Manifest."""
    if not isinstance(document, dict):
        return False
    return bool(_contexts(document) & {PRESENTATION_2, PRESENTATION_3}) and \
        document.get("type", document.get("@type")) in ("Manifest", "sc:Manifest")


def parse_manifest(document: dict) -> Manifest:
    """The canvases, label and metadata of a Presentation API 2.1 or 3.0 manifest.

    Raises:
        UnsupportedFormat: not a manifest, no canvas, or a canvas without an image.
    """
    if not is_manifest(document):
        raise UnsupportedFormat("not a IIIF Presentation API 2 or 3 manifest")
    v3 = PRESENTATION_3 in _contexts(document)
    raw = document.get("items") if v3 else ((document.get("sequences") or [{}])[0] or {}).get("canvases")
    if not isinstance(raw, list) or not raw:
        raise UnsupportedFormat("the manifest has no canvases")
    canvases = [(_canvas_v3 if v3 else _canvas_v2)(c, n) for n, c in enumerate(raw, start=1)]
    return Manifest(id=str(document.get("id" if v3 else "@id") or ""), label=text_of(document.get("label")),
                    metadata=_metadata(document.get("metadata")), canvases=canvases)


def parse_info(document: Any) -> ImageInfo:
    """An Image API 2.1 or 3.0 `info.json`.

    Raises:
        UnsupportedFormat: not an `info.json` with a width and a height.
    """
    if not isinstance(document, dict):
        raise UnsupportedFormat("not an IIIF image information document")
    version = 3 if "http://iiif.io/api/image/3/context.json" in _contexts(document) else 2
    width, height = _positive(document.get("width")), _positive(document.get("height"))
    if width is None or height is None:
        raise UnsupportedFormat("the image information has no width or height")
    profile = document.get("profile")
    limits = document if version == 3 else next((p for p in _list(profile) if isinstance(p, dict)), {})
    names = " ".join(str(p) for p in _list(profile) if isinstance(p, str))
    level = next((int(m.group(1)) for m in [re.search(r"level([012])", names)] if m), 0)
    sizes = [(w, h) for s in _list(document.get("sizes")) if isinstance(s, dict)
             for w, h in [(_positive(s.get("width")), _positive(s.get("height")))] if w and h]
    return ImageInfo(id=str(document.get("id" if version == 3 else "@id") or "").rstrip("/"), version=version,
                     width=width, height=height, level=level, sizes=sizes,
                     max_width=_positive(limits.get("maxWidth")), max_height=_positive(limits.get("maxHeight")),
                     max_area=_positive(limits.get("maxArea"), 10**14), mm_per_pixel=_physical_scale(document.get("service")))


def image_request(canvas: Canvas, info: ImageInfo, *, dpi: int, max_pixels: int) -> tuple[str, int, int]:
    """The image URL that reads `canvas` for OCR, and the width and height (pixels) it yields.

    The width is the one that gives `dpi` when the physical size is known (from the image
    service, else the canvas), never more than the full image (no upscaling) and within the
    service's `maxWidth`/`maxHeight`/`maxArea` and `max_pixels`; the full size otherwise. A
    level 0 service is asked for the smallest size it lists that is at least that wide, or
    its full size.
    """
    physical_mm = info.width * info.mm_per_pixel if info.mm_per_pixel else \
        canvas.width * canvas.mm_per_unit if canvas.mm_per_unit and canvas.width else None
    width = math.ceil(physical_mm / MM_PER_UNIT["in"] * dpi) if physical_mm else info.width
    scale = min(1.0, width / info.width, (info.max_width or info.width) / info.width,
                (info.max_height or info.height) / info.height,
                math.sqrt(min(info.max_area or max_pixels, max_pixels) / (info.width * info.height)))
    width = max(1, math.floor(info.width * scale))
    if info.level == 0 and width < info.width:
        listed = sorted(s for s in info.sizes if s[0] >= width and s[0] * s[1] <= max_pixels)
        if listed and listed[0][0] < info.width:
            return _url(info, f"{listed[0][0]},{listed[0][1]}"), listed[0][0], listed[0][1]
        width = info.width
    if width >= info.width:
        return _url(info, "max" if info.version == 3 else "full"), info.width, info.height
    height = max(1, round(info.height * width / info.width))
    return _url(info, f"{width},"), width, height


def text_of(value: Any) -> str | None:
    """A label's text: a 3.0 language map (`none`, then `en`, then the first language; values
    joined by `; `), a 2.1 string or `{"@value": ...}` list; HTML tags and the characters
    text must not carry (`domain.limits.is_unsafe_char`) removed, white space collapsed; None
    when empty."""
    if isinstance(value, dict) and "@value" not in value:
        chosen = value.get("none") or value.get("en") or next(iter(value.values()), None)
        return text_of(chosen)
    if isinstance(value, dict):
        value = value.get("@value")
    if isinstance(value, list):
        parts = [t for t in (text_of(v) for v in value) if t]
        value = "; ".join(dict.fromkeys(parts)) if parts else None
    if not isinstance(value, str):
        return None
    text = " ".join("".join(c for c in _TAGS.sub(" ", value) if c.isspace() or not is_unsafe_char(c)).split())
    return text or None


def _url(info: ImageInfo, size: str) -> str:
    return f"{info.id}/full/{size}/0/default.jpg"


def _canvas_v3(raw: Any, n: int) -> Canvas:
    body = _first_painting_body(raw)
    if body is None:
        raise UnsupportedFormat(f"canvas {n} of the manifest paints no image")
    return Canvas(id=str(raw.get("id") or ""), label=_label(raw.get("label")), width=_positive(raw.get("width")),
                  height=_positive(raw.get("height")), image_url=body.get("id"), service=_image_service(body),
                  mm_per_unit=_physical_scale(raw.get("service")))


def _first_painting_body(raw: Any) -> dict | None:
    if not isinstance(raw, dict):
        return None
    for page in _list(raw.get("items")):
        for annotation in _list(page.get("items") if isinstance(page, dict) else None):
            if isinstance(annotation, dict) and annotation.get("motivation") == "painting":
                body = annotation.get("body")
                body = body.get("items", [body])[0] if isinstance(body, dict) and body.get("type") == "Choice" else body
                if isinstance(body, dict) and body.get("type") == "Image":
                    return body
    return None


def _canvas_v2(raw: Any, n: int) -> Canvas:
    image = next((i for i in _list(raw.get("images") if isinstance(raw, dict) else None)
                  if isinstance(i, dict) and isinstance(i.get("resource"), dict)), None)
    if image is None:
        raise UnsupportedFormat(f"canvas {n} of the manifest has no image")
    resource = image["resource"]
    return Canvas(id=str(raw.get("@id") or ""), label=_label(raw.get("label")), width=_positive(raw.get("width")),
                  height=_positive(raw.get("height")), image_url=resource.get("@id"), service=_image_service(resource),
                  mm_per_unit=_physical_scale(raw.get("service")))


def _image_service(resource: dict) -> ImageService | None:
    """The first Image API service among an image resource's `service`s that has an id."""
    for raw in _list(resource.get("service")):
        ident = (raw.get("id") or raw.get("@id")) if isinstance(raw, dict) else None
        version = _service_version(raw) if ident else None
        if version:
            return ImageService(id=str(ident).rstrip("/"), version=version)
    return None


def _service_version(raw: dict) -> int | None:
    """3 for an `ImageService3` (or the 3.0 context), 2 for an `ImageService2`, a 2.x context or
    a level profile URI of 2.x; None for a service that is not an image service."""
    kind = str(raw.get("type") or raw.get("@type") or "")
    context = " ".join(str(c) for c in _list(raw.get("@context")))
    profile = " ".join(str(p) for p in _list(raw.get("profile")) if isinstance(p, str))
    if kind == "ImageService3" or "image/3" in context:
        return 3
    if kind in ("ImageService2", "ImageService1") or "image/2" in context or "image/2" in profile or "image/1" in context:
        return 2
    return None


def _physical_scale(services: Any) -> float | None:
    """Millimetres per pixel (or canvas unit) from a Physical Dimensions service among
    `services`; None when there is none or its numbers are not usable."""
    for service in _list(services):
        if isinstance(service, dict) and PHYSDIM_PROFILE in " ".join(str(p) for p in _list(service.get("profile"))):
            scale, units = service.get("physicalScale"), service.get("physicalUnits")
            if isinstance(scale, (int, float)) and not isinstance(scale, bool) and 0 < scale < 1e6 and units in MM_PER_UNIT:
                return float(scale) * MM_PER_UNIT[units]
    return None


def _metadata(raw: Any) -> dict[str, str]:
    """label -> value of a manifest's `metadata` pairs, as text, within the bounds of a source
    document's metadata (`domain.limits.Metadata`): at most 50 pairs, keys cut to 100 and
    values to 1,000 characters, and pairs past `METADATA_BUDGET` bytes left out."""
    pairs: dict[str, str] = {}
    used = 0
    for entry in _list(raw):
        if isinstance(entry, dict) and len(pairs) < 50:
            label, value = text_of(entry.get("label")), text_of(entry.get("value"))
            if label and value and label[:100] not in pairs:
                size = len(label[:100].encode()) + len(value[:1000].encode()) + 8
                if used + size <= METADATA_BUDGET:
                    pairs[label[:100]] = value[:1000]
                    used += size
    return pairs


def _label(value: Any) -> str | None:
    text = text_of(value)
    return text[:MAX_LABEL] if text else None


def _contexts(document: dict) -> set[str]:
    return {str(c) for c in _list(document.get("@context"))}


def _list(value: Any) -> list:
    return value if isinstance(value, list) else [] if value is None else [value]


def _positive(value: Any, limit: int = 10**7) -> int | None:
    """A positive number below `limit` (pixels: 10^7 a side), as an int; None otherwise."""
    return int(value) if isinstance(value, (int, float)) and not isinstance(value, bool) and 0 < value < limit else None
