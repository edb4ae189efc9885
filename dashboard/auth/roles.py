"""Roles and which pages each one may open (pure).

Roles are ordered: ``leader`` < ``manager`` < ``admin``; a role may open every
page of the roles below it. A page's minimum role comes from its
``dash.register_page(..., min_role="manager")`` entry when it gives one, else
from ``PAGE_ROLES`` (the longest matching path prefix), else ``leader``.

A kiosk session (a wall display opened with a kiosk token) has no role: it
may open ``/wall`` and nothing else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, get_args

Role = Literal["leader", "manager", "admin"]
ROLES: Final[tuple[Role, ...]] = get_args(Role)
"""Every role, lowest first."""

KIOSK_PATHS: Final = frozenset({"/wall"})
"""The only pages a kiosk session may open."""

PAGE_ROLES: Final[Mapping[str, Role]] = {
    "/": "leader",
    "/wall": "leader",
    "/flow": "leader",
    "/workload": "leader",
    "/cases": "leader",
    "/analytics": "leader",
    "/leaderboard": "manager",
    "/alerts": "leader",  # leaders and managers acknowledge and silence
    "/users": "admin",
    "/mail": "admin",
}
"""Minimum role per page path (a path also covers its sub-paths, e.g. /cases/C-1)."""


def is_role(value: object) -> bool:
    return isinstance(value, str) and value in ROLES


def role_rank(role: str) -> int:
    """0 for leader, 1 for manager, 2 for admin; ValueError for anything else."""
    if role not in ROLES:
        raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
    return ROLES.index(role)


def has_role(role: str | None, minimum: str) -> bool:
    """Whether ``role`` is ``minimum`` or above (None, e.g. a kiosk, has no role)."""
    if role is None or role not in ROLES:
        return False
    return role_rank(role) >= role_rank(minimum)


def normalise_path(path: str) -> str:
    """``/cases/`` → ``/cases``; the root stays ``/``."""
    path = "/" + path.strip("/")
    return path


def _covers(prefix: str, path: str) -> bool:
    return path == prefix or (prefix != "/" and path.startswith(prefix + "/"))


def required_role(path: str, registered: Mapping[str, str] | None = None) -> Role:
    """The minimum role of the page at ``path``.

    ``registered`` maps page paths to the ``min_role`` their pages declared;
    it wins over ``PAGE_ROLES``. The longest matching prefix decides.
    """
    path = normalise_path(path)
    table: dict[str, Role] = dict(PAGE_ROLES)
    for page_path, role in (registered or {}).items():
        if role in ROLES:
            table[normalise_path(page_path)] = role
    matches = [prefix for prefix in table if _covers(prefix, path)]
    if not matches:
        return "leader"
    return table[max(matches, key=len)]


def may_open(
    role: str | None, path: str, *, kiosk: bool = False, registered: Mapping[str, str] | None = None
) -> bool:
    """Whether a session may open the page at ``path``."""
    path = normalise_path(path)
    if kiosk:
        return path in KIOSK_PATHS
    return has_role(role, required_role(path, registered))


def registered_roles(pages: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``{path: min_role}`` of the Dash page registry entries that declare one."""
    return {
        str(page["path"]): str(page["min_role"])
        for page in pages
        if page.get("min_role") and page.get("path")
    }
