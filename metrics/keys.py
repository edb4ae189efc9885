"""Every Redis key of the read model, from one place.

Keys that belong to one case carry the case id as a hash tag (``{...}``) so
a case's keys stay in one Redis Cluster slot. Templates take their values
through ``str.format``.
"""

from __future__ import annotations

PREFIX = "co:"

# One case's state (compact JSON array, see metrics.codec).
CASE = PREFIX + "case:{{{0}}}"

# Work in progress: hash stage -> open cases, globally and per team.
WIP = PREFIX + "wip"
# Open cases per team: hash team -> count (lists the teams without a scan).
TEAM_OPEN = PREFIX + "teams:open"
TEAM_WIP = PREFIX + "team:{0}:wip"
# Open cases per handler inside a team: hash handler -> count.
TEAM_HANDLERS = PREFIX + "team:{0}:handlers"
# Per-handler load: hash open|urgent|major|regulator -> count.
HANDLER_LOAD = PREFIX + "handler:{0}:load"

# Due-time indexes (sorted sets scored by epoch seconds), global and per team.
DEADLINES = PREFIX + "idx:deadline"
TEAM_DEADLINES = PREFIX + "idx:deadline:team:{0}"
FOLLOW_UPS = PREFIX + "idx:followup"
TEAM_FOLLOW_UPS = PREFIX + "idx:followup:team:{0}"
HANDLER_FOLLOW_UPS = PREFIX + "idx:followup:handler:{0}"
OPENED = PREFIX + "idx:opened"
TEAM_OPENED = PREFIX + "idx:opened:team:{0}"
# Paused, undecided decision clocks: sorted sets of case ids scored by
# d = deadline base - paused_since; the deadline at a moment t is
# end_of_day(t + d) (see events.clock: paused_breach_limit and friends).
PAUSED = PREFIX + "idx:paused"
TEAM_PAUSED = PREFIX + "idx:paused:team:{0}"

# Hourly stage flow: hash "in:<stage>" / "out:<stage>" (and "...|<team>") -> count.
THROUGHPUT_HOUR = PREFIX + "tp:{0}"
# Time spent in stages: hash "<stage>:sum" / "<stage>:n" / "<stage>:h<bin>".
STAGE_TIME = PREFIX + "stage_time"

# Event counters: hash applied|duplicates|invalid|gaps.
EVENT_COUNTERS = PREFIX + "events"

# Stored consumer position: string, last stored offset of one partition.
OFFSET = PREFIX + "offset:{0}:{1}:{2}"  # group, topic, partition
OFFSET_PATTERN = PREFIX + "offset:{0}:{1}:*"

# Leaderboards: sorted set id -> points for (period kind, period key, scope).
LEADERBOARD = PREFIX + "lb:{0}:{1}:{2}"
# The team a handler was credited for in a period: hash handler -> team.
LEADERBOARD_TEAMS = PREFIX + "lb:{0}:{1}:teams"

# Build marker: hash with built_at and source; absent means the read model
# was lost and must be rebuilt before anything is written.
META = PREFIX + "meta"

# Dead letters stored with their batch, not yet confirmed by the broker:
# list of JSON records (topic, partition, offset, key, value, reason), per group.
DEAD_LETTER_OUTBOX = PREFIX + "dlq:outbox:{0}"

# Present while `rebuild` runs (with a TTL, in case it dies): a consumer
# group starting meanwhile must not create a fresh build marker.
REBUILDING = PREFIX + "rebuilding"
REBUILD_LEASE_SECONDS = 3600

# Heartbeat of the metrics consumer: hash ts, lag, … (consumer health).
CONSUMER_HEARTBEAT = PREFIX + "consumer:{0}"

ALL_PATTERN = PREFIX + "*"


def case(case_id: str) -> str:
    return CASE.format(case_id)


def offset(group: str, topic: str, partition: int) -> str:
    return OFFSET.format(group, topic, partition)


def throughput_hour(hour_start: int) -> str:
    return THROUGHPUT_HOUR.format(hour_start)


def leaderboard(kind: str, period_key: str, scope: str) -> str:
    return LEADERBOARD.format(kind, period_key, scope)


def leaderboard_teams(kind: str, period_key: str) -> str:
    return LEADERBOARD_TEAMS.format(kind, period_key)


# -- dashboard sign-in ---------------------------------------------------------------

# Failed sign-ins of one (username, client address) pair: sorted set of failure
# times that expires with its window. The argument is a digest of both, never
# the raw values.
LOGIN_FAILURES = PREFIX + "auth:fail:{0}"


def login_failures(digest: str) -> str:
    return LOGIN_FAILURES.format(digest)


# Alerting: the scheduler leader lock (string: the leader's token, with a TTL).
ALERTS_LEADER = PREFIX + "alerts:leader"


# -- the read model as a whole ------------------------------------------------------


def template_prefix(template: str) -> str:
    """The fixed start of a key template (before its first placeholder)."""
    return template.split("{", 1)[0]


# The read model's data keys (rebuilt by `rebuild`, compared by `reconcile`):
# these exact names and every name under these prefixes. Other keys under the
# same root (offsets, the marker, heartbeats, the dead-letter outbox, sign-in
# counters, locks) belong to other parts of the product and are left alone.
READ_MODEL_KEYS = frozenset({WIP, TEAM_OPEN, STAGE_TIME, EVENT_COUNTERS})
READ_MODEL_PREFIXES = (
    template_prefix(CASE),
    template_prefix(TEAM_WIP),
    template_prefix(TEAM_HANDLERS),
    template_prefix(HANDLER_LOAD),
    PREFIX + "idx:",
    template_prefix(THROUGHPUT_HOUR),
    template_prefix(LEADERBOARD),
)


def is_read_model_key(name: str) -> bool:
    """True for a data key of the read model (not its offsets or marker)."""
    return name in READ_MODEL_KEYS or name.startswith(READ_MODEL_PREFIXES)
