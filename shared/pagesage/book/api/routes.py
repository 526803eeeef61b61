"""The book layer's HTTP API under `/api/v1` (docs/book.md, "API"): one route table served by
three functions and described by the OpenAPI document.

| function | serves |
|---|---|
| `projects` | make a project of an OCR'd document; projects, their pages, their cost log |
| `annotations` | a page's annotations (with `ETag`), every edit (with `If-Match`), references, history, review status, navigation |
| `validate` | validation of a page or a project, and automatic fixes |

Each function sees paths relative to the API root (`/projects`, `/pages/<id>/boxes`); the local
stack mounts the root at `/api/v1`. Edits name the caller from a verified identity
(`pagesage.identity`), never from the body.
"""

from __future__ import annotations

from urllib.parse import quote

import flask
from pydantic import BaseModel, Field
from werkzeug.routing import BaseConverter

from pagesage import web
from pagesage.api.routing import Route, RouteTable
from pagesage.book.domain import edits, versions
from pagesage.book.domain.model import BookModel, BookRequest, ExportRecord, PageAnnotations, Project, ReviewStatus
from pagesage.book.services import checks, editing, exports, history, navigation, projects, references, reruns
from pagesage.book.services.answers import (AddInlineReferenceResponse, AutoFixRequest, AutoFixResponse, EditResult,
                                            IncomingReferencesResponse, OutgoingReferencesResponse, PageSummaryList, ProjectList,
                                            ReferenceProposalList, UpdateTextResponse, ValidatePageResponse,
                                            ValidateProjectResponse, VersionList)
from pagesage.book.services.costs import cost_log_jsonl
from pagesage.errors import ValidationFailed
from pagesage.identity import require_caller

API_ROOT = "/api/v1"
MAX_JSON_BYTES = 8 * 1024 * 1024
"""Largest request body, bytes: a page's annotations stay under 1 MB, an edit far less."""

_IF_MATCH = {"If-Match": {"description": "the page's ETag this edit is based on (428 without it, 412 when stale)",
                          "required": True, "type": "string"}}


class MergeRequest(BookRequest):
    box_ids: list[str] = Field(min_length=2, max_length=100)
    note: str = Field(default="", max_length=2000)


class ReadingOrderRequest(BookRequest):
    box_ids: list[str] = Field(min_length=1, max_length=1000)
    note: str = Field(default="", max_length=2000)


class RevertRequest(BookRequest):
    version: int = Field(ge=1)
    note: str = Field(default="", max_length=2000)


class ReviewStatusRequest(BookRequest):
    review_status: ReviewStatus
    note: str = Field(default="", max_length=2000)


class DetectRequest(BookRequest):
    apply: bool = Field(default=False, description="apply the confident matches as one version (needs If-Match)")


def _ports(services):
    return services.book_ports


def _json(model: BaseModel, status: int = 200, *, sha: str | None = None) -> flask.Response:
    response = web.json_response(model, status)
    if sha:
        response.headers["ETag"] = versions.etag(sha)
    return response


def _if_match(request: flask.Request) -> str | None:
    return versions.parse_if_match(request.headers.get("If-Match"))


def _caller(request, services):
    return require_caller(request.headers, services.settings)


def _body(request, model):
    return web.read_json(request, model, MAX_JSON_BYTES)


# -- projects ---------------------------------------------------------------------------------

def _create_project(request, services, _):
    caller = _caller(request, services)
    created = projects.create_project(_ports(services), _body(request, projects.NewProject), caller)
    return _json(created, 201)


def _list_projects(request, services, _):
    limit = web.int_arg(request, "limit", default=50, low=1, high=100)
    return _json(projects.list_projects(_ports(services), limit, request.args.get("cursor") or None))


def _get_project(request, services, args):
    include = {p.strip() for p in request.args.get("include", "").split(",") if p.strip()}
    if include - {"boxIndex"}:
        raise ValidationFailed("`include` takes boxIndex", field="include")
    return _json(projects.get_project(_ports(services), args["project_id"], with_box_index="boxIndex" in include))


def _project_pages(request, services, args):
    return _json(projects.list_pages(_ports(services), args["project_id"]))


def _apply_run(request, services, args):
    body = _body(request, reruns.ApplyRun)
    return _json(reruns.apply_run(_ports(services), args["project_id"], body, _caller(request, services)))


def _create_export(request, services, args):
    body = _body(request, exports.ExportRequest)
    return _json(exports.create_export(_ports(services), args["project_id"], body, _caller(request, services)), 201)


def _list_exports(request, services, args):
    return _json(exports.list_exports(_ports(services), args["project_id"]))


def _export_file(request, services, args):
    with exports.open_export(_ports(services), args["project_id"], args["export_id"]) as (record, media_type, stream):
        data = stream.read()
    name = record.file_path.rsplit("/", 1)[-1]
    response = flask.Response(data, mimetype=None, content_type=media_type)
    response.headers["Content-Disposition"] = f"attachment; filename*=UTF-8''{quote(name)}"
    response.headers["ETag"] = f'"{record.sha256}"'
    return response


def _page_image(request, services, args):
    data, media_type, sha256 = projects.page_image(_ports(services), args["page_id"])
    response = flask.Response(data, content_type=media_type)
    response.set_etag(sha256)
    response.headers["Cache-Control"] = "private, max-age=3600"
    return response.make_conditional(request)


def _project_costs(request, services, args):
    body = cost_log_jsonl(_ports(services), args["project_id"])
    return flask.Response(body, mimetype="application/jsonl")


# -- pages and edits --------------------------------------------------------------------------

def _get_page(request, services, args):
    version = web.int_arg(request, "version", default=None, low=1, high=2**53)
    ports = _ports(services)
    page = history.page_as_of(ports, args["page_id"], version) if version else projects.page_view(ports, args["page_id"])
    return _json(page, sha=page.commit_sha)


def _edit_answer(result: EditResult, status: int = 200) -> flask.Response:
    return _json(result, status, sha=result.commit_sha)


def _add_box(request, services, args):
    draft = _body(request, edits.BoxDraft)
    return _edit_answer(editing.add_box(_ports(services), args["page_id"], _if_match(request), _caller(request, services), draft), 201)


def _patch_box(request, services, args):
    patch = _body(request, edits.BoxPatch)
    return _edit_answer(editing.patch_box(_ports(services), args["page_id"], args["box_id"], _if_match(request),
                                          _caller(request, services), patch))


def _delete_box(request, services, args):
    return _edit_answer(editing.delete_box(_ports(services), args["page_id"], args["box_id"], _if_match(request),
                                           _caller(request, services)))


def _merge(request, services, args):
    body = _body(request, MergeRequest)
    return _edit_answer(editing.merge_boxes(_ports(services), args["page_id"], _if_match(request), _caller(request, services),
                                            body.box_ids, body.note))


def _split(request, services, args):
    body = _body(request, edits.SplitRequest)
    return _edit_answer(editing.split_box(_ports(services), args["page_id"], args["box_id"], _if_match(request),
                                          _caller(request, services), body), 201)


def _reading_order(request, services, args):
    body = _body(request, ReadingOrderRequest)
    return _edit_answer(editing.set_reading_order(_ports(services), args["page_id"], _if_match(request),
                                                  _caller(request, services), body.box_ids, body.note))


def _text(request, services, args):
    body = _body(request, edits.UpdateTextRequest)
    answer = editing.correct_text(_ports(services), args["page_id"], args["box_id"], _if_match(request),
                                  _caller(request, services), body)
    return _json(answer, sha=answer.commit_sha)


def _add_reference(request, services, args):
    draft = _body(request, edits.ReferenceDraft)
    reference_id, page = editing.add_reference(_ports(services), args["page_id"], args["box_id"], _if_match(request),
                                               _caller(request, services), draft)
    answer = AddInlineReferenceResponse(reference_id=reference_id, version_number=page.version, commit_sha=page.commit_sha or "",
                                        updated_box=page.current_state.box(args["box_id"]))
    return _json(answer, 201, sha=page.commit_sha)


def _patch_reference(request, services, args):
    patch = _body(request, edits.ReferencePatch)
    return _edit_answer(editing.patch_reference(_ports(services), args["page_id"], args["box_id"], args["reference_id"],
                                                _if_match(request), _caller(request, services), patch))


def _delete_reference(request, services, args):
    return _edit_answer(editing.delete_reference(_ports(services), args["page_id"], args["box_id"], args["reference_id"],
                                                 _if_match(request), _caller(request, services)))


def _detect(request, services, args):
    body = _body(request, DetectRequest) if request.get_data(cache=True) else DetectRequest()
    caller = _caller(request, services) if body.apply else None
    answer = references.detect(_ports(services), args["page_id"], apply=body.apply, if_match=_if_match(request), caller=caller)
    return _json(answer, sha=answer.commit_sha)


def _versions(request, services, args):
    return _json(history.versions_of(_ports(services), args["page_id"]))


def _revert(request, services, args):
    body = _body(request, RevertRequest)
    return _edit_answer(history.revert(_ports(services), args["page_id"], _if_match(request), _caller(request, services),
                                       body.version, body.note))


def _review_status(request, services, args):
    body = _body(request, ReviewStatusRequest)
    return _edit_answer(editing.set_review_status(_ports(services), args["page_id"], _if_match(request),
                                                  _caller(request, services), body.review_status, body.note))


def _incoming(request, services, args):
    return _json(navigation.incoming(_ports(services), args["box_id"]))


def _outgoing(request, services, args):
    return _json(navigation.outgoing(_ports(services), args["box_id"]))


# -- validation -------------------------------------------------------------------------------

def _validate_page(request, services, args):
    return _json(checks.validate_page(_ports(services), args["page_id"]))


def _validate_project(request, services, args):
    return _json(checks.validate_project(_ports(services), args["project_id"]))


def _auto_fix(request, services, args):
    body = _body(request, AutoFixRequest)
    answer = checks.auto_fix(_ports(services), args["page_id"], _if_match(request), _caller(request, services), body)
    return _json(answer, sha=answer.commit_sha)


class BoxId(BaseConverter):
    """A box id in a path: any segment but `merge` (`POST .../boxes/merge` is an operation of
    its own, not a box)."""

    regex = r"(?!merge(?:/|$))[^/]+"


_P = "/pages/<page_id>"
_B = f"{_P}/boxes/<box:box_id>"
_R = f"{_B}/inline-references/<reference_id>"
_VERSION_QUERY = {"version": {"description": "the page as of this version (1-based)", "type": "integer", "minimum": 1}}

ROUTES: tuple[Route, ...] = (
    Route("POST", "/projects", "projects", _create_project, "Make a project of an OCR'd document (jobId or sourceDocId)",
          body=projects.NewProject, response=projects.CreatedProject, status=201),
    Route("GET", "/projects", "projects", _list_projects, "List projects by title", response=ProjectList,
          query={"limit": {"description": "1-100, default 50", "type": "integer", "minimum": 1, "maximum": 100},
                 "cursor": {"description": "`nextCursor` of the previous page", "type": "string"}}),
    Route("GET", "/projects/<project_id>", "projects", _get_project, "A project's metadata, counters and costs", response=Project,
          query={"include": {"description": "`boxIndex` to include the box index", "type": "string", "enum": ["boxIndex"]}}),
    Route("GET", "/projects/<project_id>/pages", "projects", _project_pages, "A project's pages", response=PageSummaryList),
    Route("GET", "/projects/<project_id>/costs", "projects", _project_costs, "The project's cost log (JSON Lines)"),
    Route("POST", "/projects/<project_id>/ocr-runs", "projects", _apply_run,
          "Bring a later OCR run in: uncorrected boxes take its text, corrected ones a suggestion", body=reruns.ApplyRun,
          response=reruns.AppliedRun),
    Route("POST", "/projects/<project_id>/exports", "projects", _create_export,
          "Export the project (Quarto/Pandoc/CommonMark Markdown, hOCR, PAGE-XML, ALTO, text, JSON)",
          body=exports.ExportRequest, response=ExportRecord, status=201),
    Route("GET", "/projects/<project_id>/exports", "projects", _list_exports, "The project's exports, oldest first",
          response=exports.ExportList),
    Route("GET", "/projects/<project_id>/exports/<export_id>/file", "projects", _export_file,
          "One export's file, with its media type"),
    Route("GET", f"{_P}/image", "annotations", _page_image, "The page image (ETag: its SHA-256)"),
    Route("GET", _P, "annotations", _get_page, "A page's annotations, now or as of a version; ETag is its version id",
          response=PageAnnotations, query=_VERSION_QUERY),
    Route("POST", f"{_P}/boxes", "annotations", _add_box, "Draw a box", body=edits.BoxDraft, response=EditResult, status=201,
          headers=_IF_MATCH),
    Route("PATCH", _B, "annotations", _patch_box, "Move, resize, relabel or annotate a box", body=edits.BoxPatch,
          response=EditResult, headers=_IF_MATCH),
    Route("DELETE", _B, "annotations", _delete_box, "Delete a box", response=EditResult, headers=_IF_MATCH),
    Route("POST", f"{_P}/boxes/merge", "annotations", _merge, "Merge boxes into the first in reading order", body=MergeRequest,
          response=EditResult, headers=_IF_MATCH),
    Route("POST", f"{_B}/split", "annotations", _split, "Split a box at a character offset", body=edits.SplitRequest,
          response=EditResult, status=201, headers=_IF_MATCH),
    Route("PUT", f"{_P}/reading-order", "annotations", _reading_order, "Set the reading order", body=ReadingOrderRequest,
          response=EditResult, headers=_IF_MATCH),
    Route("PUT", f"{_B}/text", "annotations", _text, "Correct a box's text; references follow", body=edits.UpdateTextRequest,
          response=UpdateTextResponse, headers=_IF_MATCH),
    Route("POST", f"{_B}/inline-references", "annotations", _add_reference, "Add an inline reference",
          body=edits.ReferenceDraft, response=AddInlineReferenceResponse, status=201, headers=_IF_MATCH),
    Route("PATCH", _R, "annotations", _patch_reference, "Change or confirm an inline reference", body=edits.ReferencePatch,
          response=EditResult, headers=_IF_MATCH),
    Route("DELETE", _R, "annotations", _delete_reference, "Remove an inline reference", response=EditResult, headers=_IF_MATCH),
    Route("POST", f"{_P}/detect-references", "annotations", _detect, "Detect references: confident matches and proposals",
          body=DetectRequest, response=ReferenceProposalList),
    Route("GET", f"{_P}/versions", "annotations", _versions, "A page's version history", response=VersionList),
    Route("POST", f"{_P}/revert", "annotations", _revert, "Make an earlier version the next one", body=RevertRequest,
          response=EditResult, headers=_IF_MATCH),
    Route("PUT", f"{_P}/review-status", "annotations", _review_status, "Change the page's review status",
          body=ReviewStatusRequest, response=EditResult, headers=_IF_MATCH),
    Route("GET", "/boxes/<box_id>/incoming-references", "annotations", _incoming, "References pointing at a box, from any page",
          response=IncomingReferencesResponse),
    Route("GET", "/boxes/<box_id>/outgoing-references", "annotations", _outgoing, "A box's references and their targets",
          response=OutgoingReferencesResponse),
    Route("POST", f"{_P}/validate", "validate", _validate_page, "Validate a page", response=ValidatePageResponse),
    Route("POST", f"{_P}/auto-fix", "validate", _auto_fix, "Apply validation's automatic fixes", body=AutoFixRequest,
          response=AutoFixResponse, headers=_IF_MATCH),
    Route("POST", "/projects/<project_id>/validate", "validate", _validate_project, "Validate every page of a project",
          response=ValidateProjectResponse),
)

TABLE = RouteTable(API_ROOT, ROUTES, default="annotations", converters={"box": BoxId})
"""The book layer's route table."""

__all__ = ["API_ROOT", "ROUTES", "TABLE"]
