"""Alerting end to end: events through the real sinks, evaluation, routing, the outbox,
and a real SMTP server on loopback. Time moves by an injected clock, never by sleeping."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from alerts.lifecycle import acknowledge, add_silence, list_alerts
from alerts.models import ACKNOWLEDGED, ACTIVE, RESOLVED
from alerts.service import AlertService
from events import contract as c
from events.timeutil import parse_rfc3339
from tests.alerts.conftest import Catcher, EventFeed, FakeClock
from tests.alerts.scenario import case_with_follow_up, cases_named, cycle, kind, mail, only
from tests.events.factory import CaseScript

MINUTE = 60.0
Event = tuple[str, str, dict[str, Any]]
PAST = "2026-11-30T18:00:00+08:00"  # before NOW (2026-12-01 10:00)
FUTURE = "2026-12-05T18:00:00+08:00"
ONCALL_EAST = "zhao.lei@example.com"  # the claims rotation's member in the week of 2026-11-30


def alert_states(service: AlertService, state: str = "all") -> dict[tuple[str, str | None], str]:
    with Session(service.engine) as session:
        return {(a.rule, a.case_id): a.state for a in list_alerts(session, state=state)}


def active_cases(service: AlertService, rule: str) -> set[str]:
    with Session(service.engine) as session:
        return {a.case_id or "" for a in list_alerts(session, state="active") if a.rule == rule}


def test_every_overdue_return_visit_and_no_other_alerts_and_is_mailed_once(
    make_service: Callable[..., AlertService], feed: EventFeed, clock: FakeClock, catcher: Catcher
) -> None:
    done: Event = (c.FOLLOW_UP_DONE, "2026-11-30T20:00:00+08:00", {"satisfaction": 4})
    closed: Event = (c.CLOSED, "2026-12-01T09:00:00+08:00", {"resolution": "resolved"})
    moved_later: Event = (c.FOLLOW_UP_SCHEDULED, "2026-11-30T19:00:00+08:00", {"due_at": FUTURE})
    moved_earlier: Event = (c.FOLLOW_UP_SCHEDULED, "2026-11-29T09:00:00+08:00", {"due_at": PAST})
    # case: team, handler, first due, later events, the due that counts (None: nothing due)
    histories: dict[str, tuple[str, str, str, tuple[Event, ...], str | None]] = {
        "E-1": ("claims-east", "h-001", PAST, (), PAST),
        "E-2": (
            "claims-east",
            "h-002",
            "2026-11-27T09:00:00+08:00",
            (),
            "2026-11-27T09:00:00+08:00",
        ),
        "E-DONE": ("claims-east", "h-001", PAST, (done,), None),
        "E-FUTURE": ("claims-east", "h-003", FUTURE, (), FUTURE),
        "N-1": ("claims-north", "h-007", PAST, (), PAST),
        "N-CLOSED": ("claims-north", "h-008", PAST, (closed,), None),
        "N-MOVED-LATER": ("claims-north", "h-009", PAST, (moved_later,), FUTURE),
        "S-1": ("sales-service", "h-014", PAST, (), PAST),
        "S-MOVED-EARLIER": ("sales-service", "h-015", FUTURE, (moved_earlier,), PAST),
        "H-1": (
            "health-life",
            "h-019",
            "2026-12-01T09:59:59+08:00",
            (),
            "2026-12-01T09:59:59+08:00",
        ),
        "H-DUE-NOW": (
            "health-life",
            "h-020",
            "2026-12-01T10:00:00+08:00",
            (),
            "2026-12-01T10:00:00+08:00",
        ),
    }

    def overdue_at(moment: float) -> set[str]:
        return {
            case
            for case, (*_, due) in histories.items()
            if due is not None and parse_rfc3339(due) < moment
        }

    events = []
    for case, (team, handler, due, then, _) in histories.items():
        events += case_with_follow_up(case, team, handler, due, then=then)
    feed.apply(events)
    service = make_service(only("follow_up_overdue"))

    cycle(service, clock)
    assert active_cases(service, "follow_up_overdue") == overdue_at(clock.now)
    assert "H-DUE-NOW" not in overdue_at(clock.now)  # due at this very second: not yet
    assert mail(catcher) == []  # the groups wait group_wait (30 s)

    cycle(service, clock, 30)
    expected = overdue_at(clock.now)
    assert "H-DUE-NOW" in expected
    assert active_cases(service, "follow_up_overdue") == expected
    emails = mail(catcher, "firing")
    named = Counter(case for message in emails for case in cases_named(message))
    assert named == Counter(dict.fromkeys(expected, 1))
    assert sorted(str(m["Subject"]).rsplit(" — ", 1)[1] for m in emails) == [
        "claims-east",
        "claims-north",
        "health-life",
        "sales-service",
    ]
    east = next(m for m in emails if str(m["Subject"]).endswith("claims-east"))
    assert str(east["Subject"]) == (
        "[警告 WARNING] 2 个案件回访逾期 / 2 return visits overdue — claims-east"
    )
    assert east["To"] == ONCALL_EAST

    for _ in range(10):  # more evaluations inside the repeat interval: nothing new
        cycle(service, clock, 30)
        assert active_cases(service, "follow_up_overdue") == overdue_at(clock.now)
    assert len(mail(catcher)) == len(emails)


def test_reminders_back_off_and_stop_once_acknowledged(
    make_service: Callable[..., AlertService], feed: EventFeed, clock: FakeClock, catcher: Catcher
) -> None:
    feed.apply(case_with_follow_up("C-1", "claims-east", "h-001", PAST))
    routing = {
        "repeat_interval_minutes": 60,
        "repeat_backoff": 2,
        "repeat_interval_max_minutes": 240,
    }
    service = make_service(only("follow_up_overdue", **routing))
    cycle(service, clock)
    cycle(service, clock, 30)
    assert [kind(m) for m in mail(catcher)] == ["firing"]
    start = clock.now
    reminders_at = []
    while clock.now < start + 700 * MINUTE:
        before = len(mail(catcher))
        cycle(service, clock, 5 * MINUTE)
        if len(mail(catcher)) > before:
            reminders_at.append(round((clock.now - start) / MINUTE))
    # 60 min, then 120 and 240 min later (back-off), then every 240 min (the cap)
    assert reminders_at == [60, 180, 420, 660]
    assert [kind(m) for m in mail(catcher)] == ["firing"] + ["reminder"] * 4

    with Session(service.engine) as session, session.begin():
        [alert] = list_alerts(session)
        acknowledge(session, [alert.id], "leader@example.com", "web", clock.now)
    for _ in range(60):
        cycle(service, clock, 10 * MINUTE)
    assert len(mail(catcher)) == 5
    assert alert_states(service) == {("follow_up_overdue", "C-1"): ACKNOWLEDGED}


def test_a_cleared_condition_resolves_the_alert_and_sends_a_resolved_notice(
    make_service: Callable[..., AlertService], feed: EventFeed, clock: FakeClock, catcher: Catcher
) -> None:
    feed.apply(case_with_follow_up("C-1", "claims-east", "h-001", PAST))
    feed.apply(case_with_follow_up("C-2", "claims-east", "h-002", PAST))
    service = make_service(only("follow_up_overdue"))
    cycle(service, clock)
    cycle(service, clock, 30)
    assert alert_states(service)[("follow_up_overdue", "C-1")] == ACTIVE
    script = CaseScript("C-1")
    script.seq = 4
    feed.apply([script.next(c.FOLLOW_UP_DONE, "2026-12-01T10:02:00+08:00", satisfaction=5)])
    cycle(service, clock, 60)
    assert alert_states(service) == {
        ("follow_up_overdue", "C-1"): RESOLVED,
        ("follow_up_overdue", "C-2"): ACTIVE,
    }
    cycle(service, clock, 300)  # group interval since the first email
    update = mail(catcher)[-1]
    assert kind(update) == "firing"
    text = update.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "[已恢复 resolved] 案件 Case C-1" in text and "[持续 ongoing] 案件 Case C-2" in text

    script = CaseScript("C-2")
    script.seq = 4
    feed.apply([script.next(c.FOLLOW_UP_DONE, "2026-12-01T10:10:00+08:00")])
    cycle(service, clock, 60)
    cycle(service, clock, 300)
    last = mail(catcher)[-1]
    assert kind(last) == "resolved"
    assert str(last["Subject"]).startswith("[已恢复 RESOLVED] 1 个告警已恢复：回访逾期")
    assert len(mail(catcher)) == 3
    for _ in range(5):
        cycle(service, clock, 3600)
    assert len(mail(catcher)) == 3


def breached_case(
    case_id: str, team: str = "claims-east", handler: str = "h-001"
) -> list[dict[str, object]]:
    # Received 2026-11-10: the 15-day deadline passed at 2026-11-26 00:00.
    return [
        CaseScript(case_id).opened(at="2026-11-10T09:00:00+08:00", team_id=team, handler_id=handler)
    ]


def test_an_unacknowledged_critical_alert_escalates_to_the_team_manager(
    make_service: Callable[..., AlertService], feed: EventFeed, clock: FakeClock, catcher: Catcher
) -> None:
    feed.apply(breached_case("C-1") + breached_case("C-2", "claims-north", "h-007"))
    service = make_service(only("decision_breached"))
    cycle(service, clock)
    cycle(service, clock, 30)
    assert sorted(str(m["Subject"]) for m in mail(catcher)) == [
        "[严重 CRITICAL] 1 个案件决定期限已超 / 1 decision deadline breached — claims-east",
        "[严重 CRITICAL] 1 个案件决定期限已超 / 1 decision deadline breached — claims-north",
    ]
    with Session(service.engine) as session, session.begin():
        north = next(a for a in list_alerts(session) if a.team_id == "claims-north")
        acknowledge(session, [north.id], ONCALL_EAST, "email", clock.now)
    cycle(service, clock, 29 * MINUTE)
    assert mail(catcher, "escalation") == []
    cycle(service, clock, 1 * MINUTE + 30)
    [escalation] = mail(catcher, "escalation")
    assert escalation["To"] == "claims-east.manager@example.com"
    assert cases_named(escalation) == ["C-1"]
    assert str(escalation["Subject"]).startswith(
        "[升级 ESCALATION · 第 1 级] 1 个严重告警超过 30 分钟未确认"
    )
    for _ in range(6):
        cycle(service, clock, 10 * MINUTE)
    assert len(mail(catcher, "escalation")) == 1


def test_a_silence_mutes_a_rule_until_it_ends(
    make_service: Callable[..., AlertService], feed: EventFeed, clock: FakeClock, catcher: Catcher
) -> None:
    feed.apply(case_with_follow_up("C-1", "claims-east", "h-001", PAST))
    service = make_service(only("follow_up_overdue"))
    with Session(service.engine) as session, session.begin():
        add_silence(
            session,
            rule="follow_up_overdue",
            until=clock.now + 3600,
            by="manager@example.com",
            now=clock.now,
            comment="known backlog",
        )
    for _ in range(11):
        cycle(service, clock, 5 * MINUTE)
    assert mail(catcher) == []
    assert alert_states(service) == {("follow_up_overdue", "C-1"): ACTIVE}  # still recorded
    cycle(service, clock, 5 * MINUTE)  # the silence has ended
    cycle(service, clock, 30)
    assert [cases_named(m) for m in mail(catcher)] == [["C-1"]]


def test_quiet_hours_hold_warnings_but_not_critical_alerts(
    make_service: Callable[..., AlertService], feed: EventFeed, clock: FakeClock, catcher: Catcher
) -> None:
    clock.now = parse_rfc3339("2026-12-01T23:00:00+08:00")
    feed.apply(case_with_follow_up("C-1", "claims-east", "h-001", PAST) + breached_case("C-2"))
    quiet = {"quiet_hours": {"enabled": True, "from": "22:00", "until": "08:00"}}
    service = make_service(only("follow_up_overdue", "decision_breached", **quiet))
    cycle(service, clock)
    cycle(service, clock, 30)
    assert [kind(m) + ":" + cases_named(m)[0] for m in mail(catcher)] == ["firing:C-2"]
    clock.now = parse_rfc3339("2026-12-02T07:59:00+08:00")
    cycle(service, clock)
    # The critical alert went on (a reminder, an escalation); the warning waited.
    assert all(cases_named(m) == ["C-2"] for m in mail(catcher))
    cycle(service, clock, 60)
    warnings = [m for m in mail(catcher) if "C-1" in cases_named(m)]
    assert [(kind(m), cases_named(m)) for m in warnings] == [("firing", ["C-1"])]


def test_two_schedulers_without_the_lock_still_send_each_email_once(
    make_service: Callable[..., AlertService], feed: EventFeed, clock: FakeClock, catcher: Catcher
) -> None:
    import threading

    events = []
    for number in range(12):
        team, handler = [("claims-east", "h-001"), ("sales-service", "h-014")][number % 2]
        events += case_with_follow_up(f"C-{number}", team, handler, PAST)
    feed.apply(events)
    first = make_service(only("follow_up_overdue"), worker_id="scheduler-a")
    second = make_service(only("follow_up_overdue"), worker_id="scheduler-b")
    errors: list[BaseException] = []
    steps = [0, 30, 31, 60, 90, 400, 3600 * 4 + 60]
    # Both processes share the wall clock: each step starts together in both.
    together = threading.Barrier(2, timeout=120)

    def run(service: AlertService) -> None:
        try:
            for offset in steps:
                together.wait()
                service.evaluate(clock.now + offset)
                service.deliver(clock.now + offset)
        except BaseException as error:  # reported below
            errors.append(error)
            together.abort()

    threads = [threading.Thread(target=run, args=(s,)) for s in (first, second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert errors == []
    message_ids = Counter(str(m["Message-ID"]) for m in mail(catcher))
    assert set(message_ids.values()) == {1}
    firing = mail(catcher, "firing")
    named = Counter(case for message in firing for case in cases_named(message))
    assert named == Counter({f"C-{n}": 1 for n in range(12)})
    assert len(firing) == 2
    assert len(mail(catcher, "reminder")) == 2  # one per group after 4 h, not one per scheduler
    assert len(alert_states(first)) == 12


def test_an_unreadable_source_neither_fires_nor_resolves(
    make_service: Callable[..., AlertService], feed: EventFeed, clock: FakeClock, catcher: Catcher
) -> None:
    from complaintops.embedded import find_free_port

    feed.apply(case_with_follow_up("C-1", "claims-east", "h-001", PAST))
    service = make_service(only("follow_up_overdue"))
    cycle(service, clock)
    blind = make_service(
        only("follow_up_overdue"), redis_url=f"redis://127.0.0.1:{find_free_port()}/0"
    )
    report = blind.evaluate(clock.now + 60)
    assert "follow_up_overdue" in report.evaluation.unknown
    assert report.reconciled.resolved == []
    assert alert_states(service) == {("follow_up_overdue", "C-1"): ACTIVE}


def test_consumer_lag_is_unknown_without_a_heartbeat_and_fires_when_behind(
    make_service: Callable[..., AlertService],
    feed: EventFeed,
    clock: FakeClock,
    catcher: Catcher,
    redis_client: object,
) -> None:
    import redis as redis_module

    assert isinstance(redis_client, redis_module.Redis)
    service = make_service(only("consumer_lag"))
    report = service.evaluate()
    assert report.evaluation.unknown == {
        "consumer_lag": "no heartbeat of consumer group 'complaintops-metrics' in Redis"
    }
    key = "co:consumer:complaintops-metrics"
    redis_client.hset(key, mapping={"ts": clock.now, "lag": 9000, "batch_ts": clock.now})
    cycle(service, clock, 1)
    cycle(service, clock, 30)
    [message] = mail(catcher)
    assert message["To"] == "complaint-ops@example.com"  # no team: the fallback receivers
    assert "9000 events behind" in message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    redis_client.hset(key, mapping={"ts": clock.now + 60, "lag": 0, "batch_ts": clock.now + 60})
    cycle(service, clock, 60)
    assert alert_states(service) == {("consumer_lag", None): RESOLVED}


def test_handler_overload_stage_targets_and_major_complaints(
    make_service: Callable[..., AlertService], feed: EventFeed, clock: FakeClock, catcher: Catcher
) -> None:
    events = [
        CaseScript(f"L-{n:02d}").opened(
            at="2026-12-01T08:00:00+08:00", team_id="claims-east", handler_id="h-006"
        )
        for n in range(16)  # h-006 can carry 15
    ]
    events.append(  # in intake since 2026-11-28: over the 24 h target
        CaseScript("OLD").opened(
            at="2026-11-28T09:00:00+08:00", team_id="claims-north", handler_id="h-007"
        )
    )
    events.append(
        CaseScript("MAJOR").opened(
            at="2026-12-01T09:50:00+08:00", team_id="health-life", handler_id="h-019", group_size=25
        )
    )
    feed.apply(events)
    service = make_service(
        only("handler_overloaded", "stage_sla_breached", "major_complaint_opened")
    )
    cycle(service, clock)
    assert alert_states(service) == {
        ("handler_overloaded", None): ACTIVE,
        ("stage_sla_breached", "OLD"): ACTIVE,
        ("major_complaint_opened", "MAJOR"): ACTIVE,
    }
    # A major complaint is sent at once; the others wait group_wait.
    assert [str(m["Subject"]) for m in mail(catcher)] == [
        "[严重 CRITICAL] 1 件重大投诉 / 1 major complaint opened — health-life"
    ]
    cycle(service, clock, 30)
    subjects = sorted(str(m["Subject"]) for m in mail(catcher))
    assert subjects == [
        "[严重 CRITICAL] 1 件重大投诉 / 1 major complaint opened — health-life",
        "[警告 WARNING] 1 个案件超出阶段时限 / 1 case over its stage target — claims-north",
        "[警告 WARNING] 1 名处理人超负荷 / 1 handler over capacity — claims-east",
    ]
    overload = next(m for m in mail(catcher) if "超负荷" in str(m["Subject"]))
    assert "在办 16 件，容量 15 件" in overload.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_a_decision_at_risk_that_becomes_breached_is_superseded_not_resolved(
    make_service: Callable[..., AlertService], feed: EventFeed, clock: FakeClock, catcher: Catcher
) -> None:
    from alerts.lifecycle import history

    breaching, deciding = CaseScript("R-1"), CaseScript("R-2")
    feed.apply(
        [
            script.opened(at="2026-11-16T09:00:00+08:00", team_id="claims-east", handler_id="h-001")
            for script in (breaching, deciding)
        ]
    )
    service = make_service(
        only(
            "decision_at_risk",
            "decision_breached",
            group_wait_seconds=0,
            group_interval_seconds=1,
        )
    )
    cycle(service, clock)  # 2026-12-01 10:00: both deadlines (12-02 00:00) within the window
    feed.apply([deciding.next(c.DECISION_MADE, "2026-12-01T16:00:00+08:00", outcome="upheld")])
    cycle(service, clock, 15 * 3600)  # 2026-12-02 01:00: R-1 breached, R-2 decided in time
    assert [(kind(m), sorted(cases_named(m))) for m in mail(catcher)] == [
        ("firing", ["R-1", "R-2"]),
        ("resolved", ["R-2"]),  # decided: nothing left to do
        ("firing", ["R-1"]),  # breached; no 'resolved, nothing to do' for R-1
    ]
    assert "决定期限已超" in str(mail(catcher)[-1]["Subject"])
    assert alert_states(service) == {
        ("decision_at_risk", "R-1"): RESOLVED,
        ("decision_at_risk", "R-2"): RESOLVED,
        ("decision_breached", "R-1"): ACTIVE,
    }
    with Session(service.engine) as session:
        alerts = {(a.rule, a.case_id): a for a in list_alerts(session, state="all")}
        at_risk = alerts[("decision_at_risk", "R-1")]
        breached = alerts[("decision_breached", "R-1")]
        events = history(session, at_risk.id)
        assert [e.kind for e in events] == ["fired", "notified", "superseded"]
        assert events[-1].detail == f'{{"by": {breached.id}}}'
    cycle(service, clock, 3600)  # later rounds (an escalation of R-1) announce nothing of it
    assert [cases_named(m) for m in mail(catcher, "resolved")] == [["R-2"]]


def test_a_reassigned_overdue_case_is_handed_over_not_resolved(
    make_service: Callable[..., AlertService], feed: EventFeed, clock: FakeClock, catcher: Catcher
) -> None:
    from alerts.lifecycle import history

    script = CaseScript("M-1")
    feed.apply(
        [
            script.opened(
                at="2026-11-16T09:00:00+08:00", team_id="claims-east", handler_id="h-001"
            ),
            script.next(
                c.FOLLOW_UP_SCHEDULED,
                "2026-11-20T09:00:00+08:00",
                due_at="2026-11-30T18:00:00+08:00",
            ),
        ]
    )
    service = make_service(
        only("follow_up_overdue", group_wait_seconds=0, group_interval_seconds=1)
    )
    cycle(service, clock)  # 2026-12-01 10:00: the return visit is overdue
    feed.apply(
        [
            script.next(
                c.ASSIGNED, "2026-12-01T10:05:00+08:00", team_id="claims-north", handler_id="h-007"
            )
        ]
    )
    cycle(service, clock, 60)
    assert [(kind(m), str(m["Subject"]).rsplit(" — ", 1)[1]) for m in mail(catcher)] == [
        ("firing", "claims-east"),
        ("firing", "claims-north"),  # told anew; no 'resolved, nothing to do' for claims-east
    ]
    with Session(service.engine) as session:
        alerts = sorted(list_alerts(session, state="all"), key=lambda a: a.id)
        assert [(a.team_id, a.state) for a in alerts] == [
            ("claims-east", RESOLVED),
            ("claims-north", ACTIVE),
        ]
        events = history(session, alerts[0].id)
        assert [e.kind for e in events][-1] == "superseded"
        assert events[-1].detail == f'{{"by": {alerts[1].id}}}'
