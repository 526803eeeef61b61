"""Use case: accept an uploaded document, store it, create its job and queue it.

Validation follows the seed's table (`upload-hocr-data-model.md`, "Validation Summary"):
empty -> 400 `empty_file`; over the size limit -> 413; magic bytes not JPEG/PNG/PDF/TIFF -> 415;
a declared Content-Type naming another supported format -> 400 `content_type_mismatch`.
Nothing is stored unless every check passes, and a failure after the original is stored removes
it again.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import unicodedata
from pathlib import Path, PurePosixPath, PureWindowsPath
from typing import BinaryIO

from pagesage.domain.jobs import DocumentUpload, FileFormat, Job, JobErrorCode
from pagesage.domain.limits import is_unsafe_char
from pagesage.domain.provenance import SourceDoc, SourceKind
from pagesage.domain.languages import parse_spec
from pagesage.errors import ContentTypeMismatch, EmptyFile, FileTooLarge, TransientError, UnsupportedFormat
from pagesage.imaging import MAGIC_BYTES_NEEDED, detect_format
from pagesage.ports import BlobStore, Store, Task, TaskQueue

_CHUNK = 1 << 20
_GENERIC_TYPES = {"", "application/octet-stream", "binary/octet-stream", "application/x-www-form-urlencoded"}
_TYPE_ALIASES = {"image/jpg": "image/jpeg", "image/pjpeg": "image/jpeg", "image/tif": "image/tiff",
                 "image/x-tiff": "image/tiff", "image/x-png": "image/png", "application/x-pdf": "application/pdf"}
_EXTENSIONS = {FileFormat.JPEG: "jpg", FileFormat.PNG: "png", FileFormat.PDF: "pdf", FileFormat.TIFF: "tif"}


def sanitize_filename(name: str | None) -> str:
    """A safe display name: the last path component (POSIX or Windows), NFC, every character
    `is_unsafe_char` refuses (controls, bidirectional overrides such as U+202E that would show
    `\u202egnp.exe` as `exe.png`, other format characters but ZWNJ/ZWJ) and the characters
    Windows reserves (`<>:"/\\|?*`) replaced by `_`, at most 255 characters; `upload` when
    nothing remains."""
    base = PureWindowsPath(PurePosixPath(name or "").name).name
    base = "".join("_" if is_unsafe_char(c) else c for c in unicodedata.normalize("NFC", base))
    base = re.sub(r'[<>:"/\\|?*]', "_", base).strip(" .")
    return base[:255] or "upload"


def check_declared_type(declared: str | None, detected: FileFormat) -> None:
    """Refuse a declared Content-Type that names a different format than the bytes.

    Generic types (none, `application/octet-stream`) say nothing and pass; an unsupported but
    specific type (e.g. `text/plain`) contradicts the bytes and is refused.

    Raises:
        ContentTypeMismatch: the declared type contradicts `detected`.
    """
    mime = (declared or "").split(";")[0].strip().lower()
    mime = _TYPE_ALIASES.get(mime, mime)
    if mime in _GENERIC_TYPES or mime == detected.value:
        return
    raise ContentTypeMismatch(f"declared Content-Type {mime!r} but the file is {detected.value}")


def submit_document(
    stream: BinaryIO,
    *,
    file_name: str | None,
    declared_type: str | None,
    languages: str | None,
    installed_languages: set[str] | frozenset[str],
    max_bytes: int,
    store: Store,
    blobs: BlobStore,
    queue: TaskQueue,
    work_dir: Path | None = None,
) -> Job:
    """Validate and store an upload, create a pending job (with its source document, in one
    write) and queue its `prepare` task.

    Args:
        stream: the file's bytes, read in 1 MiB chunks (never whole into memory).
        languages: Tesseract language spec, `auto` when None or empty.
        max_bytes: size limit in bytes (26,214,400 by default).
        work_dir: folder of the temporary copy (None: the system's); see `Settings.work_dir`.

    Returns:
        The new job (status `pending`, a 43-character `job_id`).

    Raises:
        InvalidLanguage, EmptyFile, FileTooLarge, UnsupportedFormat, ContentTypeMismatch.
    """
    spec = parse_spec(languages or "auto", set(installed_languages))
    with tempfile.NamedTemporaryFile(prefix="pagesage-upload-", dir=work_dir) as tmp:
        size, digest, head = _spool(stream, tmp, max_bytes)
        if size == 0:
            raise EmptyFile("the uploaded file is empty")
        detected = detect_format(head)
        if detected is None:
            raise UnsupportedFormat("unsupported file format; supported formats: JPEG, PNG, PDF, TIFF")
        check_declared_type(declared_type, detected)
        job = Job(
            upload=DocumentUpload(
                file_name=sanitize_filename(file_name),
                file_format=detected,
                file_size=size,
                content_type=detected.value,
                sha256=digest,
                original_key="",
            ),
            languages=spec,
        )
        job.upload.original_key = original_key(job.job_id, detected)
        blobs.put_file(job.upload.original_key, Path(tmp.name), detected.value)
    try:
        store.create_job(job, source_doc_of(job))
    except Exception:
        blobs.delete_prefix(f"originals/{job.job_id}/")
        raise
    queue_job(job, store=store, queue=queue)
    return job


def source_doc_of(job: Job) -> SourceDoc:
    """The SourceDoc (data view) of an uploaded or dropped document: a PDF, or an image set of
    one image (a multi-frame TIFF is one too), titled with its file name, belonging to `job`."""
    upload = job.upload
    return SourceDoc(
        source_doc_id=job.source_doc_id,
        kind=SourceKind.PDF if upload.file_format is FileFormat.PDF else SourceKind.IMAGE_SET,
        title=upload.file_name, original_key=upload.original_key, file_name=upload.file_name,
        content_type=upload.content_type, file_size=upload.file_size, sha256=upload.sha256, job_id=job.job_id,
    )


def original_key(job_id: str, file_format: FileFormat) -> str:
    """Blob key of a job's stored original, e.g. `originals/<job_id>/original.pdf`."""
    return f"originals/{job_id}/original.{_EXTENSIONS[file_format]}"


def queue_job(job: Job, *, store: Store, queue: TaskQueue) -> None:
    """Queue a stored pending job's `prepare` task (again, harmlessly, if it is queued).

    Raises:
        TransientError: the queue refused; the job is failed with `internal_error` first.
    """
    try:
        queue.enqueue(Task(kind="prepare", job_id=job.job_id))
    except Exception as exc:
        store.update_job(job.job_id, lambda j: j.fail(JobErrorCode.INTERNAL_ERROR, "could not queue the job"))
        raise TransientError(f"could not queue the job: {exc}") from exc


def _spool(stream: BinaryIO, sink, max_bytes: int) -> tuple[int, str, bytes]:
    size = 0
    digest = hashlib.sha256()
    head = b""
    while chunk := stream.read(_CHUNK):
        size += len(chunk)
        if size > max_bytes:
            raise FileTooLarge(f"file exceeds the {max_bytes:,}-byte limit")
        if len(head) < MAGIC_BYTES_NEEDED:
            head += chunk[: MAGIC_BYTES_NEEDED - len(head)]
        digest.update(chunk)
        sink.write(chunk)
    sink.flush()
    return size, digest.hexdigest(), head
