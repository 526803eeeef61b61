"""Faults of the real server: `pagesage serve` killed in the middle of a job and started again,
a task delivered twice; every job ends completed or failed, with no page read twice."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
from conftest import SAMPLES, wait_for
from factories import eight_page_pdf
from servers import LiveServer


def status(url: str, job_id: str) -> dict:
    return httpx.get(f"{url}/status/{job_id}", timeout=30).json()


def rows(db: Path, sql: str, *args) -> list[tuple]:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return conn.execute(sql, args).fetchall()


def test_a_server_killed_mid_job_finishes_it_after_a_restart(tmp_path):
    data = tmp_path / "data"
    pdf = eight_page_pdf(tmp_path / "eight.pdf")
    server = LiveServer(data).start()
    try:
        with open(pdf, "rb") as stream:
            job_id = httpx.post(f"{server.url}/upload", files={"file": ("eight.pdf", stream, "application/pdf")},
                                data={"lang": "eng"}, timeout=60).json()["job_id"]
        wait_for(lambda: status(server.url, job_id)["progress"]["pages_done"] >= 3, 300, "3 pages not done")
        server.kill()  # mid-page: one page is claimed and half read
    finally:
        server.kill()
    db = data / "pagesage.db"
    (doc,) = rows(db, "SELECT doc FROM jobs WHERE job_id = ?", job_id)[0]
    assert '"status":"processing"' in doc
    left = data / "tmp" / "pagesage-page-killed"  # what a kill mid-render leaves (if this one did not)
    left.mkdir(exist_ok=True)

    with LiveServer(data, port=server.port) as again:  # the same data folder, started again
        final = wait_for(lambda: (s := status(again.url, job_id))["status"] in ("completed", "failed") and s, 300,
                         "the job did not finish")
        assert final["status"] == "completed"
        assert final["progress"] == {"pages_total": 8, "pages_done": 8, "pages_failed": 0}
        text = httpx.get(f"{again.url}/result/{job_id}?format=text", timeout=60).content
        assert text.count(b"\f") == 7
    per_page = rows(db, "SELECT page_no, COUNT(*) FROM page_results WHERE job_id = ? GROUP BY page_no", job_id)
    assert per_page == [(n, 1) for n in range(1, 9)]  # one result a page: none read twice into the store
    costs = rows(db, "SELECT cost_id FROM costs WHERE job_id = ?", job_id)
    assert sorted(c for (c,) in costs) == sorted(f"{job_id}:p{n}:ocr-extraction" for n in range(1, 9))
    assert not list((data / "tmp").iterdir())  # what the killed process left was cleared


def test_serve_stops_cleanly_on_ctrl_c(tmp_path):
    server = LiveServer(tmp_path / "data").start()
    assert server.stop() == 0
    assert "Traceback" not in server.log.read_text()


def test_pagesage_run_ends_cleanly(tmp_path):
    """The main job (`make run`) stops its server from the serving thread: no `Bad file
    descriptor` from waitress, no traceback, exit status 0."""
    import os
    import subprocess

    from servers import PAGESAGE

    env = {**os.environ, "PAGESAGE_DATA_DIR": str(tmp_path / "data")}
    done = subprocess.run([str(PAGESAGE), "run", str(SAMPLES / "alice_1.png"), "--out", str(tmp_path / "out"), "--lang", "eng"], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout and "Bad file descriptor" not in done.stderr
    assert sorted(p.suffix for p in (tmp_path / "out").iterdir()) == [".hocr", ".json", ".md", ".txt"]
