"""Benchmark: `GET /status` latency of the real server, idle and while 50 uploads are OCR'd.

    python tests/bench/bench_load.py [--uploads 50] [--polls 400]

A `pagesage serve` process (the embedded backend, 2 workers, no rate limit) on loopback:
1. idle: `--polls` status requests of an unknown job, one after another: p50 and p99;
2. loaded: `--uploads` uploads of a 1,000 x 700 pixel piece of the sample page at once, then
   status requests of those jobs, 8 clients at a time, until every job finished: p50 and p99
   of those requests, the uploads' own latency, and the seconds until all jobs completed;
3. the ratio loaded / idle of each percentile (both measured in this run).
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tests"))

from servers import LiveServer  # noqa: E402

UNKNOWN = "A" * 43


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0-1) of `values` (`statistics.quantiles`, inclusive method)."""
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1] if len(values) > 1 else values[0]


def small_page() -> bytes:
    from PIL import Image

    with Image.open(REPO / "samples" / "alice_1.png") as im:
        out = io.BytesIO()
        im.crop((200, 400, 1200, 1100)).save(out, format="PNG", dpi=(300, 300))
    return out.getvalue()


def timed_get(http: httpx.Client, url: str) -> tuple[float, dict]:
    t0 = time.perf_counter()
    body = http.get(url).json()
    return time.perf_counter() - t0, body


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--polls", type=int, default=400)
    args = parser.parse_args()
    page = small_page()
    with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp, \
            LiveServer(Path(tmp) / "data", env={"PAGESAGE_WORKERS": "2"}) as server, httpx.Client(timeout=120) as http:
        for _ in range(20):  # warm-up
            http.get(f"{server.url}/status/{UNKNOWN}")
        idle = [timed_get(http, f"{server.url}/status/{UNKNOWN}")[0] for _ in range(args.polls)]

        started = time.perf_counter()

        def upload(i: int) -> tuple[float, str]:
            t0 = time.perf_counter()
            response = http.post(f"{server.url}/upload", files={"file": (f"p{i}.png", page, "image/png")}, data={"lang": "eng"})
            response.raise_for_status()
            return time.perf_counter() - t0, response.json()["job_id"]

        with ThreadPoolExecutor(args.uploads) as pool:
            uploads = list(pool.map(upload, range(args.uploads)))
        pending = {job_id for _, job_id in uploads}
        lock = threading.Lock()
        loaded: list[float] = []
        failed: list[str] = []

        def poll(_: int) -> None:
            while True:
                with lock:
                    if not pending:
                        return
                    job_id = next(iter(pending))
                seconds, body = timed_get(http, f"{server.url}/status/{job_id}")
                with lock:
                    loaded.append(seconds)
                    if body["status"] in ("completed", "failed") and job_id in pending:
                        pending.discard(job_id)
                        if body["status"] == "failed":
                            failed.append(job_id)
                time.sleep(0.02)

        with ThreadPoolExecutor(8) as pool:
            list(pool.map(poll, range(8)))
        all_done = time.perf_counter() - started

    upload_s = [s for s, _ in uploads]
    print(f"pagesage serve, embedded backend, 2 workers, loopback; {args.uploads} uploads of a 1000x700 px page\n")
    print(f"{'GET /status':<28}{'p50 ms':>10}{'p99 ms':>10}{'requests':>10}")
    for name, values in (("idle", idle), ("while OCR'ing the uploads", loaded)):
        print(f"{name:<28}{percentile(values, .5) * 1000:>10.1f}{percentile(values, .99) * 1000:>10.1f}{len(values):>10}")
    print(f"{'ratio loaded / idle':<28}{percentile(loaded, .5) / percentile(idle, .5):>10.2f}"
          f"{percentile(loaded, .99) / percentile(idle, .99):>10.2f}")
    print(f"\nPOST /upload, {args.uploads} at once: p50 {percentile(upload_s, .5) * 1000:.0f} ms, "
          f"p99 {percentile(upload_s, .99) * 1000:.0f} ms")
    print(f"all {args.uploads} jobs finished in {all_done:.1f} s ({all_done / args.uploads:.2f} s a page); failed: {len(failed)}")


if __name__ == "__main__":
    main()
