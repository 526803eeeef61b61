"""`SourceFetcher` over the three kinds of remote source, chosen by the URI's scheme:
`s3://` (`s3_source`), `gs://` (`gcs_source`), `https://` and allow-listed `http://`
(`https_source`, under the fetch policy of docs/security.md)."""

from __future__ import annotations

import ssl
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import urlsplit

from pagesage.adapters.https_source import Resolver, fetch as fetch_url, resolve
from pagesage.adapters.source_body import bucket_uri
from pagesage.domain.fetch_policy import AllowList, check_addresses, check_url
from pagesage.ports import Fetched

BUCKET_SCHEMES = ("s3", "gs")
"""Schemes read with the operator's own credentials and endpoints."""


class RemoteSources:
    """Fetches `s3://`, `gs://` and `http(s)://` sources. The S3 and Cloud Storage adapters are
    imported on their first fetch: boto3 and the storage client cost a cold start that most
    functions never need.

    Args:
        allow: the operator's allow-list (`PAGESAGE_FETCH_ALLOW_HOSTS`).
        timeout: seconds an HTTP source may take to connect, and between two reads.
        s3_client, gcs_client: clients to use (tests); by default boto3's from its default
            credential chain and endpoint configuration (`AWS_ENDPOINT_URL_S3` names MinIO or
            another S3-compatible store), and the Cloud Storage client of `gcs_blobs`.
        resolver: the host name lookup (tests).
        ca_file: a PEM file of the certificate authorities HTTPS servers are verified against
            (a private deployment's own); None: the certifi bundle.
    """

    def __init__(self, allow: AllowList, *, timeout: float = 30.0, s3_client: Any = None, gcs_client: Any = None,
                 resolver: Resolver = resolve, ca_file: Path | None = None) -> None:
        self.allow, self.timeout, self.resolver = allow, timeout, resolver
        self._s3, self._gcs = s3_client, gcs_client
        self._verify: ssl.SSLContext | bool = ssl.create_default_context(cafile=str(ca_file)) if ca_file else True

    def check(self, uri: str) -> None:
        """See `SourceFetcher.check`."""
        scheme = urlsplit(uri).scheme.lower()
        if scheme in BUCKET_SCHEMES:
            bucket_uri(uri, scheme)
            return
        target = check_url(uri, self.allow)
        check_addresses(target, self.resolver(target))

    def fetch(self, uri: str, dest: BinaryIO, *, max_bytes: int) -> Fetched:
        """See `SourceFetcher.fetch`."""
        scheme = urlsplit(uri).scheme.lower()
        if scheme == "s3":
            from pagesage.adapters.s3_source import fetch_s3

            return fetch_s3(uri, dest, max_bytes=max_bytes, client=self._s3)
        if scheme == "gs":
            from pagesage.adapters.gcs_source import fetch_gcs

            return fetch_gcs(uri, dest, max_bytes=max_bytes, client=self._gcs)
        return fetch_url(uri, dest, allow=self.allow, max_bytes=max_bytes, timeout=self.timeout, resolver=self.resolver,
                         verify=self._verify)
