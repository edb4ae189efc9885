"""Signing in, roles, the language switch and kiosk limits, in Chromium."""

from __future__ import annotations

import time
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from tests.dashboard.browser.conftest import (
    LiveServer,
    dash_ready,
    screenshot,
    sign_in,
    wait_for,
)
from tests.dashboard.wall_scenario import apply_scenario

pytestmark = pytest.mark.browser

FETCH = """
const done = arguments[arguments.length - 1];
const token = (document.cookie.match(/(?:^|; )_csrf_token=([^;]*)/) || [])[1] || '';
fetch('/_dash-update-component', {
  method: 'POST',
  headers: {'Content-Type': 'application/json', 'X-CSRFToken': decodeURIComponent(token)},
  body: JSON.stringify(arguments[0]),
}).then(r => done(r.status), e => done(String(e)));
"""

ACTION = {
    "output": "alerts-ack.children",
    "outputs": {"id": "alerts-ack", "property": "children"},
    "inputs": [{"id": "alerts-ack-button", "property": "n_clicks", "value": 1}],
    "changedPropIds": ["alerts-ack-button.n_clicks"],
}


def router(pathname: str) -> dict[str, Any]:
    return {
        "output": ".._pages_content.children..._pages_store.data..",
        "outputs": [
            {"id": "_pages_content", "property": "children"},
            {"id": "_pages_store", "property": "data"},
        ],
        "inputs": [
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": ""},
        ],
        "changedPropIds": ["_pages_location.pathname"],
    }


def csp_violations(driver: WebDriver) -> list[str]:
    return [
        entry["message"]
        for entry in driver.get_log("browser")  # type: ignore[attr-defined]
        if "Content Security Policy" in entry["message"] or "Refused to" in entry["message"]
    ]


def test_sign_in_shows_the_home_page(browser: WebDriver, live_server: LiveServer) -> None:
    apply_scenario(live_server.runtime.redis, time.time(), live_server.runtime.tz)
    browser.get(f"{live_server.url}/flow")
    assert "/login?next=/flow" in browser.current_url
    screenshot(browser, "login")
    sign_in(browser, live_server, "leader")
    wait_for(browser, lambda d: d.find_elements(By.ID, "home-links"))
    wait_for(browser, dash_ready)
    assert browser.current_url == f"{live_server.url}/"
    page = browser.find_element(By.ID, "_pages_content").text
    assert "您好，leader" in page
    assert "理赔投诉一组" in page  # a leader sees their own team
    assert browser.find_element(By.ID, "shell-user-name").text == "leader"
    nav = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".shell-nav__link")]
    assert "首页" in nav and "大屏" in nav
    assert "排行" not in " ".join(nav)  # the leaderboard is for managers
    # The home tiles show the API's numbers for the leader's team.
    overview = live_server.api("/overview", team="claims-east")
    shown = browser.find_element(By.CSS_SELECTOR, "#_pages_content [data-metric=open_cases]")
    assert shown.text == str(overview["open_cases"])
    assert csp_violations(browser) == []
    screenshot(browser, "home")


def test_wrong_password_is_refused(browser: WebDriver, live_server: LiveServer) -> None:
    sign_in(browser, live_server, "leader", password="not the password")
    assert "/login" in browser.current_url
    assert browser.find_element(By.ID, "login-error").text == "用户名或密码不正确。"
    browser.get(f"{live_server.url}/")
    assert "/login" in browser.current_url


def test_leader_is_refused_the_admin_pages(browser: WebDriver, live_server: LiveServer) -> None:
    sign_in(browser, live_server, "leader")
    for path in ("/mail", "/users"):
        browser.get(f"{live_server.url}{path}")
        assert browser.find_element(By.CSS_SELECTOR, "#notice h1").text == "无权访问"
    assert browser.execute_async_script(FETCH, router("/mail")) == 200  # shows "no access"
    browser.get(f"{live_server.url}/")
    wait_for(browser, dash_ready)
    browser.execute_script(
        "window.history.pushState({}, '', '/mail'); "
        "window.dispatchEvent(new PopStateEvent('popstate'));"
    )
    wait_for(browser, lambda d: d.find_elements(By.ID, "shell-forbidden"))


def test_admin_opens_the_admin_pages(browser: WebDriver, live_server: LiveServer) -> None:
    sign_in(browser, live_server, "admin", next_path="/mail")
    assert browser.current_url.endswith("/mail")
    assert not browser.find_elements(By.ID, "notice")


def test_language_switch_changes_the_labels(browser: WebDriver, live_server: LiveServer) -> None:
    sign_in(browser, live_server, "manager")
    wait_for(browser, lambda d: d.find_elements(By.ID, "home-links"))
    assert "您好" in browser.find_element(By.ID, "_pages_content").text
    browser.find_element(By.ID, "shell-lang-en").click()
    wait_for(browser, lambda d: "Hello, manager" in d.find_element(By.ID, "_pages_content").text)
    assert browser.find_element(By.ID, "shell-signout").text == "Sign out"
    assert "lang=en" in browser.current_url
    browser.get(f"{live_server.url}/")  # kept in the cookie
    wait_for(browser, lambda d: "Hello, manager" in d.find_element(By.ID, "_pages_content").text)
    browser.find_element(By.ID, "shell-lang-zh").click()
    wait_for(browser, lambda d: "您好" in d.find_element(By.ID, "_pages_content").text)


def test_sign_out(browser: WebDriver, live_server: LiveServer) -> None:
    sign_in(browser, live_server, "manager")
    wait_for(browser, lambda d: d.find_elements(By.ID, "shell-signout"))
    browser.find_element(By.ID, "shell-signout").click()
    wait_for(browser, lambda d: "/login" in d.current_url)
    browser.get(f"{live_server.url}/")
    assert "/login" in browser.current_url


def test_kiosk_token_opens_the_wall_and_nothing_else(
    browser: WebDriver, live_server: LiveServer
) -> None:
    browser.get(f"{live_server.url}/wall?token={live_server.kiosk_token}")
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-metric=open_cases]"))
    assert not browser.find_elements(By.CSS_SELECTOR, ".shell-nav__link")
    assert not browser.find_elements(By.ID, "shell-signout")
    # The wall's own refresh is allowed; routing elsewhere and actions are not.
    assert browser.execute_async_script(FETCH, router("/wall")) == 200
    assert browser.execute_async_script(FETCH, router("/flow")) == 403
    assert browser.execute_async_script(FETCH, router("/")) == 403
    assert browser.execute_async_script(FETCH, ACTION) == 403
    assert csp_violations(browser) == []
    for path in ("/", "/flow", "/alerts", "/users"):
        browser.get(f"{live_server.url}{path}")
        assert (
            browser.find_element(By.CSS_SELECTOR, "#notice p").text == "大屏令牌只能打开大屏页面。"
        )
    browser.get(f"{live_server.url}/wall")  # the kiosk session still opens the wall
    wait_for(browser, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-metric=open_cases]"))


def test_wrong_kiosk_token_asks_to_sign_in(browser: WebDriver, live_server: LiveServer) -> None:
    browser.get(f"{live_server.url}/wall?token=guessed")
    assert "/login" in browser.current_url
