"""Use case: a file dropped into the bucket under `incoming/` becomes a job, with no HTTP call.

Cloud Storage emits `google.cloud.storage.object.v1.finalized` for every new object (or new
generation of one); Eventarc delivers it at least once, for the whole bucket (it cannot filter
by prefix). So:
    * objects outside `incoming/`, folder placeholders and other buckets are ignored;
    * the job id (and its source document's) is derived from (bucket, name, generation): a
      redelivered event finds its job
      and only re-queues it if it is still pending, while a new upload over the same name (a
      new generation) is a new job;
    * an object that cannot be OCR'd (empty, over the size limit, not JPEG/PNG/PDF/TIFF, an
      unknown `lang`) still becomes a job, failed with its error code, so the person who dropped
      it can see why; nothing is raised, which would make Eventarc retry it forever.
The original is copied server-side to `originals/<job_id>/original.<ext>`: a later overwrite of
the dropped name cannot change what the job reads. Languages come from the object's custom
metadata `lang` (e.g. `gsutil -h x-goog-meta-lang:san cp ...`), default `auto`.
"""

from __future__ import annotations

import base64
import hashlib
import logging
from dataclasses import dataclass, field

from pagesage.domain.jobs import DocumentUpload, FileFormat, Job, JobErrorCode, JobStatus
from pagesage.domain.languages import parse_spec
from pagesage.errors import InputError, InvalidLanguage, InvalidTransition, NotFound
from pagesage.imaging import MAGIC_BYTES_NEEDED, detect_format
from pagesage.ports import BlobStore, Store, Task, TaskQueue
from pagesage.services.submit import original_key, queue_job, sanitize_filename, source_doc_of

log = logging.getLogger(__name__)

INCOMING_PREFIX = "incoming/"
"""Objects whose name starts with this are OCR'd when they land."""

_CHUNK = 1 << 20


@dataclass(frozen=True)
class DroppedObject:
    """The object a storage event names (the CloudEvent's `data`, a Cloud Storage object).

    Attributes:
        size: bytes, as the event reports it.
        metadata: the object's custom metadata (`x-goog-meta-*`).
    """

    bucket: str
    name: str
    generation: str
    size: int
    content_type: str | None = None
    metadata: dict[str, str] = field(default_factory=dict)

    @classmethod
    def from_event_data(cls, data: dict) -> "DroppedObject":
        """From a `google.cloud.storage.object.v1.finalized` event's data (StorageObjectData,
        JSON field names; `size` and `generation` arrive as strings).

        Raises:
            InputError: `data` is not an object with a bucket, a name and a numeric size.
        """
        try:
            return cls(bucket=str(data["bucket"]), name=str(data["name"]), generation=str(data.get("generation", "")),
                       size=int(data.get("size") or 0), content_type=data.get("contentType"),
                       metadata={str(k): str(v) for k, v in (data.get("metadata") or {}).items()})
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise InputError(f"not a storage object event: {exc!r}", error_code="invalid_event") from exc


def drop_job_id(obj: DroppedObject) -> str:
    """The job id of a dropped object: 43 URL-safe base64 characters of
    SHA-256(`bucket/name#generation`), the shape of every job id."""
    return _derived_id(f"{obj.bucket}/{obj.name}#{obj.generation}", 43)


def _derived_id(text: str, length: int) -> str:
    """`length` URL-safe base64 characters of SHA-256(`text`); a leading `-` becomes `A`, as
    random ids never start with `-` either."""
    value = base64.urlsafe_b64encode(hashlib.sha256(text.encode()).digest()).decode()[:length]
    return "A" + value[1:] if value.startswith("-") else value


def accept_dropped_object(obj: DroppedObject, *, bucket: str, installed_languages: frozenset[str] | set[str],
                          max_bytes: int, store: Store, blobs: BlobStore, queue: TaskQueue) -> Job | None:
    """Create (once) and queue the job of an object dropped under `incoming/` of `bucket`.

    Args:
        bucket: the bucket PageSage reads; events of other buckets are ignored.
        max_bytes: size limit, bytes (the upload's, 26,214,400 by default).

    Returns:
        The job (new, or the one an earlier delivery created), or None for an ignored object.

    Raises:
        TransientError (or a store/blob error): the event should be delivered again.
    """
    if obj.bucket != bucket or not obj.name.startswith(INCOMING_PREFIX) or obj.name.endswith("/"):
        return None
    job_id = drop_job_id(obj)
    try:
        job = store.get_job(job_id)
    except NotFound:
        job = None
    if job is not None:
        if job.status is JobStatus.PENDING:
            queue.enqueue(Task(kind="prepare", job_id=job.job_id))
        return job

    job, problem = _inspect(obj, job_id, installed_languages, max_bytes, blobs)
    if problem is None:
        blobs.copy(obj.name, job.upload.original_key)
    else:
        job.fail(*problem)
    try:
        store.create_job(job, source_doc_of(job) if problem is None else None)
    except InvalidTransition:  # a concurrent delivery of the same event created it
        return store.get_job(job_id)
    log.info("bucket drop %s -> job %s (%s)", obj.name, job_id, job.status.value)
    if problem is None:
        queue_job(job, store=store, queue=queue)
    return job


def _inspect(obj: DroppedObject, job_id: str, installed: frozenset[str] | set[str], max_bytes: int,
             blobs: BlobStore) -> tuple[Job, tuple[JobErrorCode, str] | None]:
    """The job for `obj` and, when it cannot be OCR'd, (error code, message)."""
    problem: tuple[JobErrorCode, str] | None = None
    languages = obj.metadata.get("lang") or "auto"
    try:
        languages = parse_spec(languages, set(installed))
    except InvalidLanguage as exc:
        problem = (JobErrorCode.INVALID_FORMAT, exc.detail)
    file_format, digest = FileFormat.PDF, ""
    if obj.size <= 0:
        problem = (JobErrorCode.EMPTY_FILE, "the dropped file is empty")
    elif obj.size > max_bytes:
        problem = (JobErrorCode.FILE_TOO_LARGE, f"file of {obj.size:,} bytes exceeds the {max_bytes:,}-byte limit")
    elif problem is None:
        head, digest = _head_and_digest(obj.name, blobs)
        detected = detect_format(head)
        if detected is None:
            problem = (JobErrorCode.INVALID_FORMAT, "unsupported file format; supported formats: JPEG, PNG, PDF, TIFF")
        else:
            file_format = detected
    upload = DocumentUpload(
        file_name=sanitize_filename(obj.name), file_format=file_format, file_size=max(obj.size, 1),
        content_type=file_format.value, sha256=digest or "0" * 64,
        original_key=original_key(job_id, file_format) if problem is None else obj.name,
    )
    source_doc_id = _derived_id(f"source:{job_id}", 22)
    job = Job(job_id=job_id, source_doc_id=source_doc_id, upload=upload, languages=languages if isinstance(languages, str) else "auto")
    return job, problem


def _head_and_digest(key: str, blobs: BlobStore) -> tuple[bytes, str]:
    """The first bytes (for format detection) and the SHA-256 of an object, streamed."""
    digest = hashlib.sha256()
    head = b""
    with blobs.open(key) as stream:
        while chunk := stream.read(_CHUNK):
            if len(head) < MAGIC_BYTES_NEEDED:
                head += chunk[: MAGIC_BYTES_NEEDED - len(head)]
            digest.update(chunk)
    return head, digest.hexdigest()
