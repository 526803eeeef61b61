"""Use case: a project's cost log — the provenance store's entries of the engine calls made on
its document (by the job that OCR'd it), as the book layer's `CostLogEntry` lines — and the
project's `costs` totals rolled up from them, always current."""

from __future__ import annotations

import json

from pagesage.book.domain.cost_log import CostLogEntry, breakdown, from_cost_entry
from pagesage.book.domain.ids import page_id
from pagesage.book.domain.model import CostBreakdown, Project, ProjectCosts
from pagesage.book.services.ports import BookPorts


def cost_log(ports: BookPorts, project: Project) -> list[CostLogEntry]:
    """The project's cost entries, oldest first (none when it was not made from a job)."""
    job_id = project.source_document.job_id
    if not job_id:
        return []
    entries = ports.ocr.query_costs(job_id=job_id)
    pages = {e.page_no: page_id(project.project_id, e.page_no) for e in entries if e.page_no is not None}
    return [from_cost_entry(e, project_id=project.project_id, page_ids=pages) for e in entries]


def project_costs(ports: BookPorts, project: Project) -> ProjectCosts:
    """`costs` of the project: total and breakdown, USD, from its cost log."""
    log = cost_log(ports, project)
    total, buckets = breakdown(log)
    return ProjectCosts(total_spent=total, breakdown=CostBreakdown.model_validate(buckets),
                        last_updated=log[-1].timestamp if log else None)


def cost_log_jsonl(ports: BookPorts, project_id: str) -> str:
    """The cost log as JSON Lines (one compact JSON object per line, camelCase)."""
    project = ports.book.get_project(project_id)
    return "".join(json.dumps(e.model_dump(mode="json", exclude_none=True), ensure_ascii=False) + "\n"
                   for e in cost_log(ports, project))
