"""`annotations` (HTTP): a page's annotations and every edit of them — boxes, text, inline
references, reading order, review status, history — and navigation between references
(routes in `pagesage.book.api.routes`)."""

import functions_framework

from pagesage import web
from pagesage.book.api import routes


@functions_framework.http
@web.endpoint(web.ANY_METHOD, rate_limited=False, operator=True)
def annotations(request, services):
    """Answer the route the path names."""
    return routes.TABLE.dispatch("annotations", request, services)
