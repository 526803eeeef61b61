"""The Cloud Storage blob store: one bucket (optionally a prefix in it) behind `BlobStore`.

Objects are named `<prefix><key>`; the Content-Type given on upload is the object's
`contentType`. Uploads and downloads stream through bounded buffers (`UPLOAD_CHUNK_BYTES`,
`READ_CHUNK_BYTES`); only `put_bytes` holds a whole object in memory.

`local_path` keeps a per-store on-disk LRU cache of downloaded objects keyed by (object name,
generation), so the worker opening one original for every page of a PDF downloads it once per
process. A path handed out is *pinned*: eviction skips it until its context exits, so it stays
valid however busy the cache gets; the budget (`cache_bytes`) may therefore be exceeded while
pinned files are in use. Cached files are shared between threads: read them, never write them.

Errors: a missing object raises `pagesage.errors.NotFound`; a transient Cloud Storage failure
(HTTP 408/429/5xx, connection errors, timeouts) is retried with the library's
`DEFAULT_RETRY` (exponential back-off, 120 s by default) and then raises
`pagesage.errors.TransientError`, so the task queue redelivers. Other API errors propagate as
`google.api_core.exceptions.GoogleAPICallError`.
Rules: https://cloud.google.com/storage/docs/objects#naming (names),
https://cloud.google.com/storage/docs/retry-strategy (retries),
https://cloud.google.com/storage/docs/batch (batches of at most 100 calls).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import shutil
import tempfile
import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import BinaryIO, Callable, Iterator

import requests
import urllib3
from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry
from google.auth import exceptions as auth_exceptions
from google.auth.credentials import AnonymousCredentials
from google.cloud import storage
from google.cloud.storage import exceptions as storage_exceptions
from google.cloud.storage.retry import DEFAULT_RETRY

from pagesage.errors import InputError, NotFound, TransientError

MIB = 1 << 20
DEFAULT_CACHE_BYTES = 256 * MIB
UPLOAD_CHUNK_BYTES = 8 * MIB  # resumable upload chunk; a multiple of 256 KiB as the API requires
READ_CHUNK_BYTES = 8 * MIB  # bytes fetched per ranged GET by `open` streams
BATCH_CALLS = 100  # most calls one batch request may carry
MAX_NAME_BYTES = 1024  # longest object name in UTF-8
_RESERVED_SUFFIX = ".content-type"  # refused as in `LocalBlobStore`, which keeps metadata there
_TRANSIENT_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_TRANSIENT_TYPES = (
    api_exceptions.RetryError,  # the retry deadline passed on retryable failures
    storage_exceptions.DataCorruption,  # checksum mismatch of a download
    auth_exceptions.TransportError,
    ConnectionError,
    requests.ConnectionError,
    requests.Timeout,
    requests.exceptions.ChunkedEncodingError,
    http.client.IncompleteRead,
    urllib3.exceptions.ProtocolError,
    urllib3.exceptions.TimeoutError,
)


def storage_client(project: str | None = None) -> storage.Client:
    """A Cloud Storage client for `project`.

    With `STORAGE_EMULATOR_HOST` set (e.g. `http://127.0.0.1:9023`), a client of that emulator
    with anonymous credentials; otherwise a client with Application Default Credentials.
    """
    if os.environ.get("STORAGE_EMULATOR_HOST"):
        return storage.Client(project=project, credentials=AnonymousCredentials())
    return storage.Client(project=project)


@dataclass(frozen=True)
class CacheStats:
    """Counters of a store's `local_path` cache since it was created.

    Attributes:
        downloads: objects downloaded by `local_path` (cached or not).
        hits: `local_path` calls served from the cache without a download.
        entries: files in the cache now.
        bytes: their total size in bytes.
    """

    downloads: int
    hits: int
    entries: int
    bytes: int


class GcsBlobStore:
    """`BlobStore` on a Cloud Storage bucket; each method keeps the contract documented on
    `pagesage.ports.BlobStore` and `LocalBlobStore`'s key rules.

    Args:
        client: the Cloud Storage client (see `storage_client`); shared by all threads.
        bucket: the bucket name; the bucket must exist.
        prefix: prepended to every key (a trailing `/` is added when missing), so several
            stores can share a bucket.
        cache_dir: folder (created if missing) in which the `local_path` cache makes its own
            private folder, removed by `close()` or when the store is garbage-collected;
            default: the system temporary folder.
        cache_bytes: budget of the `local_path` cache in bytes; 0 disables caching. Objects
            larger than the budget are downloaded for each call and deleted after it.
        retry: retry policy of every API call; `DEFAULT_RETRY` retries 408/429/5xx and
            connection errors with exponential back-off for up to 120 s.

    Keys are relative POSIX paths: no leading `/`, no `..` part, not ending in `.content-type`,
    no CR, LF or NUL, at most 1024 UTF-8 bytes with the prefix; `.` parts and repeated `/`
    are collapsed as a filesystem would. Anything else raises `InputError`.
    """

    def __init__(self, client: storage.Client, bucket: str, *, prefix: str = "", cache_dir: Path | None = None,
                 cache_bytes: int = DEFAULT_CACHE_BYTES, retry: Retry = DEFAULT_RETRY) -> None:
        if cache_bytes < 0:
            raise ValueError("cache_bytes must be >= 0")
        self._client = client
        self._bucket = client.bucket(bucket)
        self._prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""
        self._retry = retry
        if cache_dir is not None:
            Path(cache_dir).mkdir(parents=True, exist_ok=True)
        self._cache = _DiskCache(Path(tempfile.mkdtemp(prefix="pagesage-gcs-", dir=cache_dir)), cache_bytes)
        self._finalizer = weakref.finalize(self, shutil.rmtree, self._cache.folder, ignore_errors=True)

    @property
    def bucket_name(self) -> str:
        """The bucket this store writes to."""
        return self._bucket.name

    # -- writes ---------------------------------------------------------------------------

    def put_file(self, key: str, path: Path, content_type: str) -> None:
        """Upload the file at `path` as `key` with Content-Type `content_type`, replacing any
        object there. Files over 8 MiB go by resumable upload in 8 MiB chunks, smaller ones in
        one multipart request: at most 8 MiB of the file is in memory at a time.

        Raises:
            InputError: invalid key. FileNotFoundError: no file at `path`.
            TransientError: Cloud Storage unavailable after retries.
        """
        blob = self._bucket.blob(self._name(key), chunk_size=UPLOAD_CHUNK_BYTES)
        blob.content_type = content_type  # in the metadata too, so parameters (charset) survive
        with _translated(key):
            blob.upload_from_filename(str(path), content_type=content_type, retry=self._retry)

    def put_bytes(self, key: str, data: bytes, content_type: str) -> None:
        """Store `data` as `key` with Content-Type `content_type`, replacing any object there.

        Raises:
            InputError: invalid key. TransientError: Cloud Storage unavailable after retries.
        """
        blob = self._bucket.blob(self._name(key))
        blob.content_type = content_type  # in the metadata too, so parameters (charset) survive
        with _translated(key):
            blob.upload_from_string(data, content_type=content_type, retry=self._retry)

    def copy(self, src_key: str, dst_key: str) -> None:
        """Server-side copy of `src_key` to `dst_key` (bytes and Content-Type), replacing any
        object at `dst_key`; no bytes pass through this process (API `objects.copy`).

        Raises:
            InputError: invalid key. NotFound: no object at `src_key`.
            TransientError: Cloud Storage unavailable after retries.
        """
        src, dst = self._name(src_key), self._name(dst_key)
        with _translated(src_key):
            if src == dst:  # the API refuses a copy onto itself that changes nothing
                if not self._bucket.blob(src).exists(retry=self._retry):
                    raise NotFound(f"no object {src_key!r}")
                return
            self._bucket.copy_blob(self._bucket.blob(src), self._bucket, dst, retry=self._retry)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object whose key starts with `prefix` (`""`: all of this store's
        objects); returns how many this call deleted. Lists the objects and deletes them with
        batch requests of at most 100 calls; calls that failed transiently are retried.

        Raises:
            InputError: the folder part of `prefix` (before its last `/`) is not a valid key.
            TransientError: Cloud Storage unavailable after retries.
        """
        folder, _, stem = prefix.rpartition("/")
        if prefix.startswith("/"):
            raise InputError(f"invalid blob prefix {prefix!r}")
        full_prefix = self._prefix + (_checked_key(folder) + "/" if folder else "") + stem
        deleted = 0
        with _translated(prefix):
            pages = self._client.list_blobs(self._bucket, prefix=full_prefix, retry=self._retry,
                                            fields="items(name),nextPageToken").pages
            for page in pages:
                names = [blob.name for blob in page]
                for start in range(0, len(names), BATCH_CALLS):
                    deleted += self._delete_names(names[start:start + BATCH_CALLS])
        return deleted

    def _delete_names(self, names: list[str]) -> int:
        """Delete up to `BATCH_CALLS` objects by name in one batch request, resending the calls
        that failed transiently under the retry policy; returns how many were deleted (objects
        already gone are not counted)."""
        pending, deleted = list(names), 0

        def attempt() -> None:
            nonlocal pending, deleted
            batch = self._client.batch(raise_exception=False)
            with batch:
                for name in pending:
                    self._bucket.delete_blob(name, retry=None)  # deferred: the batch is retried as a whole
            # `_responses` holds what `Batch.finish()` returned: one response per call, in order
            failed = [(name, response) for name, response in zip(pending, batch._responses)
                      if response.status_code != 404 and not 200 <= response.status_code < 300]
            deleted += sum(1 for response in batch._responses if 200 <= response.status_code < 300)
            pending = [name for name, _ in failed]
            if failed:
                raise api_exceptions.from_http_response(failed[0][1])

        self._retry(attempt)()
        return deleted

    # -- reads ----------------------------------------------------------------------------

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """A read-only binary stream of the object's current generation, fetched lazily by
        ranged GETs of `READ_CHUNK_BYTES` (8 MiB) as it is read; `read()` without a size reads
        the rest at once.

        Raises:
            InputError: invalid key. NotFound: no object (on entering the context).
            TransientError: Cloud Storage unavailable after retries (also while reading).
        """
        blob = self._generation_of(self._metadata(key))
        with _translated(key), blob.open("rb", chunk_size=READ_CHUNK_BYTES, retry=self._retry) as reader:
            yield reader

    @contextmanager
    def local_path(self, key: str) -> Iterator[Path]:
        """A file holding the object's bytes, valid until the context exits. One metadata GET
        learns the object's generation; the bytes are downloaded only when that generation is
        not cached yet. Several threads may ask for the same object at once: one downloads it
        (to a temporary name, then renamed), the others wait and share the file. Read the file,
        never modify or delete it.

        Raises:
            InputError: invalid key. NotFound: no object.
            TransientError: Cloud Storage unavailable after retries, or the object was replaced
                while being downloaded.
        """
        blob = self._metadata(key)
        ident = (blob.name, int(blob.generation))
        pinned = self._generation_of(blob)
        with self._cache.pinned(ident, int(blob.size or 0), lambda dest: self._download(key, pinned, dest)) as path:
            yield path

    def exists(self, key: str) -> bool:
        """True when an object is stored under `key` (a "folder" of other objects is not one).

        Raises:
            InputError: invalid key. TransientError: Cloud Storage unavailable after retries.
        """
        name = self._name(key)
        with _translated(key):
            return self._bucket.blob(name).exists(retry=self._retry)

    def content_type(self, key: str) -> str:
        """The Content-Type the object was stored with (`application/octet-stream` if none).

        Raises:
            InputError: invalid key. NotFound: no object.
            TransientError: Cloud Storage unavailable after retries.
        """
        return self._metadata(key).content_type or "application/octet-stream"

    # -- the cache ------------------------------------------------------------------------

    def cache_stats(self) -> CacheStats:
        """Counters of the `local_path` cache (downloads, hits, entries, bytes)."""
        return self._cache.stats()

    def close(self) -> None:
        """Delete the `local_path` cache folder. Paths handed out become invalid."""
        self._finalizer()

    # -- helpers --------------------------------------------------------------------------

    def _name(self, key: str) -> str:
        """The object name of `key`. Raises `InputError` for an invalid key."""
        name = self._prefix + _checked_key(key)
        if len(name.encode("utf-8")) > MAX_NAME_BYTES:
            raise InputError(f"blob key {key[:40]!r}... is longer than {MAX_NAME_BYTES} bytes")
        return name

    def _metadata(self, key: str) -> storage.Blob:
        """The object's metadata (generation, size, content type). Raises `NotFound`."""
        name = self._name(key)
        with _translated(key):
            blob = self._bucket.get_blob(name, retry=self._retry)
        if blob is None:
            raise NotFound(f"no object {key!r}")
        return blob

    def _generation_of(self, blob: storage.Blob) -> storage.Blob:
        """A handle on exactly the generation `blob` describes. Downloads through it build
        their URL from the name and generation rather than the server's `mediaLink`."""
        return self._bucket.blob(blob.name, generation=blob.generation)

    def _download(self, key: str, blob: storage.Blob, dest: Path) -> None:
        """Stream the generation of `blob` into the file `dest` (checksum verified)."""
        try:
            with _translated(key):
                blob.download_to_filename(str(dest), retry=self._retry)
        except NotFound:
            if self.exists(key):  # a newer generation replaced the one asked for
                raise TransientError(f"object {key!r} was replaced while being downloaded") from None
            raise


def _checked_key(key: str) -> str:
    """`key` with `.` parts and repeated `/` collapsed. Raises `InputError` for an absolute
    key, a `..` part, an empty key, the reserved `.content-type` suffix, CR, LF or NUL."""
    parts = PurePosixPath(key).parts
    if (not parts or key.startswith("/") or ".." in parts or key.endswith(_RESERVED_SUFFIX)
            or any(c in key for c in "\r\n\0")):
        raise InputError(f"invalid blob key {key!r}")
    return "/".join(parts)


@contextmanager
def _translated(key: str) -> Iterator[None]:
    """Re-raise Cloud Storage errors as PageSage ones: 404 as `NotFound`, transient failures
    as `TransientError`; others unchanged."""
    try:
        yield
    except api_exceptions.NotFound as exc:
        raise NotFound(f"no object {key!r}") from exc
    except Exception as exc:
        if is_transient(exc):
            raise TransientError(f"Cloud Storage unavailable for {key!r}: {exc}") from exc
        raise


def is_transient(exc: BaseException) -> bool:
    """True for failures a later attempt may not meet (the classes and statuses that
    `google.cloud.storage.retry.DEFAULT_RETRY` retries, plus its exhausted deadline)."""
    if isinstance(exc, _TRANSIENT_TYPES):
        return True
    if isinstance(exc, api_exceptions.GoogleAPICallError):
        return exc.code in _TRANSIENT_STATUS
    if isinstance(exc, storage_exceptions.InvalidResponse):
        return exc.response.status_code in _TRANSIENT_STATUS
    return False


@dataclass
class _Entry:
    path: Path
    size: int  # bytes
    pins: int = 0


class _DiskCache:
    """Files in `folder` by identity (object name, generation), evicted least recently used
    first once their total size passes `capacity` bytes. Pinned files are never evicted;
    files larger than `capacity` are not cached (each call gets its own, deleted after)."""

    def __init__(self, folder: Path, capacity: int) -> None:
        self.folder, self.capacity = folder, capacity
        self._entries: OrderedDict[tuple[str, int], _Entry] = OrderedDict()
        self._loading: dict[tuple[str, int], threading.Event] = {}
        self._lock = threading.Lock()
        self._bytes = self._downloads = self._hits = 0

    @contextmanager
    def pinned(self, ident: tuple[str, int], size: int, fill: Callable[[Path], None]) -> Iterator[Path]:
        """The cached file of `ident` (expected `size` bytes), written by `fill(path)` first
        when missing, pinned until the context exits. Concurrent calls for one `ident` run
        `fill` once. Beyond the budget, a private file written for this call alone."""
        if size > self.capacity:
            with self._uncached(fill) as path:
                yield path
            return
        entry = self._acquire(ident, fill)
        try:
            yield entry.path
        finally:
            with self._lock:
                entry.pins -= 1
                self._evict()

    def stats(self) -> CacheStats:
        with self._lock:
            return CacheStats(self._downloads, self._hits, len(self._entries), self._bytes)

    def _acquire(self, ident: tuple[str, int], fill: Callable[[Path], None]) -> _Entry:
        """The pinned entry of `ident`, filled by this thread unless another one is filling
        it (then wait for it, and fill it here if that failed)."""
        while True:
            with self._lock:
                entry = self._entries.get(ident)
                if entry is not None:
                    entry.pins += 1
                    self._entries.move_to_end(ident)
                    self._hits += 1
                    return entry
                loading = self._loading.get(ident)
                if loading is None:
                    loading = self._loading[ident] = threading.Event()
                    break
            loading.wait()  # then look again: the other filler may have failed
        try:
            return self._fill(ident, fill)
        finally:
            with self._lock:
                del self._loading[ident]
            loading.set()

    def _fill(self, ident: tuple[str, int], fill: Callable[[Path], None]) -> _Entry:
        """Write the file of `ident` under a temporary name, rename it into place and add it
        pinned, evicting others as needed."""
        target = self.folder / _cache_name(ident)
        with self._temporary() as tmp:
            fill(tmp)
            size = tmp.stat().st_size
            tmp.chmod(0o444)
            os.replace(tmp, target)
        with self._lock:
            self._downloads += 1
            entry = self._entries[ident] = _Entry(target, size, pins=1)
            self._bytes += size
            self._drop_older_generations(ident)
            self._evict()
            return entry

    @contextmanager
    def _uncached(self, fill: Callable[[Path], None]) -> Iterator[Path]:
        with self._temporary() as tmp:
            fill(tmp)
            with self._lock:
                self._downloads += 1
            yield tmp

    @contextmanager
    def _temporary(self) -> Iterator[Path]:
        """A fresh file name in the cache folder, removed on exit unless renamed."""
        fd, name = tempfile.mkstemp(dir=self.folder, prefix=".part-")
        os.close(fd)
        try:
            yield Path(name)
        finally:
            Path(name).unlink(missing_ok=True)

    def _drop_older_generations(self, ident: tuple[str, int]) -> None:
        """Remove unpinned entries of the same object with other generations (lock held)."""
        for other in [i for i, e in self._entries.items() if i[0] == ident[0] and i != ident and e.pins == 0]:
            self._remove(other)

    def _evict(self) -> None:
        """Remove unpinned entries, least recently used first, until within budget (lock held)."""
        for ident in [i for i, e in self._entries.items() if e.pins == 0]:
            if self._bytes <= self.capacity:
                return
            self._remove(ident)

    def _remove(self, ident: tuple[str, int]) -> None:
        entry = self._entries.pop(ident)
        self._bytes -= entry.size
        entry.path.unlink(missing_ok=True)


def _cache_name(ident: tuple[str, int]) -> str:
    """A file name for (object name, generation), keeping a short alphanumeric suffix of the
    object name (`.pdf`) for tools that look at it."""
    name, generation = ident
    suffix = PurePosixPath(name).suffix
    suffix = suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", suffix) else ""
    return f"{hashlib.sha256(name.encode('utf-8')).hexdigest()[:32]}-{generation}{suffix}"
