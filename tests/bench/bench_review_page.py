"""Benchmark: how long the review page takes to draw a page of 2,000 OCR words, against a page
of 200 in the same run.

    python tests/bench/bench_review_page.py [--loads 5] [--json]

A live `pagesage serve` (tests/servers.py `LiveServer`, a temp data folder, PAGESAGE_USER set)
and headless Chromium (Debian's, driven by Playwright). Each page is made the way a user's is:
a generated 2480 x 3508 PNG (300 dpi, a heading drawn on it) uploaded through `POST /upload`
(lang eng), because the viewer needs a page image and a document registered through the
provenance API has none (`GET /pages/:id/image` answers 404 and the viewer never draws its
boxes). After the OCR, the job's page result gets its tokens replaced (`POST
.../ingest`, mode replace) by N synthetic tokens in N/33 lines, 3 lines to a block, and the
project is made of the job, so its boxes are the blocks and its word overlays the N tokens.

Each load is a fresh browser context (empty HTTP cache: every script, style, font and the
page image are fetched again) opening `/review/#/projects/<id>/pages/<pageId>`; the time is
`performance.now()` (ms since navigation start) at the first animation frame where the image is
fully loaded (`#viewer[data-loaded="true"]`), every box is an Annotorious annotation and every
token is a `#viewer .word` overlay. One untimed load of each page first. Exit status 0: no
target is set.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: servers.py
from servers import LiveServer  # noqa: E402

CHROMIUM = "/usr/lib/chromium/chromium"
USER = "Bench Reviewer <bench@example.org>"
WIDTH, HEIGHT, DPI = 2480, 3508, 300
WORDS_PER_LINE = 33
LINES_PER_BLOCK = 3
VOCABULARY = ["the", "of", "commentary", "verse", "principle", "and", "dharma", "karma", "text", "reading", "which",
              "is", "said", "here", "in", "Gita", "sense", "meaning", "that", "word"]

DRAWN = """([boxes, words]) => {
    const viewer = document.querySelector('#viewer');
    const annotator = window.pagesage && window.pagesage.annotator;
    if (!viewer || viewer.dataset.loaded !== 'true' || !annotator) return false;
    if (annotator.getAnnotations().length !== boxes) return false;
    if (viewer.querySelectorAll('.word').length !== words) return false;
    return performance.now();
}"""


def page_png(title: str) -> bytes:
    """A white 2480 x 3508 page at 300 dpi with `title` drawn near the top."""
    from PIL import Image, ImageDraw, ImageFont

    image = Image.new("L", (WIDTH, HEIGHT), 255)
    draw = ImageDraw.Draw(image)
    try:
        font = ImageFont.load_default(size=64)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    draw.text((200, 120), title, fill=0, font=font)
    out = io.BytesIO()
    image.save(out, format="PNG", dpi=(DPI, DPI))
    return out.getvalue()


def synthetic_tokens(count: int, seed: int = 7) -> list[dict]:
    """`count` tokens in lines of 33 across the page, 3 lines to a block (Tesseract's fields;
    `line` numbered across the page, as the seeding groups lines by it)."""
    rng = random.Random(seed)
    lines = max(1, round(count / WORDS_PER_LINE))
    per_line = -(-count // lines)
    pitch = (WIDTH - 300) // per_line
    tokens = []
    for no in range(count):
        line, column = divmod(no, per_line)
        block = line // LINES_PER_BLOCK
        y = 300 + line * 44 + block * 16
        tokens.append({"token_no": no, "text": rng.choice(VOCABULARY), "confidence": rng.choice([55.0, 78.0, 93.0, 96.0]),
                       "bbox": {"x": 150 + column * pitch, "y": y, "w": pitch - 14, "h": 32},
                       "block": block + 1, "par": 1, "line": line + 1})  # line: unique on the page
    return tokens


def wait_job(http: httpx.Client, job_id: str) -> dict:
    deadline = time.monotonic() + 300
    while (status := http.get(f"/status/{job_id}").json())["status"] not in ("completed", "failed"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"job {job_id} still {status['status']}")
        time.sleep(0.2)
    if status["status"] != "completed":
        raise RuntimeError(f"job {job_id} failed: {status}")
    return status


def make_page(http: httpx.Client, tokens: int) -> dict:
    """Upload a page image, replace its OCR tokens by `tokens` synthetic ones, make a project of
    it: `{project, page, boxes, words}`."""
    png = page_png(f"PageSage review page benchmark: {tokens} tokens")
    answer = http.post("/upload", files={"file": (f"bench-{tokens}.png", png, "image/png")}, data={"lang": "eng"})
    if answer.status_code != 202:
        raise RuntimeError(f"upload: {answer.status_code} {answer.text}")
    job_id = answer.json()["job_id"]
    status = wait_job(http, job_id)
    (source_page,) = http.get(f"/api/v1/ocr/source_docs/{status['source_doc_id']}/pages").json()["items"]
    results = http.get(f"/api/v1/ocr/pages/{source_page['page_id']}/results").json()["items"]
    result_id = results[-1]["page_result"]["page_result_id"]
    ingested = http.post(f"/api/v1/ocr/page_results/{result_id}/ingest", json={"mode": "replace", "tokens": synthetic_tokens(tokens)})
    if ingested.status_code != 200:
        raise RuntimeError(f"ingest: {ingested.status_code} {ingested.text}")
    created = http.post("/api/v1/projects", json={"jobId": job_id, "title": f"Bench {tokens} tokens", "authors": ["Bench"]})
    if created.status_code != 201:
        raise RuntimeError(f"project: {created.status_code} {created.text}")
    body = created.json()
    (page_id,) = body["pageIds"]
    page = http.get(f"/api/v1/pages/{page_id}").json()
    boxes = len(page["currentState"]["boundingBoxes"])
    words = len(http.get(f"/api/v1/ocr/page_results/{result_id}/full").json()["tokens"])
    return {"project": body["project"]["projectId"], "page": page_id, "boxes": boxes, "words": words, "tokens": tokens}


def load_ms(browser, base: str, page: dict) -> float:
    """One load of the page in a fresh context: ms from navigation start until drawn."""
    context = browser.new_context(viewport={"width": 1500, "height": 1000})
    try:
        tab = context.new_page()
        tab.set_default_timeout(120_000)
        tab.goto(f"{base}/review/#/projects/{page['project']}/pages/{page['page']}", wait_until="commit")
        handle = tab.wait_for_function(DRAWN, arg=[page["boxes"], page["words"]], polling="raf", timeout=120_000)
        return float(handle.json_value())
    finally:
        context.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--loads", type=int, default=5, help="timed loads of each page (default 5)")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="bench-review-") as tmp:
        server = LiveServer(Path(tmp) / "data", env={"PAGESAGE_USER": USER}).start(60)
        try:
            with httpx.Client(base_url=server.url, timeout=120) as http:
                pages = [make_page(http, 2000), make_page(http, 200)]
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=CHROMIUM,
                                                     args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
                try:
                    for page in pages:
                        load_ms(browser, server.url, page)  # untimed warm-up
                    for page in pages:
                        page["ms"] = []
                    for _ in range(args.loads):  # interleaved, so drift hits both alike
                        for page in pages:
                            page["ms"].append(load_ms(browser, server.url, page))
                finally:
                    browser.close()
        finally:
            server.stop()
    for page in pages:
        page["median_ms"] = statistics.median(page["ms"])
        page["max_ms"] = max(page["ms"])
    big, small = pages
    result = {"loads": args.loads, "cache": "cold (fresh browser context each load)", "load_average_1m": load,
              "pages": [{k: p[k] for k in ("tokens", "words", "boxes", "median_ms", "max_ms", "ms")} for p in pages],
              "ratio_median": big["median_ms"] / small["median_ms"], "ratio_max": big["max_ms"] / small["max_ms"]}
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"review page load until boxes and word overlays are drawn; {args.loads} loads each, cold cache "
          f"(fresh context); 1-min load average {load:.2f}")
    print(f"{'page':>12} {'boxes':>6} {'words':>6} {'median ms':>10} {'max ms':>8}   loads (ms)")
    for p in pages:
        print(f"{p['tokens']:>6} tokens {p['boxes']:>6} {p['words']:>6} {p['median_ms']:>10.0f} {p['max_ms']:>8.0f}   "
              + " ".join(f"{ms:.0f}" for ms in p["ms"]))
    print(f"{'2000 / 200':>12} {'':>6} {'':>6} {result['ratio_median']:>10.2f} {result['ratio_max']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
