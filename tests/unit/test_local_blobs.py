"""LocalBlobStore: a folder standing in for a bucket."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pagesage.adapters.local_blobs import LocalBlobStore
from pagesage.errors import InputError, NotFound


@pytest.fixture
def blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


def test_put_bytes_round_trip(blobs):
    data = bytes(range(256)) * 10
    blobs.put_bytes("pages/job1/p0001.png", data, "image/png")
    assert blobs.exists("pages/job1/p0001.png")
    with blobs.open("pages/job1/p0001.png") as stream:
        assert stream.read() == data
    with blobs.local_path("pages/job1/p0001.png") as path:
        assert isinstance(path, Path)
        assert path.read_bytes() == data
        assert path.is_relative_to(blobs.root)
    assert blobs.content_type("pages/job1/p0001.png") == "image/png"


def test_put_file_round_trip(blobs, tmp_path):
    src = tmp_path / "upload.pdf"
    data = b"%PDF-1.7\n" + os.urandom(3 << 20)  # larger than one copy chunk
    src.write_bytes(data)
    blobs.put_file("originals/job1/upload.pdf", src, "application/pdf")
    assert src.read_bytes() == data  # the source is left alone
    with blobs.open("originals/job1/upload.pdf") as stream:
        assert stream.read() == data
    assert blobs.content_type("originals/job1/upload.pdf") == "application/pdf"


def test_overwrite_replaces_bytes_and_content_type(blobs):
    blobs.put_bytes("results/j/doc", b"first version", "text/plain")
    blobs.put_bytes("results/j/doc", b"2", "application/json")
    with blobs.open("results/j/doc") as stream:
        assert stream.read() == b"2"
    assert blobs.content_type("results/j/doc") == "application/json"


def test_no_temporary_files_left_behind(blobs):
    blobs.put_bytes("a/b/c.bin", b"xyz", "application/octet-stream")
    names = sorted(p.name for p in (blobs.root / "a" / "b").iterdir())
    assert names == ["c.bin", "c.bin.content-type"]


def test_failed_write_leaves_no_object(blobs, tmp_path):
    with pytest.raises(FileNotFoundError):
        blobs.put_file("a/missing.bin", tmp_path / "does-not-exist", "application/octet-stream")
    assert not blobs.exists("a/missing.bin")


def test_missing_keys_are_not_found(blobs):
    assert not blobs.exists("nothing/here")
    with pytest.raises(NotFound):
        with blobs.open("nothing/here"):
            pass
    with pytest.raises(NotFound):
        with blobs.local_path("nothing/here"):
            pass
    with pytest.raises(NotFound):
        blobs.content_type("nothing/here")


def test_a_folder_is_not_an_object(blobs):
    blobs.put_bytes("dir/file", b"x", "text/plain")
    assert not blobs.exists("dir")
    with pytest.raises(NotFound):
        with blobs.local_path("dir"):
            pass


@pytest.mark.parametrize(
    "key",
    [
        "",
        ".",
        "..",
        "../outside",
        "a/../../outside",
        "a/b/..",
        "/etc/passwd",
        "//etc/passwd",
        "pages/x.content-type",
    ],
)
def test_bad_keys_are_refused(blobs, key, tmp_path):
    with pytest.raises(InputError):
        blobs.put_bytes(key, b"evil", "text/plain")
    with pytest.raises(InputError):
        with blobs.open(key):
            pass
    with pytest.raises(InputError):
        blobs.exists(key)
    with pytest.raises(InputError):
        blobs.content_type(key)
    assert not (tmp_path / "outside").exists()


def test_delete_prefix_removes_only_matching_objects(blobs):
    keys = {
        "originals/job1/a.pdf": b"1",
        "originals/job1/sub/b.png": b"2",
        "originals/job10/c.pdf": b"3",
        "pages/job1/p0001.png": b"4",
        "results/job1/doc.hocr": b"5",
    }
    for key, data in keys.items():
        blobs.put_bytes(key, data, "application/octet-stream")

    assert blobs.delete_prefix("originals/job1/") == 2
    assert not blobs.exists("originals/job1/a.pdf")
    assert not blobs.exists("originals/job1/sub/b.png")
    with pytest.raises(NotFound):
        blobs.content_type("originals/job1/a.pdf")
    for key in ("originals/job10/c.pdf", "pages/job1/p0001.png", "results/job1/doc.hocr"):
        assert blobs.exists(key)
        assert blobs.content_type(key) == "application/octet-stream"

    assert blobs.delete_prefix("originals/job1/") == 0
    assert blobs.delete_prefix("nothing/") == 0
    assert blobs.delete_prefix("pages/") == 1
    assert not blobs.exists("pages/job1/p0001.png")
    assert blobs.exists("results/job1/doc.hocr")
