"""Sign-in rate limiting: at most ``MAX_FAILURES`` failed sign-ins per
(username, client address) in a sliding ``WINDOW_SECONDS``, kept in Redis
(sorted set of attempt times, keys from ``metrics.keys``).

A sign-in takes its place in the window (``begin``) before the password is
checked, in one script: concurrent guesses cannot all pass a check made
before any of them is counted. A success clears the window (``reset``); an
attempt whose password could not be checked gives its place back
(``release``)."""

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

# KEYS[1]: the pair's sorted set. ARGV: now, window seconds, limit, attempt id, TTL.
# Drops the times that left the window; refuses (0) when ``limit`` are left,
# otherwise adds this attempt and answers how many are in the window.
BEGIN_SCRIPT: Final = """
local key = KEYS[1]
local now = tonumber(ARGV[1])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - tonumber(ARGV[2]))
local count = redis.call('ZCARD', key)
if count >= tonumber(ARGV[3]) then
    return 0
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('EXPIRE', key, ARGV[5])
return count + 1
"""

# The attempt id when Redis could not be reached: the sign-in goes ahead unlimited.
UNCOUNTED: Final = ""


def subject_digest(username: str, address: str) -> str:
    """Names the (username, address) pair without storing either."""
    raw = f"{username.strip().lower()}\n{address}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


class LoginRateLimiter:
    """Counts attempts that did not succeed; ``begin`` refuses once ``max_failures``
    fell inside the window.

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
        self._begin = client.register_script(BEGIN_SCRIPT)

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

    def begin(self, username: str, address: str) -> str | None:
        """Counts a sign-in attempt before its password is checked.

        Returns the attempt's id, or None when the limit is reached and the
        attempt must be refused (it is then not counted).
        """
        now = self.clock()
        attempt = uuid.uuid4().hex
        ttl = int(self.window_seconds) + 1
        try:
            args: list[str | int] = [
                repr(now),
                repr(float(self.window_seconds)),
                self.max_failures,
                attempt,
                ttl,
            ]
            counted = int(self._begin(keys=[self._key(username, address)], args=args))
        except redis.RedisError as exc:
            log.warning("sign-in rate limit not checked (Redis: %s)", exc)
            return UNCOUNTED
        return attempt if counted > 0 else None

    def release(self, username: str, address: str, attempt: str) -> None:
        """Gives back the place of an attempt whose password was not checked."""
        if attempt == UNCOUNTED:
            return
        try:
            self.client.zrem(self._key(username, address), attempt)
        except redis.RedisError as exc:
            log.warning("sign-in attempt not released (Redis: %s)", exc)

    def reset(self, username: str, address: str) -> None:
        try:
            self.client.delete(self._key(username, address))
        except redis.RedisError as exc:
            log.warning("sign-in failures not cleared (Redis: %s)", exc)
