"""The cost log over HTTP: a real job through the embedded stack, then `/api/v1/costs`
summaries, JSONL export, redelivery, bad parameters and the `pagesage costs` command."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from conftest import SAMPLES, upload, wait_finished
from test_rate_limit_and_server import live  # noqa: F401 - the real loopback server fixture
from test_worker import RecordingQueue, deliver

from pagesage import bootstrap
from pagesage.cli import main
from pagesage.domain.pages import CostEntry
from pagesage.errors import TransientError

ALICE = SAMPLES / "alice_1.png"


@pytest.fixture
def finished_job(http, services) -> str:
    """The id of a completed `eng` job of alice_1.png (one page)."""
    job_id = upload(http, ALICE, lang="eng").get_json()["job_id"]
    assert wait_finished(http, job_id)["status"] == "completed"
    return job_id


def test_summaries_by_job_document_engine_and_day(http, services, finished_job):
    job_id, rate = finished_job, services.settings.tesseract_usd_per_vcpu_second
    [entry] = services.store.list_costs(job_id)
    assert entry.cost_id == f"{job_id}:p1:ocr-extraction"
    assert (entry.operation, entry.provider, entry.service, entry.unit) == ("ocr-extraction", "local", "tesseract-local", "vcpu_second")
    assert entry.units > 0 and entry.total_usd == pytest.approx(entry.units * rate)
    assert entry.response_ms == pytest.approx(entry.units * 1000, abs=1)

    response = http.get(f"/api/v1/costs?job={job_id}")
    assert response.status_code == 200 and response.mimetype == "application/json"
    body = response.get_json()
    assert (body["group_by"], body["job"], body["currency"], body["calls"]) == ("job", job_id, "USD", 1)
    assert body["total_usd"] == pytest.approx(entry.total_usd) and body["price_versions"] == ["2026-11"]
    [group] = body["groups"]
    assert (group["key"], group["file_name"], group["calls"]) == (job_id, "alice_1.png", 1)
    assert group["units"] == {"vcpu_second": pytest.approx(entry.units)}

    sha256 = hashlib.sha256(ALICE.read_bytes()).hexdigest()
    today = datetime.now(timezone.utc).date().isoformat()
    for group_by, key in (("document", sha256), ("engine", "tesseract"), ("day", today)):
        [group] = http.get(f"/api/v1/costs?job={job_id}&group_by={group_by}").get_json()["groups"]
        assert (group["key"], group["calls"]) == (key, 1), group_by
        assert group["total_usd"] == pytest.approx(entry.total_usd)
    assert http.get(f"/api/v1/costs?job={job_id}&group_by=document").get_json()["groups"][0]["file_name"] == "alice_1.png"
    # the production path of the function answers the same
    assert http.get(f"/costs?job={job_id}").get_json()["groups"] == body["groups"]


def test_totals_add_up_across_jobs_and_time_filters_apply(http, services, finished_job):
    second = upload(http, ALICE, lang="eng").get_json()["job_id"]
    assert wait_finished(http, second)["status"] == "completed"
    entries = {e.job_id: e for job in (finished_job, second) for e in services.store.list_costs(job)}
    body = http.get("/api/v1/costs").get_json()
    assert body["calls"] == 2 and {g["key"] for g in body["groups"]} == {finished_job, second}
    assert body["total_usd"] == pytest.approx(sum(e.total_usd for e in entries.values()))
    [document] = http.get("/api/v1/costs?group_by=document").get_json()["groups"]  # the same file twice
    assert document["calls"] == 2

    now = datetime.now(timezone.utc)
    assert http.get(f"/api/v1/costs?since={now.date().isoformat()}").get_json()["calls"] == 2
    later = (now + timedelta(hours=1)).isoformat()
    empty = http.get("/api/v1/costs", query_string={"since": later}).get_json()
    assert (empty["calls"], empty["total_usd"], empty["groups"]) == (0, 0, [])
    split = entries[second].created_at
    before = http.get("/api/v1/costs", query_string={"until": split.isoformat()}).get_json()
    assert [g["key"] for g in before["groups"]] == [finished_job]


def test_auto_language_logs_detection_and_recognition(http, services):
    job_id = upload(http, ALICE, lang="auto").get_json()["job_id"]
    assert wait_finished(http, job_id)["status"] == "completed"
    entries = services.store.list_costs(job_id)
    assert sorted(e.cost_id for e in entries) == [f"{job_id}:p1:layout-detection", f"{job_id}:p1:ocr-extraction"]
    assert all(e.service == "tesseract-local" and e.units > 0 for e in entries)
    body = http.get(f"/api/v1/costs?job={job_id}").get_json()
    assert body["calls"] == 2 and body["total_usd"] == pytest.approx(sum(e.total_usd for e in entries))


def test_jsonl_export_is_one_cost_entry_per_line(http, services, finished_job):
    response = http.get(f"/api/v1/costs?job={finished_job}&format=jsonl")
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    lines = response.get_data(as_text=True).splitlines()
    assert [CostEntry.model_validate_json(line) for line in lines] == services.store.list_costs(finished_job)
    assert json.loads(lines[0])["currency"] == "USD"


class FinishFailsOnce:
    """The services' store, except that the first `finish_page` is unavailable (the worker then
    answers 503 after the cost was logged, and the queue delivers the page again)."""

    def __init__(self, store):
        self._store = store
        self.added: list[bool] = []
        self.failed = False

    def __getattr__(self, name):
        return getattr(self._store, name)

    def add_cost(self, entry):
        self.added.append(self._store.add_cost(entry))
        return self.added[-1]

    def finish_page(self, page):
        if not self.failed:
            self.failed = True
            raise TransientError("store unavailable")
        return self._store.finish_page(page)


def test_a_redelivered_page_task_is_not_counted_twice(http, services):
    queue, store = RecordingQueue(), FinishFailsOnce(services.store)
    bootstrap.use(dataclasses.replace(services, queue=queue, store=store))
    job_id = upload(http, ALICE, lang="eng").get_json()["job_id"]
    assert deliver(http, queue.tasks.pop()).status_code == 204  # prepare
    [page_task] = queue.tasks

    assert deliver(http, page_task).status_code == 503  # OCR'd and cost logged, then the store failed
    assert deliver(http, page_task).status_code == 204  # redelivered: OCR'd again, cost not logged again
    assert deliver(http, page_task).status_code == 204  # and once more after it finished: nothing runs
    assert store.added == [True, False]
    assert http.get(f"/status/{job_id}").get_json()["status"] == "completed"
    body = http.get(f"/api/v1/costs?job={job_id}").get_json()
    assert body["calls"] == 1 and len(body["groups"]) == 1
    assert len(http.get(f"/api/v1/costs?job={job_id}&format=jsonl").get_data(as_text=True).splitlines()) == 1


@pytest.mark.parametrize(("query", "field"), [
    ("group_by=week", "group_by"),
    ("format=xml", "format"),
    ("since=yesterday", "since"),
    ("until=2026-13-01", "until"),
    ("since=2026-11-02&until=2026-11-01", "since"),
    ("job=not-a-job", "job"),
    ("job=", "job"),
    ("jobs=x", "jobs"),
    ("group_by=job&group_by=day", "group_by"),
])
def test_bad_parameters_are_400_naming_the_field(http, query, field):
    response = http.get(f"/api/v1/costs?{query}")
    assert response.status_code == 400, query
    body = response.get_json()
    assert body["error_code"] == "bad_request" and body["detail"].startswith(f"{field}:"), body


def test_only_get_is_allowed(http):
    response = http.post("/api/v1/costs")
    assert response.status_code == 405 and response.headers["Allow"] == "GET, HEAD"  # HEAD wherever GET (RFC 9110 §9.3.2)


def test_cli_summarizes_and_exports_over_http(live, services, finished_job):  # noqa: F811 - `live` is a fixture
    summary = CliRunner().invoke(main, ["costs", "--url", live, "--group-by", "engine"])
    assert summary.exit_code == 0, summary.output
    lines = summary.stdout.splitlines()
    assert lines[0].split() == ["engine", "file", "calls", "units", "USD"]
    assert lines[1].split()[:3] == ["tesseract", "-", "1"] and lines[-1].split()[:2] == ["total", "1"]
    [entry] = services.store.list_costs(finished_job)
    assert f"{entry.total_usd:.6f}" in lines[-1]

    exported = CliRunner().invoke(main, ["costs", "--url", live, "--job", finished_job, "--jsonl"])
    assert exported.exit_code == 0
    assert [CostEntry.model_validate_json(line) for line in exported.stdout.splitlines()] == [entry]

    refused = CliRunner().invoke(main, ["costs", "--url", live, "--since", "soon"])
    assert refused.exit_code != 0 and "400 bad_request: since:" in refused.output
