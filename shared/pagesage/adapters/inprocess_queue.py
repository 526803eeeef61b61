"""The embedded task queue: waiting tasks served by a pool of worker threads, fairly.

Order: `prepare` tasks first, in the order they came (opening a document is quick, and it is
what lets a new job start); then pages, taking turns between jobs (round robin: a one-page
upload made behind a 24-page PDF starts with the PDF's next page, not after its last), and
within a job the larger `priority` first (pages carry their pixel area, so the biggest pages
start first and the pool does not end on one long page). A task whose name is waiting or
running is not added again. A handler exception whose `retryable` is true is retried up to
`max_attempts` times with exponential back-off, without holding a worker meanwhile; any other
exception is logged and dropped: the handler is expected to record permanent failures itself,
and is told (`last_attempt=True`) when a delivery is the last, as Cloud Tasks' retry count tells
the Cloud Function.

The queue keeps nothing on disk: what it held is derived again from the store's jobs and pages
when the local stack starts (`services.sweeper.recover`).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
from collections import OrderedDict, deque
from typing import Callable

from pagesage.ports import Task

log = logging.getLogger(__name__)


class InProcessQueue:
    """`TaskQueue` running `handler(task, last_attempt=...)` on `workers` daemon threads;
    `enqueue` keeps the contract documented on `pagesage.ports.TaskQueue`.

    Args:
        handler: called once per delivery, in a worker thread; `last_attempt` is True on the
            delivery after which a retryable failure is not retried.
        workers: number of threads (each drives at most one OCR process at a time).
        max_attempts: deliveries of a task whose handler keeps raising.
        backoff: seconds before the first retry; doubles each time.
    """

    def __init__(self, handler: Callable[..., None], *, workers: int, max_attempts: int = 3, backoff: float = 0.5) -> None:
        self._handler = handler
        self._max_attempts = max_attempts
        self._backoff = backoff
        self._order = itertools.count()
        self._cond = threading.Condition()
        self._urgent: deque[tuple[Task, int]] = deque()
        self._jobs: OrderedDict[str, list[tuple[int, int, Task, int]]] = OrderedDict()
        self._names: set[str] = set()
        self._busy = 0
        self._closing = False
        self._timers: dict[threading.Timer, Task] = {}
        self._threads = [threading.Thread(target=self._work, name=f"pagesage-worker-{i}", daemon=True) for i in range(workers)]
        for thread in self._threads:
            thread.start()

    def enqueue(self, task: Task) -> None:
        with self._cond:
            if task.name in self._names:
                return
            self._names.add(task.name)
            self._busy += 1
            self._push(task, 1)

    def close(self) -> None:
        """Stop the worker threads once the tasks already queued have run (retries still
        waiting out their back-off are dropped)."""
        with self._cond:
            self._closing = True
            for timer, task in list(self._timers.items()):
                timer.cancel()
                self._done(task)
            self._timers.clear()
            self._cond.notify_all()
        for thread in self._threads:
            thread.join()

    def join(self, timeout: float | None = None) -> bool:
        """Wait until no task is waiting or running; False if `timeout` seconds passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: self._busy == 0, timeout)

    def _push(self, task: Task, attempt: int) -> None:
        """Queue a delivery (the caller holds the lock)."""
        if task.kind == "prepare":
            self._urgent.append((task, attempt))
        else:
            heapq.heappush(self._jobs.setdefault(task.job_id, []), (-task.priority, next(self._order), task, attempt))
        self._cond.notify_all()  # workers and `join` wait on the same condition

    def _pop(self) -> tuple[Task, int] | None:
        """The next delivery by the module's order, None when nothing waits (lock held)."""
        if self._urgent:
            return self._urgent.popleft()
        if not self._jobs:
            return None
        job_id, heap = next(iter(self._jobs.items()))
        _, _, task, attempt = heapq.heappop(heap)
        if heap:
            self._jobs.move_to_end(job_id)  # the job's turn is over: the next job's comes
        else:
            del self._jobs[job_id]
        return task, attempt

    def _retry_later(self, task: Task, attempt: int, delay: float) -> None:
        def due() -> None:
            with self._cond:
                if self._timers.pop(timer, None) is not None:  # not cancelled by `close`
                    self._push(task, attempt)

        timer = threading.Timer(delay, due)
        timer.daemon = True
        with self._cond:
            self._timers[timer] = task
        timer.start()

    def _done(self, task: Task) -> None:
        """Forget a task that will not run again (lock held)."""
        self._names.discard(task.name)
        self._busy -= 1
        if self._busy == 0:
            self._cond.notify_all()

    def _work(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._urgent or self._jobs or self._closing)
                item = self._pop()
                if item is None:  # closing, and nothing left
                    return
            task, attempt = item
            try:
                self._handler(task, last_attempt=attempt >= self._max_attempts)
            except Exception as exc:  # noqa: BLE001 - a worker thread must survive any task
                if getattr(exc, "retryable", True) and attempt < self._max_attempts:
                    log.warning("task %s failed (attempt %d), retrying: %s", task.name, attempt, exc)
                    self._retry_later(task, attempt + 1, self._backoff * 2 ** (attempt - 1))
                    continue
                log.exception("task %s failed for good", task.name)
            with self._cond:
                self._done(task)
