"""Wires the Dash app onto the web server; pages live in dashboard/pages.

Order matters: the web server (API), then sign-in and security (their
request guard must run before Dash's own hooks), then Dash with its pages,
then the pages are handed to the access rules.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import dash

from complaintops.runtime import Runtime
from dashboard import auth
from dashboard.components.shell import register_shell_callbacks, shell_layout
from dashboard.components.wall import WALL_FRAME_CACHE, WallFrameCache
from dashboard.server import create_server

PACKAGE_DIR = Path(__file__).parent
PAGES_DIR = PACKAGE_DIR / "pages"
ASSETS_DIR = PACKAGE_DIR / "assets"


def _forget_unclaimed_callbacks() -> None:
    """Drop page callbacks registered for an earlier app that never served a
    request (tests build several apps in one process). Creating the app runs
    every page module again, which registers this app's callbacks afresh."""
    from dash import _callback

    _callback.GLOBAL_CALLBACK_LIST.clear()
    _callback.GLOBAL_CALLBACK_MAP.clear()
    _callback.GLOBAL_INLINE_SCRIPTS.clear()


def create_app(runtime: Runtime, *, clock: Callable[[], float] = time.time) -> dash.Dash:
    """The dashboard on its web server; ``clock`` gives the time sessions expire by."""
    server = create_server(runtime)
    server.extensions[WALL_FRAME_CACHE] = WallFrameCache()
    auth.install(server, runtime, clock=clock)
    _forget_unclaimed_callbacks()
    app = dash.Dash(
        "dashboard",
        server=server,  # type: ignore[arg-type]
        use_pages=True,
        pages_folder=str(PAGES_DIR),
        assets_folder=str(ASSETS_DIR),
        suppress_callback_exceptions=True,
        title="ComplaintOps 投诉运营",
        update_title=None,  # type: ignore[arg-type]
        serve_locally=True,
    )
    app.layout = shell_layout
    register_shell_callbacks(app)
    auth.attach_dash(app)
    return app
