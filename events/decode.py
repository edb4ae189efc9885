"""Decoding and form validation of case events (check 1 of the contract).

``decode`` turns the bytes of a Kafka record into a ``CaseEvent`` or raises
``InvalidEvent`` with a reason that names the field and the rule it breaks.
Validation is hand-written: it runs for every event on the hot path.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Collection
from typing import Any

import orjson

from events import contract as c
from events.errors import InvalidEvent
from events.model import CaseEvent, Complainant
from events.timeutil import parse_rfc3339

_CASE_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
# Integer fields are stored in SQL columns: seq in a BIGINT, group_size in an
# INTEGER. Larger values are form errors rather than records no database holds.
MAX_SEQ = 2**63 - 1
MAX_GROUP_SIZE = 2**31 - 1
# Time stamps outside these years would overflow the calendar arithmetic of the
# clocks (deadline + extensions + pauses) further down the pipeline.
_EARLIEST = parse_rfc3339("1970-01-01T00:00:00Z")
_LATEST = parse_rfc3339("9000-01-01T00:00:00Z")


def decode(raw: bytes | str | None) -> CaseEvent:
    """Decode one record value; raise InvalidEvent on any breach of form."""
    if raw is None:
        raise InvalidEvent("empty record value (tombstone)")
    if isinstance(raw, str):
        try:
            raw = raw.encode()
        except UnicodeEncodeError:
            raise InvalidEvent("not JSON: the text is not valid UTF-8") from None
    size = len(raw)
    if size > c.MAX_EVENT_BYTES:
        raise InvalidEvent(f"event is {size} bytes, more than the 64 KiB limit")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidEvent(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise InvalidEvent("event is not a JSON object")
    return validate(obj)


def validate(obj: dict[str, Any]) -> CaseEvent:
    """Validate a decoded JSON object against the contract's form rules."""
    schema = obj.get("schema")
    if schema != c.SCHEMA:
        if schema is None:
            raise InvalidEvent("missing field 'schema'")
        raise InvalidEvent(f"field 'schema' must be exactly '{c.SCHEMA}', got {_show(schema)}")
    event_id = _id(obj, "event_id")
    case_id = _required(obj, "case_id")
    if not isinstance(case_id, str) or not _CASE_ID.fullmatch(case_id):
        raise InvalidEvent(
            f"field 'case_id' must be 1 to 64 characters of A-Z a-z 0-9 _ -, got {_show(case_id)}"
        )
    seq = _required(obj, "seq")
    if not _is_int(seq) or seq < 1:
        raise InvalidEvent(f"field 'seq' must be an integer >= 1, got {_show(seq)}")
    if seq > MAX_SEQ:
        raise InvalidEvent(f"field 'seq' must be at most {MAX_SEQ}, got {seq}")
    etype = _required(obj, "type")
    parse = _TYPE_FIELDS.get(etype) if isinstance(etype, str) else None
    if parse is None:
        raise InvalidEvent(
            f"field 'type' must be one of {_listing(c.EVENT_TYPES)}, got {_show(etype)}"
        )
    if etype == c.OPENED and seq != 1:
        raise InvalidEvent(f"field 'seq' must be 1 for case.opened, got {seq}")
    occurred_text = _required(obj, "occurred_at")
    occurred_at = _time_value("occurred_at", occurred_text)
    actor = _optional(obj, "actor")
    if actor is not None and not isinstance(actor, str):
        raise InvalidEvent(f"field 'actor' must be a string, got {_show(actor)}")
    fields = parse(obj)
    return CaseEvent(
        event_id=event_id,
        case_id=case_id,
        seq=seq,
        type=etype,
        occurred_at=occurred_at,
        occurred_at_text=occurred_text,
        actor=actor,
        payload=obj,
        **fields,
    )


# -- field helpers -----------------------------------------------------------


def _show(value: Any) -> str:
    text = orjson.dumps(value).decode() if not isinstance(value, bytes) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _listing(values: Collection[str]) -> str:
    return ", ".join(sorted(values)) if not isinstance(values, tuple) else ", ".join(values)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _required(obj: dict[str, Any], name: str) -> Any:
    value = obj.get(name)
    if value is None:
        raise InvalidEvent(f"missing field '{name}'")
    return value


def _optional(obj: dict[str, Any], name: str) -> Any:
    """An optional field; an explicit JSON null counts as absent."""
    return obj.get(name)


def _id(obj: dict[str, Any], name: str, required: bool = True) -> Any:
    value = _required(obj, name) if required else _optional(obj, name)
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= c.MAX_ID_LENGTH
        or not (value.isprintable() or _spaced_printable(value))
    ):
        raise InvalidEvent(
            f"field '{name}' must be a string of 1 to 64 printable characters, got {_show(value)}"
        )
    return value


def _spaced_printable(value: str) -> bool:
    """Printable, counting every space separator (U+3000, no-break space) as
    printable too; control and format characters and line breaks are not."""
    return all(ch.isprintable() or unicodedata.category(ch) == "Zs" for ch in value)


def _enum(obj: dict[str, Any], name: str, allowed: Collection[str], required: bool = True) -> Any:
    value = _required(obj, name) if required else _optional(obj, name)
    if value is None:
        return None
    if not isinstance(value, str) or value not in allowed:
        raise InvalidEvent(f"field '{name}' must be one of {_listing(allowed)}, got {_show(value)}")
    return value


def _time_value(name: str, value: Any) -> float:
    if not isinstance(value, str):
        raise InvalidEvent(
            f"field '{name}' must be an RFC 3339 date-time string, got {_show(value)}"
        )
    try:
        instant = parse_rfc3339(value)
    except ValueError:
        raise InvalidEvent(
            f"field '{name}' must be an RFC 3339 date-time with a UTC offset, got {_show(value)}"
        ) from None
    if not _EARLIEST <= instant < _LATEST:
        raise InvalidEvent(f"field '{name}' must lie in the years 1970 to 8999, got {_show(value)}")
    return instant


def _time(obj: dict[str, Any], name: str, required: bool = True) -> float | None:
    value = _required(obj, name) if required else _optional(obj, name)
    return None if value is None else _time_value(name, value)


def _bool(obj: dict[str, Any], name: str) -> bool | None:
    value = _optional(obj, name)
    if value is not None and not isinstance(value, bool):
        raise InvalidEvent(f"field '{name}' must be a boolean, got {_show(value)}")
    return value


def _satisfaction(obj: dict[str, Any]) -> int | None:
    value = _optional(obj, "satisfaction")
    if value is not None and (not _is_int(value) or not 1 <= value <= 5):
        raise InvalidEvent(
            f"field 'satisfaction' must be an integer from 1 to 5, got {_show(value)}"
        )
    return value


def _complainant(obj: dict[str, Any]) -> Complainant | None:
    value = _optional(obj, "complainant")
    if value is None:
        return None
    if not isinstance(value, dict):
        raise InvalidEvent(f"field 'complainant' must be an object, got {_show(value)}")
    try:
        gender = _enum(value, "gender", c.GENDERS, required=False)
        age_band = _enum(value, "age_band", c.AGE_BANDS, required=False)
    except InvalidEvent as exc:
        raise InvalidEvent(exc.reason.replace("field '", "field 'complainant.", 1)) from None
    occupation = value.get("occupation")
    if occupation is not None and (
        not isinstance(occupation, str) or len(occupation) > c.MAX_OCCUPATION_LENGTH
    ):
        raise InvalidEvent(
            "field 'complainant.occupation' must be a string of at most 64 characters, "
            f"got {_show(occupation)}"
        )
    repeat = value.get("repeat")
    if repeat is not None and not isinstance(repeat, bool):
        raise InvalidEvent(f"field 'complainant.repeat' must be a boolean, got {_show(repeat)}")
    return Complainant(gender=gender, age_band=age_band, occupation=occupation, repeat=repeat)


# -- per-type fields ---------------------------------------------------------


def _opened(obj: dict[str, Any]) -> dict[str, Any]:
    group_size = _optional(obj, "group_size")
    if group_size is not None and (not _is_int(group_size) or group_size < 1):
        raise InvalidEvent(f"field 'group_size' must be an integer >= 1, got {_show(group_size)}")
    if group_size is not None and group_size > MAX_GROUP_SIZE:
        raise InvalidEvent(f"field 'group_size' must be at most {MAX_GROUP_SIZE}, got {group_size}")
    return {
        "team_id": _id(obj, "team_id"),
        "handler_id": _id(obj, "handler_id"),
        "channel": _enum(obj, "channel", c.CHANNELS),
        "category": _enum(obj, "category", c.CATEGORIES),
        "product_line": _enum(obj, "product_line", c.PRODUCT_LINES),
        "priority": _enum(obj, "priority", c.PRIORITIES, required=False) or "normal",
        "received_at": _time(obj, "received_at", required=False),
        "complainant": _complainant(obj),
        "group_size": group_size,
    }


def _assigned(obj: dict[str, Any]) -> dict[str, Any]:
    return {"team_id": _id(obj, "team_id"), "handler_id": _id(obj, "handler_id")}


def _stage_changed(obj: dict[str, Any]) -> dict[str, Any]:
    return {"to_stage": _enum(obj, "to_stage", c.STAGES)}


def _clock_paused(obj: dict[str, Any]) -> dict[str, Any]:
    return {"reason": _enum(obj, "reason", c.PAUSE_REASONS)}


def _nothing(obj: dict[str, Any]) -> dict[str, Any]:
    return {}


def _deadline_extended(obj: dict[str, Any]) -> dict[str, Any]:
    tier = _required(obj, "tier")
    if not _is_int(tier) or tier not in (1, 2):
        raise InvalidEvent(f"field 'tier' must be 1 or 2, got {_show(tier)}")
    approved_by = _id(obj, "approved_by", required=tier == 2)
    return {"tier": tier, "approved_by": approved_by}


def _decision_made(obj: dict[str, Any]) -> dict[str, Any]:
    return {"outcome": _enum(obj, "outcome", c.OUTCOMES, required=False)}


def _follow_up_scheduled(obj: dict[str, Any]) -> dict[str, Any]:
    return {"due_at": _time(obj, "due_at")}


def _follow_up_done(obj: dict[str, Any]) -> dict[str, Any]:
    return {"satisfaction": _satisfaction(obj)}


def _escalated(obj: dict[str, Any]) -> dict[str, Any]:
    return {"to": _enum(obj, "to", c.ESCALATION_TARGETS)}


def _closed(obj: dict[str, Any]) -> dict[str, Any]:
    return {
        "resolution": _enum(obj, "resolution", c.RESOLUTIONS),
        "satisfaction": _satisfaction(obj),
    }


def _reopened(obj: dict[str, Any]) -> dict[str, Any]:
    return {"new_facts": _bool(obj, "new_facts")}


_TYPE_FIELDS: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {
    c.OPENED: _opened,
    c.ASSIGNED: _assigned,
    c.STAGE_CHANGED: _stage_changed,
    c.CLOCK_PAUSED: _clock_paused,
    c.CLOCK_RESUMED: _nothing,
    c.DEADLINE_EXTENDED: _deadline_extended,
    c.DECISION_MADE: _decision_made,
    c.FOLLOW_UP_SCHEDULED: _follow_up_scheduled,
    c.FOLLOW_UP_DONE: _follow_up_done,
    c.ESCALATED: _escalated,
    c.CLOSED: _closed,
    c.REOPENED: _reopened,
}
