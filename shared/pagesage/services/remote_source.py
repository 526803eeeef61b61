"""Use cases: OCR a document where it lives (`s3://`, `gs://`, `https://`), as docs/remote-sources.md
describes.

`submit_remote` refuses, before anything is fetched, a URI the fetch policy refuses; it creates
the pending job and its source document (kind `remote_url`) in one write and queues the job's
`prepare` task. The worker's `prepare` then calls `receive_remote`: the bytes are fetched into a
temporary file, counted against the upload limit, their format read from their magic bytes as an
upload's, and only then stored as the job's original, with the fetch's SHA-256, size, ETag,
generation and time written on the source document together with the job. A fetch that fails
fails the job with its code; a transient one is retried by the queue, and fails the job
(`fetch_failed`) on the last attempt. Nothing is stored from a fetch that failed.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
from pathlib import Path

from pydantic import ValidationError

from pagesage.config import Settings
from pagesage.domain.jobs import DocumentUpload, Job, JobErrorCode
from pagesage.domain.languages import parse_spec
from pagesage.domain.limits import Metadata
from pagesage.domain.provenance import SourceDoc, SourceKind
from pagesage.errors import EmptyFile, InvalidTransition, PageSageError, UnsupportedFormat, validation_failed
from pagesage.imaging import format_of_file
from pagesage.ports import BlobStore, Fetched, SourceFetcher, Store, TaskQueue
from pagesage.services.finish import fail_unless_finished
from pagesage.services.iiif_source import ManifestDocument, manifest_of, read_manifest
from pagesage.services.submit import original_key, queue_job, sanitize_filename

log = logging.getLogger(__name__)

MANIFEST_TYPE = "application/ld+json"
"""The Content-Type a IIIF manifest's source document records (IIIF Presentation API 3.0 §6.1)."""


def submit_remote(uri: str, *, languages: str | None, title: str | None, metadata: Metadata | None,
                  installed_languages: set[str] | frozenset[str], sources: SourceFetcher, store: Store,
                  queue: TaskQueue) -> Job:
    """Create and queue the job that fetches and OCRs the document at `uri`.

    Args:
        uri: `s3://bucket/key`, `gs://bucket/object` or an `https://` URL (at most 2,048
            characters).
        languages: Tesseract language spec, `auto` when None or empty.
        title: the source document's title; by default the last segment of the URI's path.

    Returns:
        The new job (status `pending`, `upload` None until the worker has fetched the source).

    Raises:
        InvalidLanguage: `languages`. UrlNotAllowed (400 `url_not_allowed`): the fetch policy
            refuses the URL or an address its host resolves to. InputError: a malformed bucket
            URI. ValidationFailed (422): a URI the source document cannot keep.
        FetchFailed (422 `fetch_failed`): the host name does not resolve now.
    """
    spec = parse_spec(languages or "auto", set(installed_languages))
    sources.check(uri)
    try:
        job = Job(source_uri=uri, languages=spec)
        doc = SourceDoc(source_doc_id=job.source_doc_id, kind=SourceKind.REMOTE_URL, uri=uri,
                        title=title or sanitize_filename(job.file_name), metadata=metadata or {}, job_id=job.job_id)
    except ValidationError as exc:
        raise validation_failed(exc) from exc
    store.create_job(job, doc)
    queue_job(job, store=store, queue=queue)
    return job


def receive_remote(job: Job, *, store: Store, blobs: BlobStore, sources: SourceFetcher, settings: Settings,
                   last_attempt: bool) -> Job | None:
    """Fetch a pending remote job's source, check it and store it as the job's original.

    Returns:
        The job with its `upload`, or None when the job failed (its code on the job:
        `fetch_failed`, `not_found`, `forbidden`, `url_not_allowed`, `file_too_large`,
        `empty_file`, `invalid_format`).

    Raises:
        PageSageError (`retryable`): a transient failure before the `last_attempt`; the queue
            delivers the task again. A store or blob store error.
    """
    with tempfile.TemporaryDirectory(prefix="pagesage-fetch-", dir=settings.work_dir) as tmp:
        work = Path(tmp)
        source = work / "source"
        try:
            with source.open("wb") as out:
                fetched = sources.fetch(job.source_uri or "", out, max_bytes=settings.max_upload_bytes)
            document = manifest_of(source) if fetched.size else None
            read = read_manifest(document, sources=sources, settings=settings, work=work) if document else None
            upload = _checked_upload(job, fetched, source, read)
        except PageSageError as exc:
            if exc.retryable and not last_attempt:
                raise
            log.info("job %s: fetching %s failed: %s", job.job_id, job.source_uri, exc.detail)
            return _fail(store, job, exc)
        if read is not None:
            blobs.put_file(f"originals/{job.job_id}/manifest.json", source, MANIFEST_TYPE)
        blobs.put_file(upload.original_key, read.pdf if read else source, upload.content_type)
    doc = store.get_source_doc(job.source_doc_id)
    fields = {"original_key": upload.original_key, "file_name": upload.file_name,
              "content_type": MANIFEST_TYPE if read else upload.content_type, "file_size": fetched.size,
              "sha256": fetched.sha256, "etag": fetched.etag, "generation": fetched.generation,
              "fetched_at": fetched.fetched_at}
    if read is not None:
        if read.manifest.label and doc.title == sanitize_filename(job.file_name):  # no title was asked for
            fields["title"] = read.manifest.label[:500]
        fields["metadata"] = {**read.manifest.metadata, **doc.metadata}
        store.put_pages(read.pages(job.source_doc_id, job.job_id))
    try:
        return store.update_job(job.job_id, lambda j: j.receive(upload), source_doc=doc.model_copy(update=fields))
    except InvalidTransition:  # a concurrent delivery received it first: read what it stored
        return store.get_job(job.job_id)


def _checked_upload(job: Job, fetched: Fetched, source: Path, read: ManifestDocument | None) -> DocumentUpload:
    """The upload record of the job's original: the fetched bytes at `source`, whose format
    their magic bytes name (a remote server's Content-Type is not trusted: object stores often
    say `binary/octet-stream`), or the PDF a manifest was `read` into (named by its label).

    Raises:
        EmptyFile, UnsupportedFormat.
    """
    if fetched.size == 0:
        raise EmptyFile("the remote document is empty")
    path = read.pdf if read else source
    detected = format_of_file(path)
    if detected is None:
        raise UnsupportedFormat("unsupported file format; supported formats: JPEG, PNG, PDF, TIFF, "
                                "and IIIF Presentation 2.1 and 3.0 manifests")
    name, size, digest = job.file_name, fetched.size, fetched.sha256
    if read is not None:
        with path.open("rb") as handle:
            digest = hashlib.file_digest(handle, "sha256").hexdigest()
        name, size = f"{read.manifest.label or job.file_name}.pdf", path.stat().st_size
    return DocumentUpload(file_name=sanitize_filename(name), file_format=detected, file_size=size,
                          content_type=detected.value, sha256=digest,
                          original_key=original_key(job.job_id, detected), upload_timestamp=fetched.fetched_at)


def _fail(store: Store, job: Job, exc: PageSageError) -> None:
    codes = {c.value for c in JobErrorCode}
    fail_unless_finished(store, job.job_id, JobErrorCode(exc.error_code) if exc.error_code in codes
                         else JobErrorCode.FETCH_FAILED, exc.detail)
