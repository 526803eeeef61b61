"""The embedded task queue: a priority queue served by a pool of worker threads.

Larger `priority` runs first (pages are enqueued with their pixel area, so the biggest pages start
first and the pool does not end on one long page). A task whose name is waiting or running is not
added again. A handler exception whose `retryable` is true is retried up to `max_attempts` times
with exponential back-off; any other exception is logged and dropped: the handler is expected to
record permanent failures itself.
"""

from __future__ import annotations

import itertools
import logging
import queue
import threading
import time
from typing import Callable

from pagesage.ports import Task

log = logging.getLogger(__name__)


class InProcessQueue:
    """`TaskQueue` running `handler(task)` on `workers` daemon threads; `enqueue` keeps the
    contract documented on `pagesage.ports.TaskQueue`.

    Args:
        handler: called once per delivery, in a worker thread.
        workers: number of threads (each drives at most one OCR process at a time).
        max_attempts: deliveries of a task whose handler keeps raising.
        backoff: seconds before the first retry; doubles each time.
    """

    def __init__(self, handler: Callable[[Task], None], *, workers: int, max_attempts: int = 3, backoff: float = 0.5) -> None:
        self._handler = handler
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._queue: queue.PriorityQueue = queue.PriorityQueue()
        self._order = itertools.count()
        self._names: set[str] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)
        self._busy = 0
        self._threads = [threading.Thread(target=self._work, name=f"pagesage-worker-{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def enqueue(self, task: Task) -> None:
        with self._lock:
            if task.name in self._names:
                return
            self._names.add(task.name)
            self._busy += 1
        self._queue.put((-task.priority, next(self._order), task, 1))

    def close(self) -> None:
        """Stop the worker threads once the tasks already queued have run."""
        for _ in self._threads:
            self._queue.put((float("inf"), next(self._order), None, 0))
        for thread in self._threads:
            thread.join()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no task is waiting or running; False if `timeout` seconds passed first."""
        with self._idle:
            return self._idle.wait_for(lambda: self._busy == 0, timeout)

    def _work(self) -> None:
        while True:
            _, _, task, attempt = self._queue.get()
            if task is None:
                return
            try:
                self._handler(task)
            except Exception as exc:  # noqa: BLE001 - a worker thread must survive any task
                if getattr(exc, "retryable", True) and attempt < self._max_attempts:
                    log.warning("task %s failed (attempt %d), retrying: %s", task.name, attempt, exc)
                    time.sleep(self._backoff * 2 ** (attempt - 1))
                    self._queue.put((-task.priority, next(self._order), task, attempt + 1))
                    continue
                log.exception("task %s failed for good", task.name)
            with self._idle:
                self._names.discard(task.name)
                self._busy -= 1
                if self._busy == 0:
                    self._idle.notify_all()
