"""Sign-in, sessions, CSRF, roles and kiosk rules through the real web server (test client)."""

from __future__ import annotations

import re
import threading
from typing import Any

import pytest
from werkzeug.test import TestResponse

from dashboard.auth import csrf
from dashboard.auth.ratelimit import MAX_FAILURES
from dashboard.auth.sessions import IDLE_SECONDS
from tests.dashboard.auth.conftest import KIOSK_TOKEN, PASSWORD, Web

CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def form_token(web: Web, path: str = "/login") -> str:
    page = web.client.get(path)
    found = CSRF_FIELD.search(page.get_data(as_text=True))
    assert found, "no CSRF field on the form"
    return found.group(1)


def sign_in(
    web: Web, username: str, password: str = PASSWORD, next_path: str = "/"
) -> TestResponse:
    token = form_token(web)
    return web.client.post(
        "/login",
        data={"username": username, "password": password, "csrf_token": token, "next": next_path},
    )


def cookie(web: Web, name: str) -> str | None:
    found = web.client.get_cookie(name)
    return found.value if found is not None else None


def callback(web: Web, body: dict[str, Any], token: str | None = "from-cookie") -> TestResponse:
    headers = {}
    if token == "from-cookie":
        token = cookie(web, csrf.COOKIE)
    if token is not None:
        headers[csrf.HEADER] = token
    return web.client.post("/_dash-update-component", json=body, headers=headers)


def router(pathname: str, search: str = "") -> dict[str, Any]:
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": search},
        ],
        "changedPropIds": ["_pages_location.pathname"],
    }


# An action on an admin-only page (ids prefixed "users-").
ACTION = {
    "output": "users-disable.children",
    "outputs": {"id": "users-disable", "property": "children"},
    "inputs": [{"id": "users-disable-button", "property": "n_clicks", "value": 1}],
    "changedPropIds": ["users-disable-button.n_clicks"],
}


# -- signing in ---------------------------------------------------------------------------


def test_pages_need_sign_in(web: Web) -> None:
    answer = web.client.get("/flow?team=claims-east")
    assert answer.status_code == 302
    assert answer.headers["Location"] == "/login?next=/flow%3Fteam%3Dclaims-east"
    assert web.client.get("/").status_code == 302
    assert web.client.get("/_dash-layout").status_code == 401
    assert web.client.get("/_dash-dependencies").status_code == 401


def test_sign_in_and_out(web: Web) -> None:
    answer = sign_in(web, "Leader", next_path="/flow")
    assert answer.status_code == 303
    assert answer.headers["Location"] == "/flow"
    assert answer.headers["Clear-Site-Data"] == '"storage"'
    session_cookie = web.client.get_cookie("complaintops_session")
    assert session_cookie is not None and session_cookie.http_only
    assert session_cookie.same_site == "Lax"
    assert web.client.get("/").status_code == 200
    layout = web.client.get("/_dash-layout")
    assert layout.status_code == 200
    assert "leader" in layout.get_data(as_text=True)
    assert web.client.get("/login?next=/flow").headers["Location"] == "/flow"
    logout = web.client.post("/logout", data={"csrf_token": cookie(web, csrf.COOKIE)})
    assert logout.status_code == 303
    assert logout.headers["Clear-Site-Data"] == '"storage"'
    assert web.client.get("/").status_code == 302


@pytest.mark.parametrize(
    ("username", "password"),
    [("leader", "wrong password!"), ("nobody", PASSWORD), ("gone", PASSWORD), ("leader", "")],
    ids=["wrong-password", "unknown-user", "disabled-user", "empty-password"],
)
def test_wrong_sign_in_is_refused(web: Web, username: str, password: str) -> None:
    answer = sign_in(web, username, password)
    assert answer.status_code == 401
    assert "用户名或密码不正确" in answer.get_data(as_text=True)
    assert web.client.get("/").status_code == 302


def test_sign_in_form_needs_its_csrf_token(web: Web) -> None:
    form_token(web)
    answer = web.client.post(
        "/login", data={"username": "leader", "password": PASSWORD, "csrf_token": "forged"}
    )
    assert answer.status_code == 400
    assert web.client.get("/").status_code == 302


def test_logout_needs_the_csrf_token(web: Web) -> None:
    sign_in(web, "leader")
    assert web.client.post("/logout", data={"csrf_token": "forged"}).status_code == 400
    assert web.client.get("/").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\evil"])
def test_sign_in_never_redirects_off_site(web: Web, target: str) -> None:
    answer = sign_in(web, "leader", next_path=target)
    assert answer.headers["Location"] == "/"


def test_too_many_failures_answer_429_even_with_the_right_password(web: Web) -> None:
    for _ in range(MAX_FAILURES):
        assert sign_in(web, "leader", "wrong password!").status_code == 401
    blocked = sign_in(web, "leader", PASSWORD)
    assert blocked.status_code == 429
    assert int(blocked.headers["Retry-After"]) > 0
    # Another username from the same address is not blocked.
    assert sign_in(web, "manager", PASSWORD).status_code == 303


def test_success_clears_earlier_failures(web: Web) -> None:
    for _ in range(MAX_FAILURES - 1):
        sign_in(web, "leader", "wrong password!")
    assert sign_in(web, "leader").status_code == 303
    web.client.post("/logout", data={"csrf_token": cookie(web, csrf.COOKIE)})
    for _ in range(MAX_FAILURES - 1):
        sign_in(web, "leader", "wrong password!")
    assert sign_in(web, "leader").status_code == 303


def test_concurrent_guesses_get_no_more_password_checks_than_the_limit(web: Web) -> None:
    token = form_token(web)
    session_cookie = cookie(web, "complaintops_session")
    assert session_cookie is not None
    app = web.client.application
    barrier = threading.Barrier(30)
    statuses: list[int] = []

    def guess(i: int) -> None:
        client = app.test_client()
        client.set_cookie("complaintops_session", session_cookie)
        barrier.wait()
        data = {"username": "admin", "password": f"wrong guess {i:02d}", "csrf_token": token}
        statuses.append(client.post("/login", data=data).status_code)

    threads = [threading.Thread(target=guess, args=(i,)) for i in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses.count(401) == MAX_FAILURES
    assert statuses.count(429) == 30 - MAX_FAILURES


# -- sessions ------------------------------------------------------------------------------


def test_session_ends_after_eight_idle_hours(web: Web) -> None:
    sign_in(web, "leader")
    web.clock.advance(IDLE_SECONDS - 60)
    assert web.client.get("/").status_code == 200
    web.clock.advance(IDLE_SECONDS - 60)
    assert web.client.get("/").status_code == 200
    web.clock.advance(IDLE_SECONDS)
    assert web.client.get("/").status_code == 302


def test_session_ends_after_24_hours_however_active(web: Web) -> None:
    sign_in(web, "leader")
    for _ in range(23):
        web.clock.advance(3600)
        assert web.client.get("/").status_code == 200
    web.clock.advance(3600)
    assert web.client.get("/").status_code == 302


def test_disabled_user_is_signed_out_within_a_minute(web: Web) -> None:
    from sqlalchemy.orm import Session

    from dashboard.auth.users import set_active

    sign_in(web, "leader")
    with Session(web.runtime.engine) as session, session.begin():
        set_active(session, "leader", False)
    web.clock.advance(61)
    assert web.client.get("/").status_code == 302


# -- roles ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("username", "path", "status"),
    [
        ("leader", "/wall", 200),
        ("leader", "/flow", 200),
        ("leader", "/leaderboard", 403),
        ("leader", "/users", 403),
        ("manager", "/leaderboard", 200),
        ("manager", "/users", 403),
        ("admin", "/users", 200),
        ("admin", "/mail", 200),
    ],
)
def test_pages_by_role(web: Web, username: str, path: str, status: int) -> None:
    sign_in(web, username)
    answer = web.client.get(path)
    assert answer.status_code == status
    if status == 403:
        assert "无权访问" in answer.get_data(as_text=True)


def test_callback_needs_session_and_csrf_header(web: Web) -> None:
    form_token(web)  # an anonymous session with a CSRF token
    assert callback(web, router("/")).status_code == 401
    sign_in(web, "leader")
    assert callback(web, router("/"), token=None).status_code == 403
    assert callback(web, router("/"), token="forged").status_code == 403
    assert callback(web, router("/")).status_code == 200


@pytest.mark.parametrize("username", ["leader", "manager"])
def test_action_callbacks_follow_the_role(web: Web, username: str) -> None:
    sign_in(web, username)
    assert callback(web, ACTION).status_code == 403


def test_router_shows_no_access_for_a_page_the_role_may_not_open(web: Web) -> None:
    sign_in(web, "leader")
    answer = callback(web, {**router("/leaderboard")})
    # No leaderboard page may exist yet: then Dash answers its 404 content.
    assert answer.status_code == 200
    assert "leaderboard-" not in answer.get_data(as_text=True)


# -- kiosk ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "search"),
    [
        ("/analytics", "?start=2026-12-01&end=2026-11-01"),
        ("/analytics", "?start=2099-01-01"),
        ("/leaderboard", "?at=0001-01-01"),
        ("/leaderboard", "?period=quarter&at=9999-12-31"),
    ],
)
def test_a_bookmarked_query_string_never_breaks_a_page(web: Web, path: str, search: str) -> None:
    web.client.application.config["PROPAGATE_EXCEPTIONS"] = False
    sign_in(web, "admin")
    answer = callback(web, router(path, search))
    assert answer.status_code == 200
    assert f"{path[1:]}-page" in answer.get_data(as_text=True)


def test_kiosk_token_opens_the_wall_only(web: Web) -> None:
    assert web.client.get("/wall?token=wrong").status_code == 302
    assert web.client.get(f"/wall?token={KIOSK_TOKEN}").status_code == 200
    assert web.client.get("/wall").status_code == 200  # the kiosk session
    for path in ("/", "/flow", "/users", f"/flow?token={KIOSK_TOKEN}"):
        answer = web.client.get(path)
        assert answer.status_code == 403, path
        assert "大屏令牌只能打开大屏页面" in answer.get_data(as_text=True)
    assert web.client.get("/_dash-layout").status_code == 200


def test_kiosk_cannot_act_or_route_elsewhere(web: Web) -> None:
    web.client.get(f"/wall?token={KIOSK_TOKEN}")
    assert callback(web, router("/wall")).status_code == 200
    assert callback(web, router("/flow")).status_code == 403
    assert callback(web, ACTION).status_code == 403


def test_kiosk_session_ends_when_its_token_is_revoked(web: Web) -> None:
    web.client.get(f"/wall?token={KIOSK_TOKEN}")
    web.runtime.settings = web.runtime.settings.model_copy(update={"kiosk_tokens": ["another"]})
    assert web.client.get("/wall").status_code == 302


def test_a_signed_in_user_keeps_their_session_on_a_kiosk_url(web: Web) -> None:
    sign_in(web, "manager")
    assert web.client.get(f"/wall?token={KIOSK_TOKEN}").status_code == 200
    assert web.client.get("/leaderboard").status_code == 200


# -- the API on the dashboard's server -----------------------------------------------------

API_TOKEN = {"Authorization": "Bearer api-unit-token"}
NOT_API_ROUTES = [
    "/api/v1/nope",
    "/api/v1/",
    "/api/v1/overview/",
    "/api/v1/cases/a%2Fb",
    "/api/v1/cases/",
    "/api/v2/overview",
]


@pytest.mark.parametrize("path", NOT_API_ROUTES)
def test_a_path_under_api_that_no_route_serves_needs_a_token(web: Web, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}):
        answer = web.client.get(path, headers=headers)
        assert answer.status_code == 401
        assert answer.content_type == "application/json; charset=utf-8"
        assert "error" in answer.get_json()
        assert answer.headers["WWW-Authenticate"] == 'Bearer realm="complaintops"'


@pytest.mark.parametrize("path", NOT_API_ROUTES)
def test_a_path_under_api_that_no_route_serves_is_a_json_404(web: Web, path: str) -> None:
    for method in ("GET", "POST"):
        answer = web.client.open(path, method=method, headers=API_TOKEN)
        assert answer.status_code == 404
        assert answer.content_type == "application/json; charset=utf-8"
        assert answer.get_json() == {"error": "not found"}


def test_a_wrong_method_on_an_api_route_is_a_json_405(web: Web) -> None:
    assert web.client.post("/api/v1/overview").status_code == 401
    answer = web.client.post("/api/v1/overview", headers=API_TOKEN)
    assert answer.status_code == 405
    assert answer.get_json() == {"error": "method not allowed"}
    assert "GET" in answer.headers["Allow"]
    # Health stays public, whatever the method.
    health = web.client.delete("/api/v1/health")
    assert health.status_code == 405 and health.get_json() == {"error": "method not allowed"}
    assert web.client.get("/api/v1/health").status_code == 200


# -- headers and cookies -------------------------------------------------------------------


def test_security_headers_on_every_answer(web: Web) -> None:
    for answer in (
        web.client.get("/login"),
        web.client.get("/flow"),
        web.client.get("/api/v1/health"),
        web.client.get("/assets/complaintops.css"),
    ):
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert answer.headers["X-Frame-Options"] == "SAMEORIGIN"
        assert answer.headers["Referrer-Policy"] == "same-origin"
        assert "default-src 'self'" in answer.headers["Content-Security-Policy"]


def test_dash_page_csp_lists_the_inline_script_hashes(web: Web) -> None:
    sign_in(web, "leader")
    page = web.client.get("/")
    policy = page.headers["Content-Security-Policy"]
    assert "'sha256-" in policy
    assert "'unsafe-inline'" not in policy.split("script-src", 1)[1].split(";", 1)[0]


def test_language_choice_is_kept_in_a_cookie(web: Web) -> None:
    page = web.client.get("/login?lang=en")
    assert "Sign in" in page.get_data(as_text=True)
    assert cookie(web, "lang") == "en"
    assert "Sign in" in web.client.get("/login").get_data(as_text=True)
    assert "登录" in web.client.get("/login?lang=zh").get_data(as_text=True)


def test_csrf_cookie_mirrors_the_session_token_for_the_dash_renderer(web: Web) -> None:
    token = form_token(web)
    found = web.client.get_cookie(csrf.COOKIE)
    assert found is not None
    assert found.value == token
    assert not found.http_only
    assert found.same_site == "Strict"
