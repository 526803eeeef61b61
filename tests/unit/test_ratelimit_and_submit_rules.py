"""Rate limiting on a real SqliteStore, and the upload rules: file names and declared types."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from pagesage.adapters.sqlite_store import SqliteStore
from pagesage.domain.jobs import FileFormat
from pagesage.errors import ContentTypeMismatch, RateLimited
from pagesage.services.ratelimit import check_rate_limit
from pagesage.services.submit import check_declared_type, sanitize_filename


@pytest.fixture
def store(tmp_path: Path) -> SqliteStore:
    return SqliteStore(tmp_path / "db.sqlite")


@pytest.fixture
def minute() -> datetime:
    """The start of a fixed minute: windows are counted on the `now` passed, not the wall clock."""
    return datetime(2026, 1, 15, 12, 0, tzinfo=timezone.utc)


def counter_rows(store: SqliteStore) -> int:
    with sqlite3.connect(store.path) as db:
        return db.execute("SELECT COUNT(*) FROM counters").fetchone()[0]


# -- check_rate_limit -------------------------------------------------------------------------

def test_hundred_requests_pass_and_the_next_is_refused(store, minute):
    counts = [
        check_rate_limit("203.0.113.7", limit=100, store=store, now=minute + timedelta(seconds=i * 0.5))
        for i in range(100)
    ]
    assert counts == list(range(1, 101))
    late = minute + timedelta(seconds=52, milliseconds=300)
    with pytest.raises(RateLimited) as info:
        check_rate_limit("203.0.113.7", limit=100, store=store, now=late)
    assert info.value.retry_after == 8  # ceil(7.7 s) to the minute boundary
    assert info.value.http_status == 429
    assert info.value.error_code == "rate_limited"
    # still refused later in the same window
    with pytest.raises(RateLimited):
        check_rate_limit("203.0.113.7", limit=100, store=store, now=minute + timedelta(seconds=59))


@pytest.mark.parametrize(
    "offset, expected",
    [(0.0, 60), (0.001, 60), (30.0, 30), (59.0, 1), (59.5, 1), (59.999, 1)],
)
def test_retry_after_is_whole_seconds_to_the_next_minute(store, minute, offset, expected):
    now = minute + timedelta(seconds=offset)
    assert check_rate_limit("198.51.100.1", limit=1, store=store, now=now) == 1
    with pytest.raises(RateLimited) as info:
        check_rate_limit("198.51.100.1", limit=1, store=store, now=now)
    assert info.value.retry_after == expected
    assert info.value.retry_after >= 1


def test_next_minute_is_a_new_window(store, minute):
    for i in range(3):
        check_rate_limit("192.0.2.1", limit=3, store=store, now=minute + timedelta(seconds=10 + i))
    with pytest.raises(RateLimited):
        check_rate_limit("192.0.2.1", limit=3, store=store, now=minute + timedelta(seconds=59, microseconds=999_999))
    assert check_rate_limit("192.0.2.1", limit=3, store=store, now=minute + timedelta(seconds=60)) == 1


def test_different_ips_have_separate_counters(store, minute):
    now = minute + timedelta(seconds=5)
    for _ in range(2):
        check_rate_limit("10.0.0.1", limit=2, store=store, now=now)
    with pytest.raises(RateLimited):
        check_rate_limit("10.0.0.1", limit=2, store=store, now=now)
    assert check_rate_limit("10.0.0.2", limit=2, store=store, now=now) == 1
    assert check_rate_limit("2001:db8::1", limit=2, store=store, now=now) == 1
    assert check_rate_limit("10.0.0.2", limit=2, store=store, now=now) == 2


@pytest.mark.parametrize("limit", [0, -1])
def test_limit_zero_never_raises_and_never_writes(store, minute, limit):
    for i in range(250):
        assert check_rate_limit("10.9.9.9", limit=limit, store=store, now=minute + timedelta(seconds=i % 60)) == 0
    assert counter_rows(store) == 0


def test_disabled_limit_does_not_touch_the_store(minute):
    class Untouchable:
        def increment_counter(self, key, expire_at, now):  # pragma: no cover - must not be called
            raise AssertionError("store used")

    assert check_rate_limit("10.0.0.1", limit=0, store=Untouchable(), now=minute) == 0


def test_limit_is_enforced_for_a_fixed_past_now(store):
    now = datetime(2025, 1, 15, 12, 0, 5, tzinfo=timezone.utc)
    counts = [check_rate_limit("203.0.113.9", limit=100, store=store, now=now) for _ in range(100)]
    assert counts[-1] == 100
    with pytest.raises(RateLimited):
        check_rate_limit("203.0.113.9", limit=100, store=store, now=now)


# -- sanitize_filename ------------------------------------------------------------------------

@pytest.mark.parametrize(
    "name, expected",
    [
        ("../../etc/passwd", "passwd"),
        ("/etc/passwd", "passwd"),
        ("C:\\Users\\x\\scan.pdf", "scan.pdf"),
        ("..\\..\\windows\\system32\\evil.tif", "evil.tif"),
        ("mixed/dirs\\name.png", "name.png"),
        ("scan.pdf", "scan.pdf"),
        ("my scan (1).pdf", "my scan (1).pdf"),
        ("संस्कृतम्.png", "संस्कृतम्.png"),
        ("a\x00b\x1fc\x7f.pdf", "a_b_c_.pdf"),
        ("line\nbreak\r.pdf", "line_break_.pdf"),
        ('a<b>c:d"e|f?g*h.pdf', "a_b_c_d_e_f_g_h.pdf"),
        ("  .hidden.pdf. ", "hidden.pdf"),
        ("", "upload"),
        (None, "upload"),
        ("..", "upload"),
        ("../", "upload"),
        ("...", "upload"),
        ("   ", "upload"),
    ],
)
def test_sanitize_filename(name, expected):
    assert sanitize_filename(name) == expected


def test_sanitize_filename_applies_nfc():
    assert sanitize_filename("cafe\u0301.png") == "café.png"


def test_sanitize_filename_cuts_to_255_characters():
    long = "a" * 296 + ".pdf"
    assert len(long) == 300
    out = sanitize_filename(long)
    assert len(out) == 255
    assert out == "a" * 255
    assert sanitize_filename("b" * 255) == "b" * 255


# -- check_declared_type -----------------------------------------------------------------------

@pytest.mark.parametrize(
    "declared, detected",
    [
        ("application/pdf", FileFormat.PDF),
        ("image/png", FileFormat.PNG),
        ("image/jpeg", FileFormat.JPEG),
        ("image/tiff", FileFormat.TIFF),
        ("IMAGE/PNG", FileFormat.PNG),
        ("image/png; charset=binary", FileFormat.PNG),
        ("image/jpg", FileFormat.JPEG),
        ("image/pjpeg", FileFormat.JPEG),
        ("image/tif", FileFormat.TIFF),
        ("image/x-tiff", FileFormat.TIFF),
        ("image/x-png", FileFormat.PNG),
        ("application/x-pdf", FileFormat.PDF),
        ("application/octet-stream", FileFormat.PDF),
        ("binary/octet-stream", FileFormat.TIFF),
        (None, FileFormat.PNG),
        ("", FileFormat.JPEG),
    ],
)
def test_declared_type_passes(declared, detected):
    assert check_declared_type(declared, detected) is None


@pytest.mark.parametrize(
    "declared, detected",
    [
        ("image/png", FileFormat.PDF),
        ("application/pdf", FileFormat.PNG),
        ("image/jpg", FileFormat.PNG),
        ("image/tiff", FileFormat.JPEG),
        ("text/plain", FileFormat.PNG),
        ("image/gif", FileFormat.PNG),
        ("text/html", FileFormat.PDF),
    ],
)
def test_declared_type_contradicting_the_bytes_is_refused(declared, detected):
    with pytest.raises(ContentTypeMismatch) as info:
        check_declared_type(declared, detected)
    assert info.value.http_status == 400
    assert info.value.error_code == "content_type_mismatch"
    assert detected.value in info.value.detail
