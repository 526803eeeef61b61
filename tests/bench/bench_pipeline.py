"""Benchmark: seconds per page through the whole PageSage pipeline vs the plain `tesseract` CLI.

    python tests/bench/bench_pipeline.py [--quick] [--rounds N] [--json]

PageSage runs as the real local stack (waitress, the functions, SQLite, folder blobs, in-process
queue) in a fresh child process per configuration. Each document is uploaded over HTTP with
PageSageClient and timed from just before the upload until a status poll reads `completed`.
In the same child, right before or after each PageSage document (the order alternates) and while
the server is idle, the baseline runs: the plain CLI, one process at a time, OMP_THREAD_LIMIT=1:
  lang  `tesseract IMAGE stdout -l eng|Devanagari --psm 3`
  auto  `tesseract IMAGE stdout --psm 0` (OSD), then the call above with the detected script's
        model; when OSD finds too few characters it is asked again with
        `-c min_characters_to_try=10`, as PageSage does, else those pages would be read as English
PDF pages are rendered one by one with pypdfium2 (300 dpi greyscale, PNG at compress_level=1, as
PageSage saves them) before the CLI; that rendering counts in the baseline. Pairing each document
keeps both sides in the same few seconds of a shared machine whose speed drifts by ~10 %.
Each child first runs one untimed document (reported apart, as is start-up). Each document's
time is the median over the rounds. Target: PageSage / CLI <= 1.10 (workers=1); the analyse stage
(quality metrics) <= 5 % of the recognise stage's seconds, summed from the page results' `stages`.
"""

from __future__ import annotations

import argparse
import faulthandler
import json
import os
import re
import resource
import statistics
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
MEMORY_DOC = "pdf/san-tulasi-8pages.pdf"
WARM_DOC = "eng-tesseract-testing/phototest.tif"
SCRIPT_MODEL = {"Latin": "eng", "Devanagari": "Devanagari"}
CONFIGS = {"explicit": ("lang", 1, False), "auto": ("auto", 1, False), "auto-parallel": ("auto", None, True)}
"""name -> (language mode, PAGESAGE_WORKERS (None: the default, CPU count), submit all documents at once)."""
ANALYSE_SHARE = 0.05
"""Target: the analyse stage's seconds (quality metrics) at most this share of recognition's,
with explicit languages; with `auto` the stage also runs OSD (reported, no target)."""
CHILD_TIMEOUT = 1800  # seconds; a stuck child dumps every thread's stack and exits
ENV = {**os.environ, "OMP_THREAD_LIMIT": "1"}


def explicit_lang(rel: str) -> str:
    return "Devanagari" if rel.startswith("san-") or Path(rel).name.startswith("san-") else "eng"


def ground_truth(rel: str) -> str | None:
    gt = (CORPUS / rel).with_suffix(".gt.txt")
    return gt.read_text(encoding="utf-8") if gt.exists() else None


# ---------------------------------------------------------------- baseline: the plain CLI
def cli(image: Path, *args: str, check: bool = True) -> str:
    done = subprocess.run(["tesseract", str(image), "stdout", *args], env=ENV, capture_output=True, text=True)
    if check and done.returncode:
        raise RuntimeError(f"tesseract {image.name} {' '.join(args)}: {done.stderr.strip()}")
    return done.stdout


def page_images(path: Path, tmp: Path):
    """The file itself, or for a PDF each page rendered to a PNG just before it is needed."""
    import pypdfium2 as pdfium

    if path.suffix != ".pdf":
        yield path
        return
    pdf = pdfium.PdfDocument(path)
    try:
        for i in range(len(pdf)):
            image = tmp / f"p{i + 1:04d}.png"
            pdf[i].render(scale=300 / 72, grayscale=True).to_pil().save(image, format="PNG", compress_level=1, dpi=(300, 300))
            yield image
    finally:
        pdf.close()


def baseline_doc(rel: str, mode: str) -> dict:
    texts, retries = [], 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        for image in page_images(CORPUS / rel, Path(tmp)):
            lang = explicit_lang(rel)
            if mode == "auto":
                found = re.search(r"^Script: (\S+)", cli(image, "--psm", "0", check=False), re.M)
                if not found:  # "Too few characters"
                    retries += 1
                    osd = cli(image, "--psm", "0", "-c", "min_characters_to_try=10", check=False)
                    found = re.search(r"^Script: (\S+)", osd, re.M)
                lang = SCRIPT_MODEL.get(found.group(1), "eng") if found else "eng"
            texts.append(cli(image, "-l", lang, "--psm", "3"))
    return {"wall_s": time.perf_counter() - started, "osd_retries": retries, "text": "\f".join(texts)}


# ---------------------------------------------------------------- PageSage, in a child process
def sample_memory(peak: dict) -> None:
    """Every 50 ms: this process's RSS plus its children's (the Tesseract processes), and the
    largest VmHWM seen in any child. Only in the memory child: scanning /proc costs CPU."""
    me = str(os.getpid())
    while True:
        total = _vm("self")["VmRSS"]
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                if Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1] == me:
                    vm = _vm(pid)
                    total += vm["VmRSS"]
                    peak["child_kb"] = max(peak["child_kb"], vm["VmHWM"])
            except (OSError, IndexError, KeyError):
                pass  # the process has just exited
        peak["total_kb"] = max(peak["total_kb"], total)
        time.sleep(0.05)


def _vm(pid: str) -> dict[str, int]:
    lines = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: int(v.split()[0]) for k, _, v in (ln.partition(":") for ln in lines) if k in ("VmRSS", "VmHWM")}


def pagesage_child(config: str, docs: list[str], rounds: int, memory: bool) -> dict:
    """Start a fresh local stack (settings from the environment set here) and time `docs` through it."""
    faulthandler.dump_traceback_later(CHILD_TIMEOUT, exit=True)
    mode, workers, parallel = CONFIGS[config]
    data = tempfile.TemporaryDirectory(prefix="bench-pagesage-")
    os.environ.update(PAGESAGE_DATA_DIR=data.name, PAGESAGE_RATE_LIMIT="0", OMP_THREAD_LIMIT="1")
    if workers:
        os.environ["PAGESAGE_WORKERS"] = str(workers)
    else:
        os.environ.pop("PAGESAGE_WORKERS", None)
    peak = {"child_kb": 0, "total_kb": 0}
    if memory:
        threading.Thread(target=sample_memory, args=(peak,), daemon=True).start()
    t0 = time.perf_counter()
    from pagesage import bootstrap
    from pagesage.client import ApiError, PageSageClient
    from pagesage.server import create_server

    server = create_server("127.0.0.1", 0)
    threading.Thread(target=server.run, daemon=True).start()
    client = PageSageClient(f"http://127.0.0.1:{server.effective_port}", min_interval=0.05)
    try:  # the first request builds the services (store, queue, engine): outside the timed part
        client.status("warm-up")
    except ApiError:
        pass
    startup = time.perf_counter() - t0
    warm = time.perf_counter()  # one untimed document: lazy imports and first-use costs of the worker
    client.wait([client.submit(CORPUS / WARM_DOC, lang="auto" if mode == "auto" else "eng")])
    warm = {"pagesage_s": time.perf_counter() - warm,
            "cli_s": None if parallel or memory else baseline_doc(WARM_DOC, mode)["wall_s"]}
    done_at: dict[str, float] = {}

    def seen(statuses: dict) -> None:
        for job_id, st in statuses.items():
            if st["status"] in ("completed", "failed"):
                done_at.setdefault(job_id, time.perf_counter())

    def submit(rel: str) -> tuple[str, float]:
        started = time.perf_counter()
        return client.submit(CORPUS / rel, lang="auto" if mode == "auto" else explicit_lang(rel)), started

    runs: dict[str, list[dict]] = {rel: [] for rel in docs}
    cli_runs: dict[str, list[dict]] = {rel: [] for rel in docs}
    totals = []
    for r in range(rounds):
        if parallel:  # throughput: everything at once; compared with the sequential CLI of `auto`
            jobs = {rel: submit(rel) for rel in docs}
            client.wait([job for job, _ in jobs.values()], on_poll=seen)
            totals.append(max(done_at[job] for job, _ in jobs.values()) - min(s for _, s in jobs.values()))
        for i, rel in enumerate(docs):
            if not parallel and not memory and (i + r) % 2:
                cli_runs[rel].append(baseline_doc(rel, mode))
            if not parallel:
                jobs = {rel: submit(rel)}
                client.wait([jobs[rel][0]], on_poll=seen)
            if not parallel and not memory and not (i + r) % 2:
                cli_runs[rel].append(baseline_doc(rel, mode))
            runs[rel].append(_job_record(client, *jobs[rel], done_at))
    rows = []
    for rel in docs:
        median = lambda key, rs=runs[rel]: statistics.median(x[key] for x in rs)  # noqa: E731
        row = {"path": rel, "pages": runs[rel][-1]["pages"], "wall_s": median("wall_s"), "server_s": median("server_s"),
               "engine_s": median("engine_s"), "models": runs[rel][-1]["models"], "text": runs[rel][-1]["text"],
               "stage_s": {k: statistics.median(x["stage_s"][k] for x in runs[rel]) for k in runs[rel][-1]["stage_s"]}}
        if cli_runs[rel]:
            row.update(cli_wall_s=statistics.median(c["wall_s"] for c in cli_runs[rel]),
                       cli_osd_retries=cli_runs[rel][-1]["osd_retries"], cli_text=cli_runs[rel][-1]["text"])
        rows.append(row)
    return {"config": config, "workers": bootstrap.services().settings.workers, "rounds": rounds,
            "startup_s": startup, "warm_up": warm, "total_wall_s": statistics.median(totals) if totals else None, "docs": rows,
            "rss_self_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,  # KiB on Linux
            "rss_total_mb": peak["total_kb"] / 1024, "rss_tesseract_mb": peak["child_kb"] / 1024}


def _job_record(client, job_id: str, started: float, done_at: dict) -> dict:
    from pagesage.domain.stages import STAGES
    st = client.status(job_id)
    if st["status"] != "completed":
        raise RuntimeError(f"job {job_id}: {st['status']} {st.get('error_code')}: {st.get('error_message')}")
    doc = json.loads(client.result(job_id, "json"))
    results = [p["result"] for p in doc["pages"] if p["result"]]
    in_server = datetime.fromisoformat(st["completion_time"]) - datetime.fromisoformat(st["upload_time"])
    return {"pages": doc["page_count"], "wall_s": done_at[job_id] - started, "server_s": in_server.total_seconds(),
            "engine_s": sum(r["engine_seconds"] for r in results),
            "stage_s": {name: sum(x["seconds"] for r in results for x in r["stages"] if x["stage"] == name)
                        for name in STAGES},
            "models": sorted({r["config"]["languages"] for r in results}),
            "text": client.result(job_id, "text").decode("utf-8")}


def run_child(config: str, docs: list[str], rounds: int, memory: bool = False) -> dict:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--pagesage-config", config, "--json", "--rounds", str(rounds),
           *(["--sample-memory"] if memory else []), "--docs", *docs]
    done = subprocess.run(cmd, env=ENV, capture_output=True, text=True)
    if done.returncode:
        sys.exit(f"PageSage child `{' '.join(cmd[2:])}` failed (exit {done.returncode}):\n{done.stderr[-6000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


# ---------------------------------------------------------------- report
def mean_cer(rows: list[dict], key: str) -> float | None:
    """Set each row's `<key>_cer` (None without ground truth); return their mean."""
    from pagesage.text.cer import cer

    for r in rows:
        gt = ground_truth(r["path"])
        r[f"{key}_cer"] = cer(r[key], gt) if gt else None
    scores = [r[f"{key}_cer"] for r in rows if r[f"{key}_cer"] is not None]
    return sum(scores) / len(scores) if scores else None


def table(header: list[str], rows: list[list]) -> str:
    cells = [[c if isinstance(c, str) else "-" if c is None else f"{c:.3f}" for c in row] for row in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *cells)]
    return "\n".join("  ".join(c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
                     for row in [header, *cells])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="c030, shreelipi-p001 and the 3-page PDF only")
    ap.add_argument("--rounds", type=int, help="repetitions; each document's median is kept (default 3; 1 with --quick)")
    ap.add_argument("--json", action="store_true", help="print the results as JSON instead of tables")
    ap.add_argument("--pagesage-config", choices=CONFIGS, help=argparse.SUPPRESS)
    ap.add_argument("--sample-memory", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--docs", nargs="+", help=argparse.SUPPRESS)
    args = ap.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    if not CORPUS.is_dir():
        sys.exit(f"corpus not found at {CORPUS}: the benchmark needs shared/corpus beside the checkout")
    if args.pagesage_config:
        print(json.dumps(pagesage_child(args.pagesage_config, args.docs, rounds, args.sample_memory), ensure_ascii=False))
        return
    docs = QUICK if args.quick else DOCS
    if missing := [d for d in docs if not (CORPUS / d).exists()]:
        sys.exit(f"missing corpus files in {CORPUS}: {missing}")
    load = os.getloadavg()[0]
    for extra in (["-l", "eng"], ["-l", "Devanagari"], ["--psm", "0"]):  # every model into the page cache
        cli(CORPUS / WARM_DOC, *extra, check=False)
    ps = {}
    for config in CONFIGS:
        print(f"PageSage {config}, {rounds} round(s) ...", file=sys.stderr, flush=True)
        ps[config] = run_child(config, docs, rounds)
    print(f"memory: {MEMORY_DOC} alone ...", file=sys.stderr, flush=True)
    mem = run_child("auto-parallel", [MEMORY_DOC], 1, memory=True)

    pages = sum(r["pages"] for r in ps["explicit"]["docs"])
    cli_spp = {CONFIGS[c][0]: sum(r["cli_wall_s"] for r in ps[c]["docs"]) / pages for c in ("explicit", "auto")}
    cli_cer = {CONFIGS[c][0]: mean_cer(ps[c]["docs"], "cli_text") for c in ("explicit", "auto")}
    summary = []
    for name, res in ps.items():
        mode, _, parallel = CONFIGS[name]
        spp = (res["total_wall_s"] if parallel else sum(r["wall_s"] for r in res["docs"])) / pages
        per_page = lambda key: None if parallel else sum(r[key] for r in res["docs"]) / pages  # noqa: E731
        summary.append({"config": f"{name} (workers={res['workers']})", "baseline": mode, "pages": pages,
                        "s_per_page": spp, "cli_s_per_page": cli_spp[mode], "ratio": spp / cli_spp[mode],
                        "server_s_per_page": per_page("server_s"), "engine_s_per_page": per_page("engine_s"),
                        "mean_cer": mean_cer(res["docs"], "text"), "cli_mean_cer": cli_cer[mode],
                        "startup_s": res["startup_s"], "peak_rss_mb": res["rss_self_mb"]})
    if args.json:
        strip = lambda rows: [{k: v for k, v in r.items() if not k.endswith("text")} for r in rows]  # noqa: E731
        print(json.dumps({"summary": summary, "pagesage": {k: {**v, "docs": strip(v["docs"])} for k, v in ps.items()},
                          "memory": {k: v for k, v in mem.items() if k != "docs"}}, indent=1, ensure_ascii=False))
        return
    print(f"PageSage pipeline vs plain tesseract CLI: {len(docs)} documents, {pages} pages, {os.cpu_count()} CPUs, "
          f"median of {rounds} round(s), 1-min load average before start {load:.2f}\n")
    print(table(["config", "pages", "s/page", "CLI", "CLI s/page", "ratio", "in-server", "in-engine", "CER", "CLI CER"],
                [[s["config"], str(s["pages"]), s["s_per_page"], s["baseline"], s["cli_s_per_page"], s["ratio"],
                  s["server_s_per_page"], s["engine_s_per_page"], s["mean_cer"], s["cli_mean_cer"]] for s in summary]))
    print("\nratio = PageSage s/page / CLI s/page; target <= 1.10 on the workers=1 rows. The workers>1 row is"
          "\nthroughput against the sequential CLI `auto` (below 1 = faster). in-server = upload_time to"
          "\ncompletion_time; in-engine = Tesseract calls (OSD + recognition) as PageSage times them."
          "\nCER = mean over documents of pagesage.text.cer.cer(text, .gt.txt), PDF pages joined.")
    print("\nwhere PageSage's time goes, s/page (workers=1):")
    for s in summary[:2]:
        print(f"  {s['config']:<21} Tesseract calls {s['engine_s_per_page']:.3f} | rest of the pipeline in the server "
              f"{s['server_s_per_page'] - s['engine_s_per_page']:.3f} | upload + status-poll lag "
              f"{s['s_per_page'] - s['server_s_per_page']:.3f} || CLI {s['cli_s_per_page']:.3f}")
    for name in ("explicit", "auto"):
        stages = {k: sum(d["stage_s"][k] for d in ps[name]["docs"]) for k in ps[name]["docs"][0]["stage_s"]}
        print(f"  {name} stages, s/page: " + " | ".join(f"{k} {v / pages:.3f}" for k, v in stages.items())
              + f"; analyse / recognise {stages['analyse'] / stages['recognise']:.1%}"
              + (f" (quality metrics; target <= {ANALYSE_SHARE:.0%})" if name == "explicit" else " (metrics and OSD)"))
    print("\nper document, seconds (ratio = PageSage / CLI):")
    rows = []
    for e, a in zip(ps["explicit"]["docs"], ps["auto"]["docs"]):
        rows.append([e["path"], str(e["pages"]), e["cli_wall_s"], e["wall_s"], e["wall_s"] / e["cli_wall_s"],
                     a["cli_wall_s"], a["wall_s"], a["wall_s"] / a["cli_wall_s"], e["cli_text_cer"], e["text_cer"],
                     a["cli_text_cer"], a["text_cer"], "+".join(a["models"])])
    print(table(["document", "pages", "CLI lang", "PS lang", "ratio", "CLI auto", "PS auto", "ratio",
                 "CER CLI", "CER PS", "CER CLI auto", "CER PS auto", "auto model"], rows))
    retries = sum(r["cli_osd_retries"] for r in ps["auto"]["docs"])
    startups = ", ".join(f"{n} {r['startup_s']:.2f} s" for n, r in ps.items())
    warm_ups = ", ".join(f"{n} {w['pagesage_s']:.2f} s" + (f" (CLI {w['cli_s']:.2f} s)" if w["cli_s"] else "")
                         for n, w in ((n, r["warm_up"]) for n, r in ps.items()))
    print(f"\nOSD found too few characters on {retries} page(s) and was asked again with min_characters_to_try=10."
          f"\nnot in s/page: start-up (imports, server bind, first request): {startups}"
          f"\n  first document of each process ({Path(WARM_DOC).name}, untimed warm-up): {warm_ups}")
    print(f"peak memory, {MEMORY_DOC} alone ({mem['docs'][0]['pages']} pages, auto, workers={mem['workers']}):"
          f"\n  PageSage process (server, workers, PDFium, Pillow; getrusage maxrss): {mem['rss_self_mb']:.0f} MB"
          f"\n  largest single Tesseract process (VmHWM, sampled every 50 ms):      {mem['rss_tesseract_mb']:.0f} MB"
          f"\n  whole tree (PageSage + its running Tesseract processes, sampled):     {mem['rss_total_mb']:.0f} MB")


if __name__ == "__main__":
    main()
