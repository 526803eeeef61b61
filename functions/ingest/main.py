"""`ingest` (HTTP, POST): outside work into the provenance model — register source documents
and runs, bulk-create tokens and links, suggest dictionary links, ingest tokens + review +
links at once (routes in `pagesage.api.routes`)."""

import functions_framework

from pagesage import web
from pagesage.api import routes


@functions_framework.http
@web.endpoint(web.ANY_METHOD, operator=True)
def ingest(request, services):
    """Answer the route the path names."""
    return routes.dispatch("ingest", request, services)
