"""The alerts and sent-mail pages in a real browser against the live server."""

from __future__ import annotations

import time

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from sqlalchemy.orm import Session

from alerts.evaluate import Evaluation, Firing
from alerts.lifecycle import list_alerts, reconcile
from alerts.tokens import sign
from tests.dashboard.browser import conftest as live
from tests.dashboard.browser.conftest import SECRET_KEY, LiveServer, screenshot, sign_in, wait_for

# The live server and browser fixtures of the browser tests.
live_stack = live.live_stack
live_server = live.live_server
chrome_driver = live.chrome_driver
browser = live.browser


@pytest.fixture
def driver(request: pytest.FixtureRequest) -> WebDriver:
    found: WebDriver = request.getfixturevalue("browser")
    return found


@pytest.fixture
def server(request: pytest.FixtureRequest) -> LiveServer:
    found: LiveServer = request.getfixturevalue("live_server")
    return found


pytestmark = pytest.mark.browser


def fire(server: LiveServer, *firing: Firing) -> list[int]:
    with Session(server.runtime.engine) as session, session.begin():
        reconcile(session, Evaluation(time.time(), list(firing), {f.rule for f in firing}, {}))
    with Session(server.runtime.engine) as session:
        cases = {f.case_id for f in firing}
        return [a.id for a in list_alerts(session) if a.case_id in cases]


def test_a_leader_sees_and_acknowledges_an_alert(driver: WebDriver, server: LiveServer) -> None:
    [alert_id] = fire(
        server,
        Firing(
            "follow_up_overdue",
            "warning",
            "BR-ACK-1",
            "claims-east",
            "h-001",
            details={"due": time.time() - 7200},
        ),
    )
    sign_in(driver, server, "leader", next_path="/alerts?lang=en")
    driver.get(f"{server.url}/alerts?lang=en")
    wait_for(driver, lambda d: d.find_elements(By.ID, f"alerts-row-{alert_id}"))
    row = driver.find_element(By.ID, f"alerts-row-{alert_id}")
    assert "BR-ACK-1" in row.text and "return visit overdue" in row.text
    screenshot(driver, "alerts")

    driver.find_element(By.ID, "alerts-pick").click()
    option = wait_for(
        driver,
        lambda d: d.find_elements(By.XPATH, "//*[@role='option'][contains(., 'BR-ACK-1')]"),
    )[0]
    option.click()
    driver.find_element(By.TAG_NAME, "body").send_keys(Keys.ESCAPE)
    driver.find_element(By.ID, "alerts-ack").click()
    wait_for(
        driver,
        lambda d: "Acknowledged 1 alert(s)." in d.find_element(By.ID, "alerts-message").text,
    )
    with Session(server.runtime.engine) as session:
        alert = next(a for a in list_alerts(session) if a.id == alert_id)
        assert (alert.state, alert.acknowledged_by) == ("acknowledged", "leader")


def test_admins_open_the_sent_mail_page(driver: WebDriver, server: LiveServer) -> None:
    from email.message import EmailMessage

    from alerts.email import MIME_POLICY
    from alerts.outbox import enqueue, new_message_id

    message = EmailMessage(policy=MIME_POLICY)
    message["Subject"] = "[警告 WARNING] 2 个案件回访逾期 / 2 return visits overdue — claims-east"
    message["Message-ID"] = new_message_id("alerts@example.com")
    message.set_content("正文")
    with Session(server.runtime.engine) as session, session.begin():
        enqueue(
            session,
            message=message,
            recipients=["oncall@example.com"],
            kind="firing",
            alert_ids=[],
            now=time.time(),
        )
    sign_in(driver, server, "admin", next_path="/mail?lang=en")
    driver.get(f"{server.url}/mail?lang=en")
    wait_for(
        driver,
        lambda d: (
            d.find_elements(By.ID, "mail-outbox") and d.find_element(By.ID, "mail-outbox").text
        ),
    )
    wait_for(driver, lambda d: d.find_elements(By.ID, "mail-outbox-table"))
    table = driver.find_element(By.ID, "mail-outbox-table").text
    assert "2 个案件回访逾期" in table and "oncall@example.com" in table and "Waiting" in table
    screenshot(driver, "mail")


def test_the_email_acknowledge_link_opens_without_signing_in(
    driver: WebDriver, server: LiveServer
) -> None:
    [alert_id] = fire(
        server,
        Firing("decision_breached", "critical", "BR-LINK-1", "claims-east", "h-001"),
    )
    token = sign(SECRET_KEY, [alert_id], "oncall@example.com", time.time() + 3600)
    driver.get(f"{server.url}/alerts/ack?token={token}")
    assert "/login" not in driver.current_url
    driver.find_element(By.CSS_SELECTOR, "form button").click()
    wait_for(driver, lambda d: "Acknowledged" in d.page_source)
