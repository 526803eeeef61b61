"""Task queues against real infrastructure.

`CloudTasksQueue` runs against the Cloud Tasks emulator (`gcloud-tasks-emulator` 0.6.2 from
`.venv-tasks-emulator`, started once per session by the `tasks_host` fixture with
`--max-retries=3`), which really POSTs HTTP tasks to a small HTTP server started per test. Each
test gets a queue of its own. The contract every `TaskQueue` keeps is checked on both
`InProcessQueue` and `CloudTasksQueue`.

What the emulator does with an HTTP task (checked below):
* it POSTs to the task's full URL (scheme, host, port, path and query), with the task's own
  headers plus `X-CloudTasks-QueueName` (the full queue path; production sends the queue id),
  `X-CloudTasks-TaskName` (the task id), `X-CloudTasks-TaskRetryCount` and
  `X-CloudTasks-TaskExecutionCount` (both 0 on the first attempt) and an empty
  `X-CloudTasks-TaskETA`;
* a non-2xx answer puts the task back at the end of the queue, re-sent ~0.1 s later, at most
  `--max-retries` more times.

Gaps against production that the tests name where they matter: no OIDC `Authorization` header
is sent; a second task with the name of a queued one is accepted (and delivered too) instead of
being refused with `ALREADY_EXISTS`; `GetTask` is not implemented (tasks are inspected with
`ListTasks` on a paused queue); retries have no back-off.
"""

from __future__ import annotations

import socket
import threading
import uuid
from collections import Counter
from concurrent import futures
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator

import grpc
import pytest
from google.api_core import exceptions as api_exceptions
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport

from pagesage.adapters.cloud_tasks_queue import DEFAULT_RETRY, CloudTasksQueue, ensure_queue, tasks_client
from pagesage.adapters.inprocess_queue import InProcessQueue
from pagesage.errors import TransientError
from pagesage.ports import Task, TaskQueue

PROJECT = "demo-pagesage"
LOCATION = "us-central1"
WAIT = 10.0
"""Seconds to wait for an expected delivery."""
QUIET = 0.6
"""Seconds without a delivery after which no more are coming (the emulator re-sends a refused
task after ~0.1 s)."""
JOB = "Jb3vq9Xw0kS1yZt-4r_2mNcQpLhAeUdFgHiKoPsTuVw"
OTHER_JOB = "x9_Zq-Lm3Np5Rt7Vw1Yb2Cd4Ef6Gh8Jk0Mn2Pq4Rs6T"
FAST_RETRY = DEFAULT_RETRY.with_delay(initial=0.01, maximum=0.05).with_timeout(0.5)
"""The adapter's retry policy, shortened to 0.5 s for tests of failures."""


def page(page_no: int, *, job_id: str = JOB, priority: int = 0) -> Task:
    return Task(kind="ocr_page", job_id=job_id, page_no=page_no, priority=priority)


# -- a worker endpoint that Cloud Tasks (the emulator) calls -----------------------------------

@dataclass(frozen=True)
class Delivery:
    """One HTTP request the worker endpoint received; header names are lower-cased."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class Recorder:
    """Items appended from other threads, with waiting for a count."""

    def __init__(self) -> None:
        self._items: list = []
        self._changed = threading.Condition()

    def add(self, item) -> None:
        with self._changed:
            self._items.append(item)
            self._changed.notify_all()

    def __len__(self) -> int:
        with self._changed:
            return len(self._items)

    def wait_for(self, count: int, timeout: float = WAIT) -> list:
        """The items once there are at least `count`; fails after `timeout` seconds."""
        with self._changed:
            if not self._changed.wait_for(lambda: len(self._items) >= count, timeout):
                raise AssertionError(f"{len(self._items)} of {count} deliveries after {timeout} s: {self._items}")
            return list(self._items)

    def settled(self, quiet: float = QUIET) -> list:
        """The items once none arrived for `quiet` seconds."""
        with self._changed:
            while self._changed.wait(quiet):
                pass
            return list(self._items)


class WorkerEndpoint:
    """A threaded HTTP server on 127.0.0.1 recording every request; `answer(delivery)` gives the
    status code to respond with (no body)."""

    def __init__(self, answer: Callable[[Delivery], int] = lambda delivery: 204) -> None:
        self.answer = answer
        self.deliveries = Recorder()
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's naming
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                delivery = Delivery(self.command, self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                status = endpoint.answer(delivery)
                endpoint.deliveries.add(delivery)
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()

    def url(self, path: str = "/ocr") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


@pytest.fixture
def worker() -> Iterator[WorkerEndpoint]:
    endpoint = WorkerEndpoint()
    yield endpoint
    endpoint.close()


@pytest.fixture(scope="module")
def client(tasks_host: str) -> Iterator[tasks_v2.CloudTasksClient]:
    made = tasks_client()
    assert isinstance(made.transport, CloudTasksGrpcTransport)
    yield made
    made.transport.close()


@pytest.fixture
def queue_path(client: tasks_v2.CloudTasksClient) -> Iterator[str]:
    """A fresh emulator queue, deleted after the test."""
    path = ensure_queue(client, PROJECT, LOCATION, f"test-{uuid.uuid4().hex[:16]}")
    yield path
    client.delete_queue(name=path)


def queued_tasks(client: tasks_v2.CloudTasksClient, queue_path: str) -> list[tasks_v2.Task]:
    """The tasks waiting in a queue, full view."""
    return list(client.list_tasks(request={"parent": queue_path, "response_view": tasks_v2.Task.View.FULL}))


# -- CloudTasksQueue on the emulator -------------------------------------------------------------

def test_the_worker_receives_the_exact_task_json_at_the_full_url(client, queue_path, worker):
    url = worker.url("/functions/ocr?source=cloud-tasks")
    queue = CloudTasksQueue(client, queue_path, worker_url=url)
    task = page(3, priority=7_000_000)

    queue.enqueue(task)

    [delivery] = worker.deliveries.wait_for(1)
    assert delivery.method == "POST"
    assert delivery.path == "/functions/ocr?source=cloud-tasks"
    assert delivery.headers["host"] == f"127.0.0.1:{worker.port}"
    assert delivery.headers["content-type"] == "application/json"
    assert delivery.body == task.model_dump_json().encode()
    assert Task.model_validate_json(delivery.body) == task
    assert delivery.headers["x-cloudtasks-taskname"] == f"{JOB}-ocr_page-p3"
    assert delivery.headers["x-cloudtasks-queuename"] == queue_path  # production: the queue id only
    assert delivery.headers["x-cloudtasks-taskretrycount"] == "0"
    assert delivery.headers["x-cloudtasks-taskexecutioncount"] == "0"
    assert delivery.headers["x-cloudtasks-tasketa"] == ""  # production: the schedule time, epoch seconds
    assert "authorization" not in delivery.headers


def test_each_distinct_task_is_delivered_once(client, queue_path, worker):
    queue = CloudTasksQueue(client, queue_path, worker_url=worker.url())
    tasks = [Task(kind="prepare", job_id=JOB), *(page(n, priority=n * 10) for n in range(1, 6)),
             page(1, job_id=OTHER_JOB)]

    for task in tasks:
        queue.enqueue(task)

    worker.deliveries.wait_for(len(tasks))
    delivered = [Task.model_validate_json(d.body) for d in worker.deliveries.settled()]
    assert Counter(t.name for t in delivered) == Counter(t.name for t in tasks)
    assert sorted(delivered, key=lambda t: t.name) == sorted(tasks, key=lambda t: t.name)


def test_a_task_answered_503_is_delivered_again_until_it_succeeds(client, queue_path, worker):
    refusals = 2
    worker.answer = lambda delivery: 503 if len(worker.deliveries) < refusals else 204
    queue = CloudTasksQueue(client, queue_path, worker_url=worker.url())

    queue.enqueue(page(1))

    deliveries = worker.deliveries.wait_for(refusals + 1)
    assert len(worker.deliveries.settled()) == refusals + 1
    assert {d.body for d in deliveries} == {page(1).model_dump_json().encode()}
    assert [d.headers["x-cloudtasks-taskretrycount"] for d in deliveries] == ["0", "1", "2"]


def test_the_emulator_gives_up_after_max_retries(client, queue_path, worker):
    """Emulator behaviour behind `make run-gcp-local`: 1 attempt + `--max-retries=3`; production
    follows the queue's `retry_config` from Terraform."""
    worker.answer = lambda delivery: 503
    queue = CloudTasksQueue(client, queue_path, worker_url=worker.url())

    queue.enqueue(page(1))

    worker.deliveries.wait_for(4)
    assert len(worker.deliveries.settled()) == 4
    assert queued_tasks(client, queue_path) == []


def test_the_task_name_is_derived_from_job_and_page(client, queue_path, worker):
    client.pause_queue(name=queue_path)
    queue = CloudTasksQueue(client, queue_path, worker_url=worker.url())
    tasks = [Task(kind="prepare", job_id=JOB), page(1), page(2, priority=99), page(1, job_id=OTHER_JOB)]

    for task in tasks:
        queue.enqueue(task)

    assert sorted(t.name for t in queued_tasks(client, queue_path)) == sorted([
        f"{queue_path}/tasks/{JOB}-prepare",
        f"{queue_path}/tasks/{JOB}-ocr_page-p1",
        f"{queue_path}/tasks/{JOB}-ocr_page-p2",
        f"{queue_path}/tasks/{OTHER_JOB}-ocr_page-p1",
    ])
    assert queue.task_path(page(2, priority=0)) == queue.task_path(page(2, priority=5)) == f"{queue_path}/tasks/{JOB}-ocr_page-p2"


def test_the_created_task_carries_the_oidc_token_and_dispatch_deadline(client, queue_path, worker):
    client.pause_queue(name=queue_path)
    account = "pagesage-tasks@demo-pagesage.iam.gserviceaccount.com"
    url = worker.url()
    queue = CloudTasksQueue(client, queue_path, worker_url=url, service_account=account, dispatch_deadline=900)

    queue.enqueue(page(1))

    [created] = queued_tasks(client, queue_path)
    assert created.http_request.url == url
    assert created.http_request.http_method == tasks_v2.HttpMethod.POST
    assert dict(created.http_request.headers) == {"Content-Type": "application/json"}
    assert created.http_request.oidc_token.service_account_email == account
    assert created.http_request.oidc_token.audience == url
    assert created.dispatch_deadline.total_seconds() == 900
    assert created == queue.build_task(page(1))

    client.resume_queue(name=queue_path)
    [delivery] = worker.deliveries.wait_for(1)
    assert "authorization" not in delivery.headers  # emulator gap: production sends "Bearer <OIDC token>"


def test_without_a_service_account_no_token_is_requested(client, queue_path, worker):
    client.pause_queue(name=queue_path)
    queue = CloudTasksQueue(client, queue_path, worker_url=worker.url())

    queue.enqueue(page(1))

    [created] = queued_tasks(client, queue_path)
    http_request = tasks_v2.HttpRequest.pb(created.http_request)
    assert not http_request.HasField("oidc_token") and not http_request.HasField("oauth_token")
    assert not tasks_v2.Task.pb(created).HasField("dispatch_deadline")  # Cloud Tasks default: 600 s


@pytest.mark.parametrize("job_id", ["has space", "slash/in/id", "dévanāgarī", "x" * 490], ids=["space", "slash", "non-ascii", "over-500-chars"])
def test_a_task_name_cloud_tasks_would_refuse_raises_before_any_request(client, queue_path, worker, job_id):
    client.pause_queue(name=queue_path)
    queue = CloudTasksQueue(client, queue_path, worker_url=worker.url())

    with pytest.raises(ValueError, match=r"not a valid Cloud Tasks task id"):
        queue.enqueue(page(1, job_id=job_id))
    assert queued_tasks(client, queue_path) == []


def test_a_duplicate_enqueue_does_not_raise_and_the_emulator_delivers_both(client, queue_path, worker):
    """Production refuses the second `CreateTask` with ALREADY_EXISTS, which the adapter treats
    as success (see the tests with `RefusingCloudTasks`). The emulator accepts it and delivers
    both copies, as production does for a task redelivered after a lost response: the worker's
    idempotency (a finished page is not counted twice) is what the pipeline relies on."""
    client.pause_queue(name=queue_path)
    queue = CloudTasksQueue(client, queue_path, worker_url=worker.url())

    queue.enqueue(page(1))
    queue.enqueue(page(1, priority=50))

    assert [t.name for t in queued_tasks(client, queue_path)] == [f"{queue_path}/tasks/{JOB}-ocr_page-p1"] * 2
    client.resume_queue(name=queue_path)
    deliveries = worker.deliveries.wait_for(2)
    assert {Task.model_validate_json(d.body).name for d in deliveries} == {page(1).name}
    assert {d.headers["x-cloudtasks-taskname"] for d in deliveries} == {page(1).name}


def test_enqueue_into_a_missing_queue_is_a_permanent_error(client, worker):
    missing = client.queue_path(PROJECT, LOCATION, f"missing-{uuid.uuid4().hex[:12]}")
    queue = CloudTasksQueue(client, missing, worker_url=worker.url(), retry=FAST_RETRY)

    with pytest.raises(api_exceptions.GoogleAPICallError) as raised:
        queue.enqueue(page(1))
    assert not isinstance(raised.value, TransientError)
    assert isinstance(raised.value, api_exceptions.FailedPrecondition)  # emulator; production answers NOT_FOUND


def test_ensure_queue_creates_once_and_returns_the_path(client):
    queue_id = f"ensure-{uuid.uuid4().hex[:12]}"
    try:
        first = ensure_queue(client, PROJECT, LOCATION, queue_id)
        second = ensure_queue(client, PROJECT, LOCATION, queue_id)
        assert first == second == f"projects/{PROJECT}/locations/{LOCATION}/queues/{queue_id}"
        names = [q.name for q in client.list_queues(parent=f"projects/{PROJECT}/locations/{LOCATION}")]
        assert names.count(first) == 1
    finally:
        client.delete_queue(name=f"projects/{PROJECT}/locations/{LOCATION}/queues/{queue_id}")


def test_a_dispatch_deadline_outside_the_api_range_is_refused(client):
    for seconds in (14.9, 1800.5):
        with pytest.raises(ValueError, match="dispatch_deadline"):
            CloudTasksQueue(client, "projects/p/locations/l/queues/q", worker_url="http://127.0.0.1/ocr", dispatch_deadline=seconds)


# -- answers the emulator never gives ----------------------------------------------------------

class RefusingCloudTasks:
    """A gRPC server speaking the Cloud Tasks `CreateTask` method that answers each call with the
    next status code of `answers` (the last one repeats), as production does for a duplicate
    name (ALREADY_EXISTS), throttling (RESOURCE_EXHAUSTED) or an outage (UNAVAILABLE). The client
    library, its gRPC transport and error mapping, and the adapter all run for real."""

    def __init__(self, answers: list[grpc.StatusCode]) -> None:
        self.answers = answers
        self.requests: list[tasks_v2.CreateTaskRequest] = []
        self._clients: list[tasks_v2.CloudTasksClient] = []
        handler = grpc.unary_unary_rpc_method_handler(
            self._create_task,
            request_deserializer=tasks_v2.CreateTaskRequest.deserialize,
            response_serializer=tasks_v2.Task.serialize,
        )
        self._server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
        self._server.add_generic_rpc_handlers((grpc.method_handlers_generic_handler("google.cloud.tasks.v2.CloudTasks", {"CreateTask": handler}),))
        self.port = self._server.add_insecure_port("127.0.0.1:0")
        self._server.start()

    def _create_task(self, request: tasks_v2.CreateTaskRequest, context: grpc.ServicerContext) -> tasks_v2.Task:
        self.requests.append(request)
        code = self.answers[min(len(self.requests), len(self.answers)) - 1]
        if code is grpc.StatusCode.OK:
            return request.task
        context.abort(code, f"answered {code.name}")

    def client(self) -> tasks_v2.CloudTasksClient:
        channel = grpc.insecure_channel(f"127.0.0.1:{self.port}")
        self._clients.append(tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel)))
        return self._clients[-1]

    def close(self) -> None:
        for client in self._clients:
            client.transport.close()
        self._server.stop(grace=None)


@pytest.fixture
def refusing() -> Iterator[Callable[[list[grpc.StatusCode]], RefusingCloudTasks]]:
    made: list[RefusingCloudTasks] = []

    def make(answers: list[grpc.StatusCode]) -> RefusingCloudTasks:
        made.append(RefusingCloudTasks(answers))
        return made[-1]

    yield make
    for server in made:
        server.close()


QUEUE = f"projects/{PROJECT}/locations/{LOCATION}/queues/pagesage-ocr"


def test_already_exists_counts_as_a_task_already_queued(refusing):
    server = refusing([grpc.StatusCode.ALREADY_EXISTS])
    queue = CloudTasksQueue(server.client(), QUEUE, worker_url="http://127.0.0.1/ocr", retry=FAST_RETRY)

    queue.enqueue(page(1))

    [request] = server.requests
    assert request.parent == QUEUE
    assert request.task.name == f"{QUEUE}/tasks/{JOB}-ocr_page-p1"


def test_a_retried_create_whose_first_attempt_landed_succeeds(refusing):
    """An attempt that timed out or lost its answer may have created the task: the retry then
    meets ALREADY_EXISTS, which is success."""
    server = refusing([grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.ALREADY_EXISTS])
    queue = CloudTasksQueue(server.client(), QUEUE, worker_url="http://127.0.0.1/ocr", retry=FAST_RETRY)

    queue.enqueue(page(1))

    assert len(server.requests) == 3
    assert len({r.task.name for r in server.requests}) == 1


@pytest.mark.parametrize("code", [grpc.StatusCode.RESOURCE_EXHAUSTED, grpc.StatusCode.UNAVAILABLE,
                                  grpc.StatusCode.DEADLINE_EXCEEDED, grpc.StatusCode.INTERNAL])
def test_a_transient_error_is_retried_then_raised_as_transient(refusing, code):
    server = refusing([code])
    queue = CloudTasksQueue(server.client(), QUEUE, worker_url="http://127.0.0.1/ocr", retry=FAST_RETRY)

    with pytest.raises(TransientError) as raised:
        queue.enqueue(page(1))
    assert raised.value.retryable and raised.value.http_status == 503
    assert 2 <= len(server.requests) < 200  # retried, and given up at the retry's deadline, not forever


@pytest.mark.parametrize("code", [grpc.StatusCode.PERMISSION_DENIED, grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.NOT_FOUND])
def test_a_permanent_error_is_raised_at_once(refusing, code):
    server = refusing([code])
    queue = CloudTasksQueue(server.client(), QUEUE, worker_url="http://127.0.0.1/ocr", retry=FAST_RETRY)

    with pytest.raises(api_exceptions.GoogleAPICallError) as raised:
        queue.enqueue(page(1))
    assert raised.value.grpc_status_code == code
    assert len(server.requests) == 1


def test_an_unreachable_cloud_tasks_is_a_transient_error():
    with socket.socket() as bound:  # bound but not listening: connections are refused
        bound.bind(("127.0.0.1", 0))
        channel = grpc.insecure_channel(f"127.0.0.1:{bound.getsockname()[1]}")
        client = tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=channel))
        queue = CloudTasksQueue(client, QUEUE, worker_url="http://127.0.0.1/ocr", retry=FAST_RETRY, timeout=1.0)
        try:
            with pytest.raises(TransientError, match="in time"):
                queue.enqueue(page(1))
        finally:
            client.transport.close()


# -- the TaskQueue contract, on both backends ----------------------------------------------------

@pytest.fixture(params=["inprocess", "cloud_tasks"])
def make_queue(request) -> Iterator[Callable[[Callable[[Task], None]], TaskQueue]]:
    """`make_queue(handler)`: a queue of the backend that runs `handler(task)` per delivery; a
    handler exception asks for the task again (the `ocr` function answers 503 on a retryable
    error, and Cloud Tasks redelivers on any non-2xx answer)."""
    closers: list[Callable[[], None]] = []

    def inprocess(handler: Callable[[Task], None]) -> TaskQueue:
        queue = InProcessQueue(lambda task, last_attempt: handler(task), workers=2, max_attempts=4, backoff=0.01)
        closers.append(lambda: (queue.join(WAIT), queue.close()))
        return queue

    def cloud_tasks(handler: Callable[[Task], None]) -> TaskQueue:
        client = request.getfixturevalue("client")
        path = ensure_queue(client, PROJECT, LOCATION, f"contract-{uuid.uuid4().hex[:16]}")

        def answer(delivery: Delivery) -> int:
            try:
                handler(Task.model_validate_json(delivery.body))
            except Exception:  # noqa: BLE001 - any failure is a non-2xx answer
                return 503
            return 204

        endpoint = WorkerEndpoint(answer)
        closers.append(lambda: (client.delete_queue(name=path), endpoint.close()))
        return CloudTasksQueue(client, path, worker_url=endpoint.url())

    yield inprocess if request.param == "inprocess" else cloud_tasks
    for close in closers:
        close()


def test_contract_every_task_is_delivered_at_least_once_with_its_fields(make_queue):
    delivered = Recorder()
    queue = make_queue(delivered.add)
    tasks = [Task(kind="prepare", job_id=JOB), page(1, priority=4_960_000), page(2, priority=0), page(3, job_id=OTHER_JOB, priority=12)]

    for task in tasks:
        queue.enqueue(task)

    received = delivered.wait_for(len(tasks))
    assert {t.name for t in received} == {t.name for t in tasks}
    by_name = {t.name: t for t in received}
    assert all(by_name[t.name] == t for t in tasks)


def test_contract_a_failed_delivery_is_delivered_again(make_queue):
    delivered = Recorder()

    def handler(task: Task) -> None:
        delivered.add(task)
        if len(delivered) < 3:
            raise TransientError("store unavailable")

    queue = make_queue(handler)
    queue.enqueue(page(1))

    received = delivered.wait_for(3)
    assert received == [page(1)] * 3
    assert len(delivered.settled()) == 3


def test_contract_enqueueing_a_waiting_task_again_is_harmless(make_queue):
    delivered = Recorder()
    queue = make_queue(delivered.add)

    queue.enqueue(page(1))
    queue.enqueue(page(1))

    received = delivered.wait_for(1)
    assert set(t.name for t in delivered.settled()) == {page(1).name}
    assert received[0] == page(1)
