"""The OpenAPI 3.1 document of PageSage's whole HTTP API, generated from the models.

Paths are as the local stack serves them (`pagesage serve`): each function at `/<name>`, the
provenance API under `/api/v1/ocr` (`routes.TABLE`), the book layer's under `/api/v1`
(`book.api.routes.TABLE`) and the cost API at `/api/v1/costs`.
Schemas come from the pydantic models (JSON Schema draft 2020-12, which OpenAPI 3.1 uses as is).
`schemas/openapi.json` holds the committed copy; `GET /openapi.json` serves it live.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic.json_schema import models_json_schema

from pagesage.api import routes
from pagesage.api.routing import Route
from pagesage.book.api import routes as book_routes
from pagesage.formats.json_doc import DocumentJson
from pagesage.ports import Task
from pagesage.responses import ErrorResponse, StatusResponse, UploadResponse
from pagesage.services.costs import CostSummary
from pagesage.services.sweeper import SweepResult

VERSION = "1.0.0"
"""Version of the API this document describes."""

_ERRORS = {
    "400": "malformed request (bad JSON, unknown parameter, malformed multipart)",
    "401": "an operator endpoint without the server's API token (only when PAGESAGE_API_TOKEN is set)",
    "404": "no such record (or it expired)",
    "405": "method not allowed on this path",
    "409": "conflicts with the record's state (review transition, append position, job not finished, a text edit based on old text)",
    "412": "If-Match names a version that is no longer current; `current_version` is the current one",
    "413": "body over the size limit",
    "415": "not a supported file format",
    "422": "the body breaks a rule; `field` names where",
    "428": "an edit without If-Match",
    "429": "rate limit exceeded; see Retry-After",
    "503": "a dependency is briefly unavailable; retry",
}


def _pipeline_operations() -> list[dict[str, Any]]:
    """The pipeline's own functions (not in the provenance route table)."""
    job_id = [{"name": "job_id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[A-Za-z0-9_-]{43}$"}}]
    return [
        {"method": "post", "path": "/upload", "summary": "Upload one scan (multipart field `file`, optional `lang`)",
         "request": {"multipart/form-data": {"schema": {"type": "object", "required": ["file"], "properties": {
             "file": {"type": "string", "contentMediaType": "application/octet-stream"},
             "lang": {"type": "string", "default": "auto"}}}}},
         "status": "202", "response": UploadResponse},
        {"method": "get", "path": "/status/{job_id}", "summary": "A job's status and progress", "parameters": job_id,
         "status": "200", "response": StatusResponse},
        {"method": "get", "path": "/result/{job_id}", "summary": "A finished job's result (hOCR, JSON, text, Markdown)",
         "parameters": job_id + [{"name": "format", "in": "query", "schema": {"enum": ["hocr", "json", "text", "markdown"]}}],
         "status": "200", "response": DocumentJson, "other_types": ["text/html", "text/plain", "text/markdown"]},
        {"method": "post", "path": "/ocr", "summary": "The worker (called by the task queue)",
         "request": {"application/json": Task}, "status": "204", "response": None},
        {"method": "post", "path": "/sweep", "summary": "Queue stalled jobs again or give them up (called by a scheduler)",
         "status": "200", "response": SweepResult},
        {"method": "get", "path": "/api/v1/costs", "summary": "Summarize or export the cost log",
         "parameters": [{"name": n, "in": "query", "schema": {"type": "string"}} for n in
                        ("job", "project", "since", "until", "group_by", "format")],
         "status": "200", "response": CostSummary},
    ]


def document() -> dict[str, Any]:
    """The OpenAPI 3.1 document as a dict (JSON-serializable)."""
    operations = _pipeline_operations() + [_route_operation(r, table.root) for table in (routes.TABLE, book_routes.TABLE)
                                            for r in table.routes]
    inputs = {op["request"]["application/json"] for op in operations
              if isinstance(op.get("request", {}).get("application/json"), type)}
    outputs = {op["response"] for op in operations if op.get("response")} | {ErrorResponse}
    keys = [(m, "validation") for m in sorted(inputs, key=lambda m: m.__name__)] + \
           [(m, "serialization") for m in sorted(outputs, key=lambda m: m.__name__)]
    refs, defs = models_json_schema(keys, ref_template="#/components/schemas/{model}")
    paths: dict[str, dict[str, Any]] = {}
    for op in operations:
        paths.setdefault(op["path"], {})[op["method"]] = _operation(op, refs)
    return {
        "openapi": "3.1.0",
        "info": {"title": "PageSage", "version": VERSION,
                 "description": "OCR pipeline for scanned books: upload, status and results; the provenance "
                                "model (source documents, pages, runs, page results, tokens, review, links); costs; the book "
                                "layer (projects, page annotations, boxes, inline references, versions, validation)."},
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "paths": dict(sorted(paths.items())),
        "components": {"schemas": defs.get("$defs", {})},
    }


def _route_operation(route: Route, root: str) -> dict[str, Any]:
    path = root + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", route.path)
    parameters = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in re.findall(r"<(?:\w+:)?(\w+)>", route.path)]
    for name, spec in route.query.items():
        schema = {k: v for k, v in spec.items() if k not in ("description", "required")}
        parameters.append({"name": name, "in": "query", "description": spec["description"], "required": spec.get("required", False),
                           "schema": schema})
    for name, spec in route.headers.items():
        schema = {k: v for k, v in spec.items() if k not in ("description", "required")}
        parameters.append({"name": name, "in": "header", "description": spec["description"], "required": spec.get("required", False),
                           "schema": schema})
    op = {"method": route.method.lower(), "path": path, "summary": route.summary, "parameters": parameters,
          "status": str(route.status), "response": route.response, "function": route.function}
    if route.body is not None:
        op["request"] = {"application/json": route.body}
    return op


def _operation(op: dict[str, Any], refs: dict) -> dict[str, Any]:
    out: dict[str, Any] = {"summary": op["summary"], "operationId": _operation_id(op)}
    if op.get("function"):
        out["x-pagesage-function"] = op["function"]
    if op.get("parameters"):
        out["parameters"] = op["parameters"]
    if "request" in op:
        content = {}
        for media, schema in op["request"].items():
            content[media] = {"schema": refs[(schema, "validation")]} if isinstance(schema, type) else schema
        out["requestBody"] = {"required": True, "content": content}
    response: dict[str, Any] = {"description": "success"}
    if op.get("response") is not None:
        response["content"] = {"application/json": {"schema": refs[(op["response"], "serialization")]}}
        for media in op.get("other_types", []):
            response["content"][media] = {"schema": {"type": "string"}}
    error = {"content": {"application/json": {"schema": refs[(ErrorResponse, "serialization")]}}}
    out["responses"] = {op["status"]: response, **{code: {"description": text, **error} for code, text in _ERRORS.items()}}
    return out


def _operation_id(op: dict[str, Any]) -> str:
    words = re.sub(r"[{}]", "", op["path"]).replace("/api/v1/", "/").strip("/").replace("/", "_")
    return f"{op['method']}_{words}"


__all__ = ["VERSION", "document"]
