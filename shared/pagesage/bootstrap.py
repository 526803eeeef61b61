"""The composition root: Settings -> the adapters behind each port, built once per process.

Entry points call `services()`; nothing else constructs adapters. Building is lazy, so importing
a function module costs nothing until its first request (Cloud Functions cold start).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from pagesage.adapters.inprocess_queue import InProcessQueue
from pagesage.adapters.local_blobs import LocalBlobStore
from pagesage.adapters.sqlite_store import SqliteStore
from pagesage.config import Settings
from pagesage.domain.jobs import utcnow
from pagesage.engines.tesseract import TesseractEngine
from pagesage.ports import BlobStore, OcrEngine, Store, TaskQueue
from pagesage.services.worker import WorkerPorts, handle_task


@dataclass(frozen=True)
class Services:
    """The wired ports of one process; `clock` returns the current aware UTC time."""

    settings: Settings
    store: Store
    blobs: BlobStore
    queue: TaskQueue
    engine: OcrEngine
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def worker(self) -> WorkerPorts:
        """The ports the OCR worker's use cases take."""
        return WorkerPorts(store=self.store, blobs=self.blobs, queue=self.queue, engine=self.engine, settings=self.settings)


def build(settings: Settings, *, store: Store | None = None, blobs: BlobStore | None = None,
          engine: OcrEngine | None = None, clock: Callable[[], datetime] = utcnow) -> Services:
    """Wire the adapters `settings.backend` selects (`local`: SQLite, folder, in-process queue).

    Keyword arguments replace one adapter (tests pass failing engines or stores); the queue's
    workers run tasks against the services built here. `clock` (aware UTC now) is what
    rate-limit windows are counted on.
    """
    engine = engine or TesseractEngine(timeout=settings.tesseract_timeout, oem=settings.oem)
    store = store or SqliteStore(settings.data_dir / "pagesage.db")
    blobs = blobs or LocalBlobStore(settings.data_dir / "blobs")
    holder: list[Services] = []  # the queue's handler needs the services that hold the queue
    queue = InProcessQueue(lambda task: handle_task(task, holder[0].worker), workers=settings.workers)
    services = Services(settings=settings, store=store, blobs=blobs, queue=queue, engine=engine, clock=clock)
    holder.append(services)
    return services


_lock = threading.Lock()
_services: Services | None = None


def services() -> Services:
    """This process's services, built from the environment on first use."""
    global _services
    with _lock:
        if _services is None:
            _services = build(Settings())
        return _services


def use(built: Services | None) -> None:
    """Replace this process's services (the CLI's server and tests wire their own); None resets."""
    global _services
    with _lock:
        _services = built


__all__ = ["Services", "build", "services", "use"]
