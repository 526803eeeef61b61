"""Faults on the Google Cloud backend, against the real emulators: `pagesage serve` (the
functions, with Cloud Tasks calling its `ocr`) killed mid-page and started again, and the
Firestore emulator restarted under load. Every job ends completed or failed, no page result or
cost entry twice. The sweep runs every second here (Cloud Scheduler's every 5 minutes in
production) and a page's lease lasts 8 s, so a dead worker's page is taken over quickly."""

from __future__ import annotations

import os
import secrets
import signal
import time
from pathlib import Path

import httpx
import pytest
from conftest import SAMPLES, wait_for
from google.cloud.firestore_v1.base_query import FieldFilter
from factories import eight_page_pdf
from servers import LiveServer

from pagesage import emulators
from pagesage.adapters.firestore_store import firestore_client


class RestartableFirestore:
    """A Firestore emulator of this module's own, on a fixed port, that can be restarted with
    its data: exported over its REST API, stopped, started again importing the export. (The
    export is not a snapshot of one instant: whoever writes must be paused meanwhile, as a real
    Firestore keeps every write it acknowledged.)"""

    def __init__(self, folder: Path) -> None:
        self.port = emulators.free_port()
        self.folder = folder
        self.emulator: emulators.Emulator | None = None

    def start(self, import_from: Path | None = None) -> None:
        argv = ["gcloud", "emulators", "firestore", "start", f"--host-port=127.0.0.1:{self.port}", "--quiet"]
        if import_from is not None:
            argv.append(f"--import-data={import_from}")
        self.emulator = emulators.Emulator("firestore", argv, self.port, emulators._http_ok(f"http://127.0.0.1:{self.port}/"))
        self.emulator.start()

    def restart(self) -> float:
        """Export, stop, start importing the export; returns the seconds it was down."""
        export = self.folder / secrets.token_hex(4)
        export.mkdir(parents=True)
        httpx.post(f"http://127.0.0.1:{self.port}/emulator/v1/projects/{emulators.PROJECT}:export", timeout=60,
                   json={"database": f"projects/{emulators.PROJECT}/databases/(default)",
                         "export_directory": str(export)}).raise_for_status()
        down = time.monotonic()
        self.emulator.stop()
        wait_for(lambda: not emulators.port_open(self.port), 30, "the old emulator still holds its port", interval=0.05)
        (metadata,) = export.glob("*/*.overall_export_metadata")
        self.start(import_from=metadata)
        return time.monotonic() - down

    def stop(self) -> None:
        if self.emulator:
            self.emulator.stop()


@pytest.fixture
def firestore_own(tmp_path):
    emulator = RestartableFirestore(tmp_path / "exports")
    emulator.start()
    yield emulator
    emulator.stop()


@pytest.fixture
def gcp_server(firestore_own, storage_host, tasks_host, tmp_path):
    """`pagesage serve` on the gcp backend, on a fixed port Cloud Tasks delivers to."""
    port = emulators.free_port()
    env = {"PAGESAGE_BACKEND": "gcp", "GOOGLE_CLOUD_PROJECT": emulators.PROJECT,
           "FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{firestore_own.port}", "STORAGE_EMULATOR_HOST": storage_host,
           "CLOUD_TASKS_EMULATOR_HOST": tasks_host, "PAGESAGE_BUCKET": f"pagesage-{secrets.token_hex(4)}",
           "PAGESAGE_TASKS_QUEUE": f"ocr-{secrets.token_hex(4)}", "PAGESAGE_PUBLIC_URL": f"http://127.0.0.1:{port}",
           "PAGESAGE_WORKERS": "2", "PAGESAGE_STALL_SECONDS": "4", "PAGESAGE_SWEEP_SECONDS": "1",
           "PAGESAGE_PAGE_LEASE_SECONDS": "8", "PAGESAGE_JOB_ATTEMPTS": "10"}
    server = LiveServer(tmp_path / "unused", env=env, port=port)
    yield server
    server.stop()


def upload(url: str, path: Path, content_type: str) -> str:
    with open(path, "rb") as stream:
        response = httpx.post(f"{url}/upload", files={"file": (path.name, stream, content_type)}, data={"lang": "eng"}, timeout=60)
    assert response.status_code == 202, response.text
    return response.json()["job_id"]


def statuses(url: str, job_ids: list[str]) -> dict[str, dict]:
    """Each job's status; a job whose status cannot be read right now (503 while Firestore is
    down) is left out."""
    out = {}
    for job_id in job_ids:
        try:
            response = httpx.get(f"{url}/status/{job_id}", timeout=30)
        except httpx.HTTPError:
            continue
        if response.status_code == 200:
            out[job_id] = response.json()
    return out


def wait_all_finished(url: str, job_ids: list[str], timeout: float = 300) -> dict[str, dict]:
    def finished() -> dict[str, dict] | None:
        now = statuses(url, job_ids)
        done = len(now) == len(job_ids) and all(s["status"] in ("completed", "failed") for s in now.values())
        return now if done else None

    return wait_for(finished, timeout, "jobs not finished", interval=0.5)


def assert_nothing_twice(firestore_port: int, job_id: str, pages: int) -> None:
    client = firestore_client(emulators.PROJECT)  # FIRESTORE_EMULATOR_HOST names this module's emulator
    results = [s.to_dict() for s in client.collection("page_results").where(filter=FieldFilter("job_id", "==", job_id)).stream()]
    assert sorted(r["page_no"] for r in results) == list(range(1, pages + 1))
    costs = [s.id for s in client.collection("costs").where(filter=FieldFilter("job_id", "==", job_id)).stream()]
    assert sorted(c for c in costs if c.endswith("ocr-extraction")) == sorted(f"{job_id}:p{n}:ocr-extraction" for n in range(1, pages + 1))


def test_a_gcp_server_killed_mid_page_finishes_the_job_after_a_restart(gcp_server, firestore_own, tmp_path, monkeypatch):
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{firestore_own.port}")
    server = gcp_server.start()
    job_id = upload(server.url, eight_page_pdf(tmp_path / "eight.pdf"), "application/pdf")
    wait_for(lambda: statuses(server.url, [job_id]).get(job_id, {}).get("progress", {}).get("pages_done", 0) >= 2, 300,
             "2 pages not done", interval=0.1)
    server.kill()  # Cloud Tasks' deliveries in flight fail, and it gives up on them
    time.sleep(1)
    server.start()
    final = wait_all_finished(server.url, [job_id])[job_id]
    assert final["status"] == "completed", final
    assert final["progress"] == {"pages_total": 8, "pages_done": 8, "pages_failed": 0}
    assert_nothing_twice(firestore_own.port, job_id, 8)


def test_jobs_survive_a_firestore_restart_under_load(gcp_server, firestore_own, tmp_path, monkeypatch):
    monkeypatch.setenv("FIRESTORE_EMULATOR_HOST", f"127.0.0.1:{firestore_own.port}")
    server = gcp_server.start()
    jobs = {upload(server.url, eight_page_pdf(tmp_path / "eight.pdf"), "application/pdf"): 8,
            upload(server.url, SAMPLES / "tesseract-testing-2pages.pdf", "application/pdf"): 2,
            upload(server.url, SAMPLES / "alice_1.png", "image/png"): 1}
    time.sleep(1.5)  # under way
    os.killpg(server.process.pid, signal.SIGSTOP)  # what the emulator acknowledged is what its export holds
    try:
        down = firestore_own.restart()
    finally:
        os.killpg(server.process.pid, signal.SIGCONT)  # the server's connections now meet a new emulator
    assert down > 1
    final = wait_all_finished(server.url, list(jobs))
    for job_id, pages in jobs.items():
        assert final[job_id]["status"] == "completed", final[job_id]
        assert final[job_id]["progress"]["pages_done"] == pages, final[job_id]
        assert_nothing_twice(firestore_own.port, job_id, pages)
    assert "Traceback" not in httpx.get(f"{server.url}/status/{'A' * 43}", timeout=30).text
