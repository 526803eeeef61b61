"""`status` (HTTP, GET /status/<job_id>): the job's status and progress; 404 when unknown."""

import functions_framework

from pagesage import web
from pagesage.services.results import get_status


@functions_framework.http
@web.endpoint("GET")
def status(request, services):
    """The StatusResponse of the job named in the path."""
    return web.json_response(get_status(web.path_id(request), store=services.store))
