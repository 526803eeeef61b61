"""The OCR worker's two entry points.

`ocr` (HTTP, POST): called by the task queue with a JSON `Task` body. Answers 204 when the task
is done (or permanently failed and recorded), 503 when it should be delivered again. Cloud Tasks'
`X-CloudTasks-TaskRetryCount` tells it the last of PAGESAGE_TASK_MAX_ATTEMPTS deliveries, on
which a page that still fails transiently is recorded as failed rather than left pending. Not
rate-limited by client IP: in production Cloud Tasks calls it with an OIDC token, and IAM admits
only the queue's service account.

`ocr_bucket_drop` (CloudEvent `google.cloud.storage.object.v1.finalized`): a file dropped under
`incoming/` of the bucket becomes a job (services/bucket_drop.py). Returning normally
acknowledges the event; raising (only for transient failures) makes Eventarc deliver it again.
"""

import logging

import flask
import functions_framework
from pydantic import ValidationError

from pagesage import bootstrap, web
from pagesage.errors import InputError, PageSageError, validation_failed
from pagesage.ports import Task
from pagesage.services.bucket_drop import DroppedObject, accept_dropped_object
from pagesage.services.worker import handle_task

log = logging.getLogger(__name__)


@functions_framework.http
@web.endpoint("POST", rate_limited=False, operator=True)
def ocr(request, services):
    """Run the task in the body."""
    try:
        task = Task.model_validate_json(request.get_data())
    except ValidationError as exc:
        reason = validation_failed(exc)
        raise InputError(f"invalid task: {reason.detail}", error_code="invalid_task") from exc
    retries = request.headers.get("X-CloudTasks-TaskRetryCount", "0")
    last_attempt = int(retries) + 1 >= services.settings.task_max_attempts if retries.isascii() and retries.isdigit() else False
    handle_task(task, services.worker, last_attempt=last_attempt)
    return flask.Response(status=204)


@functions_framework.cloud_event
def ocr_bucket_drop(cloud_event):
    """Create and queue the job of the object the event names; an event that can never succeed
    is logged and acknowledged, a transient failure raised for redelivery."""
    services = bootstrap.services()
    try:
        accept_dropped_object(
            DroppedObject.from_event_data(cloud_event.data),
            bucket=services.settings.bucket,
            installed_languages=services.engine.installed_languages(),
            max_bytes=services.settings.max_upload_bytes,
            store=services.store,
            blobs=services.blobs,
            queue=services.queue,
        )
    except PageSageError as exc:
        if exc.retryable:
            raise
        log.warning("storage event %s dropped: %s", cloud_event["id"], exc.detail)
