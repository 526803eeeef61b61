"""`ocr` (HTTP, POST): the worker, called by the task queue with a JSON `Task` body.

Answers 204 when the task is done (or permanently failed and recorded), 503 when it should be
delivered again. Not rate-limited by client IP in production: Cloud Tasks calls it with an OIDC
token, and IAM admits only the queue's service account.
"""

import flask
import functions_framework
from pydantic import ValidationError

from pagesage import web
from pagesage.errors import InputError
from pagesage.ports import Task
from pagesage.services.worker import handle_task


@functions_framework.http
@web.endpoint("POST", rate_limited=False)
def ocr(request, services):
    """Run the task in the body."""
    try:
        task = Task.model_validate_json(request.get_data())
    except ValidationError as exc:
        raise InputError(f"invalid task: {exc.errors()[0]['msg']}", error_code="invalid_task") from exc
    handle_task(task, services.worker)
    return flask.Response(status=204)
