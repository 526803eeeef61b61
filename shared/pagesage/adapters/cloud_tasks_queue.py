"""The Google Cloud `TaskQueue`: one Cloud Tasks HTTP task per `Task`, POSTed to the `ocr` function.

This is the only module of the package that imports the Google Cloud Tasks client library; the
rest of the package imports it lazily (only the `gcp` backend needs it).

Cloud Tasks facts the adapter relies on (API reference of `projects.locations.queues.tasks`,
https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks/create and
https://cloud.google.com/tasks/docs/reference/rest/v2/projects.locations.queues.tasks#Task):

* Task ids may contain only letters, digits, `-` and `_`, at most 500 characters.
* Naming a task enables de-duplication: creating a task whose id equals that of a task that
  exists, or that was deleted or executed recently, fails with `ALREADY_EXISTS`. An id stays
  reserved after its task ran or was deleted for up to 24 hours (up to 9 days for queues made
  from `queue.yaml`). Random id prefixes are recommended: job ids are random, so task ids are.
* There are no priorities: tasks are dispatched roughly in schedule order, subject to the
  queue's rate limits; `Task.priority` is not sent.
* Delivery is at least once; a response other than 2xx (or none within the dispatch deadline)
  is retried according to the queue's retry configuration (Terraform sets it in production).
* The dispatch deadline of an HTTP task defaults to 10 minutes (600 seconds) and must lie in
  [15 seconds, 30 minutes]; past it the attempt counts as failed and is retried, although the
  worker may still be running it.
"""

from __future__ import annotations

import os
import re

import grpc
from google.api_core import exceptions as api_exceptions
from google.api_core import retry as api_retry
from google.cloud import tasks_v2
from google.cloud.tasks_v2.services.cloud_tasks.transports import CloudTasksGrpcTransport
from google.protobuf import duration_pb2

from pagesage.errors import TransientError
from pagesage.ports import Task

TASK_ID_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,500}")
"""Allowed Cloud Tasks task ids (API reference, `Task.name`)."""

DISPATCH_DEADLINE_RANGE = (15.0, 1800.0)
"""Allowed dispatch deadlines of HTTP tasks, seconds (API reference, `Task.dispatch_deadline`)."""

TRANSIENT_ERRORS: tuple[type[Exception], ...] = (
    api_exceptions.ServiceUnavailable,
    api_exceptions.DeadlineExceeded,
    api_exceptions.TooManyRequests,  # includes ResourceExhausted (gRPC RESOURCE_EXHAUSTED)
    api_exceptions.InternalServerError,
    api_exceptions.Aborted,
)
"""API errors that a later attempt may not meet. Retrying `CreateTask` is safe here because the
task is named: an attempt whose response was lost makes the next one fail with `AlreadyExists`,
which counts as success."""

DEFAULT_RETRY = api_retry.Retry(
    predicate=api_retry.if_exception_type(*TRANSIENT_ERRORS),
    initial=0.1,
    maximum=5.0,
    multiplier=2.0,
    timeout=20.0,
)
"""Retry of `CreateTask` on transient errors: 0.1 s back-off doubling up to 5 s, 20 s in all."""

EMULATOR_HOST_VARIABLE = "CLOUD_TASKS_EMULATOR_HOST"


class CloudTasksQueue:
    """`TaskQueue` on a Cloud Tasks queue; `enqueue` keeps the contract documented on
    `pagesage.ports.TaskQueue` with the Cloud Tasks semantics of the module docstring.

    Each task is an HTTP POST of `task.model_dump_json()` (`Content-Type: application/json`) to
    `worker_url`, named `{queue_path}/tasks/{task.name}` so that Cloud Tasks refuses a second
    task for the same job and page while the first is queued or recently ran.

    Args:
        client: a Cloud Tasks client (`tasks_client()`).
        queue_path: `projects/P/locations/L/queues/Q` (`ensure_queue()` returns it).
        worker_url: the URL of the `ocr` function (`Settings.worker_url`).
        service_account: when set, Cloud Tasks sends an OIDC token of this service account
            with `audience=worker_url` (the `ocr` function admits only the queue's account).
        bearer_token: without a service account, sent as `Authorization: Bearer <it>`: the
            local stack's `PAGESAGE_API_TOKEN`, which its `ocr` endpoint then requires.
        dispatch_deadline: seconds Cloud Tasks waits for the worker's response, within
            [15, 1800]; None keeps the Cloud Tasks default of 600 seconds.
        retry: retry policy of `CreateTask` on transient errors.
        timeout: seconds allowed for one `CreateTask` attempt.
    Raises:
        ValueError: `dispatch_deadline` is outside [15, 1800] seconds.
    """

    def __init__(
        self,
        client: tasks_v2.CloudTasksClient,
        queue_path: str,
        *,
        worker_url: str,
        service_account: str | None = None,
        bearer_token: str | None = None,
        dispatch_deadline: float | None = None,
        retry: api_retry.Retry = DEFAULT_RETRY,
        timeout: float = 10.0,
    ) -> None:
        low, high = DISPATCH_DEADLINE_RANGE
        if dispatch_deadline is not None and not low <= dispatch_deadline <= high:
            raise ValueError(f"dispatch_deadline must lie in [{low:g}, {high:g}] seconds, got {dispatch_deadline:g}")
        self._client = client
        self.queue_path = queue_path
        self.worker_url = worker_url
        self.service_account = service_account
        self.bearer_token = bearer_token
        self.dispatch_deadline = dispatch_deadline
        self._retry = retry
        self._timeout = timeout

    def task_path(self, task: Task) -> str:
        """The full Cloud Tasks name of `task`: `{queue_path}/tasks/{task.name}`.

        Raises:
            ValueError: `task.name` is not a valid Cloud Tasks task id (`[A-Za-z0-9_-]{1,500}`).
        """
        task_id = task.name
        if not TASK_ID_PATTERN.fullmatch(task_id):
            raise ValueError(
                f"task name {task_id!r} is not a valid Cloud Tasks task id: it must match "
                f"{TASK_ID_PATTERN.pattern} (letters, digits, '-', '_'; at most 500 characters)"
            )
        return f"{self.queue_path}/tasks/{task_id}"

    def build_task(self, task: Task) -> tasks_v2.Task:
        """The Cloud Tasks task `enqueue` creates for `task`.

        Raises:
            ValueError: `task.name` is not a valid Cloud Tasks task id.
        """
        request = tasks_v2.HttpRequest(
            url=self.worker_url,
            http_method=tasks_v2.HttpMethod.POST,
            headers={"Content-Type": "application/json"},
            body=task.model_dump_json().encode("utf-8"),
        )
        if self.service_account:
            request.oidc_token = tasks_v2.OidcToken(service_account_email=self.service_account, audience=self.worker_url)
        elif self.bearer_token:
            request.headers["Authorization"] = f"Bearer {self.bearer_token}"
        built = tasks_v2.Task(name=self.task_path(task), http_request=request)
        if self.dispatch_deadline is not None:
            built.dispatch_deadline = duration_pb2.Duration(seconds=int(self.dispatch_deadline),
                                                            nanos=int(self.dispatch_deadline % 1 * 1e9))
        return built

    def enqueue(self, task: Task) -> None:
        """Create the Cloud Tasks task of `task`; a task of that name already there is success.

        Raises:
            ValueError: `task.name` is not a valid Cloud Tasks task id.
            TransientError: Cloud Tasks stayed unavailable (or kept throttling) through the retry.
            google.api_core.exceptions.GoogleAPICallError: any other refusal (missing queue,
                permission denied, invalid argument).
        """
        built = self.build_task(task)
        try:
            self._client.create_task(parent=self.queue_path, task=built, retry=self._retry, timeout=self._timeout)
        except api_exceptions.AlreadyExists:
            return
        except api_exceptions.RetryError as exc:
            raise TransientError(f"Cloud Tasks did not accept task {task.name} in time: {exc.cause or exc}") from exc
        except TRANSIENT_ERRORS as exc:
            raise TransientError(f"Cloud Tasks is unavailable for task {task.name}: {exc}") from exc


def tasks_client() -> tasks_v2.CloudTasksClient:
    """A Cloud Tasks client: over an insecure gRPC channel to `CLOUD_TASKS_EMULATOR_HOST`
    (`host:port`) when that is set, otherwise to Google Cloud with Application Default
    Credentials."""
    host = os.environ.get(EMULATOR_HOST_VARIABLE)
    if host:
        return tasks_v2.CloudTasksClient(transport=CloudTasksGrpcTransport(channel=grpc.insecure_channel(host)))
    return tasks_v2.CloudTasksClient()


def ensure_queue(client: tasks_v2.CloudTasksClient, project: str, location: str, queue_id: str) -> str:
    """Create the queue `queue_id` unless it exists; return its path `projects/P/locations/L/queues/Q`.

    For the emulator and `make run-gcp-local`: production queues, with their retry and rate
    settings, come from Terraform. Queue ids contain letters, digits and hyphens, at most 100
    characters (API reference, `Queue.name`).
    """
    path = client.queue_path(project, location, queue_id)
    try:
        client.create_queue(parent=client.common_location_path(project, location), queue=tasks_v2.Queue(name=path))
    except api_exceptions.AlreadyExists:
        pass
    return path
