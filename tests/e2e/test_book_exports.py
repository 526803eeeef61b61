"""Exports over HTTP on both stores: a project made from a real corpus scan, corrected, then
exported to every format; the record, the stored file and its checksum; bad requests; the page
image; `pagesage export` against the server users run."""

from __future__ import annotations

import hashlib
import json
import re

import pytest
from click.testing import CliRunner

from test_book_api import Api, api, book_services  # noqa: F401  (fixtures)

import editions

FORMATS = {"markdown-quarto": "text/markdown", "hocr": "text/html", "page-xml": "application/zip", "alto": "application/xml",
           "plain-text": "text/plain", "json": "application/json"}


@pytest.fixture
def corrected(api, corpus):
    """A project of the real page e052, with one word of its first commentary box corrected:
    (project id, page id, box id, the corrected word)."""
    project_id = editions.corpus_project(api.http, corpus)
    (page,) = api.http.get(f"/api/v1/projects/{project_id}/pages").get_json()["items"]
    body = api.page(page["pageId"])
    box = next(b for b in body["currentState"]["boundingBoxes"] if b["contentType"] == "commentary" and len(b["text"]["corrected"]) > 40)
    old = box["text"]["corrected"]
    word = re.search(r"[A-Za-z]{5,}", old).group(0)
    new = old.replace(word, "Emendation", 1)
    api.correct(page["pageId"], box["boxId"], old, new)
    return project_id, page["pageId"], box["boxId"], "Emendation"


def _export(api: Api, project_id: str, status: int = 201, **body):
    response = api.http.post(f"/api/v1/projects/{project_id}/exports", json=body)
    assert response.status_code == status, response.get_json()
    return response.get_json()


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_is_stored_recorded_and_served_from_the_corrected_text(api, corrected, fmt):
    project_id, page_id, box_id, word = corrected
    record = _export(api, project_id, format=fmt)
    assert record["format"] == fmt and record["includedPages"] == [1]
    assert record["settings"]["projectId"] == project_id and record["settings"]["generatedBy"]["name"] == "Ada Lovelace"
    response = api.http.get(f"/api/v1/projects/{project_id}/exports/{record['exportId']}/file")
    assert response.status_code == 200 and response.mimetype == FORMATS[fmt]
    data = response.get_data()
    assert len(data) == record["fileSize"] and hashlib.sha256(data).hexdigest() == record["sha256"]
    assert record["settings"]["outputSha256"] == record["sha256"]
    if fmt != "page-xml":  # a zip archive
        text = data.decode("utf-8")
        assert word in text and box_id in text or fmt in ("plain-text", "markdown-quarto") and word in text
    listed = api.http.get(f"/api/v1/projects/{project_id}/exports").get_json()["items"]
    assert [r["exportId"] for r in listed] == [record["exportId"]]
    project = api.http.get(f"/api/v1/projects/{project_id}").get_json()
    assert project["status"] == "exported" and project["exports"][0]["sha256"] == record["sha256"]


def test_page_selection_and_bad_requests_change_nothing(api, corrected):
    project_id, page_id, *_ = corrected
    cases = [({"format": "docx"}, "format"), ({"format": "json", "includedPages": [2]}, "includedPages"),
             ({"format": "json", "colour": "red"}, "colour"), ({"format": "json", "confidenceThreshold": 2}, "confidenceThreshold"),
             ({"format": "json", "outputFileName": "../x.json"}, "outputFileName")]
    for body, field in cases:
        answer = _export(api, project_id, status=422, **body)
        assert answer["error_code"] == "validation_failed" and field in json.dumps(answer), answer
    assert api.http.get(f"/api/v1/projects/{project_id}/exports").get_json()["items"] == []
    assert api.services.blobs.delete_prefix(f"projects/{project_id}/exports/") == 0
    assert api.http.post("/api/v1/projects/proj_0000000000000000/exports", json={"format": "json"}).status_code == 404
    missing = api.http.get(f"/api/v1/projects/{project_id}/exports/export-0000000000000000/file")
    assert missing.status_code == 404 and missing.get_json()["error_code"] == "not_found"


def test_the_default_format_and_file_name_come_from_the_project(api, corrected):
    project_id, *_ = corrected
    record = _export(api, project_id)
    assert record["format"] == "markdown-quarto" and record["filePath"].endswith("/the-corset-and-the-crinoline.qmd")
    assert record["settings"]["confidenceThreshold"] == 0.8


def test_low_confidence_text_is_dropped_only_when_asked(api, corrected):
    project_id, *_ = corrected
    everything = json.loads(api.http.get(f"/api/v1/projects/{project_id}/exports/"
                                          f"{_export(api, project_id, format='json')['exportId']}/file").get_data())
    strict = _export(api, project_id, format="json", includeLowConfidence=False, confidenceThreshold=1.0)
    kept = json.loads(api.http.get(f"/api/v1/projects/{project_id}/exports/{strict['exportId']}/file").get_data())
    boxes = [b for p in everything["pages"] for b in p["boxes"]]
    left = [b for p in kept["pages"] for b in p["boxes"]]
    assert len(left) == sum(1 for b in boxes if b["isCorrected"]) and 0 < len(left) < len(boxes)


def test_the_page_image_is_served_with_its_etag(api, corrected):
    _, page_id, *_ = corrected
    response = api.http.get(f"/api/v1/pages/{page_id}/image")
    assert response.status_code == 200 and response.mimetype == "image/png" and response.get_data()[:8] == b"\x89PNG\r\n\x1a\n"
    again = api.http.get(f"/api/v1/pages/{page_id}/image", headers={"If-None-Match": response.headers["ETag"]})
    assert again.status_code == 304
    assert api.http.get("/api/v1/pages/proj_0000000000000000-p001/image").status_code == 404


def test_pagesage_export_against_a_live_server_downloads_the_file_it_recorded(corpus, tmp_path):
    import httpx

    from conftest import wait_for
    from pagesage import cli
    from servers import LiveServer

    with LiveServer(tmp_path / "data", env={"PAGESAGE_USER": "Ada <ada@example.org>"}) as live, \
            httpx.Client(base_url=live.url, timeout=60) as http:
        with open(corpus / "eng-oldbooks/e052.tiff", "rb") as f:
            job_id = http.post("/upload", files={"file": ("e052.tiff", f, "image/tiff")}, data={"lang": "eng"}).json()["job_id"]
        wait_for(lambda: http.get(f"/status/{job_id}").json()["status"] == "completed", 300, f"job {job_id} unfinished")
        project_id = http.post("/api/v1/projects", json={"jobId": job_id}).json()["project"]["projectId"]
        target = tmp_path / "book.txt"
        result = CliRunner().invoke(cli.main, ["export", project_id, "--format", "plain-text", "--pages", "1", "-o", str(target),
                                               "--url", live.url])
        assert result.exit_code == 0, result.output
        (record,) = http.get(f"/api/v1/projects/{project_id}/exports").json()["items"]
        assert hashlib.sha256(target.read_bytes()).hexdigest() == record["sha256"] and record["sha256"] in result.output
        assert "Crinoline" in target.read_text(encoding="utf-8") or len(target.read_text(encoding="utf-8")) > 500
        bad = CliRunner().invoke(cli.main, ["export", project_id, "--pages", "one", "--url", live.url])
        assert bad.exit_code == 2 and "--pages" in bad.output
        missing = CliRunner().invoke(cli.main, ["export", "proj_0000000000000000", "--url", live.url])
        assert missing.exit_code == 1 and "not_found" in missing.output + str(missing.exception)
