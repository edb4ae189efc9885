"""The JSON read API, version 1 (api-v1.md), as a Flask blueprint.

Every module ``dashboard/api/routes_*.py`` defines ``register(blueprint)``;
they are discovered here. Routes read through the same query layer and view
functions as the dashboard pages. Any other path under ``/api/`` answers a
JSON 401, 404 or 405 (``fallback``).
"""

from __future__ import annotations

import importlib
import pkgutil

from flask import Blueprint, Flask

from complaintops.runtime import Runtime
from dashboard.api import auth, errors, fallback

API_PREFIX = "/api/v1"
PUBLIC_ENDPOINTS = {"api_v1.health"}


def route_modules() -> list[str]:
    return sorted(
        f"{__name__}.{info.name}"
        for info in pkgutil.iter_modules(__path__)
        if info.name.startswith("routes_")
    )


def create_blueprint() -> Blueprint:
    blueprint = Blueprint("api_v1", __name__, url_prefix=API_PREFIX)
    auth.protect(blueprint, public=PUBLIC_ENDPOINTS)
    errors.register(blueprint)
    for name in route_modules():
        importlib.import_module(name).register(blueprint)
    return blueprint


def install(server: Flask, runtime: Runtime) -> None:
    server.extensions["complaintops"] = runtime
    blueprint = create_blueprint()
    server.register_blueprint(blueprint)
    fallback.install(server, blueprint.name, PUBLIC_ENDPOINTS)
