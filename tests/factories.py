"""Test data builders."""

from __future__ import annotations

from pagesage.domain.jobs import DocumentUpload, FileFormat, Job


def make_job(languages: str = "eng", **fields) -> Job:
    """A pending job for a 1,234-byte PDF that was never stored (the store tests need no blob)."""
    upload = DocumentUpload(
        file_name="scan.pdf",
        file_format=FileFormat.PDF,
        file_size=1234,
        content_type="application/pdf",
        sha256="0" * 64,
        original_key="originals/x/original.pdf",
    )
    return Job(upload=upload, languages=languages, **fields)
