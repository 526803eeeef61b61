"""Benchmark: the gcp backend on the real emulators, against the embedded default.

    python tests/bench/bench_gcp.py [--quick] [--json]

1. Bulk token writes into the Firestore emulator: `FirestoreStore.put_page_result` (tokens in
   chunk documents, batched writes, one publishing transaction) against the naive layout, one
   document per token written one by one; the same 5,000-word page, tokens/s and their ratio.
   Reading the page back (`get_tokens`) is timed too.
2. End to end, seconds per page: the same documents through the local stack on the embedded
   backend (SQLite, folder, in-process queue) and on the gcp backend (Firestore, Cloud Storage,
   Cloud Tasks emulators; the Tasks emulator POSTs each task to the stack's /ocr), one worker
   each, documents one after another, explicit language. Ratio gcp / embedded.
Both run in this one process, on the same machine, in the same minutes.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
DOCS = ["eng-oldbooks/c030.tiff", "san-imagessan/shreelipi-p001.png", "pdf/eng-oldbooks-c029-c031.pdf"]
TOKENS = 5000


def page_tokens(count: int):
    from pagesage.domain.pages import BBox, Token
    from pagesage.text.normalize import normalize_for_search

    words = ["तुलसीविवाहविधिः", "commentary", "॥१२॥", "verse"]
    return [Token(token_no=i, text=f"{words[i % 4]}{i}", text_norm=normalize_for_search(f"{words[i % 4]}{i}"),
                  bbox=BBox(x=i % 2000, y=i // 20, w=40, h=18), confidence=90.0, block=i // 500, par=i // 100, line=i // 10)
            for i in range(count)]


def bench_token_writes(tokens: int, rounds: int) -> dict:
    """tokens/s of chunked batch writes vs one document per token, on the Firestore emulator."""
    from pagesage import emulators
    from pagesage.adapters.firestore_store import FirestoreStore, firestore_client
    from pagesage.domain.pages import EngineConfig, PageResult

    store = FirestoreStore(firestore_client(emulators.PROJECT))
    config = EngineConfig(languages="Devanagari", psm=3, oem=1, dpi=300)
    page = page_tokens(tokens)
    batched, reads, naive = [], [], []
    warm = PageResult(run_id="warm-up", job_id="bench", page_no=1, config=config, lang_tag="und-Deva")
    store.put_page_result(warm, page)  # first-use costs (channel, emulator JIT) untimed
    for _ in range(rounds):
        result = PageResult(run_id="bench", job_id="bench", page_no=1, config=config, lang_tag="und-Deva")
        t0 = time.perf_counter()
        store.put_page_result(result, page)
        batched.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        assert len(store.get_tokens(result.page_result_id)) == tokens
        reads.append(time.perf_counter() - t0)
    one_by_one = page[: max(tokens // 10, 1)]  # a tenth of the page: the naive way is slow
    collection = store.client.collection("bench_tokens_one_by_one")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for token in one_by_one:
            collection.document(f"{token.token_no:06d}").set(token.model_dump(mode="json"))
        naive.append(time.perf_counter() - t0)
    batch_rate = tokens / statistics.median(batched)
    naive_rate = len(one_by_one) / statistics.median(naive)
    return {"tokens": tokens, "batched_s": statistics.median(batched), "batched_tokens_per_s": batch_rate,
            "read_s": statistics.median(reads), "naive_tokens": len(one_by_one), "naive_s": statistics.median(naive),
            "naive_tokens_per_s": naive_rate, "ratio": batch_rate / naive_rate}


def bench_pipeline(docs: list[str], backend: str) -> dict:
    """Seconds per page through the local stack on `backend`, documents one at a time."""
    from pagesage import bootstrap
    from pagesage.client import PageSageClient
    from pagesage.config import Settings
    from pagesage.server import create_server

    server = create_server("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.effective_port}"
    with tempfile.TemporaryDirectory(prefix="bench-gcp-") as data:
        settings = Settings(backend=backend, data_dir=Path(data), workers=1, rate_limit=0, public_url=url,
                            tasks_queue=f"bench-{backend}-{os.getpid()}", bucket=f"bench-{os.getpid()}")
        services = bootstrap.build(settings)
        bootstrap.use(services)
        threading.Thread(target=server.run, daemon=True).start()
        client = PageSageClient(url, min_interval=0.05)
        try:
            client.wait([client.submit(CORPUS / docs[0], lang="eng")])  # warm-up, untimed
            rows = []
            for rel in docs:
                lang = "Devanagari" if "san-" in rel else "eng"
                t0 = time.perf_counter()
                job_id = client.submit(CORPUS / rel, lang=lang)
                final = client.wait([job_id])[job_id]
                rows.append({"path": rel, "pages": final["progress"]["pages_total"], "wall_s": time.perf_counter() - t0,
                             "status": final["status"]})
        finally:
            client.close()
            server.close()
            bootstrap.use(None)
            if hasattr(services.queue, "close"):
                services.queue.close()
    pages = sum(r["pages"] for r in rows)
    return {"backend": backend, "pages": pages, "s_per_page": sum(r["wall_s"] for r in rows) / pages, "docs": rows}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1 round of token writes, 2 documents")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    if not (CORPUS / "MANIFEST.tsv").is_file():
        sys.exit(f"the corpus is not at {CORPUS}")
    os.environ["OMP_THREAD_LIMIT"] = "1"
    from pagesage import emulators

    docs = DOCS[:2] if args.quick else DOCS
    print("starting the emulators ...", file=sys.stderr, flush=True)
    with emulators.running_all():
        writes = bench_token_writes(TOKENS, 1 if args.quick else 3)
        print("pipeline, embedded backend ...", file=sys.stderr, flush=True)
        embedded = bench_pipeline(docs, "local")
        print("pipeline, gcp backend on the emulators ...", file=sys.stderr, flush=True)
        gcp = bench_pipeline(docs, "gcp")
    if args.json:
        print(json.dumps({"token_writes": writes, "embedded": embedded, "gcp": gcp}, indent=1))
        return
    print(f"Firestore emulator, one page of {writes['tokens']} tokens:")
    print(f"  chunked batch writes   {writes['batched_s']:.3f} s  {writes['batched_tokens_per_s']:>9,.0f} tokens/s"
          f"   (read back: {writes['read_s']:.3f} s)")
    print(f"  one document per token {writes['naive_s']:.3f} s  {writes['naive_tokens_per_s']:>9,.0f} tokens/s"
          f"   ({writes['naive_tokens']} tokens timed)")
    print(f"  ratio batch / one-by-one: {writes['ratio']:.1f}x")
    print(f"\nend to end, {embedded['pages']} pages, 1 worker, explicit language:")
    for row_e, row_g in zip(embedded["docs"], gcp["docs"]):
        print(f"  {row_e['path']:<36} pages {row_e['pages']}  embedded {row_e['wall_s']:.2f} s  gcp {row_g['wall_s']:.2f} s")
    print(f"  s/page: embedded {embedded['s_per_page']:.3f}  gcp emulators {gcp['s_per_page']:.3f}"
          f"  ratio {gcp['s_per_page'] / embedded['s_per_page']:.3f}")


if __name__ == "__main__":
    main()
