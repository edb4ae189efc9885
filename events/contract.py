"""The case-event contract (case-events-v1.md) as constants.

Everything here is fixed by the contract: other systems rely on these exact
names and limits.
"""

from __future__ import annotations

from typing import Final

SCHEMA: Final = "case-event/v1"
MAX_EVENT_BYTES: Final = 64 * 1024
MAX_ID_LENGTH: Final = 64

# The six stages, in process order.
STAGES: Final[tuple[str, ...]] = (
    "intake",
    "investigation",
    "resolution",
    "feedback",
    "follow_up",
    "review",
)
STAGE_INDEX: Final[dict[str, int]] = {stage: i for i, stage in enumerate(STAGES)}
STAGE_NAMES_ZH: Final[dict[str, str]] = {
    "intake": "受理",
    "investigation": "调查",
    "resolution": "处理",
    "feedback": "反馈",
    "follow_up": "跟进",
    "review": "总结",
}

OPENED: Final = "case.opened"
ASSIGNED: Final = "case.assigned"
STAGE_CHANGED: Final = "case.stage_changed"
CLOCK_PAUSED: Final = "case.clock_paused"
CLOCK_RESUMED: Final = "case.clock_resumed"
DEADLINE_EXTENDED: Final = "case.deadline_extended"
DECISION_MADE: Final = "case.decision_made"
FOLLOW_UP_SCHEDULED: Final = "case.follow_up_scheduled"
FOLLOW_UP_DONE: Final = "case.follow_up_done"
ESCALATED: Final = "case.escalated"
CLOSED: Final = "case.closed"
REOPENED: Final = "case.reopened"

EVENT_TYPES: Final[tuple[str, ...]] = (
    OPENED,
    ASSIGNED,
    STAGE_CHANGED,
    CLOCK_PAUSED,
    CLOCK_RESUMED,
    DEADLINE_EXTENDED,
    DECISION_MADE,
    FOLLOW_UP_SCHEDULED,
    FOLLOW_UP_DONE,
    ESCALATED,
    CLOSED,
    REOPENED,
)

CHANNELS: Final = frozenset(
    {"phone", "online", "email", "letter", "visit", "app", "regulator_referral"}
)
CATEGORIES: Final = frozenset(
    {"claims", "sales", "surrender", "premium", "policy_service", "other"}
)
PRODUCT_LINES: Final = frozenset({"auto", "property", "life", "health", "accident", "other"})
PRIORITIES: Final = frozenset({"normal", "urgent", "major"})
PAUSE_REASONS: Final = frozenset({"external_appraisal", "mediation"})
OUTCOMES: Final = frozenset({"upheld", "partially_upheld", "rejected"})
ESCALATION_TARGETS: Final = frozenset({"regulator", "senior_management", "internal_review"})
RESOLUTIONS: Final = frozenset({"resolved", "withdrawn", "merged", "unresolved"})
GENDERS: Final = frozenset({"f", "m", "u"})
AGE_BANDS: Final = frozenset({"<30", "30-44", "45-59", "60+"})
MAX_OCCUPATION_LENGTH: Final = 64

# Decision limits in days (rule R2) by extension tier.
BASE_LIMIT_DAYS: Final = 15
TIER_LIMIT_DAYS: Final[dict[int, int]] = {1: 30, 2: 60}
REOPEN_LIMIT_DAYS: Final = 15
GROUP_COMPLAINT_SIZE: Final = 20
