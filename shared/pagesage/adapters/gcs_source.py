"""Fetch a document from Cloud Storage named `gs://bucket/object`, with the operator's
credentials (Application Default Credentials, or the emulator at `STORAGE_EMULATOR_HOST`:
`gcs_blobs.storage_client`), never ones from the request. The object's size is checked from its
metadata before the download; the generation read is pinned and recorded with its ETag.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import BinaryIO

from google.api_core import exceptions as api_exceptions
from google.api_core.retry import Retry
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY

from pagesage.adapters.gcs_blobs import is_transient, storage_client
from pagesage.adapters.source_body import CappedWriter, bucket_uri, check_size
from pagesage.ports import Fetched
from pagesage.errors import FetchFailed, FileTooLarge, SourceForbidden, SourceNotFound


def fetch_gcs(uri: str, dest: BinaryIO, *, max_bytes: int, client: storage.Client | None = None,
              retry: Retry = DEFAULT_RETRY) -> Fetched:
    """Download the object `uri` (`gs://bucket/object`) into `dest`, checksum verified by the
    client library; `retry` is the policy of each call (`DEFAULT_RETRY`: exponential back-off
    on 408, 429, 5xx and connection errors for up to 120 s).

    Raises:
        InputError: `uri` is not `gs://bucket/object`.
        FileTooLarge: the object is over `max_bytes` (checked before reading).
        SourceNotFound, SourceForbidden: no such bucket or object; the credentials are refused.
        FetchFailed: anything else (`retryable` when Cloud Storage's retry policy would retry).
    """
    bucket_name, name = bucket_uri(uri, "gs")
    client = client or storage_client()
    writer = CappedWriter(dest, max_bytes)
    try:
        bucket = client.bucket(bucket_name)
        blob = bucket.get_blob(name, retry=retry)
        if blob is None:
            raise SourceNotFound(f"{uri} does not exist")
        check_size(blob.size or 0, max_bytes)
        fetched_at = datetime.now(timezone.utc)
        bucket.blob(name, generation=blob.generation).download_to_file(writer, retry=retry)
    except (FetchFailed, FileTooLarge):
        raise
    except api_exceptions.NotFound:
        raise SourceNotFound(f"{uri} does not exist") from None
    except (api_exceptions.Forbidden, api_exceptions.Unauthorized):
        raise SourceForbidden(f"{uri} cannot be read with the configured credentials") from None
    except Exception as exc:  # the client's many transport errors: classified, never shown
        raise FetchFailed(f"{uri} could not be read", transient=is_transient(exc)) from None
    return writer.fetched(etag=blob.etag, content_type=blob.content_type, url=uri, fetched_at=fetched_at,
                          generation=str(blob.generation) if blob.generation is not None else None)
