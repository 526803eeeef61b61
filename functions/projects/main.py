"""`projects` (HTTP): make a project of an OCR'd document; list and read projects, their pages
and their cost log (routes in `pagesage.book.api.routes`)."""

import functions_framework

from pagesage import web
from pagesage.book.api import routes


@functions_framework.http
@web.endpoint(web.ANY_METHOD, rate_limited=False, operator=True)
def projects(request, services):
    """Answer the route the path names."""
    return routes.TABLE.dispatch("projects", request, services)
