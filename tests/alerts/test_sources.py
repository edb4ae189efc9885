"""What the rules read: a read model without its build marker, or being rebuilt, is a
source not read: its alerts neither resolve nor fire again when it comes back."""

from __future__ import annotations

from collections.abc import Callable

import redis
from sqlalchemy.orm import Session

from alerts.lifecycle import acknowledge, list_alerts
from alerts.models import ACKNOWLEDGED
from alerts.service import AlertService
from metrics import keys
from metrics.rebuild import clear_read_model, rebuild
from tests.alerts.conftest import Catcher, EventFeed, FakeClock
from tests.alerts.scenario import PAST_DUE, case_with_follow_up, cycle, kind, mail, only
from tests.events.factory import SHANGHAI

NOT_BUILT = "read model not built (no build marker; run `complaintops rebuild`)"
REBUILDING = "read model rebuild in progress"
MODEL_RULES = ("follow_up_overdue", "decision_at_risk", "decision_breached", "handler_overloaded")


def alert_rows(service: AlertService) -> list[tuple[int, str, str | None, str]]:
    with Session(service.engine) as session:
        return [(a.id, a.rule, a.case_id, a.state) for a in list_alerts(session, state="all")]


def test_an_emptied_read_model_leaves_alerts_as_they_are_until_it_is_rebuilt(
    make_service: Callable[..., AlertService],
    feed: EventFeed,
    clock: FakeClock,
    catcher: Catcher,
    redis_client: redis.Redis,
) -> None:
    service = make_service(
        only("follow_up_overdue", group_wait_seconds=0, group_interval_seconds=1)
    )
    feed.apply(case_with_follow_up("E-1", "claims-east", "h-001", PAST_DUE))
    cycle(service, clock)
    [(alert_id, _, _, _)] = alert_rows(service)
    with Session(service.engine) as session, session.begin():
        acknowledge(session, [alert_id], "zhao.lei@example.com", "web", clock.now)

    clear_read_model(redis_client)  # Redis lost its data, or a rebuild's first step
    clock.advance(60)
    report = service.evaluate()
    service.deliver()
    assert report.evaluation.unknown["follow_up_overdue"] == NOT_BUILT
    assert "follow_up_overdue" not in report.evaluation.evaluated
    assert report.reconciled.resolved == [] and report.reconciled.fired == []

    assert feed.engine is not None
    rebuild(
        redis_client,
        feed.engine,
        group="complaintops-metrics",
        topic="complaints.case-events",
        tz=SHANGHAI,
        now=clock.now,
    )
    cycle(service, clock, 60)
    assert [kind(m) for m in mail(catcher)] == ["firing"]
    assert alert_rows(service) == [(alert_id, "follow_up_overdue", "E-1", ACKNOWLEDGED)]


def test_while_a_rebuild_runs_the_model_rules_are_not_evaluated(
    make_service: Callable[..., AlertService],
    feed: EventFeed,
    clock: FakeClock,
    catcher: Catcher,
    redis_client: redis.Redis,
) -> None:
    service = make_service(only(*MODEL_RULES, "consumer_lag", "major_complaint_opened"))
    feed.apply(case_with_follow_up("E-1", "claims-east", "h-001", PAST_DUE))
    service.evaluate()
    redis_client.set(keys.REBUILDING, str(clock.now), ex=60)
    redis_client.hset(
        "co:consumer:complaintops-metrics",
        mapping={"ts": clock.now, "lag": 0, "batch_ts": clock.now},
    )
    report = service.evaluate(clock.now + 30)
    assert {rule: report.evaluation.unknown.get(rule) for rule in MODEL_RULES} == {
        rule: REBUILDING for rule in MODEL_RULES
    }
    # The heartbeat is not part of the read model; SQL rules do not read Redis.
    assert {"consumer_lag", "major_complaint_opened"} <= report.evaluation.evaluated
    assert report.reconciled.resolved == []
    assert [rule for _, rule, _, _ in alert_rows(service)] == ["follow_up_overdue"]
