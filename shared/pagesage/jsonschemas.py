"""JSON Schemas of every body the HTTP functions accept or return, generated from the models.

`schemas/` in the repository holds their output (`pagesage schemas` writes it); a test fails
when the committed files differ from what the models generate.
"""

from __future__ import annotations

import json
from pathlib import Path

from pydantic import BaseModel

from pagesage.api.bodies import FullPageResult, IngestBody
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
    "review": Review,
    "link": Link,
}
"""File stem -> model."""


def render_schemas() -> dict[str, str]:
    """File name -> text: the JSON Schema (draft 2020-12, as pydantic generates it) of each
    model, and `openapi.json`, the OpenAPI 3.1 document of the whole HTTP API."""
    from pagesage.api import openapi

    files = {f"{stem}.schema.json": json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False) + "\n"
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
