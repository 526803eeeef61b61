"""The committed JSON Schemas are what the models generate, and real bodies validate against them."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from pagesage.jsonschemas import render_schemas

SCHEMAS = Path(__file__).resolve().parents[2] / "schemas"


def test_committed_schemas_are_current():
    generated = render_schemas()
    committed = {p.name: p.read_text(encoding="utf-8") for p in SCHEMAS.glob("*.json")}
    assert committed == generated, "schemas/ is stale: run `pagesage schemas`"


def test_schemas_are_valid_draft_2020_12():
    for name, text in render_schemas().items():
        if name != "openapi.json":
            jsonschema.Draft202012Validator.check_schema(json.loads(text))
