"""Benchmark: OCR of documents fetched from where they live, against uploads of the same files.

    python tests/bench/bench_remote.py [--quick] [--json]

1. End to end (from the request to the job's completion time), the corpus PDFs through the
   local stack (embedded backend, one worker, `eng`): uploaded, and fetched from a loopback HTTP server (allow-listed), from S3 (moto, in this
   process) and from Cloud Storage (the emulator). Interleaved per file (upload, http, s3, gs),
   so drift on the machine falls on all four alike; wall seconds per source and the ratio
   fetched / uploaded.
2. Peak RSS while streaming a 25 MiB object from each source into a file (no OCR): the growth
   of a fresh process's resident set over its size just before the fetch, sampled every 2 ms,
   against the object's size, with reading the same body whole into memory as the control.
   S3 is moto inside that process, which copies the object into its response.
"""

from __future__ import annotations

import argparse
import functools
import http.server
import json
import os
import statistics
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
BIG = 25 * 1024 * 1024
SOURCES = ("upload", "http", "s3", "gs")


def serve_folder(folder: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    handler = functools.partial(_QuietFiles, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"127.0.0.1:{server.server_port}"


class _QuietFiles(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args) -> None:
        pass


def stores(folder: Path):
    """The S3 (moto) and Cloud Storage (emulator) buckets holding every file of `folder`."""
    import boto3

    from pagesage.adapters.gcs_blobs import storage_client

    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="bench")
    gcs = storage_client("pagesage-bench")
    bucket = gcs.bucket("bench-remote") if gcs.bucket("bench-remote").exists() else gcs.create_bucket("bench-remote")
    for path in folder.iterdir():
        s3.upload_file(str(path), "bench", path.name)
        bucket.blob(path.name).upload_from_filename(str(path))
    return s3, bucket


def uri_of(source: str, name: str, host: str) -> str:
    return {"http": f"http://{host}/{name}", "s3": f"s3://bench/{name}", "gs": f"gs://bench-remote/{name}"}[source]


def bench_ocr(pdfs: list[Path], host: str) -> dict:
    """Wall seconds per document for each source, interleaved per file."""
    from pagesage import bootstrap
    from pagesage.client import PageSageClient
    from pagesage.config import Settings
    from pagesage.server import create_server

    server = create_server("127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.effective_port}"
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-remote-") as data:
        services = bootstrap.build(Settings(data_dir=Path(data), workers=1, rate_limit=0, fetch_allow_hosts=host))
        bootstrap.use(services)
        threading.Thread(target=server.run, daemon=True).start()
        client = PageSageClient(url, min_interval=0.05)
        try:
            client.wait([client.submit(pdfs[0], lang="eng")])  # warm-up, untimed
            for pdf in pdfs:
                row = {"file": pdf.name}
                for source in SOURCES:
                    t0 = time.time()
                    job_id = client.submit(pdf, lang="eng") if source == "upload" else \
                        client.submit_remote(uri_of(source, pdf.name, host), lang="eng")
                    final = client.wait([job_id])[job_id]
                    if final["status"] != "completed":
                        raise SystemExit(f"{source} {pdf.name}: {final['status']} {final.get('error_code')}")
                    # from the request to the job's own completion time: no polling interval in it
                    row[source] = datetime.fromisoformat(final["completion_time"]).timestamp() - t0
                    row["pages"] = final["progress"]["pages_total"]
                rows.append(row)
        finally:
            client.close()
            server.close()
            bootstrap.use(None)
            services.queue.close()
    totals = {s: sum(r[s] for r in rows) for s in SOURCES}
    return {"rows": rows, "pages": sum(r["pages"] for r in rows), "totals": totals,
            "ratios": {s: totals[s] / totals["upload"] for s in SOURCES[1:]}}


def peak_rss_growth(fetch) -> int:
    """Bytes the resident set grew by, at most, while `fetch()` ran (sampled every 2 ms)."""
    import psutil

    me = psutil.Process()
    before = me.memory_info().rss
    peak = [before]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], me.memory_info().rss)
            time.sleep(0.002)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        fetch()
    finally:
        done.set()
        sampler.join()
    return max(peak[0] - before, 0)


def bench_rss(host: str) -> dict:
    """Peak RSS growth of a fresh process fetching the 25 MiB object from each source, and of one
    reading the same HTTP body whole into memory (the control: what not streaming costs)."""
    import subprocess

    out = {}
    for source in ("http", "gs", "s3", "http-buffered"):
        child = subprocess.run([sys.executable, __file__, "--rss-child", source, host], capture_output=True, text=True,
                               env=os.environ, timeout=300)
        if child.returncode:
            raise SystemExit(f"rss child {source}: {child.stderr[-2000:]}")
        out[source] = int(child.stdout.split()[-1])
    return out


def rss_child(source: str, host: str) -> None:
    """One fetch of the 25 MiB object in this fresh process; prints the peak RSS growth, bytes.
    S3 is moto in this same process: the object it holds is allocated before the fetch."""
    import boto3
    import httpx
    from moto import mock_aws

    from pagesage.adapters.gcs_blobs import storage_client
    from pagesage.adapters.remote_sources import RemoteSources
    from pagesage.domain.fetch_policy import AllowList

    with mock_aws(), tempfile.TemporaryDirectory() as tmp:
        s3 = boto3.client("s3", region_name="us-east-1")
        if source == "s3":
            s3.create_bucket(Bucket="bench")
            s3.put_object(Bucket="bench", Key="big.bin", Body=os.urandom(BIG))
        sources = RemoteSources(AllowList.parse(host), s3_client=s3, gcs_client=storage_client("pagesage-bench"))
        if source == "http-buffered":
            def fetch() -> None:
                assert len(httpx.get(f"http://{host}/big.bin", timeout=60).content) == BIG
        else:
            def fetch() -> None:
                with (Path(tmp) / "fetched").open("wb") as dest:
                    assert sources.fetch(uri_of(source, "big.bin", host), dest, max_bytes=BIG).size == BIG
        print(peak_rss_growth(fetch))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="two PDFs only")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--rss-child", nargs=2, metavar=("SOURCE", "HOST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rss_child:
        rss_child(*args.rss_child)
        return
    if not (CORPUS / "MANIFEST.tsv").is_file():
        sys.exit(f"the corpus is not at {CORPUS}")
    os.environ["OMP_THREAD_LIMIT"] = "1"
    for name, value in {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}.items():
        os.environ.setdefault(name, value)
    from moto import mock_aws

    from pagesage import emulators

    pdfs = sorted((CORPUS / "pdf").glob("*.pdf"))[: 2 if args.quick else None]
    storage = emulators.storage().start()
    os.environ["STORAGE_EMULATOR_HOST"] = f"http://127.0.0.1:{storage.port}"
    os.environ.setdefault("GOOGLE_CLOUD_PROJECT", emulators.PROJECT)
    try:
        rss, ocr = run(pdfs, mock_aws)
    finally:
        storage.stop()
    report(args, pdfs, rss, ocr)


def run(pdfs: list[Path], mock_aws) -> tuple[dict, dict]:
    with tempfile.TemporaryDirectory(prefix="bench-remote-files-") as tmp, mock_aws():
        folder = Path(tmp) / "files"
        folder.mkdir()
        for pdf in pdfs:
            (folder / pdf.name).write_bytes(pdf.read_bytes())
        (folder / "big.bin").write_bytes(os.urandom(BIG))
        server, host = serve_folder(folder)
        print(f"Cloud Storage emulator at {os.environ['STORAGE_EMULATOR_HOST']}; loopback files on {host}",
              file=sys.stderr, flush=True)
        stores(folder)
        print("peak RSS while streaming ...", file=sys.stderr, flush=True)
        rss = bench_rss(host)
        print("fetch-and-OCR against upload ...", file=sys.stderr, flush=True)
        ocr = bench_ocr(pdfs, host)
        server.shutdown()
    return rss, ocr


def report(args, pdfs: list[Path], rss: dict, ocr: dict) -> None:
    if args.json:
        print(json.dumps({"ocr": ocr, "rss_growth_bytes": rss}, indent=1))
        return
    print(f"fetch-and-OCR against upload, {len(pdfs)} corpus PDFs, {ocr['pages']} pages, 1 worker, eng:")
    print(f"  {'file':32} {'pages':>5} " + " ".join(f"{s:>8}" for s in SOURCES))
    for row in ocr["rows"]:
        print(f"  {row['file']:32} {row['pages']:>5} " + " ".join(f"{row[s]:>7.2f}s" for s in SOURCES))
    print(f"  {'total':32} {ocr['pages']:>5} " + " ".join(f"{ocr['totals'][s]:>7.2f}s" for s in SOURCES))
    print("  ratio fetched / uploaded: " + ", ".join(f"{s} {r:.3f}" for s, r in ocr["ratios"].items()))
    print(f"\npeak RSS growth of a fresh process fetching a {BIG / 2**20:.0f} MiB object:")
    for source, grown in rss.items():
        what = "read whole into memory (control)" if source == "http-buffered" else "streamed into a file"
        print(f"  {source:13} {grown / 2**20:6.1f} MiB ({grown / BIG:6.1%} of the object)  {what}")
    print("  (s3 is moto inside the process: its growth is moto copying the object into its response)")


if __name__ == "__main__":
    main()
