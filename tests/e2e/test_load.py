"""Load on the real server: 50 uploads at once all complete, and the rate limit admits exactly
its number of requests when they all arrive together. (Latencies are `make bench`'s.)"""

from __future__ import annotations

import io
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
from conftest import SAMPLES, wait_for
from PIL import Image
from servers import LiveServer

UNKNOWN = "A" * 43


def small_page() -> bytes:
    """A 1,000 x 700 pixel piece of the sample page (a few lines of real print), as PNG."""
    with Image.open(SAMPLES / "alice_1.png") as im:
        piece = im.crop((200, 400, 1200, 1100))
        out = io.BytesIO()
        piece.save(out, format="PNG", dpi=(300, 300))
    return out.getvalue()


def test_fifty_concurrent_uploads_all_complete(tmp_path):
    page = small_page()
    with LiveServer(tmp_path / "data", env={"PAGESAGE_WORKERS": "2"}) as server, httpx.Client(timeout=120) as http:
        def upload(i: int) -> httpx.Response:
            return http.post(f"{server.url}/upload", files={"file": (f"p{i}.png", page, "image/png")}, data={"lang": "eng"})

        with ThreadPoolExecutor(50) as pool:
            answers = list(pool.map(upload, range(50)))
        assert [a.status_code for a in answers] == [202] * 50
        jobs = [a.json()["job_id"] for a in answers]
        assert len(set(jobs)) == 50
        pending = set(jobs)

        def all_done() -> bool:
            for job_id in list(pending):
                body = http.get(f"{server.url}/status/{job_id}").json()
                if body["status"] in ("completed", "failed"):
                    assert body["status"] == "completed", body
                    pending.discard(job_id)
            return not pending

        wait_for(all_done, 600, "jobs unfinished", interval=0.5)
        assert len(http.get(f"{server.url}/result/{jobs[-1]}?format=text").content.split()) > 20


def test_the_rate_limit_is_exact_under_concurrency(tmp_path):
    limit, sent = 20, 60
    with LiveServer(tmp_path / "data", env={"PAGESAGE_RATE_LIMIT": str(limit)}) as server, httpx.Client(timeout=60) as http:
        # the start-up check used one request of its minute; start in a window with time to spare
        if time.time() % 60 > 45:
            time.sleep(61 - time.time() % 60)
        used = 1 if time.time() // 60 == server.ready_at // 60 else 0
        with ThreadPoolExecutor(sent) as pool:
            codes = list(pool.map(lambda _: http.get(f"{server.url}/status/{UNKNOWN}").status_code, range(sent)))
    assert codes.count(404) == limit - used and codes.count(429) == sent - limit + used
