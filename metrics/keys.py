"""Every Redis key of the read model, from one place.

Redis Cluster: every key the metrics consumer writes in one batch (the
cases' states, the aggregates, the indexes, the leaderboards, the stored
offsets, the build marker and the dead-letter outbox) carries one hash tag,
``{m}``, so the batch script's keys share one slot and each batch stays one
atomic step on any deployment. The read model therefore lives on one
primary of a cluster (and its replicas); keys of other parts of the product
(sign-in counters, heartbeats, locks) carry no tag and spread over the
cluster. Templates take their values through ``str.format``.
"""

from __future__ import annotations

PREFIX = "co:"
# The read model's hash tag, and the start of each of its keys.
MODEL_TAG = "m"
MODEL = PREFIX + "{" + MODEL_TAG + "}:"
# The same start, escaped for templates that go through str.format.
_MODEL_T = PREFIX + "{{" + MODEL_TAG + "}}:"

# One case's state (compact JSON array, see metrics.codec).
CASE = _MODEL_T + "case:{0}"

# Work in progress: hash stage -> open cases, globally and per team.
WIP = MODEL + "wip"
# Open cases per team: hash team -> count (lists the teams without a scan).
TEAM_OPEN = MODEL + "teams:open"
TEAM_WIP = _MODEL_T + "team:{0}:wip"
# Open cases per handler inside a team: hash handler -> count.
TEAM_HANDLERS = _MODEL_T + "team:{0}:handlers"
# Per-handler load: hash open|urgent|major|regulator -> count.
HANDLER_LOAD = _MODEL_T + "handler:{0}:load"

# Due-time indexes (sorted sets scored by epoch seconds), global and per team.
DEADLINES = MODEL + "idx:deadline"
TEAM_DEADLINES = _MODEL_T + "idx:deadline:team:{0}"
FOLLOW_UPS = MODEL + "idx:followup"
TEAM_FOLLOW_UPS = _MODEL_T + "idx:followup:team:{0}"
HANDLER_FOLLOW_UPS = _MODEL_T + "idx:followup:handler:{0}"
OPENED = MODEL + "idx:opened"
TEAM_OPENED = _MODEL_T + "idx:opened:team:{0}"
# Paused, undecided decision clocks: sorted sets of case ids scored by
# d = deadline base - paused_since; the deadline at a moment t is
# end_of_day(t + d) (see events.clock: paused_breach_limit and friends).
PAUSED = MODEL + "idx:paused"
TEAM_PAUSED = _MODEL_T + "idx:paused:team:{0}"

# Hourly stage flow: hash "in:<stage>" / "out:<stage>" (and "...|<team>") -> count.
THROUGHPUT_HOUR = _MODEL_T + "tp:{0}"
# Time spent in stages: hash "<stage>:sum" / "<stage>:n" / "<stage>:h<bin>".
STAGE_TIME = MODEL + "stage_time"

# Event counters: hash applied|duplicates|invalid|gaps.
EVENT_COUNTERS = MODEL + "events"

# Stored consumer position: string, last stored offset of one partition.
OFFSET = _MODEL_T + "offset:{0}:{1}:{2}"  # group, topic, partition
OFFSET_PATTERN = _MODEL_T + "offset:{0}:{1}:*"

# Leaderboards: sorted set id -> points for (period kind, period key, scope).
LEADERBOARD = _MODEL_T + "lb:{0}:{1}:{2}"
# The team a handler was credited for in a period: hash handler -> team, the
# team of their latest award there (greatest occurred_at, then event_id).
LEADERBOARD_TEAMS = _MODEL_T + "lb:{0}:{1}:teams"
# Beside it, hash handler -> the stamp of that award (metrics.delta.award_stamp),
# so that awards processed in any order leave the same team.
LEADERBOARD_TEAM_STAMPS = _MODEL_T + "lb:{0}:{1}:teams:stamp"

# Build marker: hash with built_at and source; absent means the read model
# was lost and must be rebuilt before anything is written.
META = MODEL + "meta"

# Dead letters stored with their batch, not yet confirmed by the broker:
# list of JSON records (topic, partition, offset, key, value, reason), per
# group and partition: only the partition's owner writes and clears it, so
# consumers of one group never publish or trim each other's letters.
DEAD_LETTER_OUTBOX = _MODEL_T + "dlq:outbox:{0}:{1}"  # group, partition

# Present while `rebuild` runs (with a TTL, in case it dies): a consumer
# group starting meanwhile must not create a fresh build marker.
REBUILDING = PREFIX + "rebuilding"
REBUILD_LEASE_SECONDS = 3600

# Heartbeat of the metrics consumer: hash ts, lag, … (consumer health).
CONSUMER_HEARTBEAT = PREFIX + "consumer:{0}"

ALL_PATTERN = PREFIX + "*"
# Every key of the read model, its offsets, marker and outbox.
MODEL_PATTERN = MODEL + "*"


def case(case_id: str) -> str:
    return CASE.format(case_id)


def offset(group: str, topic: str, partition: int) -> str:
    return OFFSET.format(group, topic, partition)


def dead_letter_outbox(group: str, partition: int) -> str:
    return DEAD_LETTER_OUTBOX.format(group, partition)


def throughput_hour(hour_start: int) -> str:
    return THROUGHPUT_HOUR.format(hour_start)


def leaderboard(kind: str, period_key: str, scope: str) -> str:
    return LEADERBOARD.format(kind, period_key, scope)


def leaderboard_teams(kind: str, period_key: str) -> str:
    return LEADERBOARD_TEAMS.format(kind, period_key)


def leaderboard_team_stamps(kind: str, period_key: str) -> str:
    return LEADERBOARD_TEAM_STAMPS.format(kind, period_key)


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
    return template.split("{0}", 1)[0].replace("{{", "{").replace("}}", "}")


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
    MODEL + "idx:",
    template_prefix(THROUGHPUT_HOUR),
    template_prefix(LEADERBOARD),
)


def is_read_model_key(name: str) -> bool:
    """True for a data key of the read model (not its offsets or marker)."""
    return name in READ_MODEL_KEYS or name.startswith(READ_MODEL_PREFIXES)
