"""Security headers of every response, with a Content-Security-Policy that Dash can live with.

Scripts: only from this origin plus the hashes of Dash's inline scripts
(``Dash.csp_hashes()``: its renderer start-up and any inline clientside
callbacks). Styles allow inline ``style`` attributes, which every Dash
component and Plotly use. No framing by other sites.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

STATIC_HEADERS: Final = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "SAMEORIGIN",
    # Kiosk URLs carry a token: never send the address to another site.
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=(), payment=()",
}


def content_security_policy(script_hashes: Iterable[str] = ()) -> str:
    script_src = " ".join(["'self'", *script_hashes])
    directives = [
        "default-src 'self'",
        f"script-src {script_src}",
        "style-src 'self' 'unsafe-inline'",
        "img-src 'self' data: blob:",
        "font-src 'self' data:",
        "connect-src 'self'",
        "worker-src 'self' blob:",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'self'",
    ]
    return "; ".join(directives)


def security_headers(script_hashes: Iterable[str] = (), https: bool = False) -> dict[str, str]:
    headers = dict(STATIC_HEADERS)
    headers["Content-Security-Policy"] = content_security_policy(script_hashes)
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000"
    return headers
