"""Routes over the pipeline's data: health, overview, workload, throughput, cases.

Redis or the database failing is a 503 (``dashboard.api.errors``)."""

from __future__ import annotations

import socket
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text
from sqlalchemy.orm import Session

from complaintops.runtime import Runtime
from dashboard.api import views
from dashboard.api.errors import ApiError
from dashboard.api.params import int_param, optional_id_param

_KAFKA_CHECK_TTL = 5.0
_kafka_cache: dict[str, tuple[float, bool]] = {}


def _runtime() -> Runtime:
    runtime: Runtime = current_app.extensions["complaintops"]
    return runtime


def kafka_reachable(bootstrap: str, timeout: float = 1.0) -> bool:
    """A TCP connection to any bootstrap server (cached for a few seconds)."""
    cached = _kafka_cache.get(bootstrap)
    now = time.monotonic()
    if cached is not None and now - cached[0] < _KAFKA_CHECK_TTL:
        return cached[1]
    ok = False
    for server in bootstrap.split(","):
        host, _, port = server.strip().rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
                ok = True
                break
        except (OSError, ValueError):
            continue
    _kafka_cache[bootstrap] = (now, ok)
    return ok


def database_reachable(runtime: Runtime) -> bool:
    try:
        with runtime.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return True
    except Exception:
        return False


def health_checks(runtime: Runtime) -> dict[str, bool]:
    return {
        "redis": runtime.query.ping(),
        "database": database_reachable(runtime),
        "kafka": kafka_reachable(runtime.kafka_bootstrap),
    }


def register(bp: Blueprint) -> None:
    @bp.get("/health", endpoint="health")
    def health() -> Response:
        checks = health_checks(_runtime())
        return jsonify({"status": "ok" if all(checks.values()) else "degraded", "checks": checks})

    @bp.get("/overview")
    def overview() -> Any:
        team = optional_id_param("team")
        return jsonify(views.overview(_runtime(), team=team))

    @bp.get("/workload")
    def workload() -> Any:
        team = optional_id_param("team")
        return jsonify(views.workload(_runtime(), team=team))

    @bp.get("/throughput")
    def throughput() -> Any:
        hours = int_param("hours", 24, 1, 168)
        team = optional_id_param("team")
        return jsonify(views.throughput(_runtime(), hours, team=team))

    @bp.get("/cases/<case_id>")
    def case(case_id: str) -> Any:
        runtime = _runtime()
        with Session(runtime.engine) as session:
            detail = views.case_detail(runtime, session, case_id)
        if detail is None:
            raise ApiError(404, f"unknown case '{case_id}'")
        return jsonify(detail)
