"""Validated query parameters: a bad value is a 400 that names the parameter.

Values are read strictly: an integer is ASCII digits (an optional leading
minus), a date is ``YYYY-MM-DD`` in ASCII digits; Python's more lenient
readings (``+5``, `` 5``, ``1_0``, other scripts' digits, ISO week dates)
are refused.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from datetime import date
from typing import Final

from flask import request

from dashboard import dates
from dashboard.api.errors import BadParameter

INTEGER: Final = re.compile(r"-?[0-9]{1,18}", re.ASCII)


def int_param(name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not INTEGER.fullmatch(raw):
        raise BadParameter(name, f"must be an integer from {low} to {high}, got '{raw}'")
    value = int(raw)
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
        if not dates.ISO_DATE.fullmatch(raw):
            raise ValueError
        value = date.fromisoformat(raw)
    except ValueError:
        raise BadParameter(name, f"must be a date YYYY-MM-DD, got '{raw}'") from None
    if not dates.within_range(value):
        raise BadParameter(
            name, f"must be a date from {dates.EARLIEST} to {dates.LATEST}, got '{raw}'"
        )
    return value


def optional_id_param(name: str) -> str | None:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return None
    if len(raw) > 64:
        raise BadParameter(name, "must be at most 64 characters")
    return raw
