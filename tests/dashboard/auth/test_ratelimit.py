from __future__ import annotations

import threading
from typing import cast

import redis

from dashboard.auth.ratelimit import MAX_FAILURES, LoginRateLimiter, subject_digest
from metrics import keys
from tests.dashboard.auth.conftest import FakeClock


def test_refuses_the_sixth_attempt_in_the_window(redis_client: redis.Redis) -> None:
    clock = FakeClock(1_795_000_000.0)
    limiter = LoginRateLimiter(redis_client, clock=clock)
    for attempt in range(5):
        assert limiter.begin("leader", "10.0.0.1") is not None, attempt
        clock.advance(60)
    assert limiter.begin("leader", "10.0.0.1") is None
    assert limiter.begin("LEADER ", "10.0.0.1") is None  # the same username
    assert limiter.begin("leader", "10.0.0.2") is not None
    assert limiter.begin("manager", "10.0.0.1") is not None


def test_attempts_leave_the_window_one_by_one(redis_client: redis.Redis) -> None:
    clock = FakeClock(1_795_000_000.0)
    limiter = LoginRateLimiter(redis_client, clock=clock)
    for _ in range(5):
        limiter.begin("leader", "10.0.0.1")
        clock.advance(60)
    # The first attempt was 5 minutes ago; it leaves the 15-minute window after 10 more.
    clock.advance(10 * 60 - 1)
    assert limiter.begin("leader", "10.0.0.1") is None
    clock.advance(2)
    assert limiter.failures("leader", "10.0.0.1") == 4
    assert limiter.begin("leader", "10.0.0.1") is not None


def test_reset_and_expiry(redis_client: redis.Redis) -> None:
    limiter = LoginRateLimiter(redis_client, max_failures=2, window_seconds=600)
    limiter.begin("leader", "10.0.0.1")
    limiter.begin("leader", "10.0.0.1")
    assert limiter.begin("leader", "10.0.0.1") is None
    key = keys.login_failures(subject_digest("leader", "10.0.0.1"))
    assert 0 < redis_client.ttl(key) <= 601
    limiter.reset("leader", "10.0.0.1")
    assert not redis_client.exists(key)
    assert limiter.begin("leader", "10.0.0.1") is not None


def test_keys_name_neither_the_user_nor_the_address(redis_client: redis.Redis) -> None:
    LoginRateLimiter(redis_client).begin("zhang.wei", "192.168.7.9")
    names = [name.decode() if isinstance(name, bytes) else name for name in redis_client.keys("*")]
    assert len(names) == 1
    assert names[0].startswith("co:auth:fail:")
    assert "zhang" not in names[0] and "192.168" not in names[0]


def test_begin_counts_the_attempt_and_refuses_past_the_limit(redis_client: redis.Redis) -> None:
    clock = FakeClock(1_795_000_000.0)
    limiter = LoginRateLimiter(redis_client, clock=clock)
    attempts = [limiter.begin("leader", "10.0.0.1") for _ in range(7)]
    assert all(attempts[:5]) and len(set(attempts[:5])) == 5
    assert attempts[5:] == [None, None]
    # Refused attempts are not counted: the first one leaves the window as before.
    assert limiter.failures("leader", "10.0.0.1") == 5
    clock.advance(15 * 60 + 1)
    assert limiter.begin("leader", "10.0.0.1") is not None
    assert limiter.failures("leader", "10.0.0.1") == 1


def test_concurrent_attempts_share_the_limit(redis_client: redis.Redis) -> None:
    limiter = LoginRateLimiter(redis_client)
    barrier = threading.Barrier(30)
    granted: list[str | None] = []

    def attempt() -> None:
        barrier.wait()
        granted.append(limiter.begin("leader", "10.0.0.1"))

    threads = [threading.Thread(target=attempt) for _ in range(30)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for one in granted if one is not None) == MAX_FAILURES


def test_release_gives_the_place_back(redis_client: redis.Redis) -> None:
    limiter = LoginRateLimiter(redis_client, max_failures=2)
    first = limiter.begin("leader", "10.0.0.1")
    assert first is not None and limiter.begin("leader", "10.0.0.1") is not None
    assert limiter.begin("leader", "10.0.0.1") is None
    limiter.release("leader", "10.0.0.1", first)
    assert limiter.begin("leader", "10.0.0.1") is not None


def test_redis_down_lets_the_attempt_through_uncounted() -> None:
    client = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2)
    limiter = LoginRateLimiter(client)
    attempt = limiter.begin("leader", "10.0.0.1")
    assert attempt is not None
    limiter.release("leader", "10.0.0.1", attempt)


def test_begin_on_a_redis_cluster(cluster_client: redis.RedisCluster) -> None:
    # The project reaches a cluster through the redis.Redis interface (complaintops.redis_client).
    limiter = LoginRateLimiter(cast(redis.Redis, cluster_client), max_failures=2)
    first = limiter.begin("leader", "10.0.0.1")
    assert first is not None and limiter.begin("leader", "10.0.0.1") is not None
    assert limiter.begin("leader", "10.0.0.1") is None
    limiter.release("leader", "10.0.0.1", first)
    assert limiter.begin("leader", "10.0.0.1") is not None
    limiter.reset("leader", "10.0.0.1")
    assert limiter.failures("leader", "10.0.0.1") == 0
