from __future__ import annotations

from typing import Any

import pytest

from dashboard.auth.callbacks import (
    callback_allowed,
    output_owners,
    owner_of,
    page_prefixes,
    router_path,
)
from dashboard.auth.sessions import Identity

PAGES = [
    {"module": "dashboard.pages.home", "path": "/"},
    {"module": "dashboard.pages.wall", "path": "/wall"},
    {"module": "dashboard.pages.flow", "path": "/flow"},
    {"module": "dashboard.pages.alerts", "path": "/alerts"},
    {"module": "dashboard.pages.admin_users", "path": "/users", "id_prefix": "users"},
]
PREFIXES = page_prefixes(PAGES)
KIOSK = Identity(kind="kiosk", username="kiosk")
LEADER = Identity(kind="user", username="li", role="leader", team_id="claims-east", user_id=1)
MANAGER = Identity(kind="user", username="wang", role="manager", user_id=2)
ADMIN = Identity(kind="user", username="root", role="admin", user_id=3)


def request(*outputs: Any, pathname: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "outputs": list(outputs) if len(outputs) > 1 else outputs[0],
        "inputs": [],
    }
    if pathname is not None:
        body["inputs"] = [
            {"id": "_pages_location", "property": "pathname", "value": pathname},
            {"id": "_pages_location", "property": "search", "value": ""},
        ]
    return body


def out(component_id: Any, prop: str = "children") -> dict[str, Any]:
    return {"id": component_id, "property": prop}


ROUTER = (out("_pages_content"), out("_pages_store", "data"))


def test_page_prefixes_from_the_registry() -> None:
    assert PREFIXES == {
        "home": "/",
        "wall": "/wall",
        "flow": "/flow",
        "alerts": "/alerts",
        "users": "/users",
    }


def test_owner_of_string_and_pattern_ids() -> None:
    assert owner_of("wall-badge") == "wall"
    assert owner_of({"type": "wall-value", "field": "open_cases"}) == "wall"
    assert owner_of("_pages_content") == "_pages_content"
    assert owner_of("plain") == "plain"


def test_outputs_are_flattened_including_wildcards() -> None:
    body = request(
        [out({"type": "wall-value", "field": "a"}), out({"type": "wall-value", "field": "b"})],
        out("alerts-list"),
    )
    assert output_owners(body) == ["wall", "wall", "alerts"]


def test_router_path() -> None:
    assert router_path(request(*ROUTER, pathname="/flow/")) == "/flow"
    assert router_path(request(out("wall-badge"))) is None


@pytest.mark.parametrize(
    ("who", "component", "allowed"),
    [
        (KIOSK, "wall-badge", True),
        (KIOSK, {"type": "wall-value", "field": "x"}, True),
        (KIOSK, "shell-lang-en", True),
        (KIOSK, "flow-graph", False),
        (KIOSK, "alerts-ack", False),
        (KIOSK, "home-tiles", False),
        (LEADER, "flow-graph", True),
        (LEADER, "wall-badge", True),
        (LEADER, "alerts-ack", True),
        (LEADER, "users-disable", False),
        (MANAGER, "alerts-ack", True),
        (MANAGER, "users-disable", False),
        (ADMIN, "users-disable", True),
        (ADMIN, "_hidden", False),
    ],
)
def test_callback_permission_follows_the_owning_page(
    who: Identity, component: Any, allowed: bool
) -> None:
    assert callback_allowed(who, request(out(component)), PREFIXES) is allowed


def test_one_forbidden_output_forbids_the_whole_callback() -> None:
    body = request(out("wall-badge"), out("users-disable"))
    assert not callback_allowed(KIOSK, body, PREFIXES)
    assert not callback_allowed(LEADER, body, PREFIXES)
    assert not callback_allowed(MANAGER, body, PREFIXES)
    assert callback_allowed(ADMIN, body, PREFIXES)


def test_router_for_a_kiosk_goes_to_the_wall_only() -> None:
    assert callback_allowed(KIOSK, request(*ROUTER, pathname="/wall"), PREFIXES)
    assert not callback_allowed(KIOSK, request(*ROUTER, pathname="/flow"), PREFIXES)
    assert not callback_allowed(KIOSK, request(*ROUTER, pathname="/"), PREFIXES)
    # Users may route anywhere: the page itself shows "no access".
    assert callback_allowed(LEADER, request(*ROUTER, pathname="/users"), PREFIXES)


def test_a_request_without_outputs_is_refused() -> None:
    assert not callback_allowed(ADMIN, {"inputs": []}, PREFIXES)


def test_registered_roles_apply_to_callbacks() -> None:
    assert not callback_allowed(LEADER, request(out("flow-graph")), PREFIXES, {"/flow": "manager"})
