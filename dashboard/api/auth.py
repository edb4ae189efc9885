"""Bearer-token authentication of the API (tokens from COMPLAINTOPS_API_TOKENS)."""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Response, current_app, request

from dashboard.api.errors import error_response


def token_is_valid(presented: str, tokens: list[str]) -> bool:
    # Compare against every token so the time taken does not reveal which matched.
    valid = False
    for token in tokens:
        valid |= hmac.compare_digest(presented.encode(), token.encode())
    return valid and bool(presented)


def token_refusal() -> tuple[Response, int] | None:
    """The 401 for a request without a valid bearer token, or None when it has one."""
    header = request.headers.get("Authorization", "")
    scheme, _, presented = header.partition(" ")
    runtime = current_app.extensions["complaintops"]
    if scheme.lower() != "bearer" or not presented.strip():
        response, status = error_response(
            401, "missing bearer token (Authorization: Bearer <token>)"
        )
    elif not token_is_valid(presented.strip(), list(runtime.settings.api_tokens)):
        response, status = error_response(401, "invalid bearer token")
    else:
        return None
    response.headers["WWW-Authenticate"] = 'Bearer realm="complaintops"'
    return response, status


def protect(blueprint: Blueprint, public: set[str]) -> None:
    @blueprint.before_request
    def _require_token() -> Any:
        if request.endpoint in public:
            return None
        return token_refusal()
