"""A project's cost log (`costs.jsonl`, one `CostLogEntry` per line), PageSage's own engine
costs mapped into it (`from_cost_entry`), and the roll-up into a project's cost breakdown
(`breakdown`).

Amounts are US dollars; `totalCost` is `units * costPerUnit` (within a nano-dollar: PageSage
rounds totals to 9 decimals). Timestamps are aware UTC, ISO 8601 in JSON.

Operation -> breakdown bucket (`BUCKETS`):

| operation | bucket |
|---|---|
| `image-preprocessing` | `preprocessing` |
| `layout-detection` | `layoutDetection` |
| `ocr-extraction` | `ocr` |
| `pdf-upload`, `text-analysis`, `export-generation`, `storage`, `other` | `other` |
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Annotated, Literal

from pydantic import AwareDatetime, Field, model_validator

from pagesage.book.domain.model import AI, SCHEMA_VERSION, BookModel, Id, Usd
from pagesage.domain.jobs import utcnow
from pagesage.domain.limits import MAX_EXACT_INTEGER, LineText, MultilineText
from pagesage.domain.pages import CostEntry, CostOperation
from pagesage.errors import InputError

Bucket = Literal["preprocessing", "layoutDetection", "ocr", "other"]

BUCKETS: dict[str, Bucket] = {
    "image-preprocessing": "preprocessing",
    "layout-detection": "layoutDetection",
    "ocr-extraction": "ocr",
    "pdf-upload": "other",
    "text-analysis": "other",
    "export-generation": "other",
    "storage": "other",
    "other": "other",
}
"""Each `CostOperation` -> the project cost breakdown's bucket it is counted in."""

PIPELINE_USER_ID = AI.user_id
"""`userId` of costs the pipeline incurred on its own ("pagesage-ai")."""


class CostLogEntry(BookModel):
    """One billed (or attempted) API call.

    `units` are what the provider bills (pages, calls, vCPU-seconds), `costPerUnit` USD per
    unit, `totalCost` USD (`units * costPerUnit`); `apiResponseTime` the call's wall time,
    milliseconds; `userId` who started it ("pagesage-ai" for the pipeline); `pageId` the page,
    absent for a whole-document or batch call.
    """

    entry_id: LineText = Field(min_length=1, max_length=300)
    timestamp: AwareDatetime = Field(default_factory=utcnow)
    project_id: Id
    page_id: Id | None = None
    operation: CostOperation
    provider: LineText = Field(min_length=1, max_length=100, description="Who bills the call (`google-ai`, "
                               "`google-cloud`, `local`).")
    service: LineText = Field(min_length=1, max_length=100, description="The billed service "
                              "(`document-ai-ocr`, `cloud-run-tesseract`, ...).")
    units: Annotated[float, Field(ge=0, le=MAX_EXACT_INTEGER)] = Field(description="Units billed (pages, calls, "
                                                                       "vCPU-seconds).")
    cost_per_unit: Usd = Field(description="US dollars per unit.")
    total_cost: Usd = Field(description="US dollars: units * costPerUnit.")
    currency: Literal["USD"] = "USD"
    api_request_id: LineText | None = Field(default=None, max_length=500)
    api_response_time: Annotated[int, Field(ge=0, le=MAX_EXACT_INTEGER)] | None = Field(
        default=None, description="The call's wall time, milliseconds.")
    api_status: Literal["success", "failed", "partial"]
    user_id: LineText = Field(min_length=1, max_length=320)
    notes: MultilineText | None = Field(default=None, max_length=2000)
    schema_version: str = SCHEMA_VERSION

    @model_validator(mode="after")
    def _total_matches(self) -> CostLogEntry:
        expected = self.units * self.cost_per_unit
        if not math.isclose(self.total_cost, expected, rel_tol=1e-9, abs_tol=1e-9):
            raise ValueError(f"totalCost {self.total_cost} != units * costPerUnit {expected:.9f}")
        return self


def from_cost_entry(entry: CostEntry, *, project_id: str, page_ids: Mapping[int, str]) -> CostLogEntry:
    """`entry`, one of PageSage's engine calls, as a line of project `project_id`'s cost log.

    `page_ids` maps PageSage's 1-based page numbers to the project's page ids; a whole-document
    call (no page) has no `pageId`. The call was the pipeline's, so `userId` is "pagesage-ai";
    `notes` keep what the log has no field for (job, engine, unit, price version).

    Raises:
        InputError: the entry belongs to another project, or its page has no id in `page_ids`.
    """
    if entry.project_id is not None and entry.project_id != project_id:
        raise InputError(f"cost entry {entry.cost_id} belongs to project {entry.project_id}, not {project_id}")
    page_id = None
    if entry.page_no is not None:
        if entry.page_no not in page_ids:
            raise InputError(f"cost entry {entry.cost_id}: page {entry.page_no} has no page id in project {project_id}")
        page_id = page_ids[entry.page_no]
    return CostLogEntry(
        entry_id=entry.cost_id, timestamp=entry.created_at, project_id=project_id, page_id=page_id,
        operation=entry.operation, provider=entry.provider, service=entry.service, units=entry.units,
        cost_per_unit=entry.unit_cost_usd, total_cost=entry.total_usd, currency=entry.currency,
        api_request_id=entry.request_id, api_response_time=entry.response_ms, api_status=entry.status,
        user_id=PIPELINE_USER_ID,
        notes=f"job {entry.job_id}; engine {entry.engine}; unit {entry.unit}; price version {entry.price_version}",
    )


def breakdown(entries: Iterable[CostLogEntry]) -> tuple[float, dict[Bucket, float]]:
    """The total USD of `entries` and its split by bucket (`BUCKETS`), the shape of a project's
    `costs.totalSpent` and `costs.breakdown` (camelCase keys, `CostBreakdown` reads them).

    Every entry counts, whatever its `apiStatus` (a failed or partial call is logged with what
    it was billed). Sums are exact sums of the amounts (`math.fsum`) rounded to 9 decimals
    (nano-dollars), and the total is the sum of the buckets.
    """
    amounts: dict[Bucket, list[float]] = {"preprocessing": [], "layoutDetection": [], "ocr": [], "other": []}
    for entry in entries:
        amounts[BUCKETS[entry.operation]].append(entry.total_cost)
    buckets: dict[Bucket, float] = {name: round(math.fsum(values), 9) for name, values in amounts.items()}
    return round(math.fsum(buckets.values()), 9), buckets
