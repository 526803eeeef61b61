"""The book layer over HTTP on both stores (SQLite, and Firestore on its emulator): the worked
scenarios of inline references, text corrections that move them, optimistic concurrency,
versions, two-person review, validation and auto-fix, cross-page navigation."""

from __future__ import annotations

import dataclasses
import json
import threading

import pytest
from werkzeug.test import Client

from pagesage import bootstrap, emulators
from pagesage.config import Settings

ADA = "Ada Lovelace <ada@example.org>"
GRACE = "Grace Hopper <grace@example.org>"
WIDTH, HEIGHT = 1200, 1600


@pytest.fixture(params=["sqlite", "firestore"])
def book_services(request, tmp_path):
    """Services whose book store is SQLite or Firestore (the emulator, reset), edits made by Ada."""
    book = None
    if request.param == "firestore":
        from pagesage.book.adapters.firestore_book import FirestoreBookStore

        emulators.reset_firestore(request.getfixturevalue("firestore_host"))
        book = FirestoreBookStore(request.getfixturevalue("firestore_db"))
    built = bootstrap.build(Settings(data_dir=tmp_path / "data", workers=1, rate_limit=0, user=ADA), book=book)
    bootstrap.use(built)
    yield built
    bootstrap.use(None)
    built.queue.close()


@pytest.fixture
def api(stack, book_services) -> "Api":
    return Api(Client(stack), book_services)


class Api:
    """A client of the stack that keeps each page's ETag and sends it as If-Match."""

    def __init__(self, http: Client, services) -> None:
        self.http, self.services = http, services
        self.etags: dict[str, str] = {}

    def as_user(self, user: str) -> None:
        """Further requests are made by `user` (the local stack's configured user)."""
        settings = self.services.settings.model_copy(update={"user": user})
        bootstrap.use(dataclasses.replace(self.services, settings=settings))

    def page(self, page_id: str, **query) -> dict:
        response = self.http.get(f"/api/v1/pages/{page_id}", query_string=query)
        assert response.status_code == 200, response.get_json()
        if not query:
            self.etags[page_id] = response.headers["ETag"]
        return response.get_json()

    def write(self, method: str, path: str, page_id: str, body: dict | None = None, *, status: int = 200, etag: str | None = None):
        headers = {"If-Match": etag or self.etags[page_id]}
        response = self.http.open(f"/api/v1{path}", method=method, json=body, headers=headers)
        assert response.status_code == status, response.get_json()
        if response.status_code < 300:
            self.etags[page_id] = response.headers["ETag"]
        return response.get_json()

    def box(self, page_id: str, text: str, *, content_type: str = "commentary", y: int = 100, height: int = 60) -> str:
        body = {"coordinates": {"x": 100, "y": y, "width": 900, "height": height}, "contentType": content_type,
                "language": "english", "text": text}
        return self.write("POST", f"/pages/{page_id}/boxes", page_id, body, status=201)["createdBoxIds"][0]

    def reference(self, page_id: str, box_id: str, offset: int, display: str, target: str, *, kind: str = "footnote") -> dict:
        body = {"position": {"charOffset": offset, "length": len(display)}, "type": kind, "targetBoxId": target,
                "displayText": display}
        return self.write("POST", f"/pages/{page_id}/boxes/{box_id}/inline-references", page_id, body, status=201)

    def correct(self, page_id: str, box_id: str, old: str, new: str, *, status: int = 200, etag: str | None = None,
                **extra) -> dict:
        return self.write("PUT", f"/pages/{page_id}/boxes/{box_id}/text", page_id, {"oldText": old, "newText": new, **extra},
                          status=status, etag=etag)

    def validate(self, page_id: str) -> dict:
        response = self.http.post(f"/api/v1/pages/{page_id}/validate")
        assert response.status_code == 200, response.get_json()
        return response.get_json()


def token(no: int, text: str, x: int, y: int, *, h: int = 30, block: int = 1, line: int = 1, conf: float = 91.0) -> dict:
    return {"token_no": no, "text": text, "bbox": {"x": x, "y": y, "w": 18 * len(text), "h": h}, "confidence": conf,
            "block": block, "par": 1, "line": line}


def project_of(api: Api, pages: list[list[dict]]) -> tuple[str, list[str]]:
    """A project of a registered source document with `pages` of tokens; its id and page ids."""
    http = api.http
    doc = http.post("/api/v1/ocr/source_docs", json={
        "kind": "pdf", "title": "A test book",
        "pages": [{"page_no": i + 1, "width": WIDTH, "height": HEIGHT, "dpi": 300} for i in range(len(pages))]}).get_json()
    source_doc_id = doc["source_doc"]["source_doc_id"]
    run = http.post("/api/v1/ocr/runs", json={"source_doc_id": source_doc_id, "engine": "tesseract", "engine_version": "5.3.0",
                                              "config": {"languages": "eng"}}).get_json()
    for result, tokens in zip(run["page_results"], pages):
        if tokens:
            answer = http.post(f"/api/v1/ocr/page_results/{result['page_result_id']}/ingest", json={"mode": "replace", "tokens": tokens})
            assert answer.status_code == 200, answer.get_json()
    created = http.post("/api/v1/projects", json={"sourceDocId": source_doc_id, "title": "Gītā commentary",
                                                  "authors": ["Vyasa"]})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    return body["project"]["projectId"], body["pageIds"]


def one_line(text: str, y: int = 100) -> list[dict]:
    out, x = [], 100
    for i, word in enumerate(text.split()):
        out.append(token(i, word, x, y))
        x += 18 * len(word) + 12
    return out


@pytest.fixture
def book(api):
    """A two-page project; both pages start with one OCR'd line."""
    project_id, page_ids = project_of(api, [one_line("Chapter one"), one_line("Chapter two")])
    for page_id in page_ids:
        api.page(page_id)
    return project_id, page_ids


def refs_of(page: dict, box_id: str) -> list[dict]:
    box = next(b for b in page["currentState"]["boundingBoxes"] if b["boxId"] == box_id)
    return box["inlineReferences"]


def warning_types(body: dict) -> list[str]:
    return sorted(w["type"] for w in body["warnings"])


# -- the worked scenarios -----------------------------------------------------------------

def test_single_footnote_reference_links_and_validates_clean(api, book):
    _, (p1, _) = book
    text = "The Gītā states this principle¹ clearly in Chapter 2."
    body = api.box(p1, text, y=300)
    note = api.box(p1, "¹ See Śaṅkara's commentary on 2.11.", content_type="footnote", y=1400, height=40)
    added = api.reference(p1, body, text.index("¹"), "¹", note)
    assert added["updatedBox"]["inlineReferences"][0]["position"] == {"charOffset": 30, "length": 1}
    assert note in added["updatedBox"]["linkedBoxes"]
    page = api.page(p1)
    footnote = next(b for b in page["currentState"]["boundingBoxes"] if b["boxId"] == note)
    assert [r["sourceBoxId"] for r in footnote["incomingReferences"]] == [body]
    result = api.validate(p1)
    assert result["validationStatus"]["isValid"] and result["warnings"] == []


def test_multiple_and_adjacent_references_are_ordered_and_numbered(api, book):
    _, (p1, _) = book
    text = "The first principle² appears in Chapter 2³, followed by the second⁴ in Chapter 3."
    body = api.box(p1, text)
    notes = [api.box(p1, f"{n}. Note {n}.", content_type="footnote", y=1300 + 60 * i, height=40) for i, n in enumerate((2, 3, 4))]
    for marker, note in zip("⁴²³", [notes[2], notes[0], notes[1]]):  # added out of order
        api.reference(p1, body, text.index(marker), marker, note)
    refs = refs_of(api.page(p1), body)
    assert [(r["position"]["charOffset"], r["displayText"], r["sequenceInText"]) for r in refs] == \
        [(text.index("²"), "²", 1), (text.index("³"), "³", 2), (text.index("⁴"), "⁴", 3)]
    verse = "धर्मक्षेत्रे कुरुक्षेत्रे¹²³"
    box = api.box(p1, verse, content_type="verse", y=600)
    for i, marker in enumerate("¹²³"):
        api.reference(p1, box, 25 + i, marker, notes[0])
    assert [r["position"]["charOffset"] for r in refs_of(api.page(p1), box)] == [25, 26, 27]
    assert "duplicate_reference" in warning_types(api.validate(p1))  # three markers on one note
    overlap = {"position": {"charOffset": 25, "length": 1}, "type": "footnote", "targetBoxId": notes[0], "displayText": "¹"}
    refused = api.write("POST", f"/pages/{p1}/boxes/{box}/inline-references", p1, overlap, status=422)
    assert refused["error_code"] == "validation_failed"


def test_bracketed_and_compound_references(api, book):
    _, (p1, _) = book
    text = "As stated in the Mahābhārata[5]. Multiple sources support this claim¹⁻³."
    body = api.box(p1, text)
    cite = api.box(p1, "[5] Mahābhārata, Bhīṣmaparvan.", content_type="footnote", y=1300, height=40)
    group = api.box(p1, "1. One. 2. Two. 3. Three.", content_type="footnote", y=1400, height=40)
    api.reference(p1, body, text.index("[5]"), "[5]", cite, kind="citation")
    api.reference(p1, body, text.index("¹⁻³"), "¹⁻³", group)
    result = api.validate(p1)
    assert "number_mismatch" not in warning_types(result), result["warnings"]
    bad = api.box(p1, "See also².", y=800)
    api.reference(p1, bad, 8, "²", cite)
    mismatch = [w for w in api.validate(p1)["warnings"] if w["type"] == "number_mismatch"]
    assert len(mismatch) == 1 and mismatch[0]["boxId"] == bad and not mismatch[0]["autoFixable"]


def test_the_fundamental_principle_correction_moves_the_reference(api, book):
    _, (p1, _) = book
    body = api.box(p1, "The principle¹ is clear.")
    note = api.box(p1, "¹ A note.", content_type="footnote", y=1400, height=40)
    ref_id = api.reference(p1, body, 13, "¹", note)["referenceId"]
    answer = api.correct(p1, body, "The principle¹ is clear.", "The fundamental principle¹ is clear.")
    assert answer["affectedReferences"] == {"updated": [ref_id], "orphaned": [], "needsReview": []}
    assert answer["updatedBox"]["inlineReferences"][0]["position"]["charOffset"] == 25
    assert answer["updatedBox"]["text"]["ocr"] == ""  # a drawn box has no OCR; the correction never touches it
    gone = api.correct(p1, body, "The fundamental principle¹ is clear.", "The fundamental is clear.")
    assert gone["affectedReferences"]["orphaned"] == [ref_id]
    assert "orphaned_reference" in warning_types(api.validate(p1))


def test_ocr_missed_the_marker_then_a_person_adds_it(api, book):
    _, (p1, _) = book
    old = "The Gītā states this principle clearly in Chapter 2."
    body = api.box(p1, old)
    note = api.box(p1, "1. See Śaṅkara's commentary.", content_type="footnote", y=1400, height=40)
    new = old.replace("principle", "principle¹")
    api.correct(p1, body, old, new, note="the superscript OCR missed")
    api.reference(p1, body, 30, "¹", note)
    versions = api.http.get(f"/api/v1/pages/{p1}/versions").get_json()["versions"]
    assert [v["changeType"] for v in versions][-2:] == ["text_correction", "inline_reference_added"]
    assert versions[-2]["changes"] == {"action": "text_corrected", "boxId": body, "before": old, "after": new}
    assert versions[-1]["editedBy"]["userId"] == "ada@example.org"
    assert api.validate(p1)["warnings"] == []


def test_ocr_read_the_superscript_as_a_digit(api, book):
    _, (p1, _) = book
    body = api.box(p1, "The principle1 is clear.")
    note = api.box(p1, "¹ See the commentary.", content_type="footnote", y=1400, height=40)
    api.correct(p1, body, "The principle1 is clear.", "The principle¹ is clear.")
    proposals = api.http.post(f"/api/v1/pages/{p1}/detect-references", json={}).get_json()
    assert [(r["position"]["charOffset"], r["targetBoxId"]) for r in proposals["applied"]] == [(13, note)]
    applied = api.write("POST", f"/pages/{p1}/detect-references", p1, {"apply": True})
    assert applied["versionNumber"] > 0
    refs = refs_of(api.page(p1), body)
    assert [(r["displayText"], r["targetBoxId"], r["createdBy"]) for r in refs] == [("¹", note, "ai")]


def test_text_correction_based_on_old_text_is_refused(api, book):
    _, (p1, _) = book
    body = api.box(p1, "Original text.")
    before = api.page(p1)
    refused = api.correct(p1, body, "Something else.", "New text.", status=409)
    assert refused["error_code"] == "text_conflict"
    after = api.page(p1)
    assert after["commitSha"] == before["commitSha"] and after["currentState"] == before["currentState"]


def test_client_changes_that_lie_leave_references_flagged_and_auto_fix_relocates_them(api, book):
    _, (p1, _) = book
    body = api.box(p1, "The principle¹ is clear.")
    note = api.box(p1, "¹ A note.", content_type="footnote", y=1400, height=40)
    api.reference(p1, body, 13, "¹", note)
    # the insertion really is at 4, the client says 20 (no newText: only the lengths can be checked)
    changes = [{"type": "insert", "position": 20, "insertedLength": 12, "deletedLength": 0}]
    answer = api.correct(p1, body, "The principle¹ is clear.", "The fundamental principle¹ is clear.", changes=changes)
    assert answer["affectedReferences"]["needsReview"]
    result = api.validate(p1)
    fixable = [w for w in result["warnings"] if w["type"] == "text_changed_unupdated"]
    assert fixable and fixable[0]["autoFixable"] and result["autoFixableCount"] == 1
    fixed = api.write("POST", f"/pages/{p1}/auto-fix", p1, {"warningIds": [fixable[0]["warningId"]], "confirmAll": False})
    assert fixed["fixed"] == [fixable[0]["warningId"]] and fixed["failed"] == []
    ref = refs_of(api.page(p1), body)[0]
    assert ref["position"]["charOffset"] == 25 and not ref.get("needsReview")
    assert api.validate(p1)["warnings"] == []
    versions = api.http.get(f"/api/v1/pages/{p1}/versions").get_json()["versions"]
    assert versions[-1]["changes"]["action"] == "auto_fixed"


# -- cross-page references and navigation -------------------------------------------------

def test_cross_page_reference_navigation_and_broken_target(api, book):
    _, (p1, p2) = book
    body = api.box(p1, "See detailed explanation in footnote 23.")
    note = api.box(p2, "23. This is a detailed explanation.", content_type="footnote", y=1400, height=40)
    added = api.reference(p1, body, 37, "23", note)
    ref = added["updatedBox"]["inlineReferences"][0]
    assert (ref["targetPageId"], ref["targetPageNumber"]) == (p2, 2)
    incoming = api.http.get(f"/api/v1/boxes/{note}/incoming-references").get_json()
    assert incoming["totalCount"] == 1
    assert incoming["incomingReferences"][0] | {"sourcePageNumber": 1, "isValid": True} == incoming["incomingReferences"][0]
    assert "footnote 23" in incoming["incomingReferences"][0]["textExcerpt"]
    outgoing = api.http.get(f"/api/v1/boxes/{body}/outgoing-references").get_json()
    assert outgoing["outgoingReferences"][0]["targetExists"] and outgoing["outgoingReferences"][0]["targetPageNumber"] == 2
    assert api.validate(p1)["warnings"] == [] and api.validate(p2)["warnings"] == []
    api.write("DELETE", f"/pages/{p2}/boxes/{note}", p2)
    result = api.validate(p1)
    assert warning_types(result) == ["cross_page_broken"] and not result["validationStatus"]["isValid"]
    assert result["validationStatus"]["brokenCrossPageRefs"] == [ref["referenceId"]]
    assert api.http.get(f"/api/v1/boxes/{note}/incoming-references").status_code == 404


def test_project_validation_counts_every_page(api, book):
    project_id, (p1, p2) = book
    body = api.box(p1, "A claim¹.")
    api.box(p2, "¹ An unreferenced note.", content_type="footnote", y=1400, height=40)
    result = api.http.post(f"/api/v1/projects/{project_id}/validate").get_json()
    assert result["counts"] == {"orphaned_footnote": 1} and result["isValid"]
    assert [p["pageNumber"] for p in result["pages"]] == [1, 2]
    assert body


# -- concurrency, versions, review ---------------------------------------------------------

def test_writes_need_if_match_and_a_stale_one_changes_nothing(api, book):
    _, (p1, _) = book
    body = api.box(p1, "Text.")
    stale = api.etags[p1]
    api.correct(p1, body, "Text.", "Text one.")
    missing = api.http.put(f"/api/v1/pages/{p1}/boxes/{body}/text", json={"oldText": "Text one.", "newText": "x"})
    assert missing.status_code == 428 and missing.get_json()["error_code"] == "precondition_required"
    refused = api.correct(p1, body, "Text one.", "Text two.", status=412, etag=stale)
    assert refused["current_version"] == api.etags[p1].strip('"')
    assert api.page(p1)["currentState"]["boundingBoxes"][-1]["text"]["corrected"] == "Text one."


def test_two_editors_on_one_version_one_wins_the_other_gets_412(api, book):
    _, (p1, _) = book
    body = api.box(p1, "Shared text.")
    etag = api.etags[p1]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def edit(new: str) -> None:
        barrier.wait()
        response = api.http.put(f"/api/v1/pages/{p1}/boxes/{body}/text", json={"oldText": "Shared text.", "newText": new},
                                headers={"If-Match": etag})
        statuses.append(response.status_code)

    threads = [threading.Thread(target=edit, args=(text,)) for text in ("Shared text, A.", "Shared text, B.")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert sorted(statuses) == [200, 412]
    final = api.page(p1)["currentState"]["boundingBoxes"][-1]["text"]["corrected"]
    assert final in ("Shared text, A.", "Shared text, B.")


def test_versions_as_of_and_revert(api, book):
    _, (p1, _) = book
    first = api.page(p1)
    body = api.box(p1, "Draft.")
    api.correct(p1, body, "Draft.", "Final.")
    versions = api.http.get(f"/api/v1/pages/{p1}/versions").get_json()["versions"]
    assert [v["version"] for v in versions] == list(range(1, len(versions) + 1))
    assert len({v["commitSha"] for v in versions}) == len(versions)
    old = api.page(p1, version=first["version"])
    assert old["currentState"]["boundingBoxes"] == first["currentState"]["boundingBoxes"]
    reverted = api.write("POST", f"/pages/{p1}/revert", p1, {"version": first["version"]})
    now = api.page(p1)
    assert now["version"] == reverted["versionNumber"] == len(versions) + 1
    assert [b["boxId"] for b in now["currentState"]["boundingBoxes"]] == [b["boxId"] for b in first["currentState"]["boundingBoxes"]]
    assert api.http.get(f"/api/v1/pages/{p1}", query_string={"version": 999}).status_code == 404


def test_approval_needs_a_second_person_and_locks_the_page(api, book):
    _, (p1, _) = book
    body = api.box(p1, "Text.")
    api.write("PUT", f"/pages/{p1}/review-status", p1, {"reviewStatus": "reviewed"})
    same = api.write("PUT", f"/pages/{p1}/review-status", p1, {"reviewStatus": "approved"}, status=409)
    assert same["error_code"] == "same_reviewer"
    api.as_user(GRACE)
    api.write("PUT", f"/pages/{p1}/review-status", p1, {"reviewStatus": "approved"})
    state = api.page(p1)["currentState"]
    assert state["reviewStatus"] == "approved" and state["approvedBy"]["userId"] == "grace@example.org"
    assert state["reviewedBy"]["userId"] == "ada@example.org"
    locked = api.correct(p1, body, "Text.", "Changed.", status=409)
    assert locked["error_code"] == "page_approved"
    skipping = api.http.put(f"/api/v1/pages/{p1}/review-status", json={"reviewStatus": "reviewed"},
                            headers={"If-Match": api.etags[p1]})
    assert skipping.status_code == 409


def test_an_edit_without_an_identity_is_refused(api, book):
    _, (p1, _) = book
    api.as_user("")
    settings = api.services.settings.model_copy(update={"user": None})
    bootstrap.use(dataclasses.replace(api.services, settings=settings))
    response = api.http.post(f"/api/v1/pages/{p1}/boxes", json={"coordinates": {"x": 0, "y": 0, "width": 5, "height": 5}},
                             headers={"If-Match": api.etags[p1]})
    assert response.status_code == 401 and response.get_json()["error_code"] == "unauthorized"


def test_boxes_outside_the_image_and_unknown_targets_are_refused(api, book):
    _, (p1, _) = book
    outside = {"coordinates": {"x": 1000, "y": 0, "width": 300, "height": 10}}
    refused = api.write("POST", f"/pages/{p1}/boxes", p1, outside, status=422)
    assert refused["field"] == "coordinates" and "width" in refused["detail"]
    body = api.box(p1, "A note¹.")
    missing = {"position": {"charOffset": 6, "length": 1}, "targetBoxId": "box-footnote-0000", "displayText": "¹"}
    assert api.write("POST", f"/pages/{p1}/boxes/{body}/inline-references", p1, missing, status=404)["error_code"] == "not_found"
    wrong = {"position": {"charOffset": 2, "length": 1}, "targetBoxId": body, "displayText": "¹"}
    assert "text mismatch" in api.write("POST", f"/pages/{p1}/boxes/{body}/inline-references", p1, wrong, status=422)["detail"]


def test_box_edits_merge_split_reorder(api, book):
    _, (p1, _) = book
    a = api.box(p1, "First part¹", y=300)
    b = api.box(p1, "second part.", y=400)
    note = api.box(p1, "¹ Note.", content_type="footnote", y=1400, height=40)
    api.reference(p1, a, 10, "¹", note)
    merged = api.write("POST", f"/pages/{p1}/boxes/merge", p1, {"boxIds": [b, a]})
    box = merged["updatedBoxes"][0]
    assert box["boxId"] == a and box["text"]["corrected"] == "First part¹\nsecond part."
    assert box["coordinates"] == {"x": 100, "y": 300, "width": 900, "height": 160, "rotation": None}
    split = api.write("POST", f"/pages/{p1}/boxes/{a}/split", p1, {"charOffset": 12}, status=201)
    new_id = split["createdBoxIds"][0]
    texts = {x["boxId"]: x["text"]["corrected"] for x in split["updatedBoxes"]}
    assert texts == {a: "First part¹", new_id: "second part."}
    page = api.page(p1)
    order = [x["boxId"] for x in sorted(page["currentState"]["boundingBoxes"], key=lambda x: x["readingOrder"])]
    api.write("PUT", f"/pages/{p1}/reading-order", p1, {"boxIds": list(reversed(order))})
    page = api.page(p1)
    assert [x["boxId"] for x in sorted(page["currentState"]["boundingBoxes"], key=lambda x: x["readingOrder"])] == list(reversed(order))
    moved = api.write("PATCH", f"/pages/{p1}/boxes/{note}", p1, {"contentType": "commentary"})
    versions = api.http.get(f"/api/v1/pages/{p1}/versions").get_json()["versions"]
    assert versions[-1]["changeType"] == "box_relabeled" and moved["updatedBoxes"][0]["contentType"] == "commentary"


def test_an_ocr_rerun_never_overwrites_a_correction(api):
    first = one_line("The principle is clear", y=200) + [
        token(4 + i, w, 100 + 150 * i, 500, block=2, line=2) for i, w in enumerate(["Another", "paragraph", "here"])]
    project_id, (p1,) = project_of(api, [first])
    page = api.page(p1)
    boxes = sorted(page["currentState"]["boundingBoxes"], key=lambda b: b["coordinates"]["y"])
    assert [b["text"]["corrected"] for b in boxes] == ["The principle is clear", "Another paragraph here"]
    corrected, untouched = boxes[0]["boxId"], boxes[1]["boxId"]
    api.correct(p1, corrected, "The principle is clear", "The principle is clear.")
    source_doc_id = api.http.get(f"/api/v1/projects/{project_id}").get_json()["sourceDocument"]["sourceDocId"]
    run = api.http.post("/api/v1/ocr/runs", json={"source_doc_id": source_doc_id, "engine": "docai", "engine_version": "2",
                                                  "config": {"languages": "en"}}).get_json()
    second = one_line("The principIe is c1ear", y=200) + [
        token(4 + i, w, 100 + 150 * i, 500, block=2, line=2) for i, w in enumerate(["Another", "paragraph", "there"])]
    result_id = run["page_results"][0]["page_result_id"]
    assert api.http.post(f"/api/v1/ocr/page_results/{result_id}/ingest", json={"mode": "replace", "tokens": second}).status_code == 200
    answer = api.http.post(f"/api/v1/projects/{project_id}/ocr-runs", json={"runId": run["run"]["run_id"]})
    assert answer.status_code == 200, answer.get_json()
    assert answer.get_json() | {"applied": [untouched], "suggested": [corrected]} == answer.get_json()
    after = {b["boxId"]: b for b in api.page(p1)["currentState"]["boundingBoxes"]}
    assert after[corrected]["text"]["corrected"] == "The principle is clear."
    assert after[corrected]["text"]["ocrSuggestion"]["text"] == "The principIe is c1ear"
    assert after[corrected]["text"]["ocrSuggestion"]["changes"]
    assert after[untouched]["text"]["corrected"] == "Another paragraph there"
    assert after[untouched]["text"]["ocr"] == "Another paragraph here"  # the first reading stays


def test_a_project_of_a_real_page_with_a_footnote_links_it_and_validates_clean(api, corpus):
    from conftest import upload, wait_finished

    job_id = upload(api.http, corpus / "eng-oldbooks/e052.tiff", lang="eng").get_json()["job_id"]
    assert wait_finished(api.http, job_id)["status"] == "completed"
    created = api.http.post("/api/v1/projects", json={"jobId": job_id, "title": "The Corset and the Crinoline"})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    assert body["referencesApplied"] >= 1
    (page_id,) = body["pageIds"]
    page = api.page(page_id)
    boxes = page["currentState"]["boundingBoxes"]
    footnotes = [b for b in boxes if b["contentType"] == "footnote"]
    assert footnotes and footnotes[0]["text"]["corrected"].startswith("*")
    linking = [(b, r) for b in boxes for r in b["inlineReferences"] if r["targetBoxId"] == footnotes[0]["boxId"]]
    assert linking and linking[0][1]["displayText"] == "*" and linking[0][1]["createdBy"] == "ai"
    source, ref = linking[0]
    assert source["text"]["corrected"][ref["position"]["charOffset"]] == "*"
    assert [r["sourceBoxId"] for r in footnotes[0]["incomingReferences"]] == [source["boxId"]]
    result = api.validate(page_id)
    assert result["validationStatus"]["isValid"] and result["warnings"] == [], result["warnings"]
    assert api.http.get(f"/api/v1/projects/{body['project']['projectId']}/pages").get_json()["items"][0]["boxCount"] == len(boxes)
    image = page["image"]
    assert image["blobKey"].startswith(f"projects/{body['project']['projectId']}/") and api.services.blobs.exists(image["blobKey"])
    project_id = body["project"]["projectId"]
    log = api.http.get(f"/api/v1/projects/{project_id}/costs")
    assert log.status_code == 200 and log.mimetype == "application/jsonl"
    lines = [json.loads(line) for line in log.get_data(as_text=True).splitlines()]
    assert lines and all(line["projectId"] == project_id and line["currency"] == "USD" for line in lines)
    assert {line["pageId"] for line in lines if "pageId" in line} == {page_id}
    costs = api.http.get(f"/api/v1/projects/{project_id}").get_json()["costs"]
    assert costs["totalSpent"] == pytest.approx(sum(line["totalCost"] for line in lines)) and costs["totalSpent"] > 0
    assert costs["breakdown"]["ocr"] == pytest.approx(costs["totalSpent"])
