from __future__ import annotations

import pytest

from dashboard.auth.roles import (
    ROLES,
    has_role,
    may_open,
    registered_roles,
    required_role,
    role_rank,
)

# Who may open which page (the role matrix).
MATRIX = {
    "/": ("leader", "manager", "admin"),
    "/wall": ("leader", "manager", "admin"),
    "/flow": ("leader", "manager", "admin"),
    "/workload": ("leader", "manager", "admin"),
    "/cases": ("leader", "manager", "admin"),
    "/cases/C2026-000123": ("leader", "manager", "admin"),
    "/analytics": ("leader", "manager", "admin"),
    "/leaderboard": ("manager", "admin"),
    "/alerts": ("leader", "manager", "admin"),
    "/users": ("admin",),
    "/users/": ("admin",),
    "/mail": ("admin",),
}


@pytest.mark.parametrize("path", sorted(MATRIX))
@pytest.mark.parametrize("role", ROLES)
def test_role_matrix(path: str, role: str) -> None:
    assert may_open(role, path) is (role in MATRIX[path])


@pytest.mark.parametrize("path", sorted(MATRIX))
def test_kiosk_opens_the_wall_only(path: str) -> None:
    assert may_open(None, path, kiosk=True) is (path == "/wall")


def test_no_role_opens_nothing() -> None:
    assert not may_open(None, "/")
    assert not may_open("superuser", "/")


def test_roles_are_ordered() -> None:
    assert [role_rank(r) for r in ROLES] == [0, 1, 2]
    assert has_role("admin", "manager")
    assert has_role("manager", "manager")
    assert not has_role("leader", "manager")
    assert not has_role(None, "leader")
    with pytest.raises(ValueError, match="unknown role"):
        role_rank("owner")


def test_prefixes_match_whole_segments() -> None:
    assert required_role("/usersettings") == "leader"
    assert required_role("/users/alice") == "admin"
    assert required_role("/unknown") == "leader"


def test_a_page_can_declare_its_own_role() -> None:
    pages = [
        {"path": "/analytics", "min_role": "manager"},
        {"path": "/flow"},
        {"path": "/bad", "min_role": "owner"},
    ]
    registered = registered_roles(pages)
    assert registered == {"/analytics": "manager", "/bad": "owner"}
    assert required_role("/analytics", registered) == "manager"
    assert not may_open("leader", "/analytics", registered=registered)
    assert required_role("/bad", registered) == "leader"  # an unknown role is ignored
