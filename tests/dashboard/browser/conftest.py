"""The whole web server against the real Valkey and SQLite, and a headless Chromium.

Fixtures:

- ``live_stack`` (session): the server (``create_app(runtime).server`` under
  werkzeug in a thread on a free port) with a migrated SQLite database and
  three users (see ``USERS``); a ``LiveServer`` with ``url``, ``runtime``,
  ``kiosk_token``, ``api_token`` and ``api(path, **params)``.
- ``live_server``: the same, with Redis emptied for the test (FLUSHALL).
- ``browser`` (session driver, cookies cleared per test, 1920×1080):
  Chromium at /usr/bin/chromium driven by /usr/bin/chromedriver.
- ``sign_in(driver, server, username)``: signs in through the form.
- ``set_viewport(driver, width, height)``: an exact viewport (CDP).
- ``screenshot(driver, name)``: saves tests/artifacts/screenshots/<name>.png.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from urllib.request import Request, urlopen

import pytest
import redis
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from sqlalchemy.orm import Session
from werkzeug.serving import BaseWSGIServer, make_server

from complaintops.runtime import Runtime
from config import load_settings
from dashboard.app import create_app
from dashboard.auth.users import create_user
from store import migrate

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
SCREENSHOTS = Path(__file__).resolve().parents[2] / "artifacts" / "screenshots"
KIOSK_TOKEN = "kiosk-test-token-0123456789"
API_TOKEN = "api-test-token-0123456789"
SECRET_KEY = "browser-test-secret-key-0123456789abcdef"
PASSWORD = "correct horse battery"
USERS = {
    "leader": ("leader", "claims-east"),
    "manager": ("manager", None),
    "admin": ("admin", None),
}
"""username → (role, team); every user's password is ``PASSWORD``."""

# A name for the live server that Chromium does not count as a secure origin (as a
# dashboard reached over plain HTTP on a LAN): loopback addresses are secure.
LAN_HOST = "wall.complaintops.test"

CHROME_ARGUMENTS = (
    "--headless=new",
    f"--host-resolver-rules=MAP {LAN_HOST} 127.0.0.1",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1920,1080",
    "--force-device-scale-factor=1",
    "--lang=zh-CN",
)


@dataclass
class LiveServer:
    url: str
    runtime: Runtime
    app: Any
    kiosk_token: str = KIOSK_TOKEN
    api_token: str = API_TOKEN
    passwords: dict[str, str] = field(default_factory=dict)

    def on_lan(self) -> LiveServer:
        """The same server, reached by a name that is not a secure origin."""
        return replace(self, url=self.url.replace("127.0.0.1", LAN_HOST, 1))

    def api(self, path: str, **params: Any) -> Any:
        """GET /api/v1<path> with the API token; the decoded JSON answer."""
        query = f"?{urlencode(params)}" if params else ""
        request = Request(
            f"{self.url}/api/v1{path}{query}",
            headers={"Authorization": f"Bearer {self.api_token}"},
        )
        with urlopen(request, timeout=10) as response:
            return json.loads(response.read())


@pytest.fixture(scope="session")
def live_stack(valkey_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    data_dir = tmp_path_factory.mktemp("live")
    database_url = f"sqlite:///{data_dir / 'live.db'}"
    migrate.upgrade(database_url, "heads")
    settings = load_settings(
        redis_url=valkey_url,
        database_url=database_url,
        data_dir=data_dir,
        secret_key=SECRET_KEY,
        kiosk_tokens=[KIOSK_TOKEN],
        api_tokens=[API_TOKEN],
        mode="production",
    )
    runtime = Runtime.from_settings(settings)
    with Session(runtime.engine) as session, session.begin():
        for username, (role, team) in USERS.items():
            create_user(session, username, PASSWORD, role, team)
    app = create_app(runtime)
    server: BaseWSGIServer = make_server("127.0.0.1", 0, app.server, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="live-server", daemon=True)
    thread.start()
    try:
        yield LiveServer(
            url=f"http://127.0.0.1:{server.server_port}",
            runtime=runtime,
            app=app,
            passwords=dict.fromkeys(USERS, PASSWORD),
        )
    finally:
        server.shutdown()
        thread.join(timeout=10)
        runtime.engine.dispose()


@pytest.fixture
def live_server(live_stack: LiveServer, redis_client: redis.Redis) -> LiveServer:
    """The live server with an empty Redis (``redis_client`` flushed it)."""
    return live_stack


@pytest.fixture(scope="session")
def chrome_driver() -> Iterator[WebDriver]:
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in CHROME_ARGUMENTS:
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture
def browser(chrome_driver: WebDriver) -> Iterator[WebDriver]:
    """The session's Chromium, signed out (every cookie cleared), at 1920×1080."""
    chrome_driver.execute_cdp_cmd("Network.clearBrowserCookies", {})
    chrome_driver.get_log("browser")  # type: ignore[attr-defined]  # empty the console log
    set_viewport(chrome_driver, 1920, 1080)
    yield chrome_driver
    chrome_driver.get("about:blank")
    chrome_driver.execute_cdp_cmd("Network.clearBrowserCookies", {})


def set_viewport(driver: WebDriver, width: int, height: int) -> None:
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False},
    )


def wait_for(driver: WebDriver, condition: Callable[[WebDriver], Any], timeout: float = 20) -> Any:
    return WebDriverWait(driver, timeout, poll_frequency=0.2).until(condition)


def sign_in(
    driver: WebDriver,
    server: LiveServer,
    username: str,
    password: str | None = None,
    next_path: str = "/",
) -> None:
    driver.get(f"{server.url}/login?next={next_path}")
    driver.find_element(By.ID, "login-username").send_keys(username)
    driver.find_element(By.ID, "login-password").send_keys(password or server.passwords[username])
    driver.find_element(By.ID, "login-submit").click()
    wait_for(
        driver, lambda d: "/login" not in d.current_url or d.find_elements(By.ID, "login-error")
    )


def screenshot(driver: WebDriver, name: str) -> Path:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def dash_ready(driver: WebDriver) -> bool:
    """The Dash app has rendered its page content and has no callback pending."""
    return bool(
        driver.execute_script(
            "return !!document.querySelector('#_pages_content') && "
            "!document.querySelector('[data-dash-is-loading=\"true\"]');"
        )
    )
