"""The body of a remote source as it is written: hashed, counted and cut off at the size limit,
for every source adapter (`https_source`, `s3_source`, `gcs_source`)."""

from __future__ import annotations

import hashlib
from typing import BinaryIO
from urllib.parse import unquote, urlsplit

from pagesage.errors import FileTooLarge, InputError
from pagesage.ports import Fetched

CHUNK = 64 * 1024
"""Bytes read and written at a time."""
TRANSIENT_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
"""HTTP statuses after which a later attempt may succeed (RFC 9110 §15.5.9, §15.6; RFC 8470 §5.2
for 425; RFC 6585 §4 for 429)."""


class CappedWriter:
    """A binary file-like writer onto `dest` that hashes (SHA-256) and counts what passes.

    Raises:
        FileTooLarge: from `write`, once more than `max_bytes` bytes were given; the bytes past
            the limit are not written (`dest` then holds a prefix the caller discards).
    """

    def __init__(self, dest: BinaryIO, max_bytes: int) -> None:
        self.dest, self.max_bytes = dest, max_bytes
        self.size = 0
        self._digest = hashlib.sha256()

    def write(self, chunk: bytes) -> int:
        self.size += len(chunk)
        if self.size > self.max_bytes:
            raise FileTooLarge(f"the document is over the limit of {self.max_bytes:,} bytes")
        self._digest.update(chunk)
        self.dest.write(chunk)
        return len(chunk)

    @property
    def sha256(self) -> str:
        return self._digest.hexdigest()

    def fetched(self, **fields) -> Fetched:
        """The record of what was written, with the source's `fields` (`etag`, `url`, ...)."""
        return Fetched(sha256=self.sha256, size=self.size, **fields)


def check_size(size: int, max_bytes: int) -> None:
    """Refuse a source announced (by its metadata or `Content-Length`) at `size` bytes before
    any of it is read.

    Raises:
        FileTooLarge: `size` is over `max_bytes`.
    """
    if size > max_bytes:
        raise FileTooLarge(f"the document is {size:,} bytes; the limit is {max_bytes:,}")


def bucket_uri(uri: str, scheme: str) -> tuple[str, str]:
    """`<scheme>://bucket/key` -> (bucket, key), the key percent-decoded, without its leading `/`.

    Raises:
        InputError: another scheme, no bucket, no key, or a query or fragment.
    """
    parts = urlsplit(uri)
    key = unquote(parts.path.lstrip("/"))
    if parts.scheme != scheme or not parts.netloc or not key or parts.query or parts.fragment:
        raise InputError(f"a bucket source is {scheme}://bucket/key")
    return parts.netloc, key
