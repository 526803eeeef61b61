"""Fetching `gs://bucket/object` on the Cloud Storage emulator: the bytes, hash, ETag and
generation, the size cap before reading, and each failure's code."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from google.cloud.storage.retry import DEFAULT_RETRY

from pagesage.adapters.gcs_blobs import storage_client
from pagesage.adapters.gcs_source import fetch_gcs
from pagesage.adapters.source_body import bucket_uri
from pagesage.errors import FetchFailed, FileTooLarge, InputError, SourceNotFound

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "tesseract-testing-2pages.pdf"


@pytest.fixture()
def bucket(storage_host):
    client = storage_client("pagesage-test")
    bucket = client.bucket("scans-source")
    if not bucket.exists():
        bucket = client.create_bucket("scans-source")
    blob = bucket.blob("books/two pages.pdf")
    blob.upload_from_filename(str(SAMPLE), content_type="application/pdf")
    return bucket


def test_an_object_is_fetched_whole_with_its_hash_etag_and_generation(bucket):
    pdf = SAMPLE.read_bytes()
    out = io.BytesIO()
    fetched = fetch_gcs("gs://scans-source/books/two%20pages.pdf", out, max_bytes=len(pdf))
    assert out.getvalue() == pdf
    assert fetched.sha256 == hashlib.sha256(pdf).hexdigest() and fetched.size == len(pdf)
    blob = bucket.get_blob("books/two pages.pdf")
    assert fetched.generation == str(blob.generation) and fetched.etag == blob.etag
    assert fetched.content_type == "application/pdf"


def test_an_object_over_the_limit_is_refused_before_reading(bucket):
    out = io.BytesIO()
    with pytest.raises(FileTooLarge):
        fetch_gcs("gs://scans-source/books/two pages.pdf", out, max_bytes=1000)
    assert out.getvalue() == b""


@pytest.mark.parametrize("uri", ["gs://scans-source/no-such.pdf", "gs://no-such-bucket-here/x.pdf"])
def test_missing_objects_and_buckets_are_not_found(bucket, uri):
    with pytest.raises(SourceNotFound) as failed:
        fetch_gcs(uri, io.BytesIO(), max_bytes=10**8)
    assert failed.value.error_code == "not_found" and not failed.value.retryable


def test_an_unreachable_store_is_a_transient_failure(monkeypatch, storage_host):
    from pagesage import emulators

    monkeypatch.setenv("STORAGE_EMULATOR_HOST", f"http://127.0.0.1:{emulators.free_port()}")
    with pytest.raises(FetchFailed) as failed:
        fetch_gcs("gs://scans-source/books/two pages.pdf", io.BytesIO(), max_bytes=10**8,
                  retry=DEFAULT_RETRY.with_timeout(2.0))
    assert failed.value.error_code == "fetch_failed" and failed.value.retryable


@pytest.mark.parametrize("uri", ["gs://bucket", "gs://bucket/", "gs:///object", "s3://bucket/key"])
def test_a_malformed_uri_is_a_bad_request(uri):
    with pytest.raises(InputError):
        bucket_uri(uri, "gs")
