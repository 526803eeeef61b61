"""Rate limiting across the functions, and the real loopback server with the CLI's client."""

from __future__ import annotations

import dataclasses
import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from click.testing import CliRunner
from conftest import SAMPLES

from pagesage import bootstrap
from pagesage.cli import main
from pagesage.client import ApiError, PageSageClient
from pagesage.server import create_server, serving

UNKNOWN = "A" * 43


class Clock:
    """A settable clock for rate-limit windows."""

    def __init__(self, now: datetime):
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def limited(services, limit: int, clock, hops: int = 0):
    settings = services.settings.model_copy(update={"rate_limit": limit, "trusted_proxy_hops": hops})
    bootstrap.use(dataclasses.replace(services, settings=settings, clock=clock))


def test_the_101st_request_in_a_minute_is_refused_and_the_next_minute_admits(http, services):
    clock = Clock(datetime(2026, 3, 1, 10, 0, 15, tzinfo=timezone.utc))
    limited(services, 100, clock)
    paths = [f"/status/{UNKNOWN}", f"/result/{UNKNOWN}"]
    for i in range(100):  # counted across functions: status and result share one budget
        assert http.get(paths[i % 2]).status_code == 404
    refused = http.get(f"/status/{UNKNOWN}")
    assert refused.status_code == 429
    assert refused.get_json()["error_code"] == "rate_limited"
    assert refused.headers["Retry-After"] == "45"
    assert http.post("/upload", data={}).status_code == 429
    clock.now += timedelta(seconds=45)
    assert http.get(f"/status/{UNKNOWN}").status_code == 404


def test_forwarded_for_counts_only_the_trusted_hops_from_the_right(http, services):
    clock = Clock(datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone.utc))
    # the client forges the first hop; the one trusted proxy appends the real address
    forged = [{"X-Forwarded-For": f"198.51.100.{i}, 203.0.113.7"} for i in range(3)]
    limited(services, 2, clock)  # no trusted proxy: the socket peer counts
    assert [http.get(f"/status/{UNKNOWN}", headers=h).status_code for h in forged] == [404, 404, 429]

    limited(services, 2, Clock(clock.now + timedelta(minutes=1)), hops=1)
    assert [http.get(f"/status/{UNKNOWN}", headers=h).status_code for h in forged] == [404, 404, 429]
    other = {"X-Forwarded-For": "198.51.100.1, 203.0.113.8"}  # another client behind the same proxy
    assert http.get(f"/status/{UNKNOWN}", headers=other).status_code == 404

    limited(services, 2, Clock(clock.now + timedelta(minutes=2)), hops=2)  # two proxies: the second from the right
    two = [{"X-Forwarded-For": f"10.9.9.{i}, 198.51.100.50, 203.0.113.7"} for i in range(3)]
    assert [http.get(f"/status/{UNKNOWN}", headers=h).status_code for h in two] == [404, 404, 429]
    short = [{"X-Forwarded-For": f"198.51.100.{60 + i}"} for i in range(3)]  # fewer hops than trusted: the peer counts
    assert [http.get(f"/status/{UNKNOWN}", headers=h).status_code for h in short] == [404, 404, 429]


def test_the_worker_is_not_rate_limited(http, services):
    limited(services, 1, Clock(datetime(2026, 3, 1, 10, 0, 0, tzinfo=timezone.utc)))
    body = f'{{"kind": "ocr_page", "job_id": "{UNKNOWN}", "page_no": 1}}'
    assert [http.post("/ocr", data=body, content_type="application/json").status_code for _ in range(3)] == [204] * 3


@pytest.fixture
def live(services):
    """The real waitress server on a free loopback port."""
    with serving(create_server("127.0.0.1", 0)) as server:
        yield f"http://127.0.0.1:{server.effective_port}"


def test_client_over_real_http_submits_waits_and_reads_results(live, services, tmp_path):
    client = PageSageClient(live, min_interval=0.05)
    try:
        job_id = client.submit(SAMPLES / "tesseract-testing-2pages.pdf", lang="eng")
        statuses = client.wait([job_id], timeout=300)
        assert statuses[job_id]["status"] == "completed"
        assert client.result(job_id, "text").count(b"\f") == 1
        with pytest.raises(ApiError) as error:
            client.result(UNKNOWN)
        assert error.value.status == 404 and error.value.error_code == "not_found"
        empty = tmp_path / "empty.png"
        empty.touch()
        with pytest.raises(ApiError) as error:
            client.submit(empty)
        assert error.value.status == 400 and error.value.error_code == "empty_file"
    finally:
        client.close()


def test_client_waits_out_a_429_using_retry_after(live, services):
    start = time.time()
    # a real clock, shifted so the current window ends within about a second
    shift = timedelta(seconds=59 - (start % 60))
    limited(services, 1, lambda: datetime.now(timezone.utc) + shift)
    slept: list[float] = []
    client = PageSageClient(live, min_interval=0, max_retries=3, sleep=lambda s: (slept.append(s), time.sleep(s)))
    try:
        with pytest.raises(ApiError):
            client.status(UNKNOWN)  # first request admitted: 404
        with pytest.raises(ApiError) as error:
            client.status(UNKNOWN)  # 429, Retry-After 1 -> waits, next window admits -> 404
        assert error.value.status == 404
        assert sum(slept) >= 0.9  # it waited out the Retry-After second
    finally:
        client.close()


def test_cli_submit_wait_and_out(live, services, tmp_path):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["submit", str(SAMPLES / "tesseract-testing-2pages.pdf"), "--lang", "eng", "--url", live, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["tesseract-testing-2pages.hocr", "tesseract-testing-2pages.json", "tesseract-testing-2pages.md", "tesseract-testing-2pages.txt"]
    assert "tesseract-testing-2pages.pdf  2" in result.output
    job_id = result.output.split()[0]
    status = CliRunner().invoke(main, ["status", job_id, "--url", live])
    assert status.exit_code == 0 and '"status": "completed"' in status.output
    missing = CliRunner().invoke(main, ["status", UNKNOWN, "--url", live])
    assert missing.exit_code == 1 and "404 not_found" in missing.output


def test_unknown_paths_answer_404_json(http):
    response = http.get("/nothing/here")
    assert response.status_code == 404 and response.get_json()["error_code"] == "not_found"
