"""Route tables of the HTTP APIs served by several functions each (the provenance API, the
book layer's API): one table per API says which function serves each path and method, and is
what the functions dispatch on, the local stack routes on and the OpenAPI document describes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable

import flask
from pydantic import BaseModel
from werkzeug.exceptions import MethodNotAllowed
from werkzeug.exceptions import NotFound as NoRoute
from werkzeug.routing import BaseConverter, Map, Rule

from pagesage.errors import MethodNotAllowedError, NotFound

if TYPE_CHECKING:
    from pagesage.bootstrap import Services

Handler = Callable[[flask.Request, "Services", dict[str, str]], flask.Response]


@dataclass(frozen=True)
class Route:
    """One operation: `method` on `path` (werkzeug syntax), served by `function`.

    `body`/`response` are the pydantic models of the request and the answer (None: no body);
    `query` names the query parameters with their JSON Schemas (for the OpenAPI document: a
    `description`, and `required: true` where the handler refuses a request without it);
    `headers` names request headers the same way (e.g. `If-Match`).
    """

    method: str
    path: str
    function: str
    handler: Handler
    summary: str
    body: type[BaseModel] | None = None
    response: type[BaseModel] | None = None
    status: int = 200
    query: dict[str, dict] = field(default_factory=dict)
    headers: dict[str, dict] = field(default_factory=dict)


class RouteTable:
    """The routes of one API under `root` (where the local stack mounts it); paths of
    requests are relative to it. `default` is the function that answers paths no route knows;
    `converters` are werkzeug URL converters the paths name (`<box:box_id>`)."""

    def __init__(self, root: str, routes: tuple[Route, ...], *, default: str,
                 converters: dict[str, type[BaseConverter]] | None = None) -> None:
        self.root = root
        self.routes = routes
        self.default = default
        self._map = Map([Rule(r.path, methods=[r.method], endpoint=i) for i, r in enumerate(routes)], strict_slashes=False,
                        converters=converters)

    def match(self, path: str, method: str) -> tuple[Route, dict[str, str]]:
        """The route and path arguments for `method path` (relative to the root).

        Raises:
            NotFound: no route has this path. MethodNotAllowedError (405, its `allow` the
                path's methods): the path exists for other methods.
        """
        adapter = self._map.bind("pagesage", "/")
        try:
            index, args = adapter.match(path or "/", method=method)
        except NoRoute as exc:
            raise NotFound(f"no API route {path}") from exc
        except MethodNotAllowed as exc:
            allowed = sorted(exc.valid_methods or [])  # werkzeug adds HEAD wherever GET is
            raise MethodNotAllowedError(f"{method} is not allowed on {path}; allowed: {', '.join(allowed)}", allow=allowed) from exc
        return self.routes[index], args

    def function_for(self, path: str, method: str) -> str | None:
        """The function serving `method path`, None when no route matches."""
        try:
            return self.match(path, method)[0].function
        except (NotFound, MethodNotAllowedError):
            return None

    def dispatch(self, function: str, request: flask.Request, services: "Services") -> flask.Response:
        """Run the route of `request` if `function` serves it. Raises `NotFound` otherwise."""
        route, args = self.match(request.path, request.method)
        if route.function != function:
            raise NotFound(f"{request.method} {request.path} is served by the `{route.function}` function")
        return route.handler(request, services, args)
