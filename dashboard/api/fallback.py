"""JSON answers for paths under ``/api/`` that no API route serves.

Without this, such a request reaches the web server's other routes (the
Dash pages' catch-all answers its HTML index) or Flask's HTML error pages,
and the blueprint's token check and error handlers never run. Here a path
under ``/api/`` that is not an API route answers, in the API's error shape:
401 without a valid token (unless the path is a public route's), else 405
when an API route has the path but not the method, else 404.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import Any, Final

from flask import Flask, current_app, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed

from dashboard.api.auth import token_refusal
from dashboard.api.errors import error_response

API_ROOT: Final = "/api/"


def _api_routes_for_path(blueprint: str) -> dict[str, str]:
    """The API endpoints that serve this request's path, by method."""
    failure = request.routing_exception
    if not isinstance(failure, MethodNotAllowed) or not failure.valid_methods:
        return {}
    adapter = current_app.url_map.bind_to_environ(request.environ)
    found: dict[str, str] = {}
    for method in failure.valid_methods:
        try:
            endpoint, _ = adapter.match(method=method)
        except HTTPException:
            continue
        if isinstance(endpoint, str) and endpoint.startswith(f"{blueprint}."):
            found[method] = endpoint
    return found


def install(server: Flask, blueprint: str, public: Collection[str]) -> None:
    """Answer paths under ``/api/`` outside ``blueprint``'s routes in JSON."""

    @server.before_request
    def _outside_the_api_routes() -> Any:
        if not request.path.startswith(API_ROOT):
            return None
        if request.blueprint == blueprint:
            return None  # the blueprint checks the token and answers its own errors
        routes = _api_routes_for_path(blueprint)
        if not routes or not set(routes.values()) <= set(public):
            refusal = token_refusal()
            if refusal is not None:
                return refusal
        if routes:
            response, status = error_response(405, "method not allowed")
            response.headers["Allow"] = ", ".join(sorted(routes))
            return response, status
        return error_response(404, "not found")
