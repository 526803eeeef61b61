"""Job state machine, expiry and job ids (pagesage.domain.jobs)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from factories import make_job
from pagesage.domain.jobs import (
    RESULT_TTL,
    Job,
    JobErrorCode,
    JobStatus,
    is_job_id,
    new_job_id,
)
from pagesage.errors import InvalidTransition

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def processing_job() -> Job:
    job = make_job()
    job.start(3, now=T0)
    return job


def completed_job() -> Job:
    job = processing_job()
    job.complete(now=T0 + timedelta(minutes=5))
    return job


def failed_job() -> Job:
    job = make_job()
    job.fail(JobErrorCode.CORRUPTED_FILE, "cannot open", now=T0)
    return job


# -- allowed transitions ----------------------------------------------------------------

def test_new_job_is_pending_with_no_times_or_errors():
    job = make_job()
    assert job.status is JobStatus.PENDING
    assert job.page_count is None
    assert job.start_time is job.completion_time is job.expiration_time is None
    assert job.error_code is None and job.error_message is None
    assert not job.finished
    assert not job.is_expired(T0)


def test_pending_to_processing_to_completed():
    job = make_job()
    job.start(3, now=T0)
    assert job.status is JobStatus.PROCESSING
    assert job.page_count == 3
    assert job.start_time == T0
    assert not job.finished
    done = T0 + timedelta(minutes=7)
    job.complete(now=done)
    assert job.status is JobStatus.COMPLETED
    assert job.finished
    assert job.start_time == T0
    assert job.completion_time == done
    assert job.expiration_time == done + timedelta(hours=48)
    assert job.error_code is None and job.error_message is None


def test_pending_to_failed_sets_times_and_error():
    job = make_job()
    job.fail(JobErrorCode.INVALID_FORMAT, "not a PDF", now=T0)
    assert job.status is JobStatus.FAILED
    assert job.finished
    assert job.error_code is JobErrorCode.INVALID_FORMAT
    assert job.error_message == "not a PDF"
    assert job.completion_time == T0
    assert job.start_time == T0  # never started: start = completion
    assert job.expiration_time == T0 + timedelta(hours=48)


def test_processing_to_failed():
    job = processing_job()
    when = T0 + timedelta(seconds=30)
    job.fail(JobErrorCode.TIMEOUT, "tesseract timed out", now=when)
    assert job.status is JobStatus.FAILED
    assert job.error_code is JobErrorCode.TIMEOUT
    assert job.start_time == T0
    assert job.completion_time == when
    assert job.expiration_time == when + timedelta(hours=48)


def test_fail_accepts_code_as_string_value():
    job = make_job()
    job.fail("memory_limit", "too big", now=T0)
    assert job.error_code is JobErrorCode.MEMORY_LIMIT


def test_result_ttl_is_48_hours():
    assert RESULT_TTL == timedelta(hours=48)


# -- forbidden transitions --------------------------------------------------------------

def test_completed_cannot_start_again():
    job = completed_job()
    with pytest.raises(InvalidTransition):
        job.start(3, now=T0)
    assert job.status is JobStatus.COMPLETED


def test_completed_cannot_fail():
    job = completed_job()
    with pytest.raises(InvalidTransition):
        job.fail(JobErrorCode.INTERNAL_ERROR, "late", now=T0)
    assert job.status is JobStatus.COMPLETED
    assert job.error_code is None and job.error_message is None


def test_completed_cannot_complete_again():
    job = completed_job()
    first = job.completion_time
    with pytest.raises(InvalidTransition):
        job.complete(now=T0 + timedelta(days=1))
    assert job.completion_time == first


def test_failed_cannot_complete():
    job = failed_job()
    with pytest.raises(InvalidTransition):
        job.complete(now=T0)
    assert job.status is JobStatus.FAILED


def test_failed_cannot_start_or_fail_again():
    job = failed_job()
    with pytest.raises(InvalidTransition):
        job.start(1, now=T0)
    with pytest.raises(InvalidTransition):
        job.fail(JobErrorCode.TIMEOUT, "again", now=T0)
    assert job.error_code is JobErrorCode.CORRUPTED_FILE
    assert job.error_message == "cannot open"


def test_pending_cannot_complete():
    job = make_job()
    with pytest.raises(InvalidTransition):
        job.complete(now=T0)
    assert job.status is JobStatus.PENDING
    assert job.completion_time is None


def test_start_twice_is_refused():
    job = processing_job()
    with pytest.raises(InvalidTransition):
        job.start(5, now=T0 + timedelta(seconds=1))
    assert job.page_count == 3
    assert job.start_time == T0


@pytest.mark.parametrize("pages", [0, -1])
def test_start_needs_at_least_one_page(pages):
    job = make_job()
    with pytest.raises(InvalidTransition):
        job.start(pages, now=T0)
    assert job.status is JobStatus.PENDING
    assert job.page_count is None


def test_invalid_transition_is_http_409():
    with pytest.raises(InvalidTransition) as info:
        make_job().complete(now=T0)
    assert info.value.http_status == 409
    assert info.value.error_code == "invalid_transition"


# -- expiry and error fields --------------------------------------------------------------

def test_is_expired_exactly_at_and_after_48_hours():
    job = completed_job()
    expires = job.expiration_time
    assert expires == job.completion_time + timedelta(hours=48)
    assert not job.is_expired(expires - timedelta(microseconds=1))
    assert job.is_expired(expires)
    assert job.is_expired(expires + timedelta(hours=1))


def test_unfinished_job_never_expires():
    job = processing_job()
    assert not job.is_expired(T0 + timedelta(days=365))


def test_is_expired_defaults_to_the_current_time():
    job = make_job()
    job.start(1)
    job.complete(now=datetime.now(timezone.utc) - timedelta(hours=49))
    assert job.is_expired()
    fresh = make_job()
    fresh.start(1)
    fresh.complete()
    assert not fresh.is_expired()


def test_fail_truncates_message_to_500_characters():
    job = make_job()
    job.fail(JobErrorCode.OCR_ENGINE_ERROR, "x" * 499 + "é" + "y" * 600, now=T0)
    assert len(job.error_message) == 500
    assert job.error_message == "x" * 499 + "é"
    assert job.error_code is JobErrorCode.OCR_ENGINE_ERROR


def test_error_fields_survive_json_round_trip():
    job = make_job()
    job.fail(JobErrorCode.OCR_ENGINE_ERROR, "m" * 800, now=T0)
    again = Job.model_validate_json(job.model_dump_json())
    assert again == job
    assert len(again.error_message) == 500


@pytest.mark.parametrize("factory", [make_job, processing_job, completed_job])
def test_error_fields_none_unless_failed(factory):
    job = factory()
    assert job.error_code is None
    assert job.error_message is None


# -- job ids --------------------------------------------------------------------------------

def test_new_job_ids_are_unique_43_chars_and_valid():
    ids = [new_job_id() for _ in range(10_000)]
    assert len(set(ids)) == 10_000
    assert all(len(i) == 43 for i in ids)
    assert all(is_job_id(i) for i in ids)


def test_default_job_id_is_a_job_id():
    a, b = make_job(), make_job()
    assert is_job_id(a.job_id) and is_job_id(b.job_id)
    assert a.job_id != b.job_id


@pytest.mark.parametrize(
    "value",
    [
        "",
        "a" * 42,
        "a" * 44,
        "a" * 42 + "=",
        "a" * 42 + "/",
        "a" * 42 + "+",
        "a" * 42 + ".",
        "a" * 42 + " ",
        "a" * 42 + "é",
        "../" + "a" * 40,
        "../../../../../../../../../../../etc/passwd",  # 43 characters
        "..%2F..%2F..%2F..%2Fetc%2Fpasswd%00aaaaaaaa",
        "a" * 20 + "/" + "a" * 22,
        "a" * 20 + "\\" + "a" * 22,
    ],
)
def test_is_job_id_rejects_malformed_values(value):
    assert not is_job_id(value)


def test_is_job_id_rejects_trailing_newline():
    value = new_job_id() + "\n"
    assert len(value) == 44
    assert not is_job_id(value)


def test_traversal_samples_have_the_right_length():
    # the path-traversal strings above are exactly 43 characters, so only the alphabet refuses them
    assert len("../../../../../../../../../../../etc/passwd") == 43
    assert len("..%2F..%2F..%2F..%2Fetc%2Fpasswd%00aaaaaaaa") == 43


def test_is_job_id_accepts_url_safe_alphabet():
    assert is_job_id("A-z_09" + "b" * 37)


def test_ids_never_start_with_a_dash_so_a_command_line_cannot_read_them_as_options():
    from pagesage.domain.jobs import random_id
    from pagesage.domain.pages import new_id
    from pagesage.services.bucket_drop import DroppedObject, drop_job_id

    drawn = [random_id(16) for _ in range(2000)] + [new_id() for _ in range(500)] + [make_job().source_doc_id for _ in range(500)]
    assert not any(value.startswith("-") for value in drawn)
    assert {len(random_id(32)), len(new_id())} == {43, 22}
    derived = [drop_job_id(DroppedObject(bucket="b", name=f"incoming/{i}.pdf", generation="1", size=1)) for i in range(2000)]
    assert not any(value.startswith("-") for value in derived) and all(is_job_id(value) for value in derived)


def test_a_remote_job_has_a_name_from_its_uri_until_it_receives_its_original():
    from pagesage.domain.jobs import DocumentUpload, FileFormat

    job = Job(source_uri="https://example.org/scans/Rgveda%20vol%201.pdf?x=1", languages="san")
    assert job.upload is None and job.file_name == "Rgveda vol 1.pdf"
    assert Job(source_uri="https://example.org/").file_name == "example.org"
    with pytest.raises(InvalidTransition):
        job.original
    upload = DocumentUpload(file_name="Rgveda vol 1.pdf", file_format=FileFormat.PDF, file_size=10, content_type="application/pdf",
                            sha256="a" * 64, original_key=f"originals/{job.job_id}/original.pdf")
    job.receive(upload)
    assert job.original is upload
    with pytest.raises(InvalidTransition):
        job.receive(upload)
    with pytest.raises(ValueError):
        Job()  # neither an upload nor a source


def test_a_failed_remote_job_cannot_receive_its_original():
    from pagesage.domain.jobs import DocumentUpload, FileFormat

    job = Job(source_uri="s3://scans/a.pdf")
    job.fail(JobErrorCode.NOT_FOUND, "s3://scans/a.pdf does not exist")
    with pytest.raises(InvalidTransition):
        job.receive(DocumentUpload(file_name="a.pdf", file_format=FileFormat.PDF, file_size=1, content_type="application/pdf",
                                   sha256="a" * 64, original_key="originals/x/original.pdf"))
