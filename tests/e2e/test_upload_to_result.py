"""The good paths through the HTTP functions: upload -> worker -> status -> result, on real scans."""

from __future__ import annotations

import json

import jsonschema
import pytest
from conftest import REPO, SAMPLES, hocr_spec_errors, upload, wait_finished
from lxml import etree

from pagesage.domain.jobs import is_job_id

XHTML = "{http://www.w3.org/1999/xhtml}"


def _schema(name: str) -> dict:
    return json.loads((REPO / "schemas" / f"{name}.schema.json").read_text())


def _classes(root, name):
    return root.xpath(f"//*[contains(concat(' ', @class, ' '), ' {name} ')]")


def test_png_page_goes_through_to_valid_hocr(http, tmp_path):
    response = upload(http, SAMPLES / "alice_1.png")
    assert response.status_code == 202
    body = response.get_json()
    assert body["status"] == "pending" and is_job_id(body["job_id"]) and len(body["job_id"]) == 43
    jsonschema.validate(body, _schema("upload-response"))

    status = wait_finished(http, body["job_id"])
    assert status["status"] == "completed", status
    assert status["progress"] == {"pages_total": 1, "pages_done": 1, "pages_failed": 0}
    assert status["expiration_time"] and status["error_code"] is None
    jsonschema.validate(status, _schema("status-response"))

    hocr = http.get(f"/result/{body['job_id']}")
    assert hocr.status_code == 200
    assert hocr.headers["Content-Type"] == "text/html; charset=utf-8"
    path = tmp_path / "alice.hocr"
    path.write_bytes(hocr.data)
    assert hocr_spec_errors(path) == []

    root = etree.fromstring(hocr.data)
    doc = json.loads(http.get(f"/result/{body['job_id']}?format=json").data)
    jsonschema.validate(doc, _schema("result-document"))
    tokens = doc["pages"][0]["tokens"]
    assert len(_classes(root, "ocr_page")) == doc["page_count"] == 1
    words = _classes(root, "ocrx_word")
    assert len(words) == doc["word_count"] == len(tokens) > 400
    assert [w.text for w in words] == [t["text"] for t in tokens]
    assert "Rabbit-Hole" in {t["text"] for t in tokens}
    page = doc["pages"][0]
    assert (page["width"], page["height"], page["dpi"]) == (2488, 3507, 300)
    assert page["result"]["detection"]["script"] == "Latin" and page["result"]["config"]["languages"] == "Latin_eng"
    assert any("assumed 300 dpi" in w for w in page["result"]["warnings"])

    text = http.get(f"/result/{body['job_id']}?format=text")
    assert text.headers["Content-Type"] == "text/plain; charset=utf-8"
    assert "Alice was beginning to get very tired" in text.get_data(as_text=True)

    markdown = http.get(f"/result/{body['job_id']}?format=markdown")
    assert markdown.headers["Content-Type"] == "text/markdown; charset=utf-8"
    assert markdown.get_data(as_text=True).startswith("<!-- page 1 -->\n\n")
    assert "Alice was beginning to get very tired of sitting by her sister" in markdown.get_data(as_text=True)


def test_multipage_pdf_gives_one_ocr_page_per_page(http, services, tmp_path):
    job_id = upload(http, SAMPLES / "tesseract-testing-2pages.pdf", lang="eng").get_json()["job_id"]
    status = wait_finished(http, job_id)
    assert status["status"] == "completed" and status["progress"]["pages_total"] == 2

    hocr = http.get(f"/result/{job_id}?format=hocr").data
    path = tmp_path / "doc.hocr"
    path.write_bytes(hocr)
    assert hocr_spec_errors(path) == []
    pages = _classes(etree.fromstring(hocr), "ocr_page")
    assert [p.get("title").split("ppageno ")[1].split(";")[0] for p in pages] == ["0", "1"]
    assert all("scan_res 300 300" in p.get("title") for p in pages)

    text = http.get(f"/result/{job_id}?format=text").get_data(as_text=True)
    first, second = text.split("\f")
    assert "quick brown dog" in first and "Grüße" not in first
    assert "$43,456.78" in second and "$43,456.78" not in first

    doc = json.loads(http.get(f"/result/{job_id}?format=json").data)
    assert doc["status"] == "completed" and doc["run"]["status"] == "completed"
    assert doc["run"]["finished_at"] == status["completion_time"]
    assert [p["page_no"] for p in doc["pages"]] == [1, 2]
    assert all(p["result"]["config"]["languages"] == "eng" and p["result"]["detection"] is None for p in doc["pages"])
    # every page image is stored and its key is what hOCR names
    for page, element in zip(doc["pages"], pages):
        assert services.blobs.exists(page["image_key"])
        assert element.get("title").startswith(f'image "{page["image_key"]}"; bbox 0 0 {page["width"]} {page["height"]};')

    # one run for the document; one recognition cost entry per page, priced as compute-seconds
    runs = services.store.list_runs(job_id)
    assert len(runs) == 1 and runs[0].status == "completed" and runs[0].engine_version.startswith("5.")
    costs = services.store.list_costs(job_id)
    assert sorted((c.page_no, c.operation) for c in costs) == [(1, "ocr-extraction"), (2, "ocr-extraction")]
    for cost in costs:
        assert cost.unit == "vcpu_second" and cost.units > 0
        assert cost.total_usd == pytest.approx(cost.units * services.settings.tesseract_usd_per_vcpu_second)


def test_auto_language_turns_rotated_pages_upright(http, corpus):
    job_id = upload(http, corpus / "pdf" / "ocrmypdf-cardinal.pdf").get_json()["job_id"]
    assert wait_finished(http, job_id)["status"] == "completed"
    doc = json.loads(http.get(f"/result/{job_id}?format=json").data)
    rotations = [p["result"]["detection"]["rotate"] for p in doc["pages"]]
    assert rotations == [0, 270, 180, 90]  # the PDF turns its pages 0, 90, 180, 270 degrees
    for page in doc["pages"]:
        words = [t["text"] for t in page["tokens"]]
        assert "LinnSequencer" in words, page["page_no"]
        assert page["width"] < page["height"]  # upright portrait after rotation
    assert any("turned 270 degrees" in w for w in doc["pages"][1]["result"]["warnings"])
    # every stage is recorded in order; the turn is preprocessing the analysis chose
    for page, rotate in zip(doc["pages"], rotations):
        stages = page["result"]["stages"]
        assert [s["stage"] for s in stages] == ["render", "analyse", "preprocess", "recognise", "layout", "store"]
        assert all(s["seconds"] >= 0 for s in stages) and stages[1]["applied"] == ["osd", "quality-metrics"]
        assert stages[1]["parameters"]["osdRotate"] == rotate
        assert page["result"]["preprocessing_applied"] == ([f"rotate-{rotate}"] if rotate else [])
        assert stages[2]["applied"] == page["result"]["preprocessing_applied"]
        assert stages[3]["parameters"]["languages"] == "Latin_eng" and stages[4]["parameters"]["words"] == len(page["tokens"])
        assert page["quality"]["overall_quality"] in ("excellent", "good", "fair", "poor")


def test_devanagari_page_is_read_with_the_script_model(http, corpus):
    job_id = upload(http, corpus / "san-imagessan" / "shreelipi-p001.png").get_json()["job_id"]
    assert wait_finished(http, job_id)["status"] == "completed"
    doc = json.loads(http.get(f"/result/{job_id}?format=json").data)
    result = doc["pages"][0]["result"]
    assert result["detection"]["script"] == "Devanagari"
    assert result["config"]["languages"] == "Devanagari" and result["lang"] == "und-Deva"
    texts = [t["text"] for t in doc["pages"][0]["tokens"]]
    assert "अनन्ताय" in texts
    assert not any(t.endswith("\u200c") for t in texts)  # word-final joiners are dropped
    hocr = http.get(f"/result/{job_id}").data.decode()
    assert 'lang="und-Deva"' in hocr and "अनन्ताय" in hocr


def test_page_hash_is_the_hash_of_the_stored_page_image(http, services):
    import hashlib

    job_id = upload(http, SAMPLES / "tesseract-testing-2pages.pdf", lang="eng").get_json()["job_id"]
    wait_finished(http, job_id)
    pages = services.store.list_pages(services.store.get_job(job_id).source_doc_id)
    assert [p.page_no for p in pages] == [1, 2]
    for page in pages:
        with services.blobs.open(page.image_key) as stored:
            assert hashlib.sha256(stored.read()).hexdigest() == page.sha256
    single = upload(http, SAMPLES / "alice_1.png", lang="eng").get_json()["job_id"]
    wait_finished(http, single)
    (page,) = services.store.list_pages(services.store.get_job(single).source_doc_id)
    assert page.image_key == services.store.get_job(single).upload.original_key
    assert page.sha256 == hashlib.sha256((SAMPLES / "alice_1.png").read_bytes()).hexdigest()
