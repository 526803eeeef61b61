"""How the Firestore store writes: document ids, optimistic retries, commit sizes, errors.

Firestore limits (https://firebase.google.com/docs/firestore/quotas): 1 MiB per document,
500 writes and 10 MiB per commit; the emulator takes at most 4 MiB per gRPC message.
"""

from __future__ import annotations

import random
import time
from typing import Any, Callable, Iterator

from google.api_core import exceptions as gexc

from pagesage.errors import NotFound, TransientError

COMMIT_BYTES = 3 * 1024 * 1024
"""Most chunk bytes in one batched write: under the emulator's 4 MiB gRPC message limit
(production allows 10 MiB per request)."""

COMMIT_WRITES = 500
"""Most writes in one batched write (Firestore quotas: 500 writes per commit)."""

TRANSACTION_ATTEMPTS = 25
"""Tries of one optimistic write under contention (the library's transactions default to 5)."""

GRPC_NOT_FOUND = 5
"""gRPC status code NOT_FOUND, as BulkWriter reports a failed write's code."""


def doc_id(value: str) -> str:
    """A document id from a PageSage id; ids with `/` or Firestore's reserved forms raise
    `NotFound` (no such record can exist)."""
    if not value or "/" in value or value in (".", "..") or (value.startswith("__") and value.endswith("__")):
        raise NotFound(f"invalid id {value!r}")
    return value


def valid_id(value: str) -> bool:
    """True when `value` can name a document (see `doc_id`)."""
    try:
        doc_id(value)
    except NotFound:
        return False
    return True


def optimistic(attempt: Callable[[], Any]) -> Any:
    """Run `attempt` (read, then writes conditioned on what was read) until no concurrent write
    intervened: a failed precondition or a lost create race is retried after a jittered
    exponential back-off (10 ms doubling to 0.5 s), at most `TRANSACTION_ATTEMPTS` times.

    Raises:
        TransientError: still contended after every attempt.
    """
    for n in range(TRANSACTION_ATTEMPTS):
        try:
            return attempt()
        except (gexc.FailedPrecondition, gexc.AlreadyExists):
            time.sleep(random.uniform(0, min(0.5, 0.01 * 2 ** n)))
    raise TransientError(f"document still contended after {TRANSACTION_ATTEMPTS} attempts")


def commit_groups(writes: list[tuple[Any, dict[str, Any], int]]) -> Iterator[list[tuple[Any, dict[str, Any], int]]]:
    """(reference, data, bytes) writes grouped into commits of at most `COMMIT_BYTES` and
    `COMMIT_WRITES` writes."""
    group: list[tuple[Any, dict[str, Any], int]] = []
    size = 0
    for write in writes:
        if group and (size + write[2] > COMMIT_BYTES or len(group) == COMMIT_WRITES):
            yield group
            group, size = [], 0
        group.append(write)
        size += write[2]
    if group:
        yield group


def batches(items: list, size: int) -> Iterator[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


def delete_quietly(client, refs: list) -> None:
    """Delete documents nothing names any more, best effort, in batches of `COMMIT_WRITES`: a
    failure leaves them (to TTL, or as leftovers no read reaches)."""
    try:
        for group in batches(refs, COMMIT_WRITES):
            batch = client.batch()
            for ref in group:
                batch.delete(ref)
            batch.commit()
    except gexc.GoogleAPICallError:
        pass


def retry_unless_gone(error, writer) -> bool:
    """BulkWriter error policy: retry a failed write (at most 15 attempts, the library's
    default), except on a document that no longer exists."""
    return error.code != GRPC_NOT_FOUND and error.attempts < 15


class translated:
    """Map Google API errors that a retry may cure (unavailable, deadline, contention, quota,
    an unknown gRPC failure such as a reset connection, the client library's own retry giving
    up) to `TransientError`; other errors pass through."""

    _TRANSIENT = (gexc.ServiceUnavailable, gexc.DeadlineExceeded, gexc.Aborted, gexc.TooManyRequests,
                  gexc.InternalServerError, gexc.Unknown, gexc.RetryError)

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind, exc, tb) -> bool:
        if exc is not None and isinstance(exc, self._TRANSIENT):
            raise TransientError(f"Firestore unavailable: {exc.message if hasattr(exc, 'message') else exc}") from exc
        return False
