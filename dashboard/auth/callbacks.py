"""Who may fire which Dash callback (pure; the request body is passed in).

Every component id starts with its page's prefix (``wall-``, ``alerts-``,
``users-``; pattern-matching ids carry it in ``type``): the callback is
allowed when the session may open every page owning one of its outputs.
The page's prefix is its ``id_prefix`` from ``dash.register_page`` or, by
default, its module's name (``dashboard.pages.alerts`` → ``alerts``).
``shell-`` ids belong to the frame around every page.

The page router (``_pages_content``) is allowed for users (the page itself
then shows "no access" when needed); a kiosk may route to ``/wall`` only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Final

from dashboard.auth.roles import KIOSK_PATHS, may_open, normalise_path
from dashboard.auth.sessions import Identity

ROUTER_OUTPUT: Final = "_pages_content"
ROUTER_STORE: Final = "_pages_store"
LOCATION_ID: Final = "_pages_location"
SHELL_OWNER: Final = "shell"
KIOSK_OWNERS: Final = frozenset({"wall", SHELL_OWNER})


def _flatten(outputs: Any) -> list[Mapping[str, Any]]:
    if isinstance(outputs, Mapping):
        return [outputs]
    if isinstance(outputs, list):
        flat: list[Mapping[str, Any]] = []
        for item in outputs:
            flat.extend(_flatten(item))
        return flat
    return []


def owner_of(component_id: Any) -> str:
    """The page prefix of a component id: ``wall-tile`` → ``wall``."""
    if isinstance(component_id, Mapping):
        component_id = component_id.get("type", "")
    text = str(component_id)
    if text.startswith("_pages_"):
        return text
    return text.split("-", 1)[0]


def output_owners(payload: Mapping[str, Any]) -> list[str]:
    """The owner of every output of a callback request (in request order)."""
    return [owner_of(item.get("id")) for item in _flatten(payload.get("outputs"))]


def router_path(payload: Mapping[str, Any]) -> str | None:
    """The pathname a page-router request asks for; None for other callbacks."""
    owners = output_owners(payload)
    if ROUTER_OUTPUT not in owners:
        return None
    for item in _flatten(payload.get("inputs")):
        if item.get("id") == LOCATION_ID and item.get("property") == "pathname":
            value = item.get("value")
            return normalise_path(str(value or "/"))
    return "/"


def page_prefixes(pages: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """``{id prefix: page path}`` of the Dash page registry."""
    prefixes: dict[str, str] = {}
    for page in pages:
        path = page.get("path")
        if not path:
            continue
        prefix = page.get("id_prefix") or str(page.get("module", "")).rsplit(".", 1)[-1]
        if prefix:
            prefixes[str(prefix)] = str(path)
    return prefixes


def callback_allowed(
    who: Identity,
    payload: Mapping[str, Any],
    prefixes: Mapping[str, str] | None = None,
    registered_roles: Mapping[str, str] | None = None,
) -> bool:
    """Whether ``who`` may run the callback described by ``payload``."""
    owners = output_owners(payload)
    if not owners:
        return False
    path = router_path(payload)
    if path is not None:
        return path in KIOSK_PATHS if who.is_kiosk else True
    prefixes = prefixes or {}
    for owner in set(owners):
        if owner == SHELL_OWNER:
            continue
        if who.is_kiosk:
            if owner not in KIOSK_OWNERS:
                return False
            continue
        if owner.startswith("_"):
            return False
        page_path = prefixes.get(owner, "/" + owner)
        if not may_open(who.role, page_path, registered=registered_roles):
            return False
    return True
