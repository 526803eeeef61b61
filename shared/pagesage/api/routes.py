"""The provenance API's routes (`/api/v1/ocr/...`, provenance seed "API navigation flow"):
one table, served by three functions and described by the OpenAPI document.

| function | serves |
|---|---|
| `provenance` | the reads: source documents, pages, every run's results, one result in full, run diffs |
| `ingest` | outside work: register source documents and runs; tokens, links, suggestions, ingest |
| `review` | the human layer: create and change a page result's review |

Each function sees paths relative to the API root (`/source_docs`, `/page_results/<id>/full`):
in Google Cloud the root is the function's URL, locally the stack mounts `/api/v1/ocr` and
hands each path to the function that owns it (`function_for`).
"""

from __future__ import annotations

import flask

from pagesage import web
from pagesage.services import provenance_io as bodies
from pagesage.api.routing import Route, RouteTable
from pagesage.domain.provenance import Review, SourceDoc
from pagesage.errors import InputError
from pagesage.services import provenance
from pagesage.services.remote_source import submit_remote

API_ROOT = "/api/v1/ocr"
"""Where the local stack (and a gateway in front of the functions) serves these routes."""

MAX_JSON_BYTES = 32 * 1024 * 1024
"""Largest request body, bytes (Cloud Run's HTTP/1 request limit); larger answers 413."""


# -- handlers ---------------------------------------------------------------------------------

def _list_source_docs(request, services, _):
    limit = web.int_arg(request, "limit", default=20, low=1, high=provenance.MAX_PAGE_SIZE)
    docs, cursor = services.store.list_source_docs(limit, request.args.get("cursor") or None)
    return web.json_response(bodies.SourceDocPage(items=docs, next_cursor=cursor))


def _get_source_doc(request, services, args):
    return web.json_response(services.store.get_source_doc(args["source_doc_id"]))


def _list_pages(request, services, args):
    return web.json_response(bodies.PageList(items=provenance.pages_of(args["source_doc_id"], services.store)))


def _page_results(request, services, args):
    return web.json_response(provenance.results_of_page(args["page_id"], services.store))


def _diff(request, services, args):
    from pagesage.services.compare import compare_tokens

    runs = {}
    for name in ("a", "b"):
        if not request.args.get(name):
            raise InputError(f"query parameter `{name}` (a run id) is required", error_code="missing_parameter")
        runs[name] = provenance.run_tokens_of_page(args["page_id"], request.args[name], services.store)
    return web.json_response(compare_tokens(runs["a"], runs["b"]))


def _full(request, services, args):
    return web.json_response(provenance.full_result(args["page_result_id"], services.store))


def _raw(request, services, args):
    body, content_type = provenance.raw_output(args["page_result_id"], services.store, services.blobs)
    return flask.Response(body, content_type=content_type)


def _register_source_doc(request, services, _):
    body = web.read_json(request, bodies.SourceDocIn, MAX_JSON_BYTES, choose=bodies.SourceDocRequest.request_model)
    if isinstance(body, bodies.SourceDocIn):
        return web.json_response(provenance.register_source_doc(body, services.store), 201)
    job = submit_remote(body.uri, languages=body.ocr.lang, title=body.title, metadata=body.metadata,
                        installed_languages=services.engine.installed_languages(), sources=services.sources,
                        store=services.store, queue=services.queue)
    return web.json_response(bodies.RemoteSourceAccepted(job_id=job.job_id, source_doc_id=job.source_doc_id,
                                                         status=job.status), 202)


def _register_run(request, services, _):
    body = web.read_json(request, bodies.RunIn, MAX_JSON_BYTES)
    return web.json_response(provenance.register_run(body, services.store), 201)


def _bulk_tokens(request, services, args):
    body = web.read_json(request, bodies.TokensBody, MAX_JSON_BYTES)
    ingest = bodies.IngestBody(mode=body.mode, tokens=body.tokens)
    return web.json_response(provenance.ingest(args["page_result_id"], ingest, services.store), 201)


def _bulk_links(request, services, args):
    body = web.read_json(request, bodies.LinksBody, MAX_JSON_BYTES)
    links = provenance.add_links(args["page_result_id"], body.links, services.store)
    return web.json_response(bodies.LinkSuggestions(suggestions=links, saved=len(links)), 201)


def _suggest(request, services, args):
    body = web.read_json(request, bodies.SuggestBody, MAX_JSON_BYTES)
    links, saved = provenance.suggest(args["page_result_id"], body, services.store)
    return web.json_response(bodies.LinkSuggestions(suggestions=links, saved=saved), 201 if saved else 200)


def _ingest(request, services, args):
    body = web.read_json(request, bodies.IngestBody, MAX_JSON_BYTES)
    return web.json_response(provenance.ingest(args["page_result_id"], body, services.store))


def _create_review(request, services, args):
    body = web.read_json(request, bodies.ReviewIn, MAX_JSON_BYTES)
    return web.json_response(provenance.write_review(args["page_result_id"], body, services.store, create=True), 201)


def _change_review(request, services, args):
    body = web.read_json(request, bodies.ReviewPatch, MAX_JSON_BYTES)
    return web.json_response(provenance.write_review(args["page_result_id"], body, services.store, create=False))


_PR = "/page_results/<page_result_id>"

ROUTES: tuple[Route, ...] = (
    Route("GET", "/source_docs", "provenance", _list_source_docs, "List source documents, oldest first",
          response=bodies.SourceDocPage,
          query={"limit": {"description": "1-100, default 20", "type": "integer", "minimum": 1, "maximum": provenance.MAX_PAGE_SIZE},
                 "cursor": {"description": "`next_cursor` of the previous page", "type": "string"}}),
    Route("POST", "/source_docs", "ingest", _register_source_doc,
          "Register a source document OCR'd elsewhere (201), or, with `ocr`, fetch a remote one and OCR it "
          "(202 with its job: `RemoteSourceAccepted`)",
          body=bodies.SourceDocRequest, response=bodies.SourceDocCreated, status=201),
    Route("GET", "/source_docs/<source_doc_id>", "provenance", _get_source_doc, "One source document", response=SourceDoc),
    Route("GET", "/source_docs/<source_doc_id>/pages", "provenance", _list_pages, "A source document's pages",
          response=bodies.PageList),
    Route("GET", "/pages/<page_id>/results", "provenance", _page_results, "Every run's result for a page",
          response=bodies.PageResults),
    Route("GET", "/pages/<page_id>/diff", "provenance", _diff, "Word-level comparison of two runs on a page",
          query={"a": {"description": "run id (the reference)", "type": "string", "minLength": 1, "required": True},
                 "b": {"description": "run id", "type": "string", "minLength": 1, "required": True}}),
    Route("POST", "/runs", "ingest", _register_run, "Register an outside engine's run",
          body=bodies.RunIn, response=bodies.RunCreated, status=201),
    Route("GET", f"{_PR}/full", "provenance", _full, "A page result with tokens, review and links",
          response=bodies.FullPageResult),
    Route("GET", f"{_PR}/raw", "provenance", _raw, "The engine's own output for the page (Tesseract TSV, Document AI JSON)"),
    Route("POST", f"{_PR}/tokens/bulk_create", "ingest", _bulk_tokens, "Append (or replace) tokens",
          body=bodies.TokensBody, response=bodies.IngestResult, status=201),
    Route("POST", f"{_PR}/links/bulk_create", "ingest", _bulk_links, "Add links to dictionary entries",
          body=bodies.LinksBody, response=bodies.LinkSuggestions, status=201),
    Route("POST", f"{_PR}/links/suggest", "ingest", _suggest, "Propose links by matching token n-grams to a dictionary",
          body=bodies.SuggestBody, response=bodies.LinkSuggestions),
    Route("POST", f"{_PR}/ingest", "ingest", _ingest, "Write tokens, review and links at once (replace or append)",
          body=bodies.IngestBody, response=bodies.IngestResult),
    Route("POST", f"{_PR}/review", "review", _create_review, "Create the review", body=bodies.ReviewIn,
          response=Review, status=201),
    Route("PATCH", f"{_PR}/review", "review", _change_review, "Change the review", body=bodies.ReviewPatch,
          response=Review),
)

TABLE = RouteTable(API_ROOT, ROUTES, default="provenance")
"""The provenance API's route table."""

match = TABLE.match
function_for = TABLE.function_for
dispatch = TABLE.dispatch

__all__ = ["API_ROOT", "ROUTES", "TABLE", "Route", "dispatch", "function_for", "match"]
