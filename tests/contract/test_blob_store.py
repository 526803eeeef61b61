"""The `BlobStore` contract, run on `LocalBlobStore` and on `GcsBlobStore` against the real Cloud
Storage emulator (a fresh bucket per test).

Sections: the shared contract (fixture `blobs`, params `local` and `gcs`), then tests that only
make sense for one backend (fixtures `local_blobs`, `gcs_blobs`): the folder layout of the local
store; the `local_path` cache, prefixes and error mapping of the Cloud Storage store.
"""

from __future__ import annotations

import hashlib
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from google.api_core.retry import Retry
from google.cloud import storage
from google.cloud.storage.retry import DEFAULT_RETRY

from pagesage import emulators
from pagesage.adapters.gcs_blobs import GcsBlobStore, storage_client
from pagesage.adapters.local_blobs import LocalBlobStore
from pagesage.errors import InputError, NotFound, TransientError

BUCKET = "pagesage-test"
MIB = 1 << 20


@pytest.fixture(params=["local", "gcs"])
def blobs(request, tmp_path: Path):
    """Each backend in turn, empty."""
    if request.param == "local":
        return LocalBlobStore(tmp_path / "blobs")
    return request.getfixturevalue("gcs_blobs")


@pytest.fixture
def local_blobs(tmp_path: Path) -> LocalBlobStore:
    return LocalBlobStore(tmp_path / "blobs")


@pytest.fixture
def bucket_client(storage_host: str) -> storage.Client:
    """A client of the emulator, wiped, with an empty bucket `BUCKET`."""
    emulators.reset_storage(storage_host)
    client = storage_client(emulators.PROJECT)
    client.create_bucket(BUCKET)
    return client


@pytest.fixture
def gcs_blobs(bucket_client: storage.Client, tmp_path: Path):
    store = GcsBlobStore(bucket_client, BUCKET, cache_dir=tmp_path / "cache")
    yield store
    store.close()


def read_in_pieces(blobs, key: str, piece: int = 256 * 1024) -> bytes:
    """The object's bytes read through `open` a piece at a time, as a streaming reader would."""
    chunks = []
    with blobs.open(key) as stream:
        while chunk := stream.read(piece):
            chunks.append(chunk)
    return b"".join(chunks)


# -- the contract, on both backends -------------------------------------------------------

def test_put_bytes_round_trip(blobs):
    data = bytes(range(256)) * 10
    blobs.put_bytes("pages/job1/p0001.png", data, "image/png")
    assert blobs.exists("pages/job1/p0001.png")
    with blobs.open("pages/job1/p0001.png") as stream:
        assert stream.read() == data
    with blobs.local_path("pages/job1/p0001.png") as path:
        assert isinstance(path, Path)
        assert path.read_bytes() == data
    assert blobs.content_type("pages/job1/p0001.png") == "image/png"


def test_big_file_streams_both_ways(blobs, tmp_path):
    src = tmp_path / "upload.pdf"
    data = b"%PDF-1.7\n" + os.urandom(3 * MIB + 12345)  # several read and copy chunks
    src.write_bytes(data)
    blobs.put_file("originals/job1/upload.pdf", src, "application/pdf")
    assert src.read_bytes() == data  # the source is left alone
    assert read_in_pieces(blobs, "originals/job1/upload.pdf") == data
    with blobs.local_path("originals/job1/upload.pdf") as path:
        assert path.stat().st_size == len(data)
        assert hashlib.sha256(path.read_bytes()).digest() == hashlib.sha256(data).digest()
    assert blobs.content_type("originals/job1/upload.pdf") == "application/pdf"


def test_file_over_eight_mib_round_trip(blobs, tmp_path):
    # over 8 MiB Cloud Storage uploads go resumable, in chunks
    src = tmp_path / "scan.tiff"
    data = os.urandom(8 * MIB + 4321)
    src.write_bytes(data)
    blobs.put_file("originals/job2/original.tiff", src, "image/tiff")
    with blobs.open("originals/job2/original.tiff") as stream:
        head = stream.read(1000)
        rest = stream.read()
    assert head + rest == data
    assert blobs.content_type("originals/job2/original.tiff") == "image/tiff"


def test_empty_object(blobs):
    blobs.put_bytes("results/j/empty.txt", b"", "text/plain; charset=utf-8")
    assert blobs.exists("results/j/empty.txt")
    with blobs.open("results/j/empty.txt") as stream:
        assert stream.read() == b""
    with blobs.local_path("results/j/empty.txt") as path:
        assert path.read_bytes() == b""


@pytest.mark.parametrize("content_type", [
    "text/html; charset=utf-8",  # hOCR
    "application/json",
    "text/plain; charset=utf-8",
    "text/markdown; charset=utf-8",
    "application/pdf",
])
def test_results_keep_their_content_type(blobs, content_type):
    blobs.put_bytes("results/job1/document", "मूल पाठ".encode(), content_type)
    assert blobs.content_type("results/job1/document") == content_type


def test_put_file_keeps_a_parameterized_content_type(blobs, tmp_path):
    src = tmp_path / "document.hocr"
    src.write_text("<html><body>x</body></html>", encoding="utf-8")
    blobs.put_file("results/job1/document.hocr", src, "text/html; charset=utf-8")
    assert blobs.content_type("results/job1/document.hocr") == "text/html; charset=utf-8"


def test_overwrite_replaces_bytes_and_content_type(blobs):
    blobs.put_bytes("results/j/doc", b"first version", "text/plain")
    blobs.put_bytes("results/j/doc", b"2", "application/json")
    with blobs.open("results/j/doc") as stream:
        assert stream.read() == b"2"
    with blobs.local_path("results/j/doc") as path:
        assert path.read_bytes() == b"2"
    assert blobs.content_type("results/j/doc") == "application/json"


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
    with pytest.raises(NotFound):
        blobs.copy("nothing/here", "somewhere/else")
    assert not blobs.exists("somewhere/else")


def test_a_folder_is_not_an_object(blobs):
    blobs.put_bytes("dir/file", b"x", "text/plain")
    assert not blobs.exists("dir")
    with pytest.raises(NotFound):
        with blobs.local_path("dir"):
            pass
    with pytest.raises(NotFound):
        blobs.content_type("dir")


def test_copy_keeps_bytes_and_content_type(blobs):
    data = os.urandom(3 * MIB + 7)
    blobs.put_bytes("incoming/x.pdf", data, "application/pdf")
    blobs.copy("incoming/x.pdf", "originals/job1/original.pdf")
    assert read_in_pieces(blobs, "originals/job1/original.pdf") == data
    assert blobs.content_type("originals/job1/original.pdf") == "application/pdf"
    assert read_in_pieces(blobs, "incoming/x.pdf") == data  # the source stays


def test_copy_replaces_the_destination(blobs):
    blobs.put_bytes("incoming/x.png", b"new", "image/png")
    blobs.put_bytes("originals/job1/original.png", b"old bytes", "application/octet-stream")
    blobs.copy("incoming/x.png", "originals/job1/original.png")
    with blobs.open("originals/job1/original.png") as stream:
        assert stream.read() == b"new"
    assert blobs.content_type("originals/job1/original.png") == "image/png"


def test_copy_onto_itself_keeps_the_object(blobs):
    blobs.put_bytes("incoming/x.png", b"same", "image/png")
    blobs.copy("incoming/x.png", "incoming/x.png")
    with blobs.open("incoming/x.png") as stream:
        assert stream.read() == b"same"
    assert blobs.content_type("incoming/x.png") == "image/png"


UNICODE_KEYS = [
    "originals/जॉब 1/मूल पाठ.pdf",
    "results/a b/doc (1) ä€.json",
    "pages/job 2/page #1 + 100%.png",
]


def test_unicode_and_spaces_in_keys(blobs):
    for n, key in enumerate(UNICODE_KEYS):
        blobs.put_bytes(key, f"object {n}".encode(), "application/octet-stream")
    for n, key in enumerate(UNICODE_KEYS):
        assert blobs.exists(key)
        with blobs.open(key) as stream:
            assert stream.read() == f"object {n}".encode()
        with blobs.local_path(key) as path:
            assert path.read_bytes() == f"object {n}".encode()
        assert blobs.content_type(key) == "application/octet-stream"
    blobs.copy(UNICODE_KEYS[0], "originals/जॉब 1/प्रति.pdf")
    assert blobs.delete_prefix("originals/जॉब 1/") == 2
    assert not blobs.exists(UNICODE_KEYS[0])
    assert blobs.exists(UNICODE_KEYS[1]) and blobs.exists(UNICODE_KEYS[2])


BAD_KEYS = [
    "",
    ".",
    "..",
    "../outside",
    "a/../../outside",
    "a/b/..",
    "/etc/passwd",
    "//etc/passwd",
    "pages/x.content-type",
]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_bad_keys_are_refused(blobs, key, tmp_path):
    src = tmp_path / "src.bin"
    src.write_bytes(b"evil")
    blobs.put_bytes("good/key", b"fine", "text/plain")
    with pytest.raises(InputError):
        blobs.put_bytes(key, b"evil", "text/plain")
    with pytest.raises(InputError):
        blobs.put_file(key, src, "text/plain")
    with pytest.raises(InputError):
        with blobs.open(key):
            pass
    with pytest.raises(InputError):
        with blobs.local_path(key):
            pass
    with pytest.raises(InputError):
        blobs.exists(key)
    with pytest.raises(InputError):
        blobs.content_type(key)
    with pytest.raises(InputError):
        blobs.copy("good/key", key)
    with pytest.raises(InputError):
        blobs.copy(key, "good/copy")
    assert not blobs.exists("good/copy")
    assert not (tmp_path / "outside").exists()


@pytest.mark.parametrize("prefix", ["../outside/", "a/../../outside/", "a/b/../"])
def test_bad_prefixes_are_refused(blobs, prefix):
    blobs.put_bytes("a/b/c", b"x", "text/plain")
    with pytest.raises(InputError):
        blobs.delete_prefix(prefix)
    assert blobs.exists("a/b/c")


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


def test_delete_prefix_without_slash_matches_name_starts(blobs):
    for key in ("originals/job1/a", "originals/job10/b", "originals/job2/c"):
        blobs.put_bytes(key, b"x", "text/plain")
    assert blobs.delete_prefix("originals/job1") == 2
    assert blobs.exists("originals/job2/c")


def test_delete_prefix_of_more_objects_than_one_batch(blobs):
    count = 205  # Cloud Storage batches carry at most 100 calls
    for n in range(count):
        blobs.put_bytes(f"pages/job1/p{n:05d}.png", b"p", "image/png")
    blobs.put_bytes("pages/job2/p00001.png", b"q", "image/png")
    assert blobs.delete_prefix("pages/job1/") == count
    assert not blobs.exists("pages/job1/p00000.png")
    assert not blobs.exists(f"pages/job1/p{count - 1:05d}.png")
    assert blobs.exists("pages/job2/p00001.png")


def test_local_path_from_many_threads(blobs):
    data = os.urandom(2 * MIB)
    blobs.put_bytes("originals/job1/original.pdf", data, "application/pdf")
    barrier = threading.Barrier(6)

    def read() -> bytes:
        barrier.wait()
        with blobs.local_path("originals/job1/original.pdf") as path:
            time.sleep(0.05)  # hold the path while the others ask
            return path.read_bytes()

    with ThreadPoolExecutor(6) as pool:
        results = list(pool.map(lambda _: read(), range(6)))
    assert all(result == data for result in results)


# -- LocalBlobStore only: its folder layout -----------------------------------------------

def test_local_path_is_inside_the_root(local_blobs):
    local_blobs.put_bytes("pages/job1/p0001.png", b"png", "image/png")
    with local_blobs.local_path("pages/job1/p0001.png") as path:
        assert path.is_relative_to(local_blobs.root)


def test_local_no_temporary_files_left_behind(local_blobs):
    local_blobs.put_bytes("a/b/c.bin", b"xyz", "application/octet-stream")
    local_blobs.copy("a/b/c.bin", "a/b/d.bin")
    names = sorted(p.name for p in (local_blobs.root / "a" / "b").iterdir())
    assert names == ["c.bin", "c.bin.content-type", "d.bin", "d.bin.content-type"]


# -- GcsBlobStore only: the local_path cache ----------------------------------------------

@pytest.fixture
def gcs_factory(bucket_client: storage.Client, tmp_path: Path):
    """Makes more `GcsBlobStore`s on the same bucket; closes them after the test."""
    made: list[GcsBlobStore] = []

    def make(**kwargs) -> GcsBlobStore:
        kwargs.setdefault("cache_dir", tmp_path / "cache")
        store = GcsBlobStore(bucket_client, BUCKET, **kwargs)
        made.append(store)
        return store

    yield make
    for store in made:
        store.close()


def files_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file())


def test_gcs_local_path_downloads_once_per_generation(gcs_factory, tmp_path):
    store = gcs_factory()
    data = os.urandom(MIB)
    store.put_bytes("originals/job1/original.pdf", data, "application/pdf")
    with store.local_path("originals/job1/original.pdf") as first:
        assert first.read_bytes() == data
    with store.local_path("originals/job1/original.pdf") as second:
        assert second == first and second.read_bytes() == data
    stats = store.cache_stats()
    assert (stats.downloads, stats.hits, stats.entries, stats.bytes) == (1, 1, 1, len(data))
    assert len(files_in(tmp_path / "cache")) == 1
    assert first.suffix == ".pdf"


def test_gcs_rewritten_object_is_downloaded_again(gcs_factory, tmp_path):
    store = gcs_factory()
    store.put_bytes("originals/job1/original.pdf", b"first", "application/pdf")
    with store.local_path("originals/job1/original.pdf") as path:
        assert path.read_bytes() == b"first"
    store.put_bytes("originals/job1/original.pdf", b"second version", "application/pdf")
    with store.local_path("originals/job1/original.pdf") as path:
        assert path.read_bytes() == b"second version"
    stats = store.cache_stats()
    assert (stats.downloads, stats.hits) == (2, 0)
    assert (stats.entries, stats.bytes) == (1, len(b"second version"))  # the old generation is dropped
    assert len(files_in(tmp_path / "cache")) == 1


def test_gcs_threads_share_one_download(gcs_factory):
    store = gcs_factory()
    data = os.urandom(4 * MIB)
    store.put_bytes("originals/job1/original.pdf", data, "application/pdf")
    barrier = threading.Barrier(8)

    def read() -> bytes:
        barrier.wait()
        with store.local_path("originals/job1/original.pdf") as path:
            return path.read_bytes()

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(lambda _: read(), range(8)))
    assert all(result == data for result in results)
    stats = store.cache_stats()
    assert (stats.downloads, stats.hits) == (1, 7)


def put_pages(store: GcsBlobStore, names: str, size: int) -> dict[str, bytes]:
    pages = {name: os.urandom(size) for name in names}
    for name, data in pages.items():
        store.put_bytes(f"pages/{name}", data, "image/png")
    return pages


def test_gcs_cache_evicts_least_recently_used(gcs_factory):
    store = gcs_factory(cache_bytes=250 * 1024)
    pages = put_pages(store, "abc", 100 * 1024)
    for name in "abac":  # a is used again before c arrives: b is the least recently used
        with store.local_path(f"pages/{name}") as path:
            assert path.read_bytes() == pages[name]
    stats = store.cache_stats()
    assert (stats.downloads, stats.hits, stats.entries, stats.bytes) == (3, 1, 2, 200 * 1024)
    with store.local_path("pages/a"), store.local_path("pages/c"):
        pass
    assert store.cache_stats().hits == 3
    with store.local_path("pages/b") as path:
        assert path.read_bytes() == pages["b"]
    assert store.cache_stats().downloads == 4


def test_gcs_pinned_path_survives_eviction(gcs_factory):
    store = gcs_factory(cache_bytes=150 * 1024)
    pages = put_pages(store, "abc", 100 * 1024)
    with store.local_path("pages/a") as path_a:
        with store.local_path("pages/b") as path_b:  # over budget, but both are in use
            assert path_a.read_bytes() == pages["a"] and path_b.read_bytes() == pages["b"]
        assert not path_b.exists()  # released while over budget: evicted, although newer than a
        with store.local_path("pages/c") as path_c:
            assert path_c.read_bytes() == pages["c"]
        assert path_a.read_bytes() == pages["a"]
    stats = store.cache_stats()
    assert (stats.entries, stats.bytes) == (1, 100 * 1024)
    with store.local_path("pages/a") as again:
        assert again == path_a and again.read_bytes() == pages["a"]
    assert store.cache_stats().downloads == 3


def test_gcs_objects_over_the_budget_are_not_cached(gcs_factory, tmp_path):
    store = gcs_factory(cache_bytes=64 * 1024)
    data = os.urandom(100 * 1024)
    store.put_bytes("originals/big.tiff", data, "image/tiff")
    for _ in range(2):
        with store.local_path("originals/big.tiff") as path:
            assert path.read_bytes() == data
        assert not path.exists()
    stats = store.cache_stats()
    assert (stats.downloads, stats.hits, stats.entries) == (2, 0, 0)
    assert files_in(tmp_path / "cache") == []


def test_gcs_close_removes_the_cache_folder(gcs_factory, tmp_path):
    store = gcs_factory()
    store.put_bytes("a/b", b"x", "text/plain")
    with store.local_path("a/b"):
        pass
    assert files_in(tmp_path / "cache")
    store.close()
    assert list((tmp_path / "cache").iterdir()) == []


# -- GcsBlobStore only: bucket layout, client, errors --------------------------------------

def test_gcs_objects_carry_prefix_and_content_type(gcs_factory, bucket_client):
    tenant = gcs_factory(prefix="tenant1")
    other = gcs_factory(prefix="tenant2/")
    tenant.put_bytes("results/job1/document.hocr", b"<html/>", "text/html; charset=utf-8")
    other.put_bytes("results/job1/document.hocr", b"{}", "application/json")
    raw = bucket_client.bucket(BUCKET).get_blob("tenant1/results/job1/document.hocr")
    assert raw.content_type == "text/html; charset=utf-8"
    assert raw.download_as_bytes() == b"<html/>"
    assert tenant.delete_prefix("") == 1
    assert not tenant.exists("results/job1/document.hocr")
    assert other.exists("results/job1/document.hocr")


def test_gcs_keys_are_normalized_like_paths(gcs_blobs):
    gcs_blobs.put_bytes("a//b/./c", b"x", "text/plain")
    assert gcs_blobs.exists("a/b/c")


@pytest.mark.parametrize("key", ["a/b\nc", "a/b\rc", "a/\0b", "k/" + "x" * 1100])
def test_gcs_refuses_names_cloud_storage_cannot_hold(gcs_blobs, key):
    with pytest.raises(InputError):
        gcs_blobs.put_bytes(key, b"x", "text/plain")


def test_gcs_storage_client_uses_the_emulator(storage_host):
    client = storage_client(emulators.PROJECT)
    assert client.project == emulators.PROJECT
    assert client.api_endpoint == storage_host


def test_gcs_unreachable_storage_is_transient(tmp_path, storage_host):
    client = storage.Client(project=emulators.PROJECT, client_options={"api_endpoint": f"http://127.0.0.1:{emulators.free_port()}"})
    quick: Retry = DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.05).with_timeout(0.3)
    store = GcsBlobStore(client, BUCKET, cache_dir=tmp_path / "cache", retry=quick)
    try:
        with pytest.raises(TransientError):
            store.exists("a/b")
        with pytest.raises(TransientError):
            store.put_bytes("a/b", b"x", "text/plain")
        with pytest.raises(TransientError):
            with store.local_path("a/b"):
                pass
        with pytest.raises(TransientError):
            store.delete_prefix("a/")
    finally:
        store.close()
