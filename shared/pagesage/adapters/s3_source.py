"""Fetch a document from S3 or an S3-compatible store (MinIO, Ceph, R2...) named `s3://bucket/key`.

Credentials and the endpoint are the operator's, never the request's: boto3's default chain
(`AWS_ACCESS_KEY_ID`/`AWS_SECRET_ACCESS_KEY`, `AWS_PROFILE`, the instance or workload role) and
its endpoint configuration (`AWS_ENDPOINT_URL`, `AWS_ENDPOINT_URL_S3`, `AWS_REGION`), as the AWS
SDKs' shared configuration documents them. The object's size is checked from `HeadObject` before
its body is streamed; the ETag and version id are recorded.
"""

from __future__ import annotations

import hashlib
from datetime import datetime, timezone
from typing import Any, BinaryIO
from urllib.parse import unquote, urlsplit

from pagesage.adapters.https_source import CHUNK, TRANSIENT_STATUSES, Fetched
from pagesage.errors import FetchFailed, FileTooLarge, InputError, SourceForbidden, SourceNotFound

_NOT_FOUND = {"404", "NoSuchKey", "NoSuchBucket", "NotFound"}
_FORBIDDEN = {"403", "AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """`s3://bucket/key` -> (bucket, key); the key percent-decoded, without its leading `/`.

    Raises:
        InputError: not an `s3://` URI, or no bucket or no key.
    """
    parts = urlsplit(uri)
    key = unquote(parts.path.lstrip("/"))
    if parts.scheme != "s3" or not parts.netloc or not key or parts.query or parts.fragment:
        raise InputError("an S3 source is s3://bucket/key")
    return parts.netloc, key


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
    import botocore.exceptions

    bucket, key = parse_s3_uri(uri)
    if client is None:
        import boto3

        client = boto3.client("s3")
    try:
        head = client.head_object(Bucket=bucket, Key=key)
        if head["ContentLength"] > max_bytes:
            raise FileTooLarge(f"the object is {head['ContentLength']:,} bytes; the limit is {max_bytes:,}")
        fetched_at = datetime.now(timezone.utc)
        # the version read is the one measured: a write between the two calls cannot slip in
        version = head.get("VersionId") if head.get("VersionId") not in (None, "null") else None
        extra = {"VersionId": version} if version else {"IfMatch": head["ETag"]}
        body = client.get_object(Bucket=bucket, Key=key, **extra)["Body"]
        digest, size = hashlib.sha256(), 0
        for chunk in body.iter_chunks(CHUNK):
            size += len(chunk)
            if size > max_bytes:
                raise FileTooLarge(f"the object is over the limit of {max_bytes:,} bytes")
            digest.update(chunk)
            dest.write(chunk)
    except botocore.exceptions.ClientError as exc:
        raise _client_error(exc, uri) from None
    except (botocore.exceptions.BotoCoreError, OSError) as exc:
        raise FetchFailed(f"could not read {uri}: {type(exc).__name__}", transient=True) from None
    return Fetched(sha256=digest.hexdigest(), size=size, etag=head["ETag"], content_type=head.get("ContentType"),
                   url=uri, fetched_at=fetched_at, generation=version)


def _client_error(exc: Any, uri: str) -> FetchFailed:
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    if code in _NOT_FOUND or status == 404:
        return SourceNotFound(f"{uri} does not exist")
    if code in _FORBIDDEN or status == 403:
        return SourceForbidden(f"{uri} cannot be read with the configured credentials")
    return FetchFailed(f"{uri} could not be read ({code or status})",
                       transient=status in TRANSIENT_STATUSES or code in ("SlowDown", "RequestTimeout", "Throttling"))
