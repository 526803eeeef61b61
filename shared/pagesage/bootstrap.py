"""The composition root: Settings -> the adapters behind each port, built once per process.

Entry points call `services()`; nothing else constructs adapters. Building is lazy, so importing
a function module costs nothing until its first request (Cloud Functions cold start).
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from pagesage.adapters.inprocess_queue import InProcessQueue
from pagesage.adapters.local_blobs import LocalBlobStore
from pagesage.adapters.remote_sources import RemoteSources
from pagesage.adapters.sqlite_store import SqliteStore
from pagesage.book.adapters.sqlite_book import SqliteBookStore
from pagesage.book.ports import BookStore
from pagesage.book.services.ports import BookPorts
from pagesage.config import Settings
from pagesage.domain.jobs import utcnow
from pagesage.errors import InputError
from pagesage.ports import BlobStore, OcrEngine, SourceFetcher, Store, TaskQueue
from pagesage.services.worker import WorkerPorts, handle_task


QUEUE_ATTEMPTS = 6
"""Deliveries of an embedded task whose handler keeps failing transiently: with the queue's
back-off from 0.5 s doubling, they span 15.5 s (a store restarting, a lock held)."""


@dataclass(frozen=True)
class Services:
    """The wired ports of one process; `clock` returns the current aware UTC time. `book` is
    the book layer's store (projects, page annotations, versions); `sources` fetches remote
    sources (`s3://`, `gs://`, `https://`) under the fetch policy."""

    settings: Settings
    store: Store
    blobs: BlobStore
    queue: TaskQueue
    engine: OcrEngine
    book: BookStore
    sources: SourceFetcher
    clock: Callable[[], datetime] = field(default=utcnow)

    @property
    def book_ports(self) -> BookPorts:
        """The ports the book layer's use cases take (it reads OCR through `store`)."""
        return BookPorts(book=self.book, ocr=self.store, blobs=self.blobs, clock=self.clock)

    @property
    def worker(self) -> WorkerPorts:
        """The ports the OCR worker's use cases take."""
        return WorkerPorts(store=self.store, blobs=self.blobs, queue=self.queue, engine=self.engine, settings=self.settings,
                           clock=self.clock, sources=self.sources)


def build(settings: Settings, *, store: Store | None = None, blobs: BlobStore | None = None,
          engine: OcrEngine | None = None, book: BookStore | None = None, sources: SourceFetcher | None = None,
          clock: Callable[[], datetime] = utcnow) -> Services:
    """Wire the adapters `settings.backend` selects: `local` (SQLite, folder, in-process queue)
    or `gcp` (Firestore, Cloud Storage, Cloud Tasks; the emulators when their variables are set).

    Keyword arguments replace one adapter (tests pass failing engines or stores); the in-process
    queue's workers run tasks against the services built here. `clock` (aware UTC now) is what
    rate-limit windows and TTL reads are counted on.
    """
    engine = engine or build_engine(settings)
    holder: list[Services] = []  # the in-process queue's handler needs the services holding it
    if settings.backend == "gcp":
        store, blobs, queue = _gcp_adapters(settings, store, blobs, clock)
        if book is None:
            from pagesage.adapters.firestore_store import firestore_client
            from pagesage.book.adapters.firestore_book import FirestoreBookStore

            book = FirestoreBookStore(firestore_client(settings.gcp_project, settings.firestore_database), clock=clock)
    else:
        book = book or SqliteBookStore(settings.data_dir / "pagesage.db", clock=clock)
        store = store or SqliteStore(settings.data_dir / "pagesage.db", clock=clock)
        blobs = blobs or LocalBlobStore(settings.data_dir / "blobs")
        queue = InProcessQueue(lambda task, last_attempt: handle_task(task, holder[0].worker, last_attempt=last_attempt),
                               workers=settings.workers, max_attempts=QUEUE_ATTEMPTS)
    sources = sources or RemoteSources(settings.fetch_allow, timeout=settings.fetch_timeout, ca_file=settings.fetch_ca_file)
    services = Services(settings=settings, store=store, blobs=blobs, queue=queue, engine=engine, book=book,
                        sources=sources, clock=clock)
    holder.append(services)
    return services


def build_engine(settings: Settings) -> OcrEngine:
    """The OCR engine `settings.engine` names: Tesseract in-process or in its container, or
    Document AI. Raises `InputError` for `docai` without a processor."""
    if settings.engine == "docai":
        if not settings.documentai_processor:
            raise InputError("PAGESAGE_ENGINE=docai needs PAGESAGE_DOCUMENTAI_PROCESSOR")
        from pagesage.engines.docai import DocumentAiEngine

        return DocumentAiEngine(processor=settings.documentai_processor)
    if settings.tesseract_url:
        from pagesage.engines.remote_tesseract import RemoteTesseractEngine

        return RemoteTesseractEngine(settings.tesseract_url, audience=settings.tesseract_audience,
                                     timeout=settings.tesseract_timeout + 60)
    # imported here: tesserocr (the `tesseract` extra) is not installed in the Cloud Functions
    from pagesage.engines.tesseract import TesseractEngine

    return TesseractEngine(timeout=settings.tesseract_timeout, oem=settings.oem)


def _gcp_adapters(settings: Settings, store: Store | None, blobs: BlobStore | None,
                  clock: Callable[[], datetime]) -> tuple[Store, BlobStore, TaskQueue]:
    """Firestore, Cloud Storage and Cloud Tasks, imported only here (cold starts of the local
    backend never load them). On the emulators the bucket and queue are created when missing;
    in Google Cloud they come from Terraform."""
    from pagesage.adapters.cloud_tasks_queue import CloudTasksQueue, ensure_queue, tasks_client
    from pagesage.adapters.firestore_store import FirestoreStore, firestore_client
    from pagesage.adapters.gcs_blobs import GcsBlobStore, storage_client

    project = settings.gcp_project
    if not project:
        raise InputError("PAGESAGE_BACKEND=gcp needs GOOGLE_CLOUD_PROJECT")
    store = store or FirestoreStore(firestore_client(project, settings.firestore_database), clock=clock)
    if blobs is None:
        client = storage_client(project)
        if os.environ.get("STORAGE_EMULATOR_HOST") and client.lookup_bucket(settings.bucket) is None:
            client.create_bucket(settings.bucket)
        blobs = GcsBlobStore(client, settings.bucket)
    tasks = tasks_client()
    if os.environ.get("CLOUD_TASKS_EMULATOR_HOST"):
        path = ensure_queue(tasks, project, settings.tasks_location, settings.tasks_queue)
    else:
        path = tasks.queue_path(project, settings.tasks_location, settings.tasks_queue)
    queue = CloudTasksQueue(tasks, path, worker_url=settings.worker_url, service_account=settings.tasks_service_account,
                            bearer_token=settings.api_token_value)
    return store, blobs, queue


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
