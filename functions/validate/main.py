"""`validate` (HTTP): validate a page's or a project's references and footnotes, and apply the
automatic fixes (routes in `pagesage.book.api.routes`)."""

import functions_framework

from pagesage import web
from pagesage.book.api import routes


@functions_framework.http
@web.endpoint(web.ANY_METHOD, rate_limited=False, operator=True)
def validate(request, services):
    """Answer the route the path names."""
    return routes.TABLE.dispatch("validate", request, services)
