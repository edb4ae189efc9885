"""``complaintops alerts ...``: list, acknowledge and silence alerts; who is on call; the outbox."""

from __future__ import annotations

import argparse
import json
import re
import time
from typing import Any

from complaintops.runtime import Runtime
from config import load_settings

_DURATION = re.compile(r"^(\d+)([mhd])$")
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def duration_seconds(text: str) -> int:
    """'90m', '2h' or '1d' in seconds."""
    match = _DURATION.match(text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected a duration like 90m, 2h or 1d, got {text!r}")
    return int(match.group(1)) * _UNIT_SECONDS[match.group(2)]


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "alerts", help="alerts: list, acknowledge, silence; on-call; the email outbox"
    )
    actions = parser.add_subparsers(dest="alerts_action", metavar="ACTION", required=True)

    listing = actions.add_parser("list", help="list alerts")
    listing.add_argument("--state", choices=["active", "resolved", "all"], default="active")
    listing.add_argument("--team", default=None)
    listing.add_argument("--json", action="store_true", help="print the API's JSON answer")
    listing.set_defaults(func=run_list)

    ack = actions.add_parser("ack", help="acknowledge alerts (stops reminders and escalation)")
    ack.add_argument("ids", nargs="+", type=int, metavar="ID")
    ack.add_argument("--by", required=True, help="who acknowledges")
    ack.set_defaults(func=run_ack)

    silence = actions.add_parser("silence", help="mute a rule, a team or a case for a while")
    silence.add_argument("--rule", default=None)
    silence.add_argument("--team", default=None)
    silence.add_argument("--case", default=None)
    until = silence.add_mutually_exclusive_group(required=True)
    until.add_argument("--for", dest="duration", type=duration_seconds, help="e.g. 90m, 2h, 1d")
    until.add_argument(
        "--until", default=None, help="RFC 3339 time, e.g. 2026-11-25T09:00:00+08:00"
    )
    silence.add_argument("--by", required=True)
    silence.add_argument("--comment", default=None)
    silence.set_defaults(func=run_silence)

    silences = actions.add_parser("silences", help="list active silences")
    silences.set_defaults(func=run_silences)

    unsilence = actions.add_parser("unsilence", help="end a silence now")
    unsilence.add_argument("id", type=int)
    unsilence.set_defaults(func=run_unsilence)

    history = actions.add_parser("history", help="the history of one alert")
    history.add_argument("id", type=int)
    history.set_defaults(func=run_history)

    oncall = actions.add_parser("oncall", help="who is on call, per rotation")
    oncall.add_argument("--at", default=None, help="RFC 3339 time (default: now)")
    oncall.set_defaults(func=run_oncall)

    outbox = actions.add_parser("outbox", help="the newest alert emails and their delivery")
    outbox.add_argument("--limit", type=int, default=20)
    outbox.set_defaults(func=run_outbox)


def _runtime() -> Runtime:
    return Runtime.from_settings(load_settings())


def run_list(args: argparse.Namespace) -> int:
    from dashboard.api.routes_alerts import alerts_view

    runtime = _runtime()
    answer = alerts_view(runtime, state=args.state, team=args.team)
    if args.json:
        print(json.dumps(answer, ensure_ascii=False, indent=2))
        return 0
    rows = answer["alerts"]
    if not rows:
        print("no alerts")
        return 0
    for row in rows:
        labels = " ".join(
            f"{name}={row[key]}"
            for name, key in (("case", "case_id"), ("team", "team_id"), ("handler", "handler_id"))
            if row[key]
        )
        print(
            f"{row['id']:>6}  {row['state']:<12} {row['severity']:<8} {row['rule']:<22} "
            f"{row['since']}  {labels}"
        )
    return 0


def run_ack(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from alerts.lifecycle import UnknownAlert, acknowledge

    runtime = _runtime()
    try:
        with Session(runtime.engine) as session, session.begin():
            done = {a.id for a in acknowledge(session, args.ids, args.by, "cli", time.time())}
    except UnknownAlert as error:
        print(str(error))
        return 1
    for alert_id in args.ids:
        print(
            f"alert {alert_id}: {'acknowledged' if alert_id in done else 'unchanged (not active)'}"
        )
    return 0


def run_silence(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from alerts.lifecycle import add_silence
    from events.timeutil import format_rfc3339, parse_rfc3339

    runtime = _runtime()
    now = time.time()
    try:
        until = now + args.duration if args.duration else parse_rfc3339(args.until)
    except ValueError:
        print(f"--until: not an RFC 3339 time with an offset: {args.until!r}")
        return 2
    try:
        with Session(runtime.engine) as session, session.begin():
            silence = add_silence(
                session,
                until=until,
                by=args.by,
                now=now,
                rule=args.rule,
                team=args.team,
                case=args.case,
                comment=args.comment,
            )
            silence_id = silence.id
    except ValueError as error:
        print(str(error))
        return 2
    print(f"silence {silence_id} until {format_rfc3339(until, runtime.tz)}")
    return 0


def run_silences(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from alerts.lifecycle import active_silences
    from events.timeutil import format_rfc3339
    from store.types import to_epoch

    runtime = _runtime()
    with Session(runtime.engine) as session:
        rows = active_silences(session, time.time())
        if not rows:
            print("no active silences")
        for s in rows:
            scope = " ".join(
                f"{name}={value}"
                for name, value in (("rule", s.rule), ("team", s.team_id), ("case", s.case_id))
                if value
            )
            print(
                f"{s.id:>5}  until {format_rfc3339(to_epoch(s.ends_at), runtime.tz)}  {scope}  "
                f"by {s.created_by}{'  — ' + s.comment if s.comment else ''}"
            )
    return 0


def run_unsilence(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from alerts.lifecycle import cancel_silence

    runtime = _runtime()
    with Session(runtime.engine) as session, session.begin():
        ended = cancel_silence(session, args.id, time.time())
    print(f"silence {args.id}: {'ended' if ended else 'not found or already ended'}")
    return 0 if ended else 1


def run_history(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from alerts.lifecycle import get_alert, history
    from events.timeutil import format_rfc3339
    from store.types import to_epoch

    runtime = _runtime()
    with Session(runtime.engine) as session:
        alert = get_alert(session, args.id)
        if alert is None:
            print(f"no alert {args.id}")
            return 1
        print(f"alert {alert.id}: {alert.rule} {alert.severity} {alert.state}")
        for event in history(session, args.id):
            who = f" by {event.actor}" if event.actor else ""
            print(f"  {format_rfc3339(to_epoch(event.at), runtime.tz)}  {event.kind}{who}")
    return 0


def run_oncall(args: argparse.Namespace) -> int:
    from alerts.oncall import shift_for_rotation
    from alerts.rules import load_alerting, zone_of
    from events.timeutil import format_rfc3339, parse_rfc3339

    runtime = _runtime()
    alerting = load_alerting(runtime.settings, runtime.rules.teams)
    tz = zone_of(alerting.oncall, runtime.tz)
    at = parse_rfc3339(args.at) if args.at else time.time()
    if not alerting.oncall.rotations:
        print("no rotations in oncall.yaml")
    for rotation in alerting.oncall.rotations:
        shift = shift_for_rotation(alerting.oncall, rotation, at, tz)
        stand_in = " (override)" if shift.override else ""
        print(
            f"{rotation.id} [{', '.join(rotation.teams)}]: {shift.person.name} "
            f"<{shift.person.email}>{stand_in} until {format_rfc3339(shift.end, tz)}"
        )
    return 0


def run_outbox(args: argparse.Namespace) -> int:
    from sqlalchemy.orm import Session

    from alerts.outbox import recent
    from events.timeutil import format_rfc3339
    from store.types import to_epoch

    runtime = _runtime()
    with Session(runtime.engine) as session:
        rows = recent(session, args.limit)
        if not rows:
            print("the outbox is empty")
        for row in rows:
            when = format_rfc3339(to_epoch(row.sent_at or row.created_at), runtime.tz)
            recipients = ", ".join(json.loads(row.recipients))
            error = f"  ({row.last_error})" if row.last_error else ""
            print(f"{row.id:>6}  {row.state:<8} {when}  to {recipients}: {row.subject}{error}")
    return 0
