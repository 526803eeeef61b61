"""Fetching `s3://bucket/key` with boto3 against moto's S3: the bytes, hash, ETag and version,
the size cap before reading, and each failure's code."""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import pytest

from pagesage.adapters.s3_source import fetch_s3
from pagesage.adapters.source_body import bucket_uri
from pagesage.errors import FetchFailed, FileTooLarge, InputError, SourceForbidden, SourceNotFound

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "tesseract-testing-2pages.pdf"


@pytest.fixture()
def s3(moto_s3):
    moto_s3.create_bucket(Bucket="scans")
    moto_s3.put_object(Bucket="scans", Key="books/two pages.pdf", Body=SAMPLE.read_bytes(), ContentType="application/pdf")
    return moto_s3


def test_an_object_is_fetched_whole_with_its_hash_and_etag(s3):
    pdf = SAMPLE.read_bytes()
    out = io.BytesIO()
    fetched = fetch_s3("s3://scans/books/two%20pages.pdf", out, max_bytes=len(pdf))  # the default client
    assert out.getvalue() == pdf
    assert fetched.sha256 == hashlib.sha256(pdf).hexdigest() and fetched.size == len(pdf)
    assert fetched.etag == f'"{hashlib.md5(pdf).hexdigest()}"' and fetched.content_type == "application/pdf"
    assert fetched.generation is None


def test_a_versioned_bucket_records_the_version_read(s3):
    s3.put_bucket_versioning(Bucket="scans", VersioningConfiguration={"Status": "Enabled"})
    version = s3.put_object(Bucket="scans", Key="v.pdf", Body=b"%PDF-1.4 one")["VersionId"]
    out = io.BytesIO()
    fetched = fetch_s3("s3://scans/v.pdf", out, max_bytes=100, client=s3)
    assert fetched.generation == version and out.getvalue() == b"%PDF-1.4 one"


def test_an_object_over_the_limit_is_refused_before_reading(s3):
    out = io.BytesIO()
    with pytest.raises(FileTooLarge):
        fetch_s3("s3://scans/books/two pages.pdf", out, max_bytes=1000, client=s3)
    assert out.getvalue() == b""


@pytest.mark.parametrize(("uri", "error", "code"), [
    ("s3://scans/no-such.pdf", SourceNotFound, "not_found"),
    ("s3://no-such-bucket/x.pdf", SourceNotFound, "not_found"),
])
def test_missing_objects_and_buckets_are_not_found(s3, uri, error, code):
    with pytest.raises(error) as failed:
        fetch_s3(uri, io.BytesIO(), max_bytes=10**8, client=s3)
    assert failed.value.error_code == code and not failed.value.retryable


def test_a_refused_read_is_forbidden(s3):
    s3.put_bucket_policy(Bucket="scans", Policy='{"Version": "2012-10-17", "Statement": [{"Effect": "Deny", '
                         '"Principal": "*", "Action": "s3:*", "Resource": ["arn:aws:s3:::scans/*"]}]}')
    with pytest.raises(SourceForbidden) as failed:
        fetch_s3("s3://scans/books/two pages.pdf", io.BytesIO(), max_bytes=10**8, client=s3)
    assert failed.value.error_code == "forbidden" and not failed.value.retryable


def test_throttling_is_a_transient_failure(s3):
    from botocore.stub import Stubber

    stubber = Stubber(s3)
    stubber.add_client_error("head_object", service_error_code="SlowDown", http_status_code=503)
    with stubber, pytest.raises(FetchFailed) as failed:
        fetch_s3("s3://scans/books/two pages.pdf", io.BytesIO(), max_bytes=10**8, client=s3)
    assert failed.value.error_code == "fetch_failed" and failed.value.retryable


@pytest.mark.parametrize("uri", ["s3://bucket", "s3://bucket/", "s3:///key", "gs://bucket/key", "s3://b/k?versionId=1"])
def test_a_malformed_uri_is_a_bad_request(uri):
    with pytest.raises(InputError):
        bucket_uri(uri, "s3")


def test_an_object_replaced_while_read_is_a_transient_failure(s3):
    real_get = s3.get_object

    def replaced_first(**kwargs):
        s3.put_object(Bucket="scans", Key="books/two pages.pdf", Body=b"%PDF-1.4 newer")
        return real_get(**kwargs)

    s3.get_object = replaced_first
    with pytest.raises(FetchFailed) as failed:
        fetch_s3("s3://scans/books/two pages.pdf", io.BytesIO(), max_bytes=10**8, client=s3)
    assert failed.value.retryable
