"""The real Google Cloud emulators as child processes, for the tests and `pagesage run --emulators`.

* Firestore: `gcloud emulators firestore start` (Google Cloud SDK + Java on the machine).
* Cloud Storage: `gcp-storage-emulator start --in-memory` (PyPI, in `.venv`).
* Cloud Tasks: `gcloud-tasks-emulator start` (PyPI, in `.venv-tasks-emulator`: it needs
  protobuf < 5, which the Google client libraries in `.venv` cannot share).

Each emulator runs in its own session (`setsid`) so that stopping it kills the whole process
group: `gcloud` leaves its Java child running when only `gcloud` is killed.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import httpx

REPO = Path(__file__).resolve().parents[2]  # the package is installed editable from the repository
TASKS_EMULATOR = REPO / ".venv-tasks-emulator" / "bin" / "gcloud-tasks-emulator"
PROJECT = "demo-pagesage"
LOCATION = "us-central1"


def free_port() -> int:
    """An unused TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    """True while something accepts TCP connections on 127.0.0.1:`port`."""
    with socket.socket() as s:
        s.settimeout(0.2)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _http_ok(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=0.5).status_code < 500
        except httpx.HTTPError:
            return False

    return check


class Emulator:
    """One emulator process: `start()` waits until it answers, `stop()` kills its group.

    Args:
        name: for messages.
        argv: the command line.
        port: the port it listens on.
        ready: returns True once it serves requests.
    Raises (from `start`):
        RuntimeError: the command is missing, exited, or was not ready within `timeout` seconds;
            the message carries the tail of its log.
    """

    def __init__(self, name: str, argv: list[str], port: int, ready: Callable[[], bool] | None = None) -> None:
        self.name, self.argv, self.port = name, argv, port
        self.ready = ready or (lambda: port_open(port))
        self.process: subprocess.Popen | None = None
        self.log = Path(tempfile.mkstemp(prefix=f"pagesage-{name}-", suffix=".log")[1])

    def start(self, timeout: float = 90.0) -> "Emulator":
        if shutil.which(self.argv[0]) is None and not Path(self.argv[0]).is_file():
            raise RuntimeError(f"{self.name} emulator: {self.argv[0]} not found (run `make install`)")
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(self.argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True)
        deadline = time.monotonic() + timeout
        while not self.ready():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                tail = self.log.read_text(errors="replace")[-2000:]
                raise RuntimeError(f"{self.name} emulator did not start:\n{tail}")
            time.sleep(0.1)
        return self

    def stop(self) -> None:
        if self.process is None:
            return
        try:
            os.killpg(self.process.pid, signal.SIGTERM)
            self.process.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        self.process = None


def firestore() -> Emulator:
    """The Firestore emulator; connect with `FIRESTORE_EMULATOR_HOST=127.0.0.1:PORT` (no scheme)."""
    port = free_port()
    return Emulator("firestore", ["gcloud", "emulators", "firestore", "start", f"--host-port=127.0.0.1:{port}", "--quiet"],
                    port, _http_ok(f"http://127.0.0.1:{port}/"))


def reset_firestore(host: str, project: str = PROJECT) -> None:
    """Delete every document of the emulator's default database."""
    httpx.delete(f"http://{host}/emulator/v1/projects/{project}/databases/(default)/documents", timeout=30).raise_for_status()


def storage() -> Emulator:
    """The Cloud Storage emulator; connect with `STORAGE_EMULATOR_HOST=http://127.0.0.1:PORT`."""
    port = free_port()
    exe = str(Path(sys.executable).with_name("gcp-storage-emulator"))
    return Emulator("storage", [exe, "start", "--host=127.0.0.1", f"--port={port}", "--in-memory"], port)


def reset_storage(host: str) -> None:
    """Delete every bucket and object of the emulator (`host` with scheme)."""
    httpx.get(f"{host}/wipe", timeout=30).raise_for_status()


@contextmanager
def running_all() -> Iterator[dict[str, str]]:
    """Start the Firestore, Cloud Storage and Cloud Tasks emulators and point this process at
    them (the three `*_EMULATOR_HOST` variables, `GOOGLE_CLOUD_PROJECT`, `PAGESAGE_BACKEND=gcp`);
    yields those variables, stops the emulators on exit."""
    started: list[Emulator] = []
    try:
        for emulator in (firestore(), storage(), tasks()):
            started.append(emulator.start())
        fs, gcs, ct = started
        variables = {"FIRESTORE_EMULATOR_HOST": f"127.0.0.1:{fs.port}", "STORAGE_EMULATOR_HOST": f"http://127.0.0.1:{gcs.port}",
                     "CLOUD_TASKS_EMULATOR_HOST": f"127.0.0.1:{ct.port}", "GOOGLE_CLOUD_PROJECT": PROJECT,
                     "PAGESAGE_BACKEND": "gcp"}
        os.environ.update(variables)
        yield variables
    finally:
        for emulator in started:
            emulator.stop()


def tasks() -> Emulator:
    """The Cloud Tasks emulator (gRPC); connect with `CLOUD_TASKS_EMULATOR_HOST=127.0.0.1:PORT`.

    Failed tasks are retried at most 3 times (the emulator retries every ~100 ms otherwise forever).
    """
    port = free_port()
    return Emulator("tasks", [str(TASKS_EMULATOR), "start", f"--port={port}", "--max-retries=3", "--quiet"], port)
