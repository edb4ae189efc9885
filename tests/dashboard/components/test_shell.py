from __future__ import annotations

from typing import Any

from dashboard.auth.sessions import Identity
from dashboard.components.shell import nav_entries

PAGES: list[dict[str, Any]] = [
    {"path": "/wall", "nav_label": {"zh": "大屏", "en": "Wall"}, "order": 90},
    {"path": "/", "nav_label": {"zh": "首页", "en": "Home"}, "order": 0},
    {"path": "/flow", "name": "Flow", "order": 20},
    {"path": "/leaderboard", "nav_label": {"zh": "排行", "en": "Leaderboard"}, "order": 40},
    {"path": "/users", "nav_label": {"zh": "用户"}, "order": 80, "min_role": "admin"},
    {"path": "/hidden", "nav_label": {"zh": "隐藏", "en": "Hidden"}, "nav": False},
    {"path": "/cases/<case_id>", "path_template": "/cases/<case_id>", "name": "Case"},
    {"path": "/nameless"},
]
LEADER = Identity(kind="user", username="li", role="leader")
ADMIN = Identity(kind="user", username="root", role="admin")


def test_navigation_shows_the_pages_a_role_may_open_in_order() -> None:
    assert nav_entries(PAGES, LEADER, "zh") == [("/", "首页"), ("/flow", "Flow"), ("/wall", "大屏")]
    assert nav_entries(PAGES, ADMIN, "en", {"/users": "admin"}) == [
        ("/", "Home"),
        ("/flow", "Flow"),
        ("/leaderboard", "Leaderboard"),
        ("/users", "用户"),  # no English label: Chinese
        ("/wall", "Wall"),
    ]


def test_kiosk_and_anonymous_get_no_navigation() -> None:
    assert nav_entries(PAGES, Identity(kind="kiosk", username="kiosk"), "zh") == []
    assert nav_entries(PAGES, None, "zh") == []
