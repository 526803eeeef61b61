"""Benchmark: seconds per page through the whole PageSage pipeline vs the plain `tesseract` CLI.

    python tests/bench/bench_pipeline.py [--quick] [--json]

Both sides run in the same invocation, on the same corpus pages, after one warm-up call.
Baselines (sequential, one process at a time, OMP_THREAD_LIMIT=1):
  lang  `tesseract IMAGE stdout -l eng|Devanagari --psm 3`
  auto  `tesseract IMAGE stdout --psm 0` (OSD), then the call above with the detected script's model
PDFs are rendered page by page with pypdfium2 (300 dpi greyscale, PNG at compress_level=1, the
encoder settings PageSage uses) before the CLI; the rendering is timed as part of the baseline.
PageSage: the real local stack (waitress + functions + SQLite + folder blobs + in-process queue)
in a fresh child process per configuration; each document is uploaded over HTTP with
PageSageClient and timed from before the upload until its status reads `completed`.
Target: PageSage s/page / baseline s/page <= 1.10 for the single-worker rows.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus"
DOCS = ["eng-oldbooks/c030.tiff", "eng-oldbooks/a041.tiff", "eng-tesseract-testing/eurotext.tif",
        "eng-alice-hocrtools/alice_1.png", "san-imagessan/shreelipi-p001.png", "san-imagessan/shreelipi-p004.png",
        "pdf/eng-oldbooks-c029-c031.pdf", "pdf/san-tulasi-8pages.pdf"]
QUICK = ["eng-oldbooks/c030.tiff", "san-imagessan/shreelipi-p001.png", "pdf/eng-oldbooks-c029-c031.pdf"]
RSS_DOC = "pdf/san-tulasi-8pages.pdf"
SCRIPT_MODEL = {"Latin": "eng", "Devanagari": "Devanagari"}
CONFIGS = {"explicit": ("lang", 1, False), "auto": ("auto", 1, False), "auto-parallel": ("auto", None, True)}
"""name -> (language mode, PAGESAGE_WORKERS (None: default = CPU count), submit all at once)."""
ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}


def explicit_lang(rel: str) -> str:
    return "Devanagari" if rel.startswith("san-") or Path(rel).name.startswith("san-") else "eng"


def ground_truth(rel: str) -> str | None:
    path = CORPUS / rel
    gt = path.with_name(path.name.rsplit(".", 1)[0] + ".gt.txt")
    return gt.read_text(encoding="utf-8") if gt.exists() else None


# ---------------------------------------------------------------- baseline: the plain CLI
def cli(image: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["tesseract", str(image), "stdout", *args], env=ENV, capture_output=True, text=True)
    if check and done.returncode:
        raise RuntimeError(f"tesseract {image.name} {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def baseline_doc(rel: str, auto: bool) -> dict:
    import pypdfium2 as pdfium

    path = CORPUS / rel
    texts: list[str] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        if path.suffix == ".pdf":
            pdf = pdfium.PdfDocument(path)
            for i in range(len(pdf)):  # render one page, then OCR it, page by page
                out = Path(tmp) / f"p{i + 1:04d}.png"
                pdf[i].render(scale=300 / 72, grayscale=True).to_pil().save(out, format="PNG", compress_level=1, dpi=(300, 300))
                texts.append(_cli_page(out, rel, auto))
            pdf.close()
        else:
            texts.append(_cli_page(path, rel, auto))
    return {"path": rel, "pages": len(texts), "wall_s": time.perf_counter() - started, "text": "\f".join(texts)}


def _cli_page(image: Path, rel: str, auto: bool) -> str:
    lang = explicit_lang(rel)
    if auto:
        found = re.search(r"^Script: (\S+)", cli(image, "--psm", "0", check=False), re.M)  # no script: too few chars
        lang = SCRIPT_MODEL.get(found.group(1), "eng") if found else "eng"
    return cli(image, "-l", lang, "--psm", "3")


# ---------------------------------------------------------------- PageSage, in a child process
def pagesage_child(config: str, docs: list[str]) -> dict:
    """Run `docs` through a fresh local stack; the settings come from the environment set here."""
    mode, workers, parallel = CONFIGS[config]
    data = tempfile.TemporaryDirectory(prefix="bench-pagesage-")
    os.environ.update(PAGESAGE_DATA_DIR=data.name, PAGESAGE_RATE_LIMIT="0", OMP_THREAD_LIMIT="1")
    if workers:
        os.environ["PAGESAGE_WORKERS"] = str(workers)
    else:
        os.environ.pop("PAGESAGE_WORKERS", None)
    t0 = time.perf_counter()
    from pagesage import bootstrap
    from pagesage.client import ApiError, PageSageClient
    from pagesage.server import create_server

    server = create_server("127.0.0.1", 0)
    threading.Thread(target=server.run, daemon=True).start()
    client = PageSageClient(f"http://127.0.0.1:{server.effective_port}", min_interval=0.05)
    try:  # first request: builds the services (store, queue, engine) outside the timed part
        client.status("warm-up")
    except ApiError:
        pass
    startup = time.perf_counter() - t0
    done_at: dict[str, float] = {}

    def seen(statuses: dict) -> None:
        now = time.perf_counter()
        for job_id, st in statuses.items():
            if st["status"] in ("completed", "failed"):
                done_at.setdefault(job_id, now)

    lang = {rel: "auto" if mode == "auto" else explicit_lang(rel) for rel in docs}
    jobs, started = {}, {}
    t_all = time.perf_counter()
    for rel in docs:
        started[rel] = time.perf_counter()
        job_id = jobs[rel] = client.submit(CORPUS / rel, lang=lang[rel])
        if not parallel:
            client.wait([job_id], on_poll=seen)
    statuses = client.wait(list(jobs.values()), on_poll=seen) if parallel else {j: client.status(j) for j in jobs.values()}
    total = max(done_at.values()) - t_all
    rows = []
    for rel, job_id in jobs.items():
        st = statuses[job_id]
        if st["status"] != "completed":
            raise RuntimeError(f"{rel}: {st['status']} {st.get('error_code')}: {st.get('error_message')}")
        doc = json.loads(client.result(job_id, "json"))
        in_server = datetime.fromisoformat(st["completion_time"]) - datetime.fromisoformat(st["upload_time"])
        rows.append({"path": rel, "pages": doc["page_count"], "wall_s": done_at[job_id] - started[rel],
                     "server_s": in_server.total_seconds(),
                     "engine_s": sum(p["result"]["engine_seconds"] for p in doc["pages"] if p["result"]),
                     "models": sorted({p["result"]["config"]["languages"] for p in doc["pages"] if p["result"]}),
                     "text": client.result(job_id, "text").decode("utf-8")})
    client.close()
    server.close()
    kib = 1024  # ru_maxrss is in KiB on Linux
    return {"config": config, "workers": bootstrap.services().settings.workers, "parallel": parallel,
            "startup_s": startup, "total_wall_s": total, "docs": rows,
            "rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / kib,
            "rss_children_mb": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / kib}


def run_child(config: str, docs: list[str]) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--pagesage-config", config, "--json", "--docs", *docs]
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"PageSage child {config} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- report
def score(rows: list[dict]) -> float | None:
    """Set each row's `cer` (None without ground truth); return their mean."""
    from pagesage.text.cer import cer

    for r in rows:
        gt = ground_truth(r["path"])
        r["cer"] = cer(r["text"], gt) if gt else None
    scores = [r["cer"] for r in rows if r["cer"] is not None]
    return sum(scores) / len(scores) if scores else None


def table(header: list[str], rows: list[list]) -> str:
    cells = [[c if isinstance(c, str) else "-" if c is None else f"{c:.3f}" for c in row] for row in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *cells)]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     for row in [header, *cells])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="c030, shreelipi-p001 and the 3-page PDF only")
    ap.add_argument("--json", action="store_true", help="print results as JSON")
    ap.add_argument("--pagesage-config", choices=CONFIGS, help=argparse.SUPPRESS)
    ap.add_argument("--docs", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS}: the benchmark needs ../shared/corpus beside the checkout")
    if args.pagesage_config:
        print(json.dumps(pagesage_child(args.pagesage_config, args.docs), ensure_ascii=False))
        return
    docs = QUICK if args.quick else DOCS
    if missing := [d for d in docs if not (CORPUS / d).exists()]:
        sys.exit(f"missing corpus files: {missing}")
    warm = CORPUS / "eng-tesseract-testing/phototest.tif"  # puts every model in the page cache
    for extra in (["-l", "eng"], ["-l", "Devanagari"], ["--psm", "0"]):
        cli(warm, *extra, check=False)
    log = lambda msg: print(msg, file=sys.stderr, flush=True)  # noqa: E731
    log("baseline lang ..."); base = {"lang": [baseline_doc(d, False) for d in docs]}
    log("pagesage explicit ..."); ps = {"explicit": run_child("explicit", docs)}
    log("pagesage auto ..."); ps["auto"] = run_child("auto", docs)
    log("baseline auto ..."); base["auto"] = [baseline_doc(d, True) for d in docs]
    log("pagesage auto-parallel ..."); ps["auto-parallel"] = run_child("auto-parallel", docs)
    log(f"RSS: {RSS_DOC} alone ..."); rss = run_child("auto-parallel", [RSS_DOC])

    pages = sum(r["pages"] for r in base["lang"])
    base_cer = {k: score(v) for k, v in base.items()}
    base_spp = {k: sum(r["wall_s"] for r in v) / pages for k, v in base.items()}
    summary = []
    for name, res in ps.items():
        mode, _, parallel = CONFIGS[name]
        wall = res["total_wall_s"] if parallel else sum(r["wall_s"] for r in res["docs"])
        spp = wall / pages
        summary.append({"config": f"{name} (workers={res['workers']})", "baseline": mode, "pages": pages,
                        "s_per_page": spp, "baseline_s_per_page": base_spp[mode], "ratio": spp / base_spp[mode],
                        "server_s_per_page": None if parallel else sum(r["server_s"] for r in res["docs"]) / pages,
                        "engine_s_per_page": None if parallel else sum(r["engine_s"] for r in res["docs"]) / pages,
                        "mean_cer": score(res["docs"]), "baseline_mean_cer": base_cer[mode],
                        "startup_s": res["startup_s"], "peak_rss_mb": res["rss_self_mb"]})
    if args.json:
        strip = lambda rows: [{k: v for k, v in r.items() if k != "text"} for r in rows]  # noqa: E731
        print(json.dumps({"summary": summary, "baseline": {k: strip(v) for k, v in base.items()},
                          "pagesage": {k: {**v, "docs": strip(v["docs"])} for k, v in ps.items()},
                          "rss": {k: v for k, v in rss.items() if k != "docs"}}, indent=1, ensure_ascii=False))
        return
    print(f"PageSage pipeline vs plain tesseract CLI — {len(docs)} documents, {pages} pages, {os.cpu_count()} CPUs\n")
    print(table(["config", "pages", "s/page", "CLI", "CLI s/page", "ratio", "in-server", "in-engine", "CER", "CLI CER"],
                [[s["config"], str(s["pages"]), s["s_per_page"], s["baseline"], s["baseline_s_per_page"], s["ratio"],
                  s["server_s_per_page"], s["engine_s_per_page"], s["mean_cer"], s["baseline_mean_cer"]] for s in summary]))
    print("\nratio target <= 1.10 for the workers=1 rows; the workers>1 row is throughput (ratio < 1 = faster than the"
          "\nsequential CLI). in-server = upload_time..completion_time on the server; in-engine = Tesseract calls"
          "\n(OSD + recognition) as PageSage timed them; CER = mean per-document CER vs .gt.txt (pages joined).")
    print("\nper document (seconds; ratio = PageSage / CLI)")
    rows = []
    for i, rel in enumerate(docs):
        e, a, bl, ba = ps["explicit"]["docs"][i], ps["auto"]["docs"][i], base["lang"][i], base["auto"][i]
        rows.append([rel, str(e["pages"]), bl["wall_s"], e["wall_s"], e["wall_s"] / bl["wall_s"], ba["wall_s"], a["wall_s"],
                     a["wall_s"] / ba["wall_s"], bl["cer"], e["cer"], ba["cer"], a["cer"], "+".join(a["models"])])
    print(table(["document", "pages", "CLI lang", "PS lang", "ratio", "CLI auto", "PS auto", "ratio",
                 "CER CLI", "CER PS", "CER CLI auto", "CER PS auto", "auto model"], rows))
    startups = ", ".join(f"{n} {r['startup_s']:.2f} s" for n, r in ps.items())
    print(f"\nstart-up (import, bind, first request; not in s/page): {startups}")
    print(f"peak RSS, {RSS_DOC} alone ({rss['docs'][0]['pages']} pages, auto, workers={rss['workers']}): "
          f"PageSage process {rss['rss_self_mb']:.0f} MB (server + workers + pdfium + Pillow, whole process); "
          f"largest tesseract child {rss['rss_children_mb']:.0f} MB (separate processes, not included)")


if __name__ == "__main__":
    main()
