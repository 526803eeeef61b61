"""InProcessQueue: priority order, dedupe by task name, retries, join and close."""

from __future__ import annotations

import threading
import time

import pytest

from pagesage.adapters.inprocess_queue import InProcessQueue
from pagesage.errors import CorruptedFile, InvalidTransition, TransientError
from pagesage.ports import Task

WAIT = 10.0


def page(page_no: int, priority: int = 0, job_id: str = "job") -> Task:
    return Task(kind="ocr_page", job_id=job_id, page_no=page_no, priority=priority)


@pytest.fixture
def queues():
    made: list[InProcessQueue] = []

    def make(handler, **kwargs) -> InProcessQueue:
        q = InProcessQueue(handler, **kwargs)
        made.append(q)
        return q

    yield make
    for q in made:
        q.join(WAIT)
        q.close()


def test_waiting_tasks_run_in_descending_priority(queues):
    gate = threading.Event()
    started = threading.Event()
    ran: list[str] = []

    def handler(task: Task, last_attempt: bool = False) -> None:
        if task.page_no == 0:
            started.set()
            assert gate.wait(WAIT)
        ran.append(task.name)

    q = queues(handler, workers=1)
    q.enqueue(page(0, priority=0))
    assert started.wait(WAIT)
    for no, priority in [(1, 10), (2, 500), (3, 0), (4, 7_000_000), (5, 42)]:
        q.enqueue(page(no, priority))
    gate.set()
    assert q.join(WAIT)
    assert ran == ["job-ocr_page-p0", "job-ocr_page-p4", "job-ocr_page-p2", "job-ocr_page-p5",
                   "job-ocr_page-p1", "job-ocr_page-p3"]


def test_equal_priorities_run_in_enqueue_order(queues):
    gate = threading.Event()
    started = threading.Event()
    ran: list[int] = []

    def handler(task: Task, last_attempt: bool = False) -> None:
        if task.kind == "prepare":
            started.set()
            assert gate.wait(WAIT)
            return
        ran.append(task.page_no)

    q = queues(handler, workers=1)
    q.enqueue(Task(kind="prepare", job_id="job"))
    assert started.wait(WAIT)
    for no in (3, 1, 2):
        q.enqueue(page(no, priority=5))
    gate.set()
    assert q.join(WAIT)
    assert ran == [3, 1, 2]


def test_same_name_enqueued_twice_while_waiting_runs_once(queues):
    gate = threading.Event()
    started = threading.Event()
    ran: list[str] = []
    lock = threading.Lock()

    def handler(task: Task, last_attempt: bool = False) -> None:
        if task.page_no == 0:
            started.set()
            assert gate.wait(WAIT)
        with lock:
            ran.append(task.name)

    q = queues(handler, workers=1)
    q.enqueue(page(0))
    assert started.wait(WAIT)
    q.enqueue(page(1, priority=3))
    q.enqueue(page(1, priority=9))  # same name: dropped
    q.enqueue(page(0))  # running: dropped too
    gate.set()
    assert q.join(WAIT)
    assert ran == ["job-ocr_page-p0", "job-ocr_page-p1"]


def test_a_task_can_run_again_after_it_finished(queues):
    ran: list[str] = []
    q = queues(lambda task, last_attempt: ran.append(task.name), workers=1)
    q.enqueue(page(1))
    assert q.join(WAIT)
    q.enqueue(page(1))
    assert q.join(WAIT)
    assert ran == ["job-ocr_page-p1", "job-ocr_page-p1"]


def test_retryable_errors_are_retried_up_to_max_attempts(queues):
    calls: list[float] = []

    def handler(task: Task, last_attempt: bool = False) -> None:
        calls.append(time.monotonic())
        raise TransientError("store unavailable")

    q = queues(handler, workers=1, max_attempts=4, backoff=0.01)
    q.enqueue(page(1))
    assert q.join(WAIT)
    assert len(calls) == 4
    gaps = [b - a for a, b in zip(calls, calls[1:])]
    # back-off 0.01, 0.02, 0.04 s
    assert gaps[0] >= 0.009 and gaps[1] >= 0.019 and gaps[2] >= 0.039


def test_the_handler_is_told_which_delivery_is_the_last(queues):
    told: list[bool] = []

    def handler(task: Task, last_attempt: bool = False) -> None:
        told.append(last_attempt)
        raise TransientError("store unavailable")

    q = queues(handler, workers=1, max_attempts=3, backoff=0.01)
    q.enqueue(page(1))
    assert q.join(WAIT)
    assert told == [False, False, True]


def test_retry_stops_once_the_handler_succeeds(queues):
    calls: list[int] = []

    def handler(task: Task, last_attempt: bool = False) -> None:
        calls.append(task.page_no)
        if len(calls) < 2:
            raise TransientError("flaky")

    q = queues(handler, workers=1, max_attempts=5, backoff=0.01)
    q.enqueue(page(7))
    assert q.join(WAIT)
    assert calls == [7, 7]


def test_exception_with_retryable_attribute_is_retried(queues):
    class Flaky(Exception):
        retryable = True

    calls: list[int] = []

    def handler(task: Task, last_attempt: bool = False) -> None:
        calls.append(1)
        raise Flaky("x")

    q = queues(handler, workers=1, max_attempts=3, backoff=0.01)
    q.enqueue(page(1))
    assert q.join(WAIT)
    assert len(calls) == 3


@pytest.mark.parametrize(
    ("exc", "deliveries"),
    [
        (RuntimeError("database is locked"), 3),  # unexpected: delivered again, like after a 5xx
        (ValueError("nope"), 3),
        (CorruptedFile("bad page"), 1),  # marked permanent: not retried
        (InvalidTransition("done already"), 1),
    ],
)
def test_unexpected_errors_are_retried_and_permanent_ones_are_not(queues, exc, deliveries):
    calls: list[int] = []

    def handler(task: Task, last_attempt: bool = False) -> None:
        calls.append(1)
        raise exc

    q = queues(handler, workers=1, max_attempts=3, backoff=0.01)
    q.enqueue(page(1))
    assert q.join(WAIT)
    time.sleep(0.05)
    assert len(calls) == deliveries


def test_worker_survives_a_failing_task(queues):
    ran: list[int] = []

    def handler(task: Task, last_attempt: bool = False) -> None:
        if task.page_no == 1:
            raise RuntimeError("boom")
        ran.append(task.page_no)

    q = queues(handler, workers=1)
    q.enqueue(page(1))
    assert q.join(WAIT)
    q.enqueue(page(2))
    assert q.join(WAIT)
    assert ran == [2]


def test_join_returns_true_when_idle_and_false_on_timeout(queues):
    gate = threading.Event()
    q = queues(lambda task, last_attempt: gate.wait(WAIT), workers=2)
    assert q.join(0.5) is True
    q.enqueue(page(1))
    assert q.join(0.05) is False
    gate.set()
    assert q.join(WAIT) is True


def test_two_workers_run_tasks_in_parallel(queues):
    barrier = threading.Barrier(2, timeout=WAIT)
    q = queues(lambda task, last_attempt: barrier.wait(), workers=2)
    q.enqueue(page(1))
    q.enqueue(page(2))
    assert q.join(WAIT)
    assert not barrier.broken


def test_close_stops_the_threads_after_queued_tasks():
    ran: list[int] = []
    q = InProcessQueue(lambda task, last_attempt: ran.append(task.page_no), workers=3)
    mine = [t for t in q._threads]
    assert len(mine) == 3
    assert all(t.is_alive() for t in mine)
    for no in range(1, 6):
        q.enqueue(page(no))
    q.close()
    assert not any(t.is_alive() for t in mine)
    assert sorted(ran) == [1, 2, 3, 4, 5]


def test_jobs_take_turns_and_prepare_tasks_go_first(queues):
    """A one-page job queued behind a five-page one starts with the big job's second page,
    not after its last; a new job's `prepare` runs before any waiting page."""
    gate = threading.Event()
    started = threading.Event()
    ran: list[str] = []

    def handler(task: Task, last_attempt: bool = False) -> None:
        if task.job_id == "hold":
            started.set()
            assert gate.wait(WAIT)
            return
        ran.append(task.name)

    q = queues(handler, workers=1)
    q.enqueue(Task(kind="prepare", job_id="hold"))
    assert started.wait(WAIT)
    for no, area in enumerate([10, 50, 30, 40, 20], start=1):
        q.enqueue(page(no, priority=area, job_id="big"))
    q.enqueue(page(1, priority=5, job_id="small"))
    q.enqueue(Task(kind="prepare", job_id="new"))
    gate.set()
    assert q.join(WAIT)
    assert ran == ["new-prepare", "big-ocr_page-p2", "small-ocr_page-p1", "big-ocr_page-p4", "big-ocr_page-p3",
                   "big-ocr_page-p5", "big-ocr_page-p1"]
