"""`pagesage serve` as users run it: a real process on a free loopback port, to be stopped,
killed and started again on the same data folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from pagesage import emulators

PAGESAGE = Path(sys.executable).with_name("pagesage")


class LiveServer:
    """One `pagesage serve` process in a session (process group) of its own.

    Args:
        data_dir: PAGESAGE_DATA_DIR.
        env: more environment variables (PAGESAGE_WORKERS, PAGESAGE_RATE_LIMIT, ...).
        port: the port to listen on (a free one by default).
    """

    def __init__(self, data_dir: Path, env: dict[str, str] | None = None, port: int | None = None) -> None:
        self.data_dir = Path(data_dir)
        self.port = port or emulators.free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        inherited = {k: v for k, v in os.environ.items()  # hermetic: no setting of the test process leaks in
                     if not k.startswith(("PAGESAGE_", "FIRESTORE_", "STORAGE_EMULATOR", "CLOUD_TASKS_")) and k != "PORT"}
        self.env = {**inherited, "PAGESAGE_DATA_DIR": str(self.data_dir), "PAGESAGE_RATE_LIMIT": "0",
                    "PAGESAGE_WORKERS": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
        self.process: subprocess.Popen | None = None
        self.ready_at = 0.0
        self.log = self.data_dir.parent / f"serve-{self.port}.log"

    def start(self, timeout: float = 30.0) -> "LiveServer":
        """Start the process and wait until it answers. Raises `RuntimeError` if it does not."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen([str(PAGESAGE), "serve", "--port", str(self.port)], env=self.env, cwd=self.data_dir,
                                            stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            start_new_session=True,
                                            # a shell that runs pytest in the background ignores SIGINT; the server must not
                                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"pagesage serve exited with {self.process.returncode}: {self.log.read_text()[-2000:]}")
            try:
                httpx.get(f"{self.url}/status/{'A' * 43}", timeout=2)
                self.ready_at = time.time()  # that request counted against this minute's rate limit
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.kill()
        raise RuntimeError(f"pagesage serve did not answer within {timeout:g} s")

    def kill(self) -> None:
        """SIGKILL the whole process group (the server and any Tesseract it runs), as a machine
        that loses power would."""
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(30)

    def stop(self) -> int:
        """SIGINT (Ctrl-C), then wait; returns the exit status (killed after 30 s)."""
        if not self.process or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        os.killpg(self.process.pid, signal.SIGINT)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.kill()
            return -9

    def __enter__(self) -> "LiveServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
