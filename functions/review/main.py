"""`review` (HTTP, POST/PATCH): create or change the human review of a page result (routes in
`pagesage.api.routes`)."""

import functions_framework

from pagesage import web
from pagesage.api import routes


@functions_framework.http
@web.endpoint(web.ANY_METHOD, operator=True)
def review(request, services):
    """Answer the route the path names."""
    return routes.dispatch("review", request, services)
