"""Bad requests to the book layer, sent to the server users run (`pagesage serve`, a subprocess):
each gets the common JSON error body with its status, code and `field`, no server path or
traceback, and changes nothing — the page keeps its version and state, the project its record."""

from __future__ import annotations

import json
from datetime import datetime

import httpx
import pytest

from servers import LiveServer

MIB = 1024 * 1024


@pytest.fixture(scope="module")
def live(tmp_path_factory):
    server = LiveServer(tmp_path_factory.mktemp("book-hostile") / "data", env={"PAGESAGE_USER": "Ada <ada@example.org>"})
    server.start(timeout=60)
    client = httpx.Client(base_url=server.url, timeout=60)
    try:
        yield server, client
    finally:
        client.close()
        server.stop()


@pytest.fixture(scope="module")
def target(live) -> dict[str, str]:
    """A one-page project with a body box and a footnote box: the ids hostile writes aim at."""
    _, http = live
    doc = http.post("/api/v1/ocr/source_docs", json={"kind": "pdf", "title": "hostile book",
                                                     "pages": [{"page_no": 1, "width": 1000, "height": 1400}]}).json()
    run = http.post("/api/v1/ocr/runs", json={"source_doc_id": doc["source_doc"]["source_doc_id"], "engine": "k",
                                              "engine_version": "1", "config": {"languages": "eng"}}).json()
    tokens = [{"token_no": i, "text": w, "bbox": {"x": 100 + 120 * i, "y": 100, "w": 100, "h": 30}, "confidence": 90}
              for i, w in enumerate("The principle¹ is clear".split())]
    http.post(f"/api/v1/ocr/page_results/{run['page_results'][0]['page_result_id']}/ingest", json={"mode": "replace", "tokens": tokens})
    created = http.post("/api/v1/projects", json={"sourceDocId": doc["source_doc"]["source_doc_id"]})
    assert created.status_code == 201, created.text
    project = created.json()
    page_id = project["pageIds"][0]
    page = http.get(f"/api/v1/pages/{page_id}")
    box = page.json()["currentState"]["boundingBoxes"][0]["boxId"]
    return {"project": project["project"]["projectId"], "page": page_id, "box": box, "etag": page.headers["ETag"]}


P = "/api/v1/pages/{page}"
B = P + "/boxes/{box}"

REFUSED = [
    pytest.param("POST", "/api/v1/projects", b'{"jobId": ', 400, "bad_json", None, id="malformed-json"),
    pytest.param("POST", "/api/v1/projects", b'{"a":' * 100_000 + b"1" + b"}" * 100_000, 400, "bad_json", None, id="nested-100000"),
    pytest.param("POST", "/api/v1/projects", {"jobId": "x", "sourceDocId": "y"}, 422, "validation_failed", None, id="two-sources"),
    pytest.param("POST", "/api/v1/projects", {"sourceDocId": "nosuch"}, 404, "not_found", None, id="unknown-source-doc"),
    pytest.param("POST", "/api/v1/projects", {"jobId": "A" * 43}, 404, "not_found", None, id="unknown-job"),
    pytest.param("PUT", B + "/text", lambda ids: b'{"oldText":"' + b"x" * (9 * MIB) + b'","newText":"y"}', 413, "file_too_large",
                 None, id="9MiB-body"),
    pytest.param("PUT", B + "/text", {"oldText": "The principle¹ is clear", "newText": "a\x00b"}, 422, "validation_failed",
                 "newText", id="text-NUL"),
    pytest.param("PUT", B + "/text", {"oldText": "The principle¹ is clear", "newText": "\u202eevil"}, 422, "validation_failed",
                 "newText", id="text-RLO"),
    pytest.param("PUT", B + "/text", {"oldText": "The principle¹ is clear", "newText": "x" * 20_001}, 422, "validation_failed",
                 "newText", id="text-20001-code-points"),
    pytest.param("PUT", B + "/text", {"oldText": "other", "newText": "new"}, 409, "text_conflict", None, id="stale-old-text"),
    pytest.param("PUT", B + "/text", {"oldText": "The principle¹ is clear", "newText": "y", "evil": 1}, 422, "validation_failed",
                 "evil", id="unknown-field"),
    pytest.param("PUT", B + "/text", {"oldText": "The principle¹ is clear", "newText": "The principle¹ is clear!",
                                      "changes": [{"type": "insert", "position": 99, "insertedLength": 1, "deletedLength": 0}]},
                 422, "validation_failed", "changes[0]", id="change-past-the-text"),
    pytest.param("POST", P + "/boxes", {"coordinates": {"x": 0, "y": 0, "width": 10, "height": 2**63}}, 422, "validation_failed",
                 "coordinates.height", id="box-height-2^63"),
    pytest.param("POST", P + "/boxes", b'{"coordinates":{"x":NaN,"y":0,"width":1,"height":1}}', 422, "validation_failed",
                 "coordinates.x", id="box-x-NaN"),
    pytest.param("POST", P + "/boxes", {"coordinates": {"x": 990, "y": 0, "width": 20, "height": 5}}, 422, "validation_failed",
                 "coordinates", id="box-outside-image"),
    pytest.param("POST", B + "/inline-references", {"position": {"charOffset": 0, "length": 1}, "targetBoxId": "../../etc",
                                                     "displayText": "T"}, 422, "validation_failed", "targetBoxId", id="target-path"),
    pytest.param("POST", B + "/inline-references", {"position": {"charOffset": 20000, "length": 1}, "targetBoxId": "{box}",
                                                     "displayText": "¹"}, 422, "validation_failed", "displayText", id="ref-past-text"),
    pytest.param("POST", P + "/boxes/merge", {"boxIds": ["{box}", "{box}"]}, 422, "validation_failed", "boxIds", id="merge-one-box"),
    pytest.param("PUT", P + "/reading-order", {"boxIds": ["nosuch"]}, 422, "validation_failed", "boxIds", id="order-unknown-box"),
    pytest.param("PUT", P + "/review-status", {"reviewStatus": "approved"}, 409, "invalid_transition", None, id="approve-pending"),
    pytest.param("PUT", P + "/review-status", {"reviewStatus": "published"}, 422, "validation_failed", "reviewStatus",
                 id="unknown-status"),
    pytest.param("POST", P + "/revert", {"version": 99}, 404, "not_found", None, id="revert-unknown-version"),
    pytest.param("GET", P + "?version=abc", None, 422, "validation_failed", "version", id="version-abc"),
    pytest.param("GET", "/api/v1/projects?cursor=%00%ff", None, 400, "invalid_cursor", None, id="cursor-garbage"),
    pytest.param("GET", "/api/v1/projects/{project}?include=everything", None, 422, "validation_failed", "include",
                 id="include-unknown"),
    pytest.param("GET", "/api/v1/pages/nosuch", None, 404, "not_found", None, id="unknown-page"),
    pytest.param("GET", "/api/v1/boxes/nosuch/incoming-references", None, 404, "not_found", None, id="unknown-box"),
    pytest.param("POST", "/api/v1/pages/{page}/auto-fix", {}, 422, "validation_failed", "warningIds", id="auto-fix-nothing-named"),
]


def _fill(value, ids):
    """`value` with each string `{name}` replaced by the id `name` of `ids`."""
    if isinstance(value, str):
        return ids.get(value[1:-1], value) if value.startswith("{") and value.endswith("}") else value
    if isinstance(value, list):
        return [_fill(v, ids) for v in value]
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


def _state(http, ids) -> tuple:
    page = http.get(f"/api/v1/pages/{ids['page']}")
    project = http.get(f"/api/v1/projects/{ids['project']}").json()
    versions = http.get(f"/api/v1/pages/{ids['page']}/versions").json()
    return page.headers["ETag"], page.json()["currentState"], project["updatedAt"], len(versions["versions"])


@pytest.mark.parametrize(("method", "path", "body", "status", "code", "field"), REFUSED)
def test_refused_book_request_changes_nothing(live, target, method, path, body, status, code, field):
    server, http = live
    before = _state(http, target)
    headers = {"Content-Type": "application/json", "If-Match": target["etag"]}
    if callable(body):
        body = body(target)
    elif body is not None and not isinstance(body, bytes):
        body = json.dumps(_fill(body, target)).encode()
    reply = http.request(method, path.format(**target), content=body, headers=headers)
    assert reply.status_code == status, reply.text[:300]
    assert reply.headers["content-type"].split(";")[0] == "application/json"
    error = reply.json()
    assert error["error_code"] == code and error.get("field") == field, error
    assert datetime.fromisoformat(error["timestamp"]).tzinfo is not None
    assert "Traceback" not in reply.text and "/work/" not in reply.text and ".py" not in reply.text and len(reply.content) < 4096
    assert _state(http, target) == before
    assert server.process.poll() is None


def test_edits_without_if_match_or_with_a_stale_one_change_nothing(live, target):
    _, http = live
    before = _state(http, target)
    body = {"oldText": "The principle¹ is clear", "newText": "The principle¹ is clear."}
    missing = http.put(f"/api/v1/pages/{target['page']}/boxes/{target['box']}/text", json=body)
    assert missing.status_code == 428 and missing.json()["error_code"] == "precondition_required"
    stale = http.put(f"/api/v1/pages/{target['page']}/boxes/{target['box']}/text", json=body, headers={"If-Match": '"' + "0" * 64 + '"'})
    assert stale.status_code == 412 and stale.json()["current_version"] == target["etag"].strip('"')
    assert stale.headers["ETag"] == target["etag"]
    assert _state(http, target) == before


def test_the_server_logged_no_unhandled_error(live, target):
    server, _ = live
    log = server.log.read_text(errors="replace")
    assert "Traceback" not in log and "unhandled error" not in log, log[-3000:]
