"""Use case: delete what expired (seed FR-012: results are kept 48 hours after a job finishes).

Reads already treat an expired job as gone; this reclaims its space. Blobs go first and the
records last, so an interrupted purge is finished by the next one.
"""

from __future__ import annotations

from datetime import datetime

from pagesage.ports import BlobStore, Store

BLOB_PREFIXES = ("originals", "pages", "raw", "results")
"""Blob folders that hold one sub-folder per job."""


def purge_expired(*, store: Store, blobs: BlobStore, now: datetime, batch: int = 100) -> list[str]:
    """Delete every job expired at `now` with its blobs; returns the deleted job ids."""
    deleted: list[str] = []
    while job_ids := store.list_expired_jobs(now, batch):
        for job_id in job_ids:
            for prefix in BLOB_PREFIXES:
                blobs.delete_prefix(f"{prefix}/{job_id}/")
            store.delete_job(job_id)
        deleted.extend(job_ids)
    return deleted
