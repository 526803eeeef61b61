"""`result` (HTTP, GET /result/<job_id>?format=hocr|json|text|markdown): a completed job's output.

hOCR is the default. Not finished -> 409 with the status; failed -> 422 with the job's error;
unknown or expired -> 404.
"""

import flask
import functions_framework

from pagesage import web
from pagesage.services.results import get_result


@functions_framework.http
@web.endpoint("GET")
def result(request, services):
    """The stored result in the requested format."""
    body, content_type = get_result(
        web.path_id(request), request.args.get("format", "hocr"), store=services.store, blobs=services.blobs
    )
    return flask.Response(body, status=200, content_type=content_type)
