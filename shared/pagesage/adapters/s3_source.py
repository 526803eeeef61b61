"""Fetch a document from S3 or an S3-compatible store (MinIO, Ceph, R2...) named `s3://bucket/key`.

Credentials and the endpoint are the operator's, never the request's: boto3's default chain
(`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, the instance or workload role) and
its endpoint configuration (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, `AWS_REGION`), as the AWS
SDKs' shared configuration documents them. The object's size is checked from `HeadObject` before
its body is streamed; the ETag and version id are recorded.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, BinaryIO

import boto3
import botocore.exceptions

from pagesage.adapters.source_body import CHUNK, TRANSIENT_STATUSES, CappedWriter, bucket_uri, check_size
from pagesage.ports import Fetched
from pagesage.errors import FetchFailed, SourceForbidden, SourceNotFound

_NOT_FOUND = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
_FORBIDDEN = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}


def fetch_s3(uri: str, dest: BinaryIO, *, max_bytes: int, client: Any = None) -> Fetched:
    """Stream the object `uri` (`s3://bucket/key`) into `dest`.

    Args:
        max_bytes: the most bytes accepted (the upload limit).
        client: a boto3 S3 client; by default one from the default session.

    Raises:
        InputError: `uri` is not `s3://bucket/key`.
        FileTooLarge: the object is over `max_bytes` (checked before reading).
        SourceNotFound, SourceForbidden: no such bucket or key; the credentials are refused.
        FetchFailed: anything else (`retryable` for throttling, 5xx and connection errors).
    """
    bucket, key = bucket_uri(uri, "s3")
    client = client or boto3.client("s3")
    try:
        head = client.head_object(Bucket=bucket, Key=key)
        check_size(head["ContentLength"], max_bytes)
        fetched_at = datetime.now(timezone.utc)
        # the version read is the one measured: a write between the two calls cannot slip in
        version = head.get("VersionId") if head.get("VersionId") not in (None, "null") else None
        extra = {"VersionId": version} if version else {"IfMatch": head["ETag"]}
        body = client.get_object(Bucket=bucket, Key=key, **extra)["Body"]
        writer = CappedWriter(dest, max_bytes)
        for chunk in body.iter_chunks(CHUNK):
            writer.write(chunk)
    except botocore.exceptions.ClientError as exc:
        raise _client_error(exc, uri) from None
    except (botocore.exceptions.BotoCoreError, OSError) as exc:
        raise FetchFailed(f"could not read {uri}: {type(exc).__name__}", transient=True) from None
    return writer.fetched(etag=head["ETag"], content_type=head.get("ContentType"), url=uri, fetched_at=fetched_at,
                          generation=version)


def _client_error(exc: Any, uri: str) -> FetchFailed:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in _NOT_FOUND or status == 404:
        return SourceNotFound(f"{uri} does not exist")
    if code in _FORBIDDEN or status == 403:
        return SourceForbidden(f"{uri} cannot be read with the configured credentials")
    # 412: the object was replaced between HeadObject and GetObject; a new attempt reads the new one
    return FetchFailed(f"{uri} could not be read ({code or status})",
                       transient=status in TRANSIENT_STATUSES or status == 412
                       or code in ("SlowDown", "RequestTimeout", "Throttling", "PreconditionFailed"))
