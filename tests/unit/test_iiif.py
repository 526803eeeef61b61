"""The IIIF rules: which image request reads a canvas at OCR resolution (Image API 2.1 and 3.0,
compliance levels, the service's limits, physical dimensions), and how labels and metadata
become text."""

from __future__ import annotations

import pytest

from pagesage.domain.iiif import (
    Canvas,
    ImageService,
    image_request,
    is_manifest,
    parse_info,
    parse_manifest,
    text_of,
)
from pagesage.errors import UnsupportedFormat

BIG = 10**9
SERVICE = "https://images.example.org/iiif/ms-12_f001"


def info_v3(**fields) -> dict:
    return {"@context": "http://iiif.io/api/image/3/context.json", "id": SERVICE, "type": "ImageService3",
            "protocol": "http://iiif.io/api/image", "profile": "level1", "width": 6000, "height": 8000, **fields}


def info_v2(profile: str = "http://iiif.io/api/image/2/level2.json", limits: dict | None = None, **fields) -> dict:
    return {"@context": "http://iiif.io/api/image/2/context.json", "@id": SERVICE, "protocol": "http://iiif.io/api/image",
            "profile": [profile, limits or {}], "width": 6000, "height": 8000, **fields}


def physdim(scale: float, units: str = "in") -> dict:
    return {"@context": "http://iiif.io/api/annex/services/physdim/1/context.json",
            "profile": "http://iiif.io/api/annex/services/physdim", "physicalScale": scale, "physicalUnits": units}


def canvas(**fields) -> Canvas:
    return Canvas(**{"id": "https://example.org/canvas/1", "label": "f. 1r", "width": 6000, "height": 8000,
                     "image_url": None, "service": ImageService(SERVICE, 3), **fields})


def test_without_a_physical_size_the_full_image_is_read():
    assert image_request(canvas(), parse_info(info_v3()), dpi=300, max_pixels=BIG) == (f"{SERVICE}/full/max/0/default.jpg", 6000, 8000)
    assert image_request(canvas(), parse_info(info_v2()), dpi=300, max_pixels=BIG)[0] == f"{SERVICE}/full/full/0/default.jpg"


def test_a_known_physical_size_is_read_at_300_dpi():
    # 6000 px over 7.5 in (800 dpi): 300 dpi is 2250 px wide
    info = parse_info(info_v3(service=[physdim(0.00125)]))
    assert info.mm_per_pixel == pytest.approx(0.03175)
    assert image_request(canvas(), info, dpi=300, max_pixels=BIG) == (f"{SERVICE}/full/2250,/0/default.jpg", 2250, 3000)
    # the same page in centimetres, and stated on the canvas (per canvas unit) instead
    assert image_request(canvas(), parse_info(info_v3(service=[physdim(0.003175, "cm")])), dpi=300, max_pixels=BIG)[1] == 2250
    on_canvas = canvas(mm_per_unit=0.03175)
    assert image_request(on_canvas, parse_info(info_v3()), dpi=300, max_pixels=BIG)[1] == 2250


def test_an_image_below_300_dpi_is_read_whole_never_upscaled():
    info = parse_info(info_v3(service=[physdim(0.005)]))  # 200 dpi
    assert image_request(canvas(), info, dpi=300, max_pixels=BIG) == (f"{SERVICE}/full/max/0/default.jpg", 6000, 8000)


def test_the_services_limits_and_the_workers_pixel_limit_are_kept():
    assert image_request(canvas(), parse_info(info_v3(maxWidth=1000)), dpi=300, max_pixels=BIG)[1:] == (1000, 1333)
    assert image_request(canvas(), parse_info(info_v3(maxHeight=4000)), dpi=300, max_pixels=BIG)[1:] == (3000, 4000)
    assert image_request(canvas(), parse_info(info_v3(maxArea=12_000_000)), dpi=300, max_pixels=BIG)[1:] == (3000, 4000)
    assert image_request(canvas(), parse_info(info_v2(limits={"maxWidth": 1500})), dpi=300, max_pixels=BIG)[1] == 1500
    url, width, height = image_request(canvas(), parse_info(info_v3()), dpi=300, max_pixels=12_000_000)
    assert url == f"{SERVICE}/full/3000,/0/default.jpg" and width * height <= 12_000_000


def test_a_level_0_service_is_asked_only_for_a_size_it_lists():
    sizes = [{"width": 750, "height": 1000}, {"width": 1500, "height": 2000}, {"width": 3000, "height": 4000}]
    info = parse_info(info_v3(profile="level0", sizes=sizes, service=[physdim(0.00125)]))  # wants 2250 wide
    assert info.level == 0
    assert image_request(canvas(), info, dpi=300, max_pixels=BIG) == (f"{SERVICE}/full/3000,4000/0/default.jpg", 3000, 4000)
    small = parse_info(info_v3(profile="level0", sizes=sizes[:2], service=[physdim(0.00125)]))
    assert image_request(canvas(), small, dpi=300, max_pixels=BIG)[0] == f"{SERVICE}/full/max/0/default.jpg"
    level0_v2 = parse_info(info_v2(profile="http://iiif.io/api/image/2/level0.json"))
    assert level0_v2.level == 0


def test_an_info_document_without_a_size_is_refused():
    with pytest.raises(UnsupportedFormat):
        parse_info({"@context": "http://iiif.io/api/image/3/context.json", "id": SERVICE})
    with pytest.raises(UnsupportedFormat):
        parse_info(["not", "an", "object"])


def test_labels_are_text_from_language_maps_value_lists_and_html():
    assert text_of({"en": ["Folio 12 recto"], "fr": ["Folio 12 recto (fr)"]}) == "Folio 12 recto"
    assert text_of({"none": ["12r"], "en": ["twelve"]}) == "12r"
    assert text_of({"sa": ["रघुवंशम्"]}) == "रघुवंशम्"
    assert text_of([{"@value": "Titre", "@language": "fr"}, {"@value": "Titre", "@language": "fr"}]) == "Titre"
    assert text_of("<span>Bodleian <b>MS.</b>\u202e Auct.</span>\n") == "Bodleian MS. Auct."
    assert text_of({"en": []}) is None and text_of(42) is None


def test_a_document_that_is_not_a_manifest_of_image_canvases_is_refused():
    assert not is_manifest({"@context": "http://iiif.io/api/presentation/3/context.json", "type": "Collection"})
    with pytest.raises(UnsupportedFormat):
        parse_manifest({"@context": "http://iiif.io/api/image/3/context.json", "type": "ImageService3"})
    empty = {"@context": "http://iiif.io/api/presentation/3/context.json", "type": "Manifest", "id": "m", "items": []}
    with pytest.raises(UnsupportedFormat, match="no canvases"):
        parse_manifest(empty)
    textless = {**empty, "items": [{"id": "c1", "type": "Canvas", "items": []}]}
    with pytest.raises(UnsupportedFormat, match="canvas 1"):
        parse_manifest(textless)


# -- the real documents of tests/fixtures/iiif (licences in SOURCE.md) -------------------------

import json  # noqa: E402
from pathlib import Path  # noqa: E402

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "iiif"


def fixture(name: str):
    return json.loads((FIXTURES / name).read_text(encoding="utf-8"))


def test_a_wellcome_manifest_with_version_2_services_inside_presentation_3():
    manifest = parse_manifest(fixture("v3-book-manifest.json"))  # @context is a list of two
    assert manifest.label == "[Report 1960] / Medical Officer of Health, Llanwrtyd Wells U.D.C."
    assert len(manifest.canvases) == 10
    assert [c.label for c in manifest.canvases] == ["-", "-", "-", "2", "3", "4", "5", "6", "7", "-"]
    first = manifest.canvases[0]
    assert first.service == ImageService("https://dlcs.io/iiif-img/wellcome/6/b28857021_0001.jp2", 2)
    assert (first.width, first.height) == (2670, 4412)
    assert manifest.metadata["Publication/creation"] == "1960"


def test_the_british_library_manifest_in_presentation_2():
    manifest = parse_manifest(fixture("v2-manifest.json"))
    assert manifest.label == "Anzac bulletin Number 24(1917:Jun.)" and len(manifest.canvases) == 20
    assert manifest.metadata["Held by"] == "The British Library"
    assert all(c.service and c.service.version == 2 and c.service.id.startswith("https://api.bl.uk/image/iiif/ark:/81055/")
               for c in manifest.canvases)


def test_the_cookbook_manuscript_in_presentation_3():
    manifest = parse_manifest(fixture("v3-manuscript-manifest-cookbook-0024.json"))
    assert [c.label for c in manifest.canvases] == ["f. 1r", "f. 1v", "f. 2r", "f. 2v", "f. 3r", "f. 3v"]
    assert all(c.service and c.service.version == 3 for c in manifest.canvases)


def test_berlin_info_documents_at_300_dpi_are_read_within_their_size_limits():
    zlb = parse_info(fixture("info-v2-physdim-zlb.json"))  # the physdim service sits beside another service
    assert zlb.mm_per_pixel == pytest.approx(25.4 / 300, rel=1e-6) and zlb.level == 2
    assert (zlb.width, zlb.max_width) == (11735, 6000)
    url, width, height = image_request(canvas(service=ImageService(zlb.id, 2)), zlb, dpi=300, max_pixels=BIG)
    assert url.endswith("/full/6000,/0/default.jpg") and (width, height) == (6000, 4749)
    spk = parse_info(fixture("info-v2-physdim-spk.json"))  # one physdim object, 11458 x 17014, max 10000 a side
    assert image_request(canvas(), spk, dpi=300, max_pixels=BIG)[1:] == (6734, 9999)
    # the same scans asked at 150 dpi: half their width
    assert image_request(canvas(), zlb, dpi=150, max_pixels=BIG)[1] == 5868


def test_reference_info_documents_without_a_physical_size_are_read_whole():
    v3, v2 = parse_info(fixture("info-v3.json")), parse_info(fixture("info-v2.json"))
    assert (v3.version, v3.level, v3.width, v3.height) == (3, 1, 4032, 3024)
    assert image_request(canvas(), v3, dpi=300, max_pixels=BIG)[0] == f"{v3.id}/full/max/0/default.jpg"
    assert image_request(canvas(), v2, dpi=300, max_pixels=BIG)[0] == f"{v2.id}/full/full/0/default.jpg"
