"""The Runtime of the current request (callbacks never reach for globals)."""

from __future__ import annotations

from flask import current_app

from complaintops.runtime import Runtime


def current_runtime() -> Runtime:
    """The Runtime the web server was built with (``flask.current_app.extensions``)."""
    runtime: Runtime = current_app.extensions["complaintops"]
    return runtime
