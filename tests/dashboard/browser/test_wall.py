"""The wall display in Chromium against the real server, Valkey and SQLite."""

from __future__ import annotations

import time
from typing import Any

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.remote.webdriver import WebDriver

from dashboard.wall_data import VALUE_FIELDS, metric_value
from events.timeutil import format_rfc3339
from metrics import keys
from tests.dashboard.browser.conftest import (
    LiveServer,
    screenshot,
    set_viewport,
    wait_for,
)
from tests.dashboard.wall_scenario import apply_events, apply_scenario, scenario_events
from tests.events.factory import CaseScript

pytestmark = pytest.mark.browser

READ_VALUES = """
return Array.from(document.querySelectorAll('[data-metric]')).map(e => (
  {metric: e.dataset.metric, text: e.textContent, children: e.children.length}
));
"""


def open_wall(driver: WebDriver, server: LiveServer, query: str = "") -> None:
    driver.get(f"{server.url}/wall?token={server.kiosk_token}{query}")
    wait_for(driver, lambda d: d.find_elements(By.CSS_SELECTOR, "[data-metric='open_cases']"))


def wall_numbers(driver: WebDriver) -> dict[str, str]:
    """metric → text; a metric shown twice with different texts reads as both."""
    found: list[dict[str, Any]] = driver.execute_script(READ_VALUES)
    texts: dict[str, set[str]] = {}
    for item in found:
        texts.setdefault(item["metric"], set()).add(item["text"])
    return {metric: " | ".join(sorted(shown)) for metric, shown in texts.items()}


def api_numbers(server: LiveServer, team: str | None = None) -> dict[str, str]:
    overview = server.api("/overview", **({"team": team} if team else {}))
    return {field: str(metric_value(overview, field)) for field in VALUE_FIELDS}


def heartbeat(server: LiveServer, seconds_ago: float) -> None:
    key = keys.CONSUMER_HEARTBEAT.format(server.runtime.settings.metrics_group)
    server.runtime.redis.hset(key, mapping={"ts": time.time() - seconds_ago, "lag": 0})


def wait_until_equal(driver: WebDriver, server: LiveServer, team: str | None = None) -> None:
    """Wait (bounded) for the wall to show what the API answers; fail with both."""
    seen: dict[str, Any] = {}

    def equal(d: WebDriver) -> bool:
        seen["wall"], seen["api"] = wall_numbers(d), api_numbers(server, team)
        return seen["wall"] == seen["api"]

    try:
        wait_for(driver, equal, timeout=20)
    except Exception:
        differences = {
            field: (seen["wall"].get(field), value)
            for field, value in seen["api"].items()
            if seen["wall"].get(field) != value
        }
        pytest.fail(f"wall differs from /api/v1/overview (wall, api): {differences}")


def test_every_tile_is_one_number_equal_to_the_api(
    browser: WebDriver, live_server: LiveServer
) -> None:
    tz = live_server.runtime.tz
    applied = apply_scenario(live_server.runtime.redis, time.time(), tz)
    assert applied > 50
    heartbeat(live_server, 0)
    open_wall(browser, live_server, "&screen=1")
    found = browser.execute_script(READ_VALUES)
    assert {item["metric"] for item in found} == set(VALUE_FIELDS)
    assert all(item["children"] == 0 for item in found)
    wait_until_equal(browser, live_server)
    assert int(wall_numbers(browser)["open_cases"]) > 20
    screenshot(browser, "wall")

    # New events reach the wall through the refresh, still equal to the API.
    before = int(wall_numbers(browser)["open_cases"])
    later = [
        {**event, "case_id": f"NEW-{event['case_id']}", "event_id": f"n-{event['event_id']}"}
        for event in scenario_events(time.time(), tz)[:3]
        if event["type"] == "case.opened"
    ]
    apply_events(live_server.runtime.redis, later, tz, first_offset=10_000)
    wait_for(browser, lambda d: int(wall_numbers(d)["open_cases"]) == before + len(later))
    wait_until_equal(browser, live_server)


def test_team_filter_matches_the_api_with_the_same_filter(
    browser: WebDriver, live_server: LiveServer
) -> None:
    apply_scenario(live_server.runtime.redis, time.time(), live_server.runtime.tz)
    open_wall(browser, live_server, "&team=claims-north&screen=1")
    wait_until_equal(browser, live_server, team="claims-north")
    everyone = api_numbers(live_server)
    assert wall_numbers(browser)["open_cases"] != everyone["open_cases"]
    assert "理赔投诉二组" in browser.find_element(By.ID, "wall-team").text


FIT_CHECK = """
const vw = window.innerWidth, vh = window.innerHeight, problems = [];
const doc = document.documentElement;
if (doc.scrollHeight > vh || doc.scrollWidth > vw) problems.push('page scrolls');
const visible = el => el.getClientRects().length > 0;
document.querySelectorAll('#wall-root .wall-panel, #wall-root .wall-tile, #wall-root .wall-stage, '
    + '#wall-root .wall-header > *, #wall-root .wall-rank, #wall-root [data-metric]').forEach(el => {
  if (!visible(el)) return;
  const r = el.getBoundingClientRect();
  if (r.bottom > vh + 0.5 || r.right > vw + 0.5 || r.top < -0.5 || r.left < -0.5)
    problems.push('outside: ' + el.className + ' ' + JSON.stringify([r.left, r.top, r.right, r.bottom]));
});
document.querySelectorAll('#wall-root .wall-panel, #wall-root .wall-tile, #wall-root .wall-stage')
  .forEach(el => {
    if (!visible(el)) return;
    if (el.scrollHeight > el.clientHeight + 1 || el.scrollWidth > el.clientWidth + 1)
      problems.push('clipped: ' + el.className + ' ' + JSON.stringify(
        [el.clientWidth, el.scrollWidth, el.clientHeight, el.scrollHeight]));
  });
return {problems: problems, size: [vw, vh]};
"""


def figure_font(driver: WebDriver) -> float:
    """The largest axis label type (px) of the visible wall figures."""
    size: float = driver.execute_script(
        "const sizes = Array.from(document.querySelectorAll('.wall-graph .xtick text, "
        ".wall-graph .ytick text')).filter(t => t.getClientRects().length)"
        ".map(t => parseFloat(t.style.fontSize || '0'));"
        "return sizes.length ? Math.max(...sizes) : 0;"
    )
    return size


def graphs_drawn(driver: WebDriver) -> bool:
    return bool(
        driver.execute_script(
            "return Array.from(document.querySelectorAll('.wall-graph')).every("
            "g => g.getClientRects().length === 0 || g.querySelector('.main-svg'));"
        )
    )


@pytest.mark.parametrize("size", [(1920, 1080), (3840, 2160)], ids=["full-hd", "4k"])
@pytest.mark.parametrize("screen", ["1", "2"])
def test_wall_fits_the_screen_without_scrolling(
    browser: WebDriver, live_server: LiveServer, size: tuple[int, int], screen: str
) -> None:
    apply_scenario(live_server.runtime.redis, time.time(), live_server.runtime.tz)
    set_viewport(browser, *size)
    open_wall(browser, live_server, f"&screen={screen}")
    wait_for(browser, graphs_drawn)
    if screen == "2":
        wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".wall-rank")) == 10)
    # Figures follow the screen's size once the browser has told it (type x2 at 4K).
    scaled = 24 * size[0] / 1920
    wait_for(browser, lambda d: figure_font(d) >= scaled * 0.95)
    result = browser.execute_script(FIT_CHECK)
    assert result["size"] == list(size)
    assert not result["problems"], "\n".join(result["problems"])
    # The numbers are big: at least 7% of the screen's height.
    height = browser.execute_script(
        "return document.querySelector('[data-metric=open_cases]').getBoundingClientRect().height"
    )
    assert height >= 0.07 * size[1]
    name = {"1": "wall", "2": "wall-teams"}[screen]
    screenshot(browser, name if size[0] == 1920 else f"{name}-4k")


def badge(driver: WebDriver) -> tuple[str, str]:
    element = driver.find_element(By.ID, "wall-badge")
    classes = element.get_attribute("class") or ""
    level = next(c for c in classes.split() if c.startswith("co-badge--"))
    return level.removeprefix("co-badge--"), element.text


def test_stale_badge_turns_amber_then_red_while_the_numbers_stay(
    browser: WebDriver, live_server: LiveServer
) -> None:
    apply_scenario(live_server.runtime.redis, time.time(), live_server.runtime.tz)
    open_wall(browser, live_server, "&screen=1")
    wall = live_server.runtime.rules.wall
    wait_until_equal(browser, live_server)
    assert badge(browser)[0] == "ok"
    numbers = wall_numbers(browser)

    heartbeat(live_server, wall.stale.amber_seconds + 2)  # the metrics stopped moving
    wait_for(browser, lambda d: badge(d)[0] == "amber")
    seconds = int("".join(ch for ch in badge(browser)[1] if ch.isdigit()))
    assert wall.stale.amber_seconds <= seconds < wall.stale.red_seconds
    heartbeat(live_server, wall.stale.red_seconds + 2)
    wait_for(browser, lambda d: badge(d)[0] == "red")
    assert "wall-root--stale" in (
        browser.find_element(By.ID, "wall-root").get_attribute("class") or ""
    )
    assert wall_numbers(browser) == numbers
    screenshot(browser, "wall-stale")

    key = keys.CONSUMER_HEARTBEAT.format(live_server.runtime.settings.metrics_group)
    live_server.runtime.redis.delete(key)  # nothing tells freshness: the refresh itself does
    wait_for(browser, lambda d: badge(d)[0] == "ok")
    assert "wall-root--stale" not in (
        browser.find_element(By.ID, "wall-root").get_attribute("class") or ""
    )


HIDE = """
Object.defineProperty(document, 'visibilityState', {value: arguments[0], configurable: true});
document.dispatchEvent(new Event('visibilitychange'));
"""


def test_refresh_pauses_while_the_tab_is_hidden(
    browser: WebDriver, live_server: LiveServer
) -> None:
    apply_scenario(live_server.runtime.redis, time.time(), live_server.runtime.tz)
    open_wall(browser, live_server, "&screen=1")
    wait_for(browser, lambda d: badge(d)[0] == "ok")
    browser.execute_script(HIDE, "hidden")
    # No refresh arrives while hidden: the age of the data keeps growing.
    wait_for(browser, lambda d: badge(d)[0] == "amber", timeout=30)
    browser.execute_script(HIDE, "visible")
    wait_for(browser, lambda d: badge(d)[0] == "ok")


def test_language_follows_the_lang_parameter(browser: WebDriver, live_server: LiveServer) -> None:
    open_wall(browser, live_server, "&lang=en&screen=1")
    labels = [e.text for e in browser.find_elements(By.CSS_SELECTOR, ".wall-tile__label")]
    assert labels[0] == "Open cases"
    assert browser.find_element(By.ID, "wall-screen-title").text == "Complaint operations overview"
    assert browser.find_element(By.CSS_SELECTOR, ".wall-stage__name").text == "Intake"
    wait_for(browser, lambda d: "ago" in d.find_element(By.ID, "wall-badge").text)
    screenshot(browser, "wall-en")
    open_wall(browser, live_server, "&screen=1")  # the choice is kept in a cookie
    assert browser.find_elements(By.CSS_SELECTOR, ".wall-tile__label")[0].text == "Open cases"
    open_wall(browser, live_server, "&lang=zh&screen=1")
    assert browser.find_elements(By.CSS_SELECTOR, ".wall-tile__label")[0].text == "在办案件"
    assert browser.find_element(By.CSS_SELECTOR, ".wall-stage__name").text == "受理"


def test_rotation_and_celebration_in_the_browser(
    browser: WebDriver, live_server: LiveServer
) -> None:
    open_wall(browser, live_server)
    config = {
        "pinned": None,
        "screens": [{"seconds": 30, "panels": []}, {"seconds": 20, "panels": []}],
    }
    index = browser.execute_script(
        "const w = window.dash_clientside.complaintops_wall, c = arguments[0];"
        "return [0, 29999, 30000, 49999, 50000].map(t => w.screenIndex(c, t))"
        ".concat([w.screenIndex(Object.assign({}, c, {pinned: 1}), 0)]);",
        config,
    )
    assert index == [0, 0, 1, 1, 0, 1]
    fresh = browser.execute_script(
        "const w = window.dash_clientside.complaintops_wall;"
        "const top = [{id: 'a', name: 'A'}, {id: 'b', name: 'B'}, {id: 'c', name: 'C'}];"
        "return [w.newcomers(null, top), w.newcomers(['a', 'b', 'c'], top),"
        "        w.newcomers(['a', 'x', 'c'], top).map(r => r.name)];"
    )
    assert fresh == [[], [], ["B"]]
    # Someone climbs into the top 3 between two refreshes: the banner shows their name.
    shown = browser.execute_script(
        "const w = window.dash_clientside.complaintops_wall;"
        "const cfg = {texts: {celebrate: '★ {names} 进入前三！'}};"
        "return w.celebrate({top3: [{id: 'h-001', name: '张伟'}, {id: 'h-009', name: '周杰'}]},"
        "                   ['h-001', 'h-002'], cfg);"
    )
    assert shown[0] == "★ 周杰 进入前三！"
    assert "wall-celebration--on" in shown[1]
    assert shown[2] == ["h-001", "h-009"]


def test_leaderboard_and_celebration_on_the_wall(
    browser: WebDriver, live_server: LiveServer
) -> None:
    tz = live_server.runtime.tz
    apply_scenario(live_server.runtime.redis, time.time(), tz)
    open_wall(browser, live_server, "&screen=2")
    wait_for(browser, lambda d: len(d.find_elements(By.CSS_SELECTOR, ".wall-rank")) == 10)
    first = browser.execute_script(
        "const row = document.querySelector('.wall-rank'); return [row.dataset.id, row.textContent];"
    )
    assert first[0] == "h-001"
    assert "张伟" in first[1]
    assert browser.find_element(By.ID, "wall-celebration").text == ""
    # h-012 decides three more cases today and climbs into the top 3.
    more = []
    for n in range(3):
        script = CaseScript(f"UP-{n}")
        opened = time.time() - 2 * 86400
        more.append(
            script.opened(
                format_rfc3339(opened, tz),
                team_id="claims-north",
                handler_id="h-012",
                channel="app",
                category="claims",
                product_line="health",
            )
        )
        more.append(script.next("case.decision_made", format_rfc3339(time.time() - 60, tz)))
    apply_events(live_server.runtime.redis, more, tz, first_offset=20_000)
    wait_for(browser, lambda d: "进入前三" in d.find_element(By.ID, "wall-celebration").text)
    assert "孙丽" in browser.find_element(By.ID, "wall-celebration").text
    screenshot(browser, "wall-celebration")
