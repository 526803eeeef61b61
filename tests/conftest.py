"""Shared fixtures: the corpus beside the checkout, wired services, the HTTP stack."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from werkzeug.test import Client

from pagesage import bootstrap
from pagesage.config import Settings
from pagesage.server import create_stack

from pagesage import emulators

REPO = Path(__file__).resolve().parents[1]
CORPUS = REPO.parent / "shared" / "corpus"
SAMPLES = REPO / "samples"


@pytest.fixture(scope="session")
def corpus() -> Path:
    """`../shared/corpus`; tests that need it are skipped where it is absent."""
    if not (CORPUS / "MANIFEST.tsv").is_file():
        pytest.skip("../shared/corpus is not beside the checkout")
    return CORPUS


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Embedded-backend settings in a fresh data folder, 2 workers, no rate limit (its own
    tests set one): status polling in tests would otherwise count against it."""
    return Settings(data_dir=tmp_path / "data", workers=2, rate_limit=0)


@pytest.fixture
def services(settings: Settings):
    """Services wired from `settings` and installed for this process's functions."""
    built = bootstrap.build(settings)
    bootstrap.use(built)
    yield built
    bootstrap.use(None)
    built.queue.close()


@pytest.fixture(scope="session")
def stack():
    """The WSGI app mounting every function at its name, as `pagesage serve` does."""
    return create_stack()


@pytest.fixture
def http(stack, services) -> Client:
    """A test client of the stack, talking to `services`."""
    return Client(stack)


def upload(http: Client, path: Path, *, lang: str | None = None, content_type: str | None = None, name: str | None = None):
    """POST a file to /upload as multipart/form-data; returns the response."""
    data = {"file": (path.open("rb"), name or path.name, content_type or _guess(path))}
    if lang is not None:
        data["lang"] = lang
    return http.post("/upload", data=data)


def wait_finished(http, job_id: str, timeout: float = 300.0) -> dict:
    """Poll /status until the job completed or failed; returns the last status body.

    `http` is a werkzeug test `Client` of the stack, or an `httpx.Client` with a `base_url`
    (a live server)."""
    deadline = time.monotonic() + timeout
    while True:
        response = http.get(f"/status/{job_id}")
        body = response.get_json() if hasattr(response, "get_json") else response.json()
        if body["status"] in ("completed", "failed"):
            return body
        if time.monotonic() > deadline:
            raise AssertionError(f"job {job_id} still {body['status']} after {timeout} s")
        time.sleep(0.2)


def wait_for(predicate, timeout: float, what: str, interval: float = 0.2):
    """Call `predicate()` every `interval` seconds until it returns something true, and return
    that; `AssertionError` "<what> after <timeout> s" once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} after {timeout:g} s")
        time.sleep(interval)
    return value


def hocr_spec_errors(path: Path) -> list[str]:
    """`[ERROR]` lines of `hocr-spec --profile standard` on a file."""
    tool = Path(sys.executable).with_name("hocr-spec")
    out = subprocess.run([str(tool), "--profile", "standard", str(path)], capture_output=True, text=True, check=False)
    return [line for line in (out.stdout + out.stderr).splitlines() if "[ERROR]" in line]


def normalized_name(name: str) -> str:
    """A distribution name as PEP 503 normalizes it (`Typing_Extensions` -> `typing-extensions`)."""
    return re.sub(r"[-_.]+", "-", name).lower()


def locked_pins(requirements: str) -> dict[str, str]:
    """normalized name -> version of a requirements file exported from uv.lock, for this
    interpreter and platform (requirements whose PEP 508 marker is false here are left out),
    asserting that every requirement is pinned with `==` and carries a `--hash=sha256:`."""
    from packaging.markers import Marker

    pins: dict[str, str] = {}
    for block in re.split(r"\n(?=\S)", requirements.strip()):
        if block.startswith("#"):
            continue
        line = block.split("\\")[0]
        spec, _, marker = line.partition(";")
        name, sep, version = spec.strip().partition("==")
        assert sep and "--hash=sha256:" in block, block
        if not marker.strip() or Marker(marker.strip()).evaluate():
            pins[normalized_name(name)] = version
    return pins


def _guess(path: Path) -> str:
    return {".png": "image/png", ".jpg": "image/jpeg", ".tif": "image/tiff", ".tiff": "image/tiff", ".pdf": "application/pdf"}.get(
        path.suffix.lower(), "application/octet-stream")


# -- the Google Cloud emulators (started once per session, reset per test) -------------------

@pytest.fixture()
def moto_s3(monkeypatch):
    """A boto3 S3 client on moto's S3 (in this process), with test credentials in the
    environment so that boto3's default chain, as PageSage uses it, finds them too."""
    import boto3
    from moto import mock_aws

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": "us-east-1"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        yield boto3.client("s3", region_name="us-east-1")


@pytest.fixture(scope="session")
def firestore_host() -> str:
    """`host:port` of a running Firestore emulator; `FIRESTORE_EMULATOR_HOST` points at it."""
    yield from _run_emulator(emulators.firestore(), "FIRESTORE_EMULATOR_HOST", lambda e: f"127.0.0.1:{e.port}")


@pytest.fixture(scope="session")
def storage_host() -> str:
    """`http://host:port` of a running Cloud Storage emulator; `STORAGE_EMULATOR_HOST` points at it."""
    yield from _run_emulator(emulators.storage(), "STORAGE_EMULATOR_HOST", lambda e: f"http://127.0.0.1:{e.port}")


@pytest.fixture(scope="session")
def tasks_host() -> str:
    """`host:port` of a running Cloud Tasks emulator; `CLOUD_TASKS_EMULATOR_HOST` points at it."""
    yield from _run_emulator(emulators.tasks(), "CLOUD_TASKS_EMULATOR_HOST", lambda e: f"127.0.0.1:{e.port}")


def _run_emulator(emulator: emulators.Emulator, variable: str, address):
    emulator.start()
    saved = {k: os.environ.get(k) for k in (variable, "GOOGLE_CLOUD_PROJECT")}
    os.environ[variable] = address(emulator)
    os.environ["GOOGLE_CLOUD_PROJECT"] = emulators.PROJECT
    try:
        yield os.environ[variable]
    finally:
        emulator.stop()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# -- the store contract suites' backends ---------------------------------------------------

@pytest.fixture(scope="session")
def firestore_db(firestore_host):
    """A Firestore client of the emulator, shared by the session."""
    from pagesage.adapters.firestore_store import firestore_client

    return firestore_client(emulators.PROJECT)


@pytest.fixture(params=["sqlite", "firestore"])
def store(request, tmp_path: Path):
    """Each backend's store, empty: SqliteStore on a new database file, FirestoreStore on the
    session's Firestore emulator after a reset."""
    from pagesage.adapters.firestore_store import FirestoreStore
    from pagesage.adapters.sqlite_store import SqliteStore

    if request.param == "sqlite":
        yield SqliteStore(tmp_path / "db.sqlite")
        return
    emulators.reset_firestore(request.getfixturevalue("firestore_host"))
    yield FirestoreStore(request.getfixturevalue("firestore_db"))
