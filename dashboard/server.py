"""The web server: a Flask app carrying the API; the Dash app mounts on it."""

from __future__ import annotations

from flask import Flask

from complaintops.runtime import Runtime
from dashboard import api


def create_server(runtime: Runtime) -> Flask:
    server = Flask("complaintops")
    server.config["JSON_AS_ASCII"] = False
    server.json.ensure_ascii = False  # type: ignore[attr-defined]
    server.json.sort_keys = False  # type: ignore[attr-defined]
    server.json.mimetype = "application/json; charset=utf-8"  # type: ignore[attr-defined]
    api.install(server, runtime)
    return server
