"""JSON errors of the API: 400 naming the parameter, 401, 404, 503."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, jsonify


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

    @blueprint.errorhandler(404)
    def _not_found(exc: Exception) -> Any:
        return error_response(404, "not found")

    @blueprint.errorhandler(405)
    def _not_allowed(exc: Exception) -> Any:
        return error_response(405, "method not allowed")
