"""Validated query parameters: a bad value is a 400 that names the parameter."""

from __future__ import annotations

from collections.abc import Collection
from datetime import date

from flask import request

from dashboard.api.errors import BadParameter


def int_param(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BadParameter(name, f"must be an integer from {low} to {high}, got '{raw}'") from None
    if not low <= value <= high:
        raise BadParameter(name, f"must be an integer from {low} to {high}, got {value}")
    return value


def choice_param(name: str, default: str, choices: Collection[str]) -> str:
    raw = request.args.get(name)
    if raw is None:
        return default
    if raw not in choices:
        raise BadParameter(name, f"must be one of {', '.join(choices)}, got '{raw}'")
    return raw


def date_param(name: str, default: date) -> date:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        if len(raw) != 10:
            raise ValueError
        return date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(name, f"must be a date YYYY-MM-DD, got '{raw}'") from None


def optional_id_param(name: str) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > 64:
        raise BadParameter(name, "must be at most 64 characters")
    return raw
