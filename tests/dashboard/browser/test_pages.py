"""The desk pages (flow, workload, cases, analytics) in Chromium against the real
server, Valkey and SQLite, fed with three weeks of a simulated complaint centre
through the real sinks. Each test saves a 1920×1080 screenshot."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import redis
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement

from events.batch import RawRecord
from events.simulator import SimulationConfig, simulate_to_list
from metrics.sink import RedisSink
from store.sink import SqlSink
from tests.dashboard.browser.conftest import (
    LiveServer,
    dash_ready,
    screenshot,
    sign_in,
    wait_for,
)

pytestmark = pytest.mark.browser

TOPIC = "desk-pages.case-events"
DAYS = 21
BATCH = 1000


@pytest.fixture(scope="module")
def desk_server(live_stack: LiveServer, valkey_url: str) -> Iterator[LiveServer]:
    """The live server with three weeks of simulated events in Redis and SQL."""
    runtime = live_stack.runtime
    client = redis.Redis.from_url(valkey_url)
    client.flushall()
    teams = [(team.id, team.handler_ids()) for team in runtime.rules.teams.teams]
    config = SimulationConfig(
        teams=teams, seed=11, arrivals_per_hour=2.5, first_case_number=700001, tz=runtime.tz
    )
    events = simulate_to_list(config, days=DAYS, now=time.time())
    records = [
        RawRecord(TOPIC, 0, offset, event.value, event.case_id.encode())
        for offset, event in enumerate(events)
    ]
    redis_sink = RedisSink(client, "complaintops-metrics", runtime.tz)
    redis_sink.prepare(group_has_committed=False)
    sql_sink = SqlSink(runtime.engine, "complaintops-store", runtime.tz)
    for start in range(0, len(records), BATCH):
        chunk = records[start : start + BATCH]
        redis_sink.apply(chunk)
        sql_sink.apply(chunk)
    try:
        yield live_stack
    finally:
        client.close()


def sign_in_as_leader(driver: WebDriver, server: LiveServer, path: str) -> None:
    """Sign in afresh (cookies are per site: clear them while on the site); the
    console messages of earlier pages are dropped."""
    driver.get(f"{server.url}/login")
    driver.delete_all_cookies()
    sign_in(driver, server, "leader", next_path=path)
    cast(Any, driver).get_log("browser")


def open_page(driver: WebDriver, server: LiveServer, path: str, ready_id: str) -> None:
    sign_in_as_leader(driver, server, path)
    if path not in driver.current_url:
        driver.get(f"{server.url}{path}")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, f"#{ready_id} .co-tile"), 30)
    wait_for(driver, dash_ready, 30)


def text(driver: WebDriver, css: str) -> str:
    """The text of the first element matching ``css`` ('' when none), read in the page
    (no stale element references while Dash re-renders)."""
    found: str = driver.execute_script(
        "const e = document.querySelector(arguments[0]); return e ? e.textContent : '';", css
    )
    return found


def tile_value(driver: WebDriver, tile_id: str) -> str:
    return text(driver, f"#{tile_id} .co-tile__value")


def choose(driver: WebDriver, dropdown_id: str, option_text: str) -> None:
    """Pick an option of a dcc.Dropdown by its visible text."""
    driver.find_element(By.ID, dropdown_id).click()

    def option(d: WebDriver) -> WebElement | None:
        for candidate in d.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option"):
            if candidate.text == option_text:
                return candidate
        return None

    wait_for(driver, option).click()
    wait_for(driver, lambda d: option_text in text(d, f"#{dropdown_id}"))
    if driver.find_elements(By.CSS_SELECTOR, ".dash-dropdown-option"):
        driver.switch_to.active_element.send_keys(Keys.ESCAPE)


def plotted(driver: WebDriver, graph_id: str) -> bool:
    return bool(driver.find_elements(By.CSS_SELECTOR, f"#{graph_id} .main-svg"))


def wait_plotted(driver: WebDriver, graph_id: str) -> None:
    wait_for(driver, lambda d: plotted(d, graph_id))


def row_count(driver: WebDriver, table_id: str) -> int:
    count: int = driver.execute_script(
        "return document.querySelectorAll(arguments[0]).length;", f"#{table_id} tbody tr"
    )
    return count


def first_links(driver: WebDriver, table_id: str) -> list[str]:
    """The text of the link in the first cell of every row."""
    found: list[str] = driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0])).map(a => a.textContent);",
        f"#{table_id} tbody tr td:first-child a",
    )
    return found


def number(text: str) -> int:
    return int(text.replace(",", ""))


def severe_console_errors(driver: WebDriver) -> list[dict[str, Any]]:
    logs: list[dict[str, Any]] = cast(Any, driver).get_log("browser")
    return [
        entry
        for entry in logs
        if entry.get("level") == "SEVERE" and "favicon" not in entry.get("message", "")
    ]


# -- flow ---------------------------------------------------------------------------------


def test_flow_page(browser: WebDriver, desk_server: LiveServer) -> None:
    open_page(browser, desk_server, "/flow", "flow-kpis")
    overview = desk_server.api("/overview")
    assert number(tile_value(browser, "flow-kpi-open")) == overview["open_cases"]
    for graph in ("flow-hourly", "flow-cfd", "flow-daily", "flow-stage-time", "flow-distribution"):
        wait_plotted(browser, graph)
    assert text(browser, "#flow-bottleneck")
    screenshot(browser, "flow")

    entered_24 = number(tile_value(browser, "flow-kpi-entered"))
    browser.find_element(By.CSS_SELECTOR, "#flow-window input[value='168']").click()
    wait_for(browser, lambda d: "168" in text(d, "#flow-kpi-entered"))
    assert number(tile_value(browser, "flow-kpi-entered")) >= entered_24

    choose(browser, "flow-team", "理赔投诉二组")
    north = desk_server.api("/overview", team="claims-north")["open_cases"]
    wait_for(browser, lambda d: number(tile_value(d, "flow-kpi-open")) == north)
    assert severe_console_errors(browser) == []


# -- workload -------------------------------------------------------------------------------


def test_workload_page(browser: WebDriver, desk_server: LiveServer) -> None:
    open_page(browser, desk_server, "/workload", "workload-kpis")
    overview = desk_server.api("/overview")
    assert number(tile_value(browser, "workload-kpi-open")) == overview["open_cases"]
    for graph in ("workload-team-matrix", "workload-handler-matrix", "workload-capacity"):
        wait_plotted(browser, graph)
    wait_for(browser, lambda d: row_count(d, "workload-pressure-table") == 24)
    screenshot(browser, "workload")

    choose(browser, "workload-team", "销售与保全投诉组")
    wait_for(browser, lambda d: row_count(d, "workload-pressure-table") == 5)
    team = desk_server.api("/workload", team="sales-service")["teams"][0]
    assert number(tile_value(browser, "workload-kpi-open")) == team["open_cases"]
    assert severe_console_errors(browser) == []


# -- cases ------------------------------------------------------------------------------------


def test_cases_page(browser: WebDriver, desk_server: LiveServer) -> None:
    sign_in_as_leader(browser, desk_server, "/cases")
    browser.get(f"{desk_server.url}/cases")
    wait_for(browser, lambda d: row_count(d, "cases-result-table") == 25, 30)
    summary = text(browser, "#cases-summary")
    assert "共" in summary and "第 1/" in summary
    screenshot(browser, "cases")

    browser.find_element(By.ID, "cases-next").click()
    wait_for(browser, lambda d: "第 2/" in text(d, "#cases-summary"))

    choose(browser, "cases-clock", "已超时")
    breached = desk_server.api("/overview")["decision_breached"]
    expected = f"共 {breached:,} 件"
    wait_for(browser, lambda d: text(d, "#cases-summary").startswith(expected))
    assert row_count(browser, "cases-result-table") == min(breached, 25)

    search = browser.find_element(By.ID, "cases-search")
    search.send_keys("C2026-7000")
    wait_for(
        browser,
        lambda d: (
            all(case.startswith("C2026-7000") for case in first_links(d, "cases-result-table"))
            or d.find_elements(By.ID, "cases-empty")
        ),
    )


def session_storage(driver: WebDriver) -> str:
    return str(driver.execute_script("return JSON.stringify(sessionStorage);"))


@pytest.mark.parametrize(
    "origin",
    ["loopback", "lan"],
    ids=["secure-origin-clear-site-data", "plain-http-origin-page-check"],
)
def test_a_new_sign_in_forgets_the_last_filters(
    browser: WebDriver, desk_server: LiveServer, origin: str
) -> None:
    """Dash keeps the filters in the tab's session storage; signing in again drops
    them. On a secure origin the sign-in's Clear-Site-Data does it; on plain HTTP,
    which browsers do not let clear storage, the page's own check does."""
    server = desk_server if origin == "loopback" else desk_server.on_lan()
    search_value = "return document.getElementById('cases-search').value;"
    sign_in_as_leader(browser, server, "/cases")
    browser.get(f"{server.url}/cases")
    wait_for(browser, lambda d: row_count(d, "cases-result-table") == 25, 30)
    browser.find_element(By.ID, "cases-search").send_keys("C2026-7000")
    wait_for(browser, lambda d: "C2026-7000" in session_storage(d))
    browser.get(f"{server.url}/cases")  # the same session keeps its filters
    wait_for(browser, lambda d: d.find_elements(By.ID, "cases-search"), 30)
    wait_for(browser, lambda d: d.execute_script(search_value) == "C2026-7000")

    sign_in_as_leader(browser, server, "/cases")
    browser.get(f"{server.url}/cases")
    wait_for(browser, lambda d: d.find_elements(By.ID, "cases-search"), 30)
    wait_for(browser, dash_ready, 30)
    assert browser.execute_script(search_value) == ""
    assert "C2026-7000" not in session_storage(browser)
    wait_for(browser, lambda d: row_count(d, "cases-result-table") == 25, 30)


def test_case_detail(browser: WebDriver, desk_server: LiveServer) -> None:
    sign_in_as_leader(browser, desk_server, "/cases")
    browser.get(f"{desk_server.url}/cases")
    wait_for(browser, lambda d: first_links(d, "cases-result-table"), 30)
    case_id = first_links(browser, "cases-result-table")[0]
    browser.find_element(By.LINK_TEXT, case_id).click()
    wait_for(browser, lambda d: d.find_elements(By.ID, "cases-detail"), 30)
    assert text(browser, "#cases-detail-id") == case_id
    wait_for(browser, lambda d: plotted(d, "cases-timeline"))
    api_case = desk_server.api(f"/cases/{case_id}")
    assert row_count(browser, "cases-events") == len(api_case["timeline"])
    screenshot(browser, "cases-detail")


# -- analytics ----------------------------------------------------------------------------------


def test_analytics_page(browser: WebDriver, desk_server: LiveServer, tmp_path: Path) -> None:
    browser.execute_cdp_cmd(
        "Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)}
    )
    open_page(browser, desk_server, "/analytics", "analytics-kpis")
    for graph in ("analytics-trend", "analytics-chart-channel", "analytics-chart-age_band"):
        wait_plotted(browser, graph)
    total = number(tile_value(browser, "analytics-kpi-cases"))
    assert total > 100
    screenshot(browser, "analytics")

    choose(browser, "analytics-team", "健康险与寿险投诉组")
    wait_for(browser, lambda d: 0 < number(tile_value(d, "analytics-kpi-cases")) < total)

    button = browser.find_element(By.CSS_SELECTOR, "#analytics-card-channel button")
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'});", button)
    button.click()
    wait_for(browser, lambda d: [p for p in tmp_path.glob("*.csv")], 20)
    content = next(tmp_path.glob("*.csv")).read_bytes()
    assert content.startswith(b"\xef\xbb\xbf")
    assert "投诉渠道,案件数,占比,已评价,平均满意度" in content.decode("utf-8-sig").splitlines()[0]
    assert severe_console_errors(browser) == []
