"""Schemathesis against the OpenAPI document the real server serves (`pagesage serve`,
`GET /openapi.json`): generated requests to every operation, valid and invalid, must never get
a 5xx, and every answer must match the document (status, content type, body schema).
Examples are bounded per operation to keep the suite's time (`MAX_EXAMPLES`).

The checks are Schemathesis' response checks (`CHECKS`). Its two data checks are left out:
`positive_data_acceptance` expects every schema-valid request to succeed and
`negative_data_rejection` every schema-violating one to fail, while some rules cannot be put in
a JSON Schema (no control or format characters in text, pages numbered 1..n, a run id that
exists): such requests are refused with a 4xx that the document lists, which the other checks
verify.

The cases are generated from the document when the module loads (pytest collects them then);
`test_the_server_serves_this_document` checks that the live server serves that same document.
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import (
    allow_header_conformance,
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
    unsupported_method,
)
from servers import LiveServer

from pagesage.api import openapi

MAX_EXAMPLES = 25
"""Generated requests per operation."""

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, allow_header_conformance, unsupported_method]

schema = schemathesis.openapi.from_dict(openapi.document())


@pytest.fixture(scope="module")
def live_url(tmp_path_factory):
    with LiveServer(tmp_path_factory.mktemp("schemathesis") / "data") as server:
        yield server.url


def test_the_server_serves_this_document(live_url):
    assert httpx.get(f"{live_url}/openapi.json", timeout=30).json() == openapi.document()


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), derandomize=True)
def test_the_served_api_matches_its_document_and_never_fails(case, live_url):
    case.call_and_validate(base_url=live_url, checks=CHECKS)
