"""Sign-in rate limiting: at most ``MAX_FAILURES`` failed sign-ins per
(username, client address) in a sliding ``WINDOW_SECONDS``, kept in Redis
(sorted set of failure times, keys from ``metrics.keys``)."""

from __future__ import annotations

import hashlib
import logging
import time
import uuid
from collections.abc import Callable
from typing import Final

import redis

from metrics import keys

log = logging.getLogger(__name__)

MAX_FAILURES: Final = 5
WINDOW_SECONDS: Final = 15 * 60


def subject_digest(username: str, address: str) -> str:
    """Names the (username, address) pair without storing either."""
    raw = f"{username.strip().lower()}\n{address}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


class LoginRateLimiter:
    """Counts failures; ``is_blocked`` once ``max_failures`` fell inside the window.

    When Redis cannot be reached the limiter lets sign-ins through (and logs):
    passwords are still checked, and the dashboard is unusable without Redis anyway.
    """

    def __init__(
        self,
        client: redis.Redis,
        max_failures: int = MAX_FAILURES,
        window_seconds: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.max_failures = max_failures
        self.window_seconds = window_seconds
        self.clock = clock

    def _key(self, username: str, address: str) -> str:
        return keys.login_failures(subject_digest(username, address))

    def failures(self, username: str, address: str) -> int:
        now = self.clock()
        key = self._key(username, address)
        try:
            return int(self.client.zcount(key, f"({now - self.window_seconds}", "+inf"))
        except redis.RedisError as exc:
            log.warning("sign-in rate limit not checked (Redis: %s)", exc)
            return 0

    def is_blocked(self, username: str, address: str) -> bool:
        return self.failures(username, address) >= self.max_failures

    def record_failure(self, username: str, address: str) -> None:
        now = self.clock()
        key = self._key(username, address)
        try:
            pipe = self.client.pipeline(transaction=True)
            pipe.zadd(key, {uuid.uuid4().hex: now})
            pipe.zremrangebyscore(key, "-inf", now - self.window_seconds)
            pipe.expire(key, int(self.window_seconds) + 1)
            pipe.execute()
        except redis.RedisError as exc:
            log.warning("sign-in failure not recorded (Redis: %s)", exc)

    def reset(self, username: str, address: str) -> None:
        try:
            self.client.delete(self._key(username, address))
        except redis.RedisError as exc:
            log.warning("sign-in failures not cleared (Redis: %s)", exc)
