"""`pagesage` command line: run the local stack and talk to any PageSage deployment.

    pagesage serve                      the functions on 127.0.0.1:$PORT (default 8080)
    pagesage submit FILE|URI... [--wait]
                                        upload files, or have s3://, gs://, https:// URIs
                                        fetched; optionally wait and save the results
    pagesage status JOB_ID              a job's status as JSON
    pagesage result JOB_ID --format F   a finished job's hOCR, JSON, text or Markdown
    pagesage run FILE... --out DIR      start the stack, OCR the files, save results, stop
                                        (--emulators: on Firestore/GCS/Cloud Tasks emulators)
    pagesage costs [--job J] [--since ISO] [--until ISO] [--group-by G] [--jsonl]
                                        summarize or export the cost log
    pagesage diff PAGE_ID RUN_A RUN_B    compare two runs' words on a page (CER, WER, changes)
    pagesage project create --job ID    make a project of a finished job's OCR (boxes seeded)
    pagesage project show|pages ID      a project's metadata, or its pages
    pagesage validate PROJECT           validate every page; warning counts (--json: all)
    pagesage export PROJECT --format F  render, store and download an export (-o FILE)
    pagesage schemas --out schemas      write the JSON Schemas of the API's bodies
    pagesage docai-to-hocr DOC.json... -o OUT [--format F]
                                        convert saved Document AI output offline
"""

from __future__ import annotations

import ipaddress
import itertools
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

import click

from pagesage.client import ApiError, PageSageClient

FORMATS = {"hocr": "hocr", "json": "json", "text": "txt", "markdown": "md"}
"""Result format -> file extension written by `--out`."""


def _default_url() -> str:
    return os.environ.get("PAGESAGE_URL", f"http://127.0.0.1:{os.environ.get('PORT', '8080')}")


def _client(url: str, *, token: str | None = None, **kwargs) -> PageSageClient:
    """A client of `url` sending `token`, else `$PAGESAGE_ID_TOKEN` or `$PAGESAGE_API_TOKEN`, as
    its bearer token."""
    token = token or os.environ.get("PAGESAGE_ID_TOKEN") or os.environ.get("PAGESAGE_API_TOKEN")
    return PageSageClient(url, token=token, **kwargs)


def is_loopback(host: str) -> bool:
    """True when `host` names only this machine (`localhost`, 127.0.0.0/8, ::1)."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@click.group()
def main() -> None:
    """PageSage: OCR for scanned books and documents."""


@main.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="interface to listen on")
@click.option("--port", type=int, default=lambda: int(os.environ.get("PORT", "8080")), help="port (default $PORT or 8080)")
@click.option("--user", envvar="PAGESAGE_USER", help="who edits through this server when no signed identity comes "
              "with a request: \"Name <email>\" or a name (default $PAGESAGE_USER)")
def serve(host: str, port: int, user: str | None) -> None:
    """Serve every function until interrupted, on the backend PAGESAGE_BACKEND names (`local`
    by default; `gcp` with the emulators' variables set runs against them). Cloud Tasks deliver
    to PAGESAGE_PUBLIC_URL, by default this server.

    A non-loopback HOST is refused unless PAGESAGE_API_TOKEN is set: the operator endpoints
    (the worker, costs, the provenance API) would otherwise be open to the network."""
    from pagesage.config import Settings
    from pagesage.server import create_server, serving, start_maintenance

    if not is_loopback(host) and not Settings().api_token_value:
        raise click.UsageError(f"refusing to serve on {host}: set PAGESAGE_API_TOKEN first, so that the operator "
                               "endpoints need it (docs/security.md)")
    if user:
        os.environ["PAGESAGE_USER"] = user
    server = create_server(host, port)
    os.environ.setdefault("PAGESAGE_PUBLIC_URL", f"http://127.0.0.1:{server.effective_port}")
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):  # Ctrl-C, or a service manager's stop
        signal.signal(signum, lambda *_: stop.set())
    with serving(server):
        start_maintenance()
        click.echo(f"PageSage listening on http://{host}:{server.effective_port}", err=True)
        stop.wait()
    click.echo("PageSage stopped", err=True)


@main.command()
@click.argument("sources", nargs=-1, required=True)
@click.option("--lang", default="auto", show_default=True, help="Tesseract language spec: auto, eng, san+eng, script/Devanagari")
@click.option("--url", default=_default_url, help="base URL of the functions (default $PAGESAGE_URL)")
@click.option("--wait/--no-wait", default=False, help="wait for the jobs to finish")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), help="with --wait: save hOCR, JSON and text here")
def submit(sources: tuple[str, ...], lang: str, url: str, wait: bool, out: Path | None) -> None:
    """Upload each local file of SOURCES, or have the server fetch each `s3://bucket/key`,
    `gs://bucket/object` or `https://` URL of them (with the server's own credentials, under
    its fetch policy); print one job id per source."""
    for name in sources:
        if not _is_remote(name) and not Path(name).is_file():
            raise click.BadParameter(f"{name!r} is neither a file nor an s3://, gs:// or https:// URI", param_hint="SOURCES")
    client = _client(url)
    try:
        jobs = _submit_all(client, tuple(s if _is_remote(s) else Path(s) for s in sources), lang)
        if wait or out:
            _wait_and_save(client, jobs, out)
    finally:
        client.close()


@main.command()
@click.argument("job_id")
@click.option("--url", default=_default_url, help="base URL of the functions (default $PAGESAGE_URL)")
def status(job_id: str, url: str) -> None:
    """Print a job's status as JSON."""
    client = _client(url)
    try:
        click.echo(json.dumps(_call(client.status, job_id), indent=2))
    finally:
        client.close()


@main.command()
@click.argument("job_id")
@click.option("--format", "fmt", type=click.Choice(list(FORMATS)), default="hocr", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), help="write here instead of stdout")
@click.option("--url", default=_default_url, help="base URL of the functions (default $PAGESAGE_URL)")
def result(job_id: str, fmt: str, output: Path | None, url: str) -> None:
    """Print or save a finished job's result."""
    client = _client(url)
    try:
        body = _call(client.result, job_id, fmt)
    finally:
        client.close()
    if output:
        output.write_bytes(body)
    else:
        sys.stdout.buffer.write(body)


@main.command()
@click.option("--job", help="only this job's entries")
@click.option("--project", help="only this project's entries")
@click.option("--since", help="entries at or after this ISO 8601 date or date-time (UTC without an offset)")
@click.option("--until", help="entries before this ISO 8601 date or date-time")
@click.option("--group-by", type=click.Choice(["job", "document", "engine", "day"]), default="job", show_default=True)
@click.option("--jsonl", is_flag=True, help="print the entries as JSON Lines instead of a summary")
@click.option("--url", default=_default_url, help="base URL of the functions (default $PAGESAGE_URL)")
@click.option("--path", "costs_path", default="/api/v1/costs", show_default=True,
              help="path of the cost API (a Cloud Functions deployment serves it at /costs)")
@click.option("--id-token", envvar="PAGESAGE_ID_TOKEN", help="bearer token for a deployment that is not public "
              "(default $PAGESAGE_ID_TOKEN, else $PAGESAGE_API_TOKEN)")
def costs(job: str | None, project: str | None, since: str | None, until: str | None, group_by: str, jsonl: bool,
          url: str, costs_path: str, id_token: str | None) -> None:
    """Summarize the cost log by job, document, engine or UTC day, or export it (--jsonl)."""
    client = _client(url, token=id_token, costs_path=costs_path)
    try:
        body = _call(client.costs, job=job, project=project, since=since, until=until, group_by=group_by, jsonl=jsonl)
    finally:
        client.close()
    if jsonl:
        sys.stdout.buffer.write(body)
        return
    rows = [(g["key"], g.get("file_name") or "-", str(g["calls"]),
             ", ".join(f"{amount:g} {unit}" for unit, amount in g["units"].items()), f"{g['total_usd']:.6f}")
            for g in body["groups"]]
    rows.append(("total", "", str(body["calls"]), "", f"{body['total_usd']:.6f}"))
    _print_table((group_by, "file", "calls", "units", "USD"), rows)
    click.echo(f"price table: {', '.join(body['price_versions']) or '-'}", err=True)


@main.command()
@click.argument("page_id")
@click.argument("run_a")
@click.argument("run_b")
@click.option("--json", "as_json", is_flag=True, help="print the whole comparison as JSON")
@click.option("--url", default=_default_url, help="base URL of the functions (default $PAGESAGE_URL)")
def diff(page_id: str, run_a: str, run_b: str, as_json: bool, url: str) -> None:
    """Compare what two runs read on one page: CER, WER and each changed span (RUN_A is the
    reference)."""
    client = _client(url)
    try:
        body = _call(client.diff, page_id, run_a, run_b)
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False, indent=1))
        return
    rate = lambda v: "-" if v is None else f"{v:.4f}"  # noqa: E731
    click.echo(f"CER {rate(body['cer'])}  WER {rate(body['wer'])}  words {body['a_words']} -> {body['b_words']}: "
               f"{body['words_replaced']} replaced, {body['words_inserted']} inserted, {body['words_deleted']} deleted")
    for op in body["ops"]:
        if op["op"] != "equal":
            click.echo(f"  {op['op']:<8} a[{op['a_start']}:{op['a_end']}] {' '.join(op['a_words'])!r} -> "
                       f"b[{op['b_start']}:{op['b_end']}] {' '.join(op['b_words'])!r}")


@main.group()
def project() -> None:
    """Projects: books being turned into reviewed editions."""


@project.command("create")
@click.option("--job", "job_id", help="a finished job's id")
@click.option("--source-doc", "source_doc_id", help="a source document's id (instead of --job)")
@click.option("--title", help="the book's title (default: the document's)")
@click.option("--author", "authors", multiple=True, help="an author (repeat for several)")
@click.option("--url", default=_default_url, help="base URL of the functions (default $PAGESAGE_URL)")
def project_create(job_id: str | None, source_doc_id: str | None, title: str | None, authors: tuple[str, ...], url: str) -> None:
    """Make a project of a finished job's OCR; print it as JSON."""
    if (job_id is None) == (source_doc_id is None):
        raise click.UsageError("give exactly one of --job and --source-doc")
    client = _client(url)
    try:
        created = _call(client.create_project, job_id=job_id, source_doc_id=source_doc_id, title=title,
                        authors=list(authors) or None)
    finally:
        client.close()
    click.echo(json.dumps(created, ensure_ascii=False, indent=1))


@project.command("show")
@click.argument("project_id")
@click.option("--url", default=_default_url, help="base URL of the functions (default $PAGESAGE_URL)")
def project_show(project_id: str, url: str) -> None:
    """Print a project's metadata, counters and costs as JSON."""
    _print_json(url, "GET", f"/api/v1/projects/{project_id}")


@project.command("pages")
@click.argument("project_id")
@click.option("--url", default=_default_url, help="base URL of the functions (default $PAGESAGE_URL)")
def project_pages(project_id: str, url: str) -> None:
    """Print a project's pages as JSON."""
    _print_json(url, "GET", f"/api/v1/projects/{project_id}/pages")


def _print_json(url: str, method: str, path: str) -> None:
    client = _client(url)
    try:
        body = _call(client.call, method, path).json()
    finally:
        client.close()
    click.echo(json.dumps(body, ensure_ascii=False, indent=1))


@main.command()
@click.argument("project_id")
@click.option("--json", "as_json", is_flag=True, help="print every page's warnings as JSON")
@click.option("--url", default=_default_url, help="base URL of the functions (default $PAGESAGE_URL)")
def validate(project_id: str, as_json: bool, url: str) -> None:
    """Validate every page of a project: references, footnotes, offsets; print the warning
    counts by type (exit status 1 when a page has an error)."""
    client = _client(url)
    try:
        body = _call(client.validate_project, project_id)
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps(body, ensure_ascii=False, indent=1))
    else:
        _print_validation(body)
    if not body["isValid"]:
        sys.exit(1)


def _print_validation(body: dict) -> None:
    counts = body["counts"]
    pages = len(body["pages"])
    summary = ", ".join(f"{n} {kind}" for kind, n in sorted(counts.items())) or "no warnings"
    click.echo(f"validated {pages} page{'s' if pages != 1 else ''} of {body['projectId']}: {summary}; "
               f"{body['autoFixableCount']} auto-fixable; {'valid' if body['isValid'] else 'errors found'}")


EXPORT_FORMATS = ("markdown-quarto", "hocr", "page-xml", "alto", "plain-text", "json")


@main.command()
@click.argument("project_id")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default=None,
              help="the format (default: the project's defaultExportFormat)")
@click.option("--flavor", type=click.Choice(["quarto", "pandoc", "commonmark"]), default=None, help="Markdown flavour")
@click.option("--pages", default=None, help="page numbers, e.g. 1,2,5-9 (default: all)")
@click.option("--drop-low-confidence", is_flag=True, help="leave out uncorrected boxes under the confidence threshold")
@click.option("--threshold", type=click.FloatRange(0, 1), default=None, help="confidence threshold 0-1 (default: the project's)")
@click.option("--history", is_flag=True, help="include each page's version history (JSON)")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="file to write (default: the export's file name in the current folder)")
@click.option("--url", default=_default_url, help="base URL of the functions (default $PAGESAGE_URL)")
def export(project_id: str, fmt: str | None, flavor: str | None, pages: str | None, drop_low_confidence: bool,
           threshold: float | None, history: bool, output: Path | None, url: str) -> None:
    """Export a project from its corrected text: the export is stored and recorded on the
    project, and its file downloaded; prints the export record's id, size and SHA-256."""
    config: dict = {"includeLowConfidence": not drop_low_confidence, "includeVersionHistory": history}
    if fmt:
        config["format"] = fmt
    if flavor:
        config["markdown"] = {"flavor": flavor}
    if pages:
        config["includedPages"] = _page_numbers(pages)
    if threshold is not None:
        config["confidenceThreshold"] = threshold
    client = _client(url)
    try:
        record = _call(client.export_project, project_id, **config)
        data = _call(client.export_file, project_id, record["exportId"])
    finally:
        client.close()
    target = output or Path(record["filePath"].rsplit("/", 1)[-1])
    target.write_bytes(data)
    click.echo(f"{target}: {record['format']} export {record['exportId']} of pages {_ranges(record['includedPages'])}, "
               f"{record['fileSize']} bytes, sha256 {record['sha256']}")


def _page_numbers(spec: str) -> list[int]:
    """"1,2,5-9" -> [1, 2, 5, 6, 7, 8, 9]. Raises `click.BadParameter`."""
    numbers: list[int] = []
    try:
        for part in filter(None, (p.strip() for p in spec.split(","))):
            low, _, high = part.partition("-")
            numbers += range(int(low), int(high or low) + 1)
    except ValueError:
        raise click.BadParameter(f"{spec!r} is not a list of page numbers like 1,2,5-9", param_hint="--pages") from None
    return sorted(set(numbers))


def _ranges(numbers: list[int]) -> str:
    """[1, 2, 3, 5] -> "1-3,5"."""
    runs = [[n for _, n in run] for _, run in itertools.groupby(enumerate(numbers), lambda p: p[1] - p[0])]
    return ",".join(str(r[0]) if len(r) == 1 else f"{r[0]}-{r[-1]}" for r in runs) or "none"


@main.command("eval")
@click.argument("source", type=click.Path(exists=True, path_type=Path))
@click.option("--lang", help="language spec for every file (auto, eng, script/Devanagari, ...); default: a "
              "manifest's own language column, auto for a folder")
@click.option("--psm", type=click.IntRange(0, 13), help="page segmentation mode for every file (default: 7 for a "
              "manifest's line images, else 3)")
@click.option("--baseline", is_flag=True, help="also read each file with the plain `tesseract` command (its model "
              "is the file's language's own, eng where that is auto), interleaved with the pipeline")
@click.option("--strip-joiners", is_flag=True, help="remove ZWJ/ZWNJ from both texts before scoring")
@click.option("-o", "--out", type=click.Path(dir_okay=False, path_type=Path), default=Path("eval.tsv"), show_default=True,
              help="the TSV of scores per file and per set")
def evaluate(source: Path, lang: str | None, psm: int | None, baseline: bool, strip_joiners: bool, out: Path) -> None:
    """Score PageSage's OCR on SOURCE: a folder of page images each with a `.gt.txt` ground
    truth beside it (page.png + page.gt.txt), or a MANIFEST.tsv. Prints CER and WER per file
    and per set (mean and pooled) and writes them to OUT."""
    import dataclasses

    from pagesage import bootstrap
    from pagesage.config import Settings
    from pagesage.domain.languages import AUTO
    from pagesage.errors import PageSageError
    from pagesage.services import evaluate as scoring
    from pagesage.services.read_document import read_document

    settings = Settings()
    try:
        engine = bootstrap.build_engine(settings)
        if source.is_dir():
            cases = scoring.cases_from_folder(source, lang or AUTO, psm=psm or settings.psm)
        else:
            cases = scoring.cases_from_manifest(source, lang, installed=engine.installed_languages())
            if psm is not None:
                cases = [dataclasses.replace(case, psm=psm) for case in cases]

        def pipeline(case: scoring.EvalCase) -> tuple[str, float]:
            _, text, seconds = read_document(case.path, languages=case.language,
                                             settings=settings.model_copy(update={"psm": case.psm}), engine=engine)
            return text, seconds

        def plain(case: scoring.EvalCase) -> tuple[str, float]:
            return scoring.plain_tesseract(case, dpi=settings.dpi)

        def progress(done: int, total: int, result: scoring.CaseResult) -> None:
            click.echo(f"[{done}/{total}] {result.case.name}: CER {result.score.cer:.2%}"
                       + (f" (baseline {result.baseline.cer:.2%})" if result.baseline else ""), err=True)

        report = scoring.run_eval(cases, pipeline, baseline=plain if baseline else None, progress=progress,
                                  strip_joiners=strip_joiners)
    except PageSageError as exc:
        raise click.ClickException(f"{exc.error_code}: {exc.detail}") from exc
    scoring.write_tsv(report, out)
    click.echo(scoring.format_table(report))
    click.echo(f"written to {out}")


@main.command()
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("schemas"), show_default=True)
def schemas(out: Path) -> None:
    """Write the JSON Schemas of the API's bodies into OUT."""
    from pagesage.jsonschemas import write_schemas

    for path in write_schemas(out):
        click.echo(path)


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--lang", default="auto", show_default=True, help="Tesseract language spec")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=Path("out"), show_default=True)
@click.option("--emulators", is_flag=True, help="run on the gcp backend against freshly started Firestore, "
              "Cloud Storage and Cloud Tasks emulators (Cloud Tasks calls this stack's /ocr)")
@click.option("--projects/--no-projects", default=True, show_default=True,
              help="make a project of each PDF, validate it and print its warning counts")
def run(files: tuple[Path, ...], lang: str, out: Path, emulators: bool, projects: bool) -> None:
    """Start the local stack on a free loopback port, OCR FILES through it, save, stop. The
    projects are made by $PAGESAGE_USER, by default this machine's login name."""
    import getpass

    os.environ.setdefault("PAGESAGE_USER", getpass.getuser())
    from contextlib import nullcontext

    from pagesage import emulators as google_emulators
    from pagesage.server import create_server, serving

    with google_emulators.running_all() if emulators else nullcontext() as started, \
            serving(create_server("127.0.0.1", 0)) as server:
        url = f"http://127.0.0.1:{server.effective_port}"
        os.environ.setdefault("PAGESAGE_PUBLIC_URL", url)  # where Cloud Tasks deliver; read on first request
        where = ", ".join(f"{k}={v}" for k, v in started.items()) if started else \
            f"data in {os.environ.get('PAGESAGE_DATA_DIR', '.pagesage')}"
        click.echo(f"local stack on {url} ({where})")
        client = _client(url)
        try:
            jobs = _submit_all(client, files, lang)
            _wait_and_save(client, jobs, out)
            if projects:
                _make_projects(client, jobs, out)
        finally:
            client.close()


def _make_projects(client: PageSageClient, jobs: dict[str, tuple[Path, float]], out: Path) -> None:
    """Make a project of each finished PDF job, validate it and print the warning counts; export
    it as Quarto Markdown (rendered to HTML by Pandoc when pypandoc is installed) and hOCR into
    `out`, and print where the review page shows it."""
    for job_id, (path, _) in jobs.items():
        if path.suffix.lower() != ".pdf" or client.status(job_id)["status"] != "completed":
            continue
        created = _call(client.create_project, job_id=job_id, title=path.stem)
        project = created["project"]
        project_id = project["projectId"]
        click.echo(f"project {project_id} of {path.name}: {len(created['pageIds'])} pages, {created['boxes']} boxes, "
                   f"{created['referencesApplied']} references linked, {created['referenceProposals']} proposed")
        _print_validation(_call(client.validate_project, project_id))
        for fmt, name in (("markdown-quarto", f"{path.stem}.qmd"), ("hocr", f"{path.stem}.book.hocr")):
            record = _call(client.export_project, project_id, format=fmt, outputFileName=name)
            (out / name).write_bytes(_call(client.export_file, project_id, record["exportId"]))
            click.echo(f"  {out / name}: {fmt} export, {record['fileSize']} bytes")
        html = _render_html(out / f"{path.stem}.qmd")
        if html:
            click.echo(f"  {html}: rendered by Pandoc")
        click.echo(f"  review page: {_review_url(project_id)} (keep it up with `make serve`)")


def _render_html(markdown: Path) -> Path | None:
    """`markdown` rendered to a standalone HTML5 file beside it by Pandoc (pypandoc-binary);
    None when pypandoc is not installed."""
    try:
        import pypandoc
    except ImportError:
        return None
    target = markdown.with_suffix(".html")
    pypandoc.convert_file(str(markdown), "html5", format="markdown", outputfile=str(target), extra_args=["--standalone"])
    return target


def _review_url(project_id: str) -> str:
    """The review page of a project on the local stack `pagesage serve` starts."""
    return f"http://127.0.0.1:{os.environ.get('PORT', '8080')}/review/#/projects/{project_id}"


@main.command("docai-to-hocr")
@click.argument("documents", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("-o", "--output", required=True, type=click.Path(dir_okay=False, path_type=Path), help="file to write")
@click.option("--format", "fmt", type=click.Choice(["hocr", "json", "text"]), default="hocr", show_default=True)
def docai_to_hocr(documents: tuple[Path, ...], output: Path, fmt: str) -> None:
    """Convert a saved Document AI output (one JSON file, or all shards of one batch output in
    any order) to PageSage hOCR, JSON or text, offline."""
    from pagesage.engines.docai_document import document_view, load_document
    from pagesage.errors import EngineError
    from pagesage.formats.hocr import render_hocr
    from pagesage.formats.json_doc import render_json
    from pagesage.formats.text import render_text

    try:
        view = document_view(load_document(list(documents)), documents)
    except EngineError as exc:
        raise click.ClickException(exc.detail) from exc
    body = {"hocr": render_hocr, "json": render_json, "text": lambda v: render_text(v).encode("utf-8")}[fmt](view)
    output.write_bytes(body)
    click.echo(f"{output}: {len(view.pages)} page(s), {view.word_count} words", err=True)


REMOTE_SCHEMES = ("s3://", "gs://", "https://", "http://")
"""Prefixes of the sources `submit` has the server fetch instead of uploading."""


def _is_remote(source: str) -> bool:
    return source.lower().startswith(REMOTE_SCHEMES)


def _submit_all(client: PageSageClient, sources: tuple[Path | str, ...], lang: str) -> dict[str, tuple[Path, float]]:
    """Submit each source (a local file is uploaded, a URI fetched by the server); returns
    job id -> (a path named as the document, when it was submitted)."""
    jobs = {}
    for source in sources:
        if isinstance(source, Path):
            job_id, path = _call(client.submit, source, lang=lang), source
        else:
            job_id = _call(client.submit_remote, source, lang=lang)
            path = Path(_call(client.status, job_id)["file_name"])
        jobs[job_id] = (path, time.monotonic())
        click.echo(f"{job_id}  {source if isinstance(source, str) else path.name}")
    return jobs


def _wait_and_save(client: PageSageClient, jobs: dict[str, tuple[Path, float]], out: Path | None) -> None:
    finished_at: dict[str, float] = {}
    last_line = [""]

    def progress(statuses: dict[str, dict]) -> None:
        parts = []
        for job_id, st in statuses.items():
            if st["status"] in ("completed", "failed") and job_id not in finished_at:
                finished_at[job_id] = time.monotonic()
            p = st["progress"]
            total = p["pages_total"] if p["pages_total"] is not None else "?"
            parts.append(f"{jobs[job_id][0].name} {p['pages_done'] + p['pages_failed']}/{total} {st['status']}")
        line = " | ".join(parts)
        if line != last_line[0]:
            click.echo(f"  {line}", err=True)
            last_line[0] = line

    statuses = client.wait(list(jobs), on_poll=progress)
    rows = []
    for job_id, (path, started) in jobs.items():
        st = statuses[job_id]
        seconds = finished_at.get(job_id, time.monotonic()) - started
        if st["status"] != "completed":
            rows.append((path.name, "-", "-", "-", f"{seconds:.1f}", f"failed: {st['error_code']}: {st['error_message']}"))
            continue
        doc = json.loads(client.result(job_id, "json"))
        if out:
            out.mkdir(parents=True, exist_ok=True)
            stem = out / path.stem
            stem.with_suffix(".json").write_text(json.dumps(doc, ensure_ascii=False, indent=1), encoding="utf-8")
            for fmt in ("hocr", "text", "markdown"):
                stem.with_suffix(f".{FORMATS[fmt]}").write_bytes(client.result(job_id, fmt))
        conf = doc.get("mean_confidence")
        rows.append((path.name, str(doc["page_count"]), str(doc["word_count"]), "-" if conf is None else f"{conf:.1f}", f"{seconds:.1f}",
                     f"{st['progress']['pages_failed']} pages failed" if st["progress"]["pages_failed"] else "ok"))
    _print_table(("document", "pages", "words", "mean conf", "seconds", "outcome"), rows)
    if out:
        click.echo(f"results in {out}/")


def _print_table(header: tuple[str, ...], rows: list[tuple[str, ...]]) -> None:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows)]
    for row in (header, *rows):
        click.echo("  ".join(str(c).ljust(w) for c, w in zip(row, widths)).rstrip())


def _call(fn, *args, **kwargs):
    try:
        return fn(*args, **kwargs)
    except ApiError as exc:
        raise click.ClickException(f"{exc.status} {exc.error_code}: {exc.detail}") from exc
    except OSError as exc:
        raise click.ClickException(f"cannot reach PageSage: {exc}") from exc
