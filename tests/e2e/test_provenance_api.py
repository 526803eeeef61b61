"""The provenance API (`/api/v1/ocr/...`) through real HTTP on the local stack, on both stores:
SQLite and the Firestore emulator. A real scan goes through the pipeline; an outside engine's
run is registered and ingested next to it; review, links, pagination, diff and bad input."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
from conftest import SAMPLES, upload, wait_finished
from openapi_spec_validator import validate as validate_openapi
from werkzeug.test import Client

from pagesage import bootstrap, emulators
from pagesage.api.routes import MAX_JSON_BYTES

API = "/api/v1/ocr"
SEED_PAYLOAD = {  # the seed's example, verbatim (ocr-provenance-model.txt)
    "mode": "replace",
    "tokens": [
        {"token_no": 0, "text": "Buddha", "text_norm": "buddha", "bbox": {"x": 1, "y": 2, "w": 3, "h": 4}, "confidence": 98.7, "kind": "word"}
    ],
    "review": {"review_status": "pending", "review_note": "auto import", "reviewed_by": {"source": "pipeline", "run": "v1"}},
    "links": [{"fk_entry_id": "UUID-HERE", "link_kind": "candidate_entry", "link_conf": 88.2, "note": "ngram"}],
}


@pytest.fixture(params=["sqlite", "firestore"])
def api(request, settings):
    """A test client of the local stack whose store is SQLite or Firestore (emulator)."""
    store = None
    if request.param == "firestore":
        from pagesage.adapters.firestore_store import FirestoreStore

        emulators.reset_firestore(request.getfixturevalue("firestore_host"))
        store = FirestoreStore(request.getfixturevalue("firestore_db"))
    built = bootstrap.build(settings, store=store)
    bootstrap.use(built)
    yield Client(request.getfixturevalue("stack"))
    bootstrap.use(None)
    built.queue.close()


@pytest.fixture
def ocred(api):
    """alice_1.png OCR'd by the pipeline: (client, status body, page id, page result id)."""
    job_id = upload(api, SAMPLES / "alice_1.png", lang="eng").get_json()["job_id"]
    status = wait_finished(api, job_id)
    pages = api.get(f"{API}/source_docs/{status['source_doc_id']}/pages").get_json()["items"]
    results = api.get(f"{API}/pages/{pages[0]['page_id']}/results").get_json()["items"]
    return api, status, pages[0], results[0]["page_result"]


def post(client: Client, path: str, body, method: str = "POST"):
    return client.open(f"{API}{path}", method=method, data=json.dumps(body), content_type="application/json")


def external_run(client: Client, source_doc_id: str, pages: list[int] | None = None) -> dict:
    body = {"source_doc_id": source_doc_id, "engine": "kraken", "engine_version": "5.2.9",
            "config": {"languages": "eng", "options": {"model": "en_best"}}}
    if pages is not None:
        body["pages"] = pages
    response = post(client, "/runs", body)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def as_input(token: dict) -> dict:
    return {k: token[k] for k in ("token_no", "text", "bbox", "confidence", "kind", "block", "par", "line")}


def test_navigation_from_source_docs_to_a_full_page_result(ocred):
    api, status, page, result = ocred
    listing = api.get(f"{API}/source_docs?limit=10").get_json()
    assert [d["source_doc_id"] for d in listing["items"]] == [status["source_doc_id"]] and listing["next_cursor"] is None
    doc = api.get(f"{API}/source_docs/{status['source_doc_id']}").get_json()
    assert (doc["kind"], doc["title"], doc["job_id"]) == ("image_set", "alice_1.png", status["job_id"])
    assert (page["page_no"], page["width"], page["height"], page["status"]) == (1, 2488, 3507, "done")
    assert page["page_id"] == f"{status['source_doc_id']}_p1"
    full = api.get(f"{API}/page_results/{result['page_result_id']}/full").get_json()
    assert full["run"]["engine"] == "tesseract" and full["page"]["page_id"] == page["page_id"]
    assert len(full["tokens"]) == full["page_result"]["word_count"] == 503
    assert full["review"] is None and full["links"] == []
    assert [t["token_no"] for t in full["tokens"]] == list(range(503))
    raw = api.get(f"{API}/page_results/{result['page_result_id']}/raw")  # Tesseract's own TSV
    assert raw.status_code == 200 and raw.mimetype == "text/tab-separated-values"
    rows = [line.split("\t") for line in raw.get_data(as_text=True).splitlines()[1:]]
    assert sum(1 for r in rows if r[0] == "5" and r[11].strip()) >= 503  # word rows (level 5) with text


def test_an_outside_run_is_ingested_beside_the_first_and_the_two_compare(ocred):
    api, status, page, first = ocred
    before = api.get(f"{API}/page_results/{first['page_result_id']}/full").get_json()
    run = external_run(api, status["source_doc_id"])
    (shell,) = run["page_results"]
    assert shell["word_count"] == 0 and shell["page_no"] == 1
    tokens = [as_input(t) for t in before["tokens"]]
    del tokens[10]  # the other engine missed a word and misread another
    tokens[20]["text"] = "Alise"
    for i, t in enumerate(tokens):
        t["token_no"] = i
    response = post(api, f"/page_results/{shell['page_result_id']}/ingest",
                    {"mode": "replace", "tokens": tokens, "review": {"review_status": "pending", "reviewed_by": "kraken-import"}})
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["page_result"]["word_count"] == 502

    results = api.get(f"{API}/pages/{page['page_id']}/results").get_json()["items"]
    assert [r["run"]["engine"] for r in results] == ["tesseract", "kraken"]
    assert api.get(f"{API}/page_results/{first['page_result_id']}/full").get_json() == before  # untouched

    diff = api.get(f"{API}/pages/{page['page_id']}/diff?a={first['run_id']}&b={run['run']['run_id']}").get_json()
    ops = [op for op in diff["ops"] if op["op"] != "equal"]
    assert len(ops) == 2 and 0 < diff["cer"] < 0.01
    assert api.get(f"{API}/pages/{page['page_id']}/diff?a={first['run_id']}").status_code == 400
    assert api.get(f"{API}/pages/{page['page_id']}/diff?a={first['run_id']}&b=nope").status_code == 404


def test_the_seeds_example_payload_ingests_as_is(ocred):
    api, status, _, _ = ocred
    shell = external_run(api, status["source_doc_id"])["page_results"][0]
    response = post(api, f"/page_results/{shell['page_result_id']}/ingest", SEED_PAYLOAD)
    assert response.status_code == 200, response.get_json()
    assert response.get_json()["page_result"]["word_count"] == 1
    full = api.get(f"{API}/page_results/{shell['page_result_id']}/full").get_json()
    assert [(t["text"], t["text_norm"], t["confidence"]) for t in full["tokens"]] == [("Buddha", "buddha", 98.7)]
    assert full["review"]["reviewed_by"] == {"source": "pipeline", "run": "v1"} and full["review"]["version"] == 1
    assert [(link["fk_entry_id"], link["link_conf"]) for link in full["links"]] == [("UUID-HERE", 88.2)]
    assert api.get(f"{API}/page_results/{shell['page_result_id']}/raw").status_code == 404  # an outside run kept none


def test_append_continues_the_tokens_and_a_wrong_start_changes_nothing(ocred):
    api, status, _, _ = ocred
    pr = external_run(api, status["source_doc_id"])["page_results"][0]["page_result_id"]
    word = {"text": "w", "bbox": {"x": 5, "y": 5, "w": 10, "h": 10}, "confidence": 50}
    assert post(api, f"/page_results/{pr}/tokens/bulk_create", {"tokens": [{**word, "token_no": 0}, {**word, "token_no": 1}]}).status_code == 201
    response = post(api, f"/page_results/{pr}/ingest", {"mode": "append", "tokens": [{**word, "token_no": 2, "confidence": 80}],
                                                       "links": [{"fk_entry_id": "e1", "link_conf": 70, "token_start": 2, "token_end": 2}]})
    assert response.status_code == 200, response.get_json()
    assert (response.get_json()["page_result"]["word_count"], response.get_json()["page_result"]["mean_confidence"]) == (3, 60.0)
    before = api.get(f"{API}/page_results/{pr}/full").get_json()
    stale = post(api, f"/page_results/{pr}/ingest", {"mode": "append", "tokens": [{**word, "token_no": 2}],
                                                    "review": {"review_status": "approved"}, "links": [{"fk_entry_id": "e2", "link_conf": 1}]})
    assert stale.status_code == 409
    assert api.get(f"{API}/page_results/{pr}/full").get_json() == before


def test_a_bad_token_rejects_the_whole_batch_and_names_it(ocred):
    api, status, page, _ = ocred
    pr = external_run(api, status["source_doc_id"])["page_results"][0]["page_result_id"]
    tokens = [{"token_no": i, "text": f"w{i}", "bbox": {"x": 10, "y": 10, "w": 20, "h": 20}, "confidence": 90} for i in range(6)]
    bad_cases = [
        (3, {"bbox": {"x": page["width"] - 5, "y": 10, "w": 20, "h": 20}}, "tokens[3].bbox"),
        (4, {"token_no": 7}, "tokens[4].token_no"),
        (2, {"confidence": 101}, "tokens[2].confidence"),
        (1, {"text": ""}, "tokens[1].text"),
        (5, {"colour": "red"}, "tokens[5].colour"),
    ]
    for index, change, field in bad_cases:
        batch = copy.deepcopy(tokens)
        batch[index].update(change)
        response = post(api, f"/page_results/{pr}/ingest", {**SEED_PAYLOAD, "tokens": batch})
        assert (response.status_code, response.get_json()["field"]) == (422, field), response.get_json()
    full = api.get(f"{API}/page_results/{pr}/full").get_json()
    assert full["tokens"] == [] and full["review"] is None and full["links"] == []


def test_review_lifecycle(ocred):
    api, _, _, result = ocred
    path = f"/page_results/{result['page_result_id']}/review"
    assert post(api, path, {"review_status": "approved"}, "PATCH").status_code == 404
    created = post(api, path, {"review_status": "pending", "reviewed_by": "asha"})
    assert created.status_code == 201 and created.get_json()["version"] == 1
    again = post(api, path, {"review_status": "pending"})
    assert (again.status_code, again.get_json()["error_code"]) == (409, "review_exists")
    approved = post(api, path, {"review_status": "approved", "approved_text": "Alice was beginning"}, "PATCH").get_json()
    assert (approved["review_status"], approved["version"], approved["reviewed_by"]) == ("approved", 2, "asha")
    backwards = post(api, path, {"review_status": "pending"}, "PATCH")
    assert (backwards.status_code, backwards.get_json()["error_code"]) == (409, "invalid_transition")
    reopened = post(api, path, {"review_status": "needs-rework", "review_note": "line 3"}, "PATCH").get_json()
    assert (reopened["review_status"], reopened["version"], reopened["approved_text"]) == ("needs-rework", 3, "Alice was beginning")
    assert post(api, path, {"review_status": "maybe"}, "PATCH").get_json()["field"] == "review_status"


def test_links_bulk_create_and_dictionary_suggestions(ocred):
    api, _, _, result = ocred
    pr = result["page_result_id"]
    assert post(api, f"/page_results/{pr}/links/bulk_create", {"links": [{"fk_entry_id": "bad id!", "link_conf": 5}]}).get_json()["field"] \
        == "links[0].fk_entry_id"
    assert post(api, f"/page_results/{pr}/links/bulk_create", {"links": [{"fk_entry_id": "e", "link_conf": 5, "token_end": 503}]}).get_json()["field"] \
        == "links[0].token_end"
    dictionary = {"entries": [{"entry_id": "wonderland:alice", "forms": ["Alice"]},
                              {"entry_id": "wonderland:white-rabbit", "forms": ["White Rabbit"]},
                              {"entry_id": "skt:rama", "forms": ["राम", "rāma"]}], "save": True}
    response = post(api, f"/page_results/{pr}/links/suggest", dictionary)
    assert response.status_code == 201, response.get_json()
    found = {s["fk_entry_id"] for s in response.get_json()["suggestions"]}
    assert {"wonderland:alice", "wonderland:white-rabbit"} <= found and "skt:rama" not in found
    links = api.get(f"{API}/page_results/{pr}/full").get_json()["links"]
    assert len(links) == response.get_json()["saved"] > 0 and all(link["link_kind"] == "candidate_entry" for link in links)


def test_registered_documents_page_through_in_a_stable_order(api):
    ids = []
    for i in range(5):
        body = {"kind": "remote_url", "title": f"Book {i}", "uri": f"s3://books-bucket/scans/book{i}.pdf",
                "pages": [{"page_no": 1, "width": 2000, "height": 3000, "dpi": 300}, {"page_no": 2}]}
        response = post(api, "/source_docs", body)
        assert response.status_code == 201, response.get_json()
        ids.append(response.get_json()["source_doc"]["source_doc_id"])
    seen, cursor, pages = [], None, 0
    while True:
        response = api.get(f"{API}/source_docs?limit=2" + (f"&cursor={cursor}" if cursor else "")).get_json()
        seen += [d["source_doc_id"] for d in response["items"]]
        pages += 1
        cursor = response["next_cursor"]
        if cursor is None:
            break
    assert seen == ids and pages == 3
    assert api.get(f"{API}/source_docs?cursor=garbage").status_code == 400
    assert api.get(f"{API}/source_docs?limit=0").get_json()["field"] == "limit"
    gap = post(api, "/source_docs", {"kind": "pdf", "title": "x", "pages": [{"page_no": 1}, {"page_no": 3}]})
    assert (gap.status_code, gap.get_json()["field"]) == (422, "pages[1].page_no")
    assert post(api, "/source_docs", {"kind": "remote_url", "title": "x", "uri": "ftp://x/y", "pages": [{"page_no": 1}]}).status_code == 422
    assert post(api, "/runs", {"source_doc_id": ids[0], "engine": "e", "engine_version": "1", "config": {"languages": "eng"},
                               "pages": [3]}).get_json()["field"] == "pages[0]"


def test_bad_requests_get_the_common_error_body(api):
    cases = [
        (api.post(f"{API}/runs", data="{not json", content_type="application/json"), 400, "bad_json"),
        (api.post(f"{API}/runs", data="{}", content_type="text/plain"), 400, "bad_json"),
        (api.get(f"{API}/source_docs/nope"), 404, "not_found"),
        (api.get(f"{API}/page_results/nope/full"), 404, "not_found"),
        (api.get(f"{API}/page_results/nope/raw"), 404, "not_found"),
        (post(api, "/page_results/nope/ingest", SEED_PAYLOAD), 404, "not_found"),
        (api.delete(f"{API}/source_docs"), 405, "method_not_allowed"),
        (api.get(f"{API}/no/such/route"), 404, "not_found"),
        (api.post(f"{API}/runs", data=b"{}", content_type="application/json",
                  environ_overrides={"CONTENT_LENGTH": str(MAX_JSON_BYTES + 1)}), 413, "file_too_large"),
    ]
    for response, status, code in cases:
        body = response.get_json()
        assert (response.status_code, body["error_code"]) == (status, code), body
        assert set(body) <= {"detail", "error_code", "timestamp", "field", "status"}


def test_openapi_document_is_served_valid_and_committed(api):
    served = api.get("/openapi.json").get_json()
    validate_openapi(served)
    committed = json.loads((Path(__file__).resolve().parents[2] / "schemas" / "openapi.json").read_text())
    assert served == committed
    assert {"/api/v1/ocr/page_results/{page_result_id}/ingest", "/upload", "/api/v1/costs"} <= set(served["paths"])


def test_cli_diff_compares_two_runs_over_http(ocred, request):
    import threading

    from click.testing import CliRunner

    from pagesage.cli import main
    from pagesage.server import create_server, serving

    if "firestore" in request.node.callspec.id:
        pytest.skip("the CLI is the same client on either store")
    api, status, page, first = ocred
    before = api.get(f"{API}/page_results/{first['page_result_id']}/full").get_json()
    shell = external_run(api, status["source_doc_id"])["page_results"][0]
    tokens = [as_input(t) for t in before["tokens"]]
    tokens[3]["text"] = "Alise"
    assert post(api, f"/page_results/{shell['page_result_id']}/ingest", {"mode": "replace", "tokens": tokens}).status_code == 200
    with serving(create_server("127.0.0.1", 0)) as server:
        url = f"http://127.0.0.1:{server.effective_port}"
        out = CliRunner().invoke(main, ["diff", page["page_id"], first["run_id"], shell["run_id"], "--url", url])
        as_json = CliRunner().invoke(main, ["diff", page["page_id"], first["run_id"], shell["run_id"], "--url", url, "--json"])
        missing = CliRunner().invoke(main, ["diff", page["page_id"], first["run_id"], "no-such-run", "--url", url])
    assert out.exit_code == 0, out.output
    assert "1 replaced, 0 inserted, 0 deleted" in out.output and "-> b[3:4] 'Alise'" in out.output
    assert json.loads(as_json.output)["words_replaced"] == 1
    assert missing.exit_code == 1 and "404 not_found" in missing.output
