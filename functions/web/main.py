"""`web` (HTTP, GET): the review page and the browser libraries it loads (paths in
`pagesage.review_page.serving`); the page talks to the `/api/v1` functions itself."""

import functions_framework

from pagesage.review_page import serving
from pagesage.web import endpoint


@functions_framework.http
@endpoint("GET", rate_limited=False)
def web(request, services):
    """Answer the file the path names (404 JSON for anything else)."""
    return serving.respond(request)
