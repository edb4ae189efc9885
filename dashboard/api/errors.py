"""JSON errors of the API: 400 naming the parameter, 401, 404, 405, 503.

Redis or the database failing under a route answers 503 (and is logged),
whichever route it is.
"""

from __future__ import annotations

import logging
from typing import Any

import redis
from flask import Blueprint, Response, jsonify, request
from redis.exceptions import RedisClusterException
from sqlalchemy.exc import SQLAlchemyError

log = logging.getLogger(__name__)


class ApiError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class BadParameter(ApiError):
    def __init__(self, name: str, rule: str) -> None:
        super().__init__(400, f"parameter '{name}' {rule}")
        self.parameter = name


def error_response(status: int, message: str) -> tuple[Response, int]:
    response = jsonify({"error": message})
    return response, status


def register(blueprint: Blueprint) -> None:
    @blueprint.errorhandler(ApiError)
    def _api_error(exc: ApiError) -> Any:
        return error_response(exc.status, exc.message)

    @blueprint.errorhandler(redis.RedisError)
    @blueprint.errorhandler(RedisClusterException)
    def _metrics_unavailable(exc: Exception) -> Any:
        return _unavailable("metrics", exc)

    @blueprint.errorhandler(SQLAlchemyError)
    def _database_unavailable(exc: Exception) -> Any:
        return _unavailable("database", exc)

    @blueprint.errorhandler(404)
    def _not_found(exc: Exception) -> Any:
        return error_response(404, "not found")

    @blueprint.errorhandler(405)
    def _not_allowed(exc: Exception) -> Any:
        return error_response(405, "method not allowed")


def _unavailable(what: str, exc: Exception) -> tuple[Response, int]:
    name = exc.__class__.__name__
    log.error("%s %s: %s unavailable (%s: %s)", request.method, request.path, what, name, exc)
    return error_response(503, f"{what} unavailable: {name}")
