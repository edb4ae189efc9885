"""The leader lock and the scheduled jobs: only the leader evaluates and sends."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pytest
import redis

from alerts.models import PENDING, SENT
from alerts.scheduler import AlertJobs, LeaderLock, build_scheduler
from alerts.service import AlertService
from metrics import keys
from tests.alerts.conftest import Catcher, EventFeed, FakeClock
from tests.alerts.scenario import PAST_DUE, case_with_follow_up, mail, only
from tests.alerts.test_outbox import SlowRelay, queue, states
from tests.events.factory import CaseScript


def test_one_holder_at_a_time_with_renewal_and_release(redis_client: redis.Redis) -> None:
    first = LeaderLock(redis_client, ttl_seconds=30)
    second = LeaderLock(redis_client, ttl_seconds=30)
    assert first.acquire()
    assert not second.acquire()
    assert first.acquire()  # renewal by the holder
    assert 0 < redis_client.pttl(keys.ALERTS_LEADER) <= 30_000
    assert first.holder() == first.token
    assert not second.release()  # only the holder can release
    assert first.release()
    assert second.acquire()
    assert second.holder() == second.token


def test_a_lapsed_lock_goes_to_another_process(redis_client: redis.Redis) -> None:
    crashed = LeaderLock(redis_client, ttl_seconds=30)
    assert crashed.acquire()
    redis_client.delete(keys.ALERTS_LEADER)  # what the TTL does after a crash
    successor = LeaderLock(redis_client, ttl_seconds=30)
    assert successor.acquire()
    assert not crashed.acquire()  # the old leader finds it lost the lock


def test_only_the_leader_runs_the_jobs(
    make_service: Callable[..., AlertService],
    feed: EventFeed,
    clock: FakeClock,
    catcher: Catcher,
    redis_client: redis.Redis,
) -> None:
    feed.apply(case_with_follow_up("C-1", "claims-east", "h-001", PAST_DUE))
    leader = AlertJobs(make_service(only("follow_up_overdue")), LeaderLock(redis_client))
    follower = AlertJobs(
        make_service(only("follow_up_overdue"), worker_id="worker-2"), LeaderLock(redis_client)
    )
    assert leader.evaluate() is not None
    assert follower.evaluate() is None and follower.deliver() is None
    clock.advance(30)
    for jobs in (follower, leader, follower):
        jobs.evaluate()
        jobs.deliver()
    assert len(mail(catcher)) == 1
    leader.lock.release()
    clock.advance(3600 * 5)
    assert follower.evaluate() is not None  # takes over
    assert follower.deliver() is not None
    assert [str(m["X-ComplaintOps-Kind"]) for m in mail(catcher)] == ["firing", "reminder"]


def test_while_redis_is_down_email_goes_out_and_sql_rules_are_evaluated_without_the_lock(
    make_service: Callable[..., AlertService],
    feed: EventFeed,
    migrated_url: str,
    catcher: Catcher,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from complaintops.embedded import find_free_port

    ids = queue(migrated_url, 2)  # decided before Redis went down
    feed.apply(
        [
            CaseScript("MAJOR").opened(
                at="2026-12-01T09:50:00+08:00",
                team_id="health-life",
                handler_id="h-019",
                group_size=25,
            )
        ]
    )
    down = f"redis://127.0.0.1:{find_free_port()}/0"
    service = make_service(only("major_complaint_opened", "follow_up_overdue"), redis_url=down)
    nowhere = redis.Redis.from_url(down, socket_timeout=1)
    jobs = AlertJobs(service, LeaderLock(nowhere))
    caplog.set_level(logging.INFO, logger="alerts.scheduler")

    first = jobs.deliver()
    assert first is not None and first.sent == [1, 2]
    evaluation = jobs.evaluate()
    assert evaluation is not None
    assert "follow_up_overdue" in evaluation.evaluation.unknown  # reads Redis: left as it is
    assert len(evaluation.reconciled.fired) == 1  # the major complaint, from SQL
    assert jobs.deliver() is not None and jobs.deliver() is not None
    subjects = [str(m["Subject"]) for m in mail(catcher)]
    assert set(ids) <= {str(m["Message-ID"]) for m in mail(catcher)}
    assert subjects[-1] == "[严重 CRITICAL] 1 件重大投诉 / 1 major complaint opened — health-life"
    assert len(subjects) == 3
    outage = [r for r in caplog.records if "leader lock unavailable" in r.getMessage()]
    assert len(outage) == 1  # once per outage, not at every run


def test_the_outage_is_logged_again_only_after_redis_came_back(
    make_service: Callable[..., AlertService],
    redis_client: redis.Redis,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from complaintops.embedded import find_free_port

    nowhere = redis.Redis.from_url(f"redis://127.0.0.1:{find_free_port()}/0", socket_timeout=1)
    lock = LeaderLock(nowhere)
    jobs = AlertJobs(make_service(only("major_complaint_opened")), lock)
    caplog.set_level(logging.INFO, logger="alerts.scheduler")
    for client in (nowhere, nowhere, redis_client, redis_client, nowhere, nowhere):
        lock.client = client
        jobs.deliver()
    said = [r.getMessage().split(" (")[0].split(";")[0] for r in caplog.records]
    assert said == [
        "leader lock unavailable",
        "leader lock available again",
        "leader lock unavailable",
    ]


def test_the_scheduler_runs_both_jobs_at_their_intervals(
    make_service: Callable[..., AlertService], redis_client: redis.Redis
) -> None:
    jobs = AlertJobs(make_service(), LeaderLock(redis_client))
    scheduler = build_scheduler(jobs, evaluate_seconds=30, deliver_seconds=5)
    found = {job.id: job for job in scheduler.get_jobs()}
    assert set(found) == {"alerts.evaluate", "alerts.deliver"}
    assert found["alerts.evaluate"].trigger.interval.total_seconds() == 30
    assert found["alerts.deliver"].trigger.interval.total_seconds() == 5
    assert all(job.max_instances == 1 and job.coalesce for job in found.values())


def test_a_delivery_round_renews_the_lock_and_stops_when_it_is_lost(
    make_service: Callable[..., AlertService],
    migrated_url: str,
    clock: FakeClock,
    catcher: Catcher,
    redis_client: redis.Redis,
) -> None:
    queue(migrated_url, 4)
    service = make_service()
    jobs = AlertJobs(service, LeaderLock(redis_client, ttl_seconds=30))
    successor = LeaderLock(redis_client, ttl_seconds=30)
    renewed: list[int] = []

    def during_send(number: int) -> None:
        renewed.append(redis_client.pttl(keys.ALERTS_LEADER))
        redis_client.pexpire(keys.ALERTS_LEADER, 1000)  # the lease runs low during the send
        if number == 2:  # ... and lapses: another scheduler takes the lock
            redis_client.delete(keys.ALERTS_LEADER)
            assert successor.acquire()

    assert service.transport is not None
    service.transport = SlowRelay(service.transport, clock, 20, during_send)
    report = jobs.deliver()
    assert report is not None
    assert (report.sent, report.stopped) == ([1, 2], True)
    assert renewed[1] > 1000  # renewed before the second message
    assert states(migrated_url) == [(SENT, 1), (SENT, 1), (PENDING, 0), (PENDING, 0)]
    assert successor.holder() == successor.token
