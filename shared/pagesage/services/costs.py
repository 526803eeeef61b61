"""Use case: read the cost log — summaries by job, document, engine or day, and JSONL export.

A summary groups cost entries and adds up, per group, the calls, the units of each kind (pages,
vCPU-seconds) and the USD. Documents are told apart by the SHA-256 of their original
(`CostEntry.document_sha256`); their file name is shown while the job is still stored (the cost
log outlives jobs and does not keep file names). Days are UTC calendar days of `created_at`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, Field

from pagesage.domain.jobs import is_job_id
from pagesage.domain.pages import CostEntry
from pagesage.errors import InputError, NotFound
from pagesage.ports import Store

GroupBy = Literal["job", "document", "engine", "day"]
GROUP_BY: tuple[str, ...] = ("job", "document", "engine", "day")

MAX_ENTRIES = 50_000
"""Most cost entries one query reads; a wider one is refused with a request to narrow it."""

MAX_NAME_LOOKUPS = 100
"""Most job reads one summary spends on file names (groups with the newest entries first)."""


class CostGroup(BaseModel):
    """The entries of one job, document, engine or day.

    Attributes:
        key: the job id, the document's SHA-256 (`unknown` for entries without one), the
            engine name, or the UTC day `YYYY-MM-DD`.
        file_name: the uploaded file's name, for `job` and `document` groups whose job is still
            stored (see `MAX_NAME_LOOKUPS`); else None.
        calls: number of entries (one per billed engine call).
        units: units billed by kind, e.g. `{"page": 12, "vcpu_second": 3.214}`.
        total_usd: USD, rounded to 9 decimals.
        first_at, last_at: `created_at` of the group's oldest and newest entry.
    """

    key: str
    file_name: str | None = None
    calls: int
    units: dict[str, float]
    total_usd: float
    first_at: datetime
    last_at: datetime


class CostSummary(BaseModel):
    """Body of `GET /api/v1/costs` (format json): the filters, totals and groups by key."""

    group_by: GroupBy
    job: str | None = None
    project: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    currency: Literal["USD"] = "USD"
    calls: int
    total_usd: float
    price_versions: list[str] = Field(description="price table versions the entries were priced with")
    groups: list[CostGroup]


class CostQuery(BaseModel):
    """The parameters of `GET /api/v1/costs`: `job`, `project`, `since`, `until` (ISO 8601
    date or date-time; without an offset it is UTC; `since` inclusive, `until` exclusive),
    `group_by` and `format` (`json` summary, or `jsonl`: the entries themselves)."""

    job: str | None = None
    project: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    group_by: GroupBy = "job"
    format: Literal["json", "jsonl"] = "json"

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> "CostQuery":
        """Parse query-string arguments.

        Raises:
            InputError: an unknown or repeated parameter, or a bad value; the message starts
                with the parameter's name.
        """
        fields: dict[str, object] = {}
        for name in args:
            if name not in cls.model_fields:
                raise InputError(f"{name}: unknown parameter (known: {', '.join(cls.model_fields)})")
            values = args.getlist(name) if hasattr(args, "getlist") else [args[name]]
            if len(values) != 1:
                raise InputError(f"{name}: given {len(values)} times")
            value = values[0].strip()
            if not value:
                raise InputError(f"{name}: empty")
            fields[name] = _instant(name, value) if name in ("since", "until") else value
        if fields.get("group_by", "job") not in GROUP_BY:
            raise InputError(f"group_by: must be one of {', '.join(GROUP_BY)}, not {fields['group_by']!r}")
        if fields.get("format", "json") not in ("json", "jsonl"):
            raise InputError(f"format: must be json or jsonl, not {fields['format']!r}")
        if "job" in fields and not is_job_id(str(fields["job"])):
            raise InputError(f"job: not a job id: {fields['job']!r}")
        query = cls(**fields)
        if query.since is not None and query.until is not None and query.since >= query.until:
            raise InputError("since: must be before until")
        return query


def _instant(name: str, value: str) -> datetime:
    """An ISO 8601 date (midnight UTC) or date-time (UTC when it has no offset)."""
    try:
        parsed = datetime.fromisoformat(value.replace(" ", "+") if "T" in value else value)
    except ValueError:
        raise InputError(f"{name}: not an ISO 8601 date or date-time: {value!r}") from None
    return parsed.replace(tzinfo=timezone.utc) if parsed.tzinfo is None else parsed.astimezone(timezone.utc)


def query_costs(store: Store, *, job: str | None = None, project: str | None = None, since: datetime | None = None,
                until: datetime | None = None) -> list[CostEntry]:
    """The matching entries, oldest first (see `Store.query_costs`).

    Raises:
        InputError: `since` is not before `until`, or more than `MAX_ENTRIES` entries match.
    """
    if since is not None and until is not None and since >= until:
        raise InputError("since: must be before until")
    entries = store.query_costs(job_id=job, project_id=project, since=since, until=until, limit=MAX_ENTRIES + 1)
    if len(entries) > MAX_ENTRIES:
        raise InputError(f"since: more than {MAX_ENTRIES:,} cost entries match; narrow the range with since/until or job")
    return entries


def summarize(entries: Iterable[CostEntry], group_by: GroupBy, *, store: Store | None = None, job: str | None = None,
              project: str | None = None, since: datetime | None = None, until: datetime | None = None) -> CostSummary:
    """Group `entries` by `group_by` (groups in order of their first entry) and total them.

    `store`, when given, supplies file names of jobs still stored. The filters are echoed.

    Raises:
        InputError: `group_by` is not one of `GROUP_BY`.
    """
    if group_by not in GROUP_BY:
        raise InputError(f"group_by: must be one of {', '.join(GROUP_BY)}, not {group_by!r}")
    groups: dict[str, list[CostEntry]] = {}
    for entry in entries:
        groups.setdefault(_key(entry, group_by), []).append(entry)
    names = _file_names(groups, group_by, store)
    rows = [_group(key, members, names.get(key)) for key, members in groups.items()]
    return CostSummary(
        group_by=group_by, job=job, project=project, since=since, until=until,
        calls=sum(g.calls for g in rows), total_usd=round(sum(g.total_usd for g in rows), 9),
        price_versions=sorted({e.price_version for members in groups.values() for e in members}),
        groups=rows,
    )


def to_jsonl(entries: Iterable[CostEntry]) -> Iterator[str]:
    """One CostEntry JSON document per line, each ending in a newline, in the given order."""
    for entry in entries:
        yield entry.model_dump_json() + "\n"


def _key(entry: CostEntry, group_by: GroupBy) -> str:
    if group_by == "job":
        return entry.job_id
    if group_by == "document":
        return entry.document_sha256 or "unknown"
    if group_by == "engine":
        return entry.engine
    created = entry.created_at
    utc = created.replace(tzinfo=timezone.utc) if created.tzinfo is None else created.astimezone(timezone.utc)
    return utc.date().isoformat()


def _group(key: str, members: list[CostEntry], file_name: str | None) -> CostGroup:
    units: dict[str, float] = {}
    for entry in members:
        units[entry.unit] = round(units.get(entry.unit, 0.0) + entry.units, 6)
    return CostGroup(
        key=key, file_name=file_name, calls=len(members), units=units,
        total_usd=round(sum(e.total_usd for e in members), 9),
        first_at=min(e.created_at for e in members), last_at=max(e.created_at for e in members),
    )


def _file_names(groups: dict[str, list[CostEntry]], group_by: GroupBy, store: Store | None) -> dict[str, str]:
    """Group key -> file name of the group's newest job that is still stored, reading at most
    `MAX_NAME_LOOKUPS` jobs, newest first (older groups may be left without a name)."""
    if store is None or group_by not in ("job", "document"):
        return {}
    names: dict[str, str] = {}
    tried: set[str] = set()
    for entry in sorted((e for members in groups.values() for e in members), key=lambda e: e.created_at, reverse=True):
        key = _key(entry, group_by)
        if key in names or entry.job_id in tried:
            continue
        if len(tried) >= MAX_NAME_LOOKUPS:
            break
        tried.add(entry.job_id)
        try:
            names[key] = store.get_job(entry.job_id).file_name
        except NotFound:
            continue
    return names

