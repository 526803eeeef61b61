"""JSON Schemas of every body the HTTP functions accept or return and of the book layer's
records, generated from the models.

`schemas/` in the repository holds their output (`pagesage schemas` writes it); a test fails
when the committed files differ from what the models generate.

Every schema is JSON Schema draft 2020-12, with `$schema`, an `$id` under `SCHEMA_BASE`
(`<base><stem>.schema.json`) and a `title`; property names are the JSON's (camelCase for the
book layer, `by_alias=True`). The schemas describe what PageSage accepts (pydantic's
`mode="validation"`): a field with a default may be absent, and write-only secrets
(`sessionToken`, `githubAccessToken`: accepted, never written) are listed, marked `writeOnly`.
Additional properties are not refused (PageSage ignores them), so an older spelling it still
reads (`driveFileId` for `blobKey`) passes. A record PageSage writes holds every field it
publishes and is valid against them too.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from pagesage.services.provenance_io import FullPageResult, IngestBody, RemoteSourceIn
from pagesage.book.domain.cost_log import CostLogEntry
from pagesage.book.domain.export_config import ExportConfiguration
from pagesage.book.domain.model import BoundingBox, ImageMetadata, PageAnnotations, Project, VersionHistoryEntry
from pagesage.book.domain.ocr_result import OcrResult
from pagesage.book.domain.users import UserProfile
from pagesage.domain.pages import CostEntry, Page
from pagesage.domain.provenance import Link, Review, SourceDoc
from pagesage.formats.json_doc import DocumentJson
from pagesage.ports import Task
from pagesage.responses import ErrorResponse, StatusResponse, UploadResponse
from pagesage.services.costs import CostSummary

SCHEMAS: dict[str, type[BaseModel]] = {
    "upload-response": UploadResponse,
    "status-response": StatusResponse,
    "error-response": ErrorResponse,
    "result-document": DocumentJson,
    "ocr-task": Task,
    "cost-summary": CostSummary,
    "cost-entry": CostEntry,
    "source-doc": SourceDoc,
    "page": Page,
    "page-result-full": FullPageResult,
    "ingest-request": IngestBody,
    "remote-source-request": RemoteSourceIn,
    "review": Review,
    "link": Link,
    # the book layer's records
    "project-metadata": Project,
    "user-profile": UserProfile,
    "page-annotations": PageAnnotations,
    "bounding-box": BoundingBox,
    "version-history-entry": VersionHistoryEntry,
    "cost-log-entry": CostLogEntry,
    "ocr-result": OcrResult,
    "image-metadata": ImageMetadata,
    "export-configuration": ExportConfiguration,
}
"""File stem -> model."""

SCHEMA_BASE = "https://pagesage.dev/schemas/"
"""Base of every schema's `$id`."""

DIALECT = "https://json-schema.org/draft/2020-12/schema"
"""The `$schema` of every schema: JSON Schema draft 2020-12."""


def schema_id(stem: str) -> str:
    """The `$id` of schema `stem` (`https://pagesage.dev/schemas/<stem>.schema.json`)."""
    return f"{SCHEMA_BASE}{stem}.schema.json"


def json_schema(stem: str, model: type[BaseModel]) -> dict:
    """The JSON Schema of `model` as published in `schemas/<stem>.schema.json`: what the model
    accepts (validation mode), property names as in the JSON (aliases), with `$schema`, `$id`
    and `title`."""
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema.setdefault("title", model.__name__)
    return {"$schema": DIALECT, "$id": schema_id(stem), **schema}


def render_schemas() -> dict[str, str]:
    """File name -> text: the JSON Schema (draft 2020-12, as pydantic generates it) of each
    model, and `openapi.json`, the OpenAPI 3.1 document of the whole HTTP API."""
    from pagesage.api import openapi

    files = {f"{stem}.schema.json": json.dumps(json_schema(stem, model), indent=2, ensure_ascii=False) + "\n"
             for stem, model in SCHEMAS.items()}
    files["openapi.json"] = json.dumps(openapi.document(), indent=2, ensure_ascii=False) + "\n"
    return files


def write_schemas(folder: Path) -> list[Path]:
    """Write every schema into `folder`; returns the paths written."""
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in render_schemas().items():
        (folder / name).write_text(text, encoding="utf-8")
        written.append(folder / name)
    return written
