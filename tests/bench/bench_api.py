"""Benchmark: the provenance API's fast writes and full reads on the embedded store.

    python tests/bench/bench_api.py [--rounds N]

Through a real local server (waitress, the functions, SQLite) over loopback HTTP:
1. `POST page_results/:id/tokens/bulk_create` with 10,000 tokens (replace mode, so every round
   writes the same page): seconds and tokens/s;
2. `GET page_results/:id/full` of a 2,000-token page: latency.
Beside each, the JSON work measured alone in this process on the same bodies: decoding and
validating the request (`TokensBody.model_validate_json`) and encoding the answer
(`FullPageResult.model_dump_json`), with their share of the request's time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time

import httpx


def tokens(count: int) -> list[dict]:
    words = ["तुलसीविवाहविधिः", "commentary", "॥१२॥", "verse", "śrīrāma"]
    return [{"token_no": i, "text": f"{words[i % 5]}{i}", "bbox": {"x": (i % 40) * 50, "y": (i // 40) * 20, "w": 45, "h": 18},
             "confidence": 90.0 + i % 10, "block": i // 500, "par": i // 100, "line": i // 40} for i in range(count)]


def median(fn, rounds: int) -> float:
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    data = tempfile.TemporaryDirectory(prefix="bench-api-")
    os.environ.update(PAGESAGE_DATA_DIR=data.name, PAGESAGE_RATE_LIMIT="0")
    from pagesage.services.provenance_io import FullPageResult, TokensBody
    from pagesage.server import create_server, serving

    server = create_server("127.0.0.1", 0)
    stop = serving(server)
    stop.__enter__()
    base = f"http://127.0.0.1:{server.effective_port}/api/v1/ocr"
    http = httpx.Client(timeout=300)
    doc = http.post(f"{base}/source_docs", json={"kind": "pdf", "title": "bench", "pages": [
        {"page_no": 1, "width": 2000, "height": 6000}, {"page_no": 2, "width": 2000, "height": 6000}]}).json()
    source_doc_id = doc["source_doc"]["source_doc_id"]
    run = http.post(f"{base}/runs", json={"source_doc_id": source_doc_id, "engine": "bench", "engine_version": "1",
                                          "config": {"languages": "san"}}).json()
    big, small = (r["page_result_id"] for r in run["page_results"])

    body_10k = json.dumps({"mode": "replace", "tokens": tokens(10_000)}).encode()
    post = lambda pr, body: http.post(f"{base}/page_results/{pr}/tokens/bulk_create", content=body,  # noqa: E731
                                      headers={"Content-Type": "application/json"}).raise_for_status()
    post(big, body_10k)  # warm-up
    write_s = median(lambda: post(big, body_10k), args.rounds)
    decode_s = median(lambda: TokensBody.model_validate_json(body_10k), args.rounds)

    post(small, json.dumps({"mode": "replace", "tokens": tokens(2_000)}).encode())
    full = lambda: http.get(f"{base}/page_results/{small}/full").raise_for_status()  # noqa: E731
    full()
    read_s = median(full, args.rounds * 4)
    payload = http.get(f"{base}/page_results/{small}/full").content
    model = FullPageResult.model_validate_json(payload)
    encode_s = median(lambda: model.model_dump_json(), args.rounds * 4)
    stop.__exit__(None, None, None)

    print(f"provenance API on the embedded store (SQLite), loopback HTTP, median of {args.rounds}+ rounds:\n")
    print(f"bulk_create 10,000 tokens   {write_s:7.3f} s  {10_000 / write_s:>9,.0f} tokens/s   body {len(body_10k) / 1e6:.1f} MB")
    print(f"  decode + validate body    {decode_s:7.3f} s  ({decode_s / write_s:.0%} of the request)")
    print(f"full, 2,000-token page      {read_s * 1000:7.1f} ms                   answer {len(payload) / 1e6:.2f} MB")
    print(f"  encode the answer         {encode_s * 1000:7.1f} ms ({encode_s / read_s:.0%} of the request)")


if __name__ == "__main__":
    main()
