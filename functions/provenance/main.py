"""`provenance` (HTTP, GET): the provenance API's reads — source documents, their pages, every
run's results for a page, one page result in full, and the diff of two runs (routes in
`pagesage.api.routes`)."""

import functions_framework

from pagesage import web
from pagesage.api import routes


@functions_framework.http
@web.endpoint(web.ANY_METHOD, operator=True)
def provenance(request, services):
    """Answer the route the path names."""
    return routes.dispatch("provenance", request, services)
