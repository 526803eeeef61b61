"""The book layer's cost log, user, OCR result and export records: their rules, PageSage's own
cost entries mapped into the cost log, and the roll-up into a project's cost breakdown."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import available_timezones

import pytest
from pydantic import ValidationError

from pagesage.book.domain.cost_log import BUCKETS, CostLogEntry, breakdown, from_cost_entry
from pagesage.book.domain.export_config import ExportConfiguration
from pagesage.book.domain.model import CostBreakdown
from pagesage.book.domain.ocr_result import OcrResult
from pagesage.book.domain.users import UserProfile, UserSession
from pagesage.domain.pages import CostEntry
from pagesage.errors import InputError
from pagesage.pricing import price_call

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)


def engine_entry(page_no: int | None = 3, operation: str = "ocr-extraction", **changes) -> CostEntry:
    quote = price_call("document-ai-ocr", pages=1)
    fields = dict(cost_id=f"-job_abc:p{page_no}:{operation}", job_id="-job_abc", page_no=page_no, engine="docai",
                  operation=operation, provider=quote.provider, service=quote.service, units=quote.units, unit=quote.unit,
                  unit_cost_usd=quote.unit_cost_usd, total_usd=quote.total_usd, price_version=quote.price_version,
                  request_id="op-123", response_ms=1250, created_at=T0)
    fields.update(changes)
    return CostEntry(**fields)


def log_entry(operation: str, total: float, **changes) -> CostLogEntry:
    fields = dict(entry_id=f"cost-{operation}-{total}", timestamp=T0, project_id="proj_1", operation=operation,
                  provider="google-cloud", service="svc", units=1, cost_per_unit=total, total_cost=total,
                  api_status="success", user_id="pagesage-ai")
    fields.update(changes)
    return CostLogEntry(**fields)


# -- cost log ---------------------------------------------------------------------------------

def test_an_engine_cost_entry_becomes_a_cost_log_line():
    line = from_cost_entry(engine_entry(), project_id="proj_bg", page_ids={3: "page-003"})
    assert line.model_dump(mode="json", exclude={"notes"}) == {
        "entryId": "-job_abc:p3:ocr-extraction", "timestamp": "2026-11-23T10:00:00Z", "projectId": "proj_bg",
        "pageId": "page-003", "operation": "ocr-extraction", "provider": "google-cloud", "service": "document-ai-ocr",
        "units": 1.0, "costPerUnit": 0.0015, "totalCost": 0.0015, "currency": "USD", "apiRequestId": "op-123",
        "apiResponseTime": 1250, "apiStatus": "success", "userId": "pagesage-ai", "schemaVersion": "1.0.0"}
    assert line.notes == "job -job_abc; engine docai; unit page; price version 2026-11"


def test_a_whole_document_call_has_no_page_and_an_unmapped_page_is_refused():
    assert from_cost_entry(engine_entry(page_no=None), project_id="proj_bg", page_ids={}).page_id is None
    with pytest.raises(InputError, match="page 3 has no page id"):
        from_cost_entry(engine_entry(), project_id="proj_bg", page_ids={4: "page-004"})


def test_an_entry_of_another_project_is_refused():
    with pytest.raises(InputError, match="belongs to project proj_other"):
        from_cost_entry(engine_entry(project_id="proj_other"), project_id="proj_bg", page_ids={3: "page-003"})
    assert from_cost_entry(engine_entry(project_id="proj_bg"), project_id="proj_bg", page_ids={3: "p3"}).page_id == "p3"


def test_a_total_that_is_not_units_times_price_is_refused():
    assert log_entry("ocr-extraction", 0.1, units=50, cost_per_unit=0.002).total_cost == 0.1
    with pytest.raises(ValidationError, match="totalCost"):
        log_entry("ocr-extraction", 0.2, units=50, cost_per_unit=0.002)
    with pytest.raises(ValidationError):
        log_entry("ocr-extraction", 0.1, currency="EUR")
    with pytest.raises(ValidationError):
        log_entry("translation", 0.1)  # not a CostOperation


def test_breakdown_rolls_every_operation_into_its_bucket():
    assert BUCKETS == {"image-preprocessing": "preprocessing", "layout-detection": "layoutDetection",
                       "ocr-extraction": "ocr", "pdf-upload": "other", "text-analysis": "other",
                       "export-generation": "other", "storage": "other", "other": "other"}
    entries = [log_entry("image-preprocessing", 0.7), log_entry("layout-detection", 1.4), log_entry("ocr-extraction", 1.0),
               log_entry("ocr-extraction", 0.35, api_status="partial"), log_entry("pdf-upload", 0.01),
               log_entry("storage", 0.02), log_entry("export-generation", 0.03)]
    total, buckets = breakdown(entries)
    assert buckets == {"preprocessing": 0.7, "layoutDetection": 1.4, "ocr": 1.35, "other": 0.06}
    assert total == 3.51
    assert CostBreakdown.model_validate(buckets).layout_detection == 1.4


def test_breakdown_of_nothing_is_zero_and_sums_do_not_drift():
    assert breakdown([]) == (0.0, {"preprocessing": 0.0, "layoutDetection": 0.0, "ocr": 0.0, "other": 0.0})
    total, buckets = breakdown([log_entry("ocr-extraction", 0.1)] * 10)
    assert total == buckets["ocr"] == 1.0  # a plain float sum gives 0.9999999999999999


# -- users ------------------------------------------------------------------------------------

def profile(**changes) -> dict:
    doc = {"userId": "user_abc123", "name": "Ada", "role": "admin", "isAdmin": True, "sessionToken": "tok-1",
           "sessionCreatedAt": "2025-01-15T10:00:00Z", "sessionExpiresAt": "2025-01-22T10:00:00Z",
           "lastActivityAt": "2025-01-15T14:30:00Z", "createdAt": "2025-01-15T10:00:00Z",
           "updatedAt": "2025-01-15T14:30:00Z"}
    doc.update(changes)
    return doc


def test_a_profile_round_trips_without_its_secrets():
    read = UserProfile.model_validate(profile(githubAccessToken="gho_1"))
    again = UserProfile.model_validate_json(read.model_dump_json())
    assert again.session_token is None and again.github_access_token is None
    assert again.model_dump() == read.model_dump()


@pytest.mark.parametrize("changes", [
    {"role": "viewer"},  # isAdmin true but not admin
    {"isAdmin": False},
    {"sessionExpiresAt": "2025-01-15T09:00:00Z"},
    {"sessionCreatedAt": "2025-01-15T10:00:00"},  # naive
    {"preferences": {"theme": "sepia"}},
])
def test_an_inconsistent_profile_is_refused(changes):
    with pytest.raises(ValidationError):
        UserProfile.model_validate(profile(**changes))


@pytest.mark.skipif(not available_timezones(), reason="no IANA time zone database on this machine")
def test_a_time_zone_must_be_an_iana_name():
    assert UserProfile.model_validate(profile(preferences={"timezone": "Asia/Kolkata"})).preferences.timezone == "Asia/Kolkata"
    with pytest.raises(ValidationError, match="unknown IANA time zone"):
        UserProfile.model_validate(profile(preferences={"timezone": "Mars/Olympus_Mons"}))


def test_a_session_knows_when_it_ends():
    session = UserSession(session_id="sess-1", user_id="user_abc123", created_at=T0, expires_at=T0 + timedelta(days=7),
                          ip_address="2001:db8::1")
    assert session.is_active(T0 + timedelta(days=6)) and not session.is_active(T0 + timedelta(days=7))
    assert session.model_dump(mode="json")["ipAddress"] == "2001:db8::1"
    with pytest.raises(ValidationError):
        UserSession(session_id="s", user_id="u", created_at=T0, expires_at=T0)
    with pytest.raises(ValidationError):
        UserSession(session_id="s", user_id="u", expires_at=T0 + timedelta(days=1), ip_address="300.1.1.1")


# -- OCR results and exports --------------------------------------------------------------------

def test_an_ocr_result_keeps_confidences_0_to_1():
    doc = {"resultId": "ocr_1", "pageId": "page-001", "boxId": "box-001", "text": "धर्म", "confidence": 0.9,
           "words": [{"text": "धर्म", "confidence": 0.9, "boundingBox": {"x": 0, "y": 0, "width": 10, "height": 5}}],
           "engine": "tesseract", "language": "sanskrit", "script": "Devanagari", "processingTime": 12}
    assert OcrResult.model_validate(doc).words[0].bounding_box.width == 10
    with pytest.raises(ValidationError):
        OcrResult.model_validate({**doc, "confidence": 92})
    with pytest.raises(ValidationError):
        OcrResult.model_validate({**doc, "words": [{**doc["words"][0], "boundingBox": {"x": 0, "y": 0, "width": 0,
                                                                                       "height": 5}}]})


def test_an_export_configuration_takes_all_pages_or_distinct_page_numbers():
    base = {"exportId": "export_1", "projectId": "proj_1", "format": "hocr", "outputFileName": "book.hocr"}
    assert ExportConfiguration.model_validate(base).included_pages == "all"
    assert ExportConfiguration.model_validate({**base, "includedPages": [1, 2, 5]}).included_pages == [1, 2, 5]
    for bad in ({"includedPages": [1, 1]}, {"includedPages": [0]}, {"includedPages": "some"},
                {"outputFileName": "../book.hocr"}, {"format": "docx"}, {"outputSha256": "ABC"},
                {"confidenceThreshold": 80}):
        with pytest.raises(ValidationError):
            ExportConfiguration.model_validate({**base, **bad})


def test_json_export_options_are_named_json_in_the_json():
    config = ExportConfiguration.model_validate({"exportId": "e", "projectId": "p", "format": "json",
                                                 "outputFileName": "b.json", "json": {"pretty": False}})
    assert config.json_options.pretty is False
    assert config.model_dump(mode="json")["json"] == {"pretty": False, "includeRawOcr": True,
                                                      "includeVersionHistory": False}
