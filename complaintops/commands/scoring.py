"""``complaintops scoring show|whatif|publish``: the incentive rules, tested and published.

- ``show`` prints the rules in force (scoring.yaml, then each published rule set
  with its effective-from date, who published it and when);
- ``whatif --rules FILE --period 2026-11`` replays the period's events from the
  SQL event log under the rules of FILE and prints every change of rank and
  points (periods: 2026-11-24, 2026-W48, 2026-11, 2026-Q4);
- ``publish --rules FILE --from DATE --by USER`` records FILE as the rules from
  DATE (00:00 business time; after today, so no past period changes).
"""

from __future__ import annotations

import argparse
import sys
from datetime import date
from pathlib import Path
from typing import Any

from complaintops.runtime import Runtime
from config import ConfigError, load_settings
from config.scoring import load_scoring_file, load_scoring_rules, rules_to_document
from events.scoring import RULE_NAMES, ScoringRules
from incentives.period_keys import PERIOD_KEY_FORMS, parse_period_key
from incentives.publish import (
    PublishError,
    RuleSetsUnavailable,
    list_published,
    load_rulebook,
    publish,
)
from incentives.whatif import WhatIfReport, WhatIfRow, what_if

EXIT_BAD_INPUT = 2


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "scoring", help="incentive rules: show them, test a change on past data, publish it"
    )
    actions = parser.add_subparsers(dest="scoring_action", metavar="ACTION", required=True)

    show = actions.add_parser("show", help="print the rules in force and the published rule sets")
    show.set_defaults(func=run_show)

    whatif = actions.add_parser(
        "whatif", help="replay a period under other rules and print every rank change"
    )
    whatif.add_argument("--rules", type=Path, required=True, help="a scoring.yaml to test")
    whatif.add_argument("--period", required=True, help=f"the period: {PERIOD_KEY_FORMS}")
    whatif.add_argument(
        "--scope", choices=["handler", "team", "both"], default="both", help="which ranking"
    )
    whatif.add_argument(
        "--all", action="store_true", help="list every row, not only those that change"
    )
    whatif.set_defaults(func=run_whatif)

    pub = actions.add_parser("publish", help="record a rule set in force from a future date")
    pub.add_argument("--rules", type=Path, required=True, help="the scoring.yaml to publish")
    pub.add_argument(
        "--from", dest="effective_from", required=True, help="effective-from date YYYY-MM-DD"
    )
    pub.add_argument("--by", required=True, help="the user publishing it")
    pub.add_argument("--name", default=None, help="a name for the ledger (default rules-DATE)")
    pub.add_argument("--note", default=None, help="why the rules change")
    pub.set_defaults(func=run_publish)


# -- show ---------------------------------------------------------------------------


def format_rules(rules: ScoringRules) -> list[str]:
    document = rules_to_document(rules)
    lines = [f"  {name:<24}{value:>6}" for name, value in document["points"].items()]
    levels = ", ".join(f"{level}→{points}" for level, points in document["satisfaction"].items())
    lines.append(f"  {'satisfaction':<24}{levels}")
    weights = ", ".join(f"{k} {v:g}" for k, v in document["category_weights"].items())
    lines.append(f"  {'category weights':<24}{weights}")
    return lines


def run_show(args: argparse.Namespace) -> int:
    runtime = Runtime.from_settings(load_settings())
    base = load_scoring_rules(runtime.settings)
    print("scoring.yaml (in force from the beginning):")
    print("\n".join(format_rules(base)))
    try:
        published = list_published(runtime.engine)
    except RuleSetsUnavailable as exc:
        print(f"published rule sets: unknown ({exc})")
        return 0
    if not published:
        print("no published rule sets")
    for item in published:
        when = item.published_at.astimezone(runtime.tz).isoformat(timespec="seconds")
        print(
            f"{item.name}: in force from {item.effective_from.isoformat()} "
            f"(published by {item.published_by} at {when})"
        )
        if item.note:
            print(f"  note: {item.note}")
        print("\n".join(format_rules(item.rules)))
    return 0


# -- whatif ---------------------------------------------------------------------------


def _rank(value: int | None) -> str:
    return "—" if value is None else str(value)


def _move(row: WhatIfRow) -> str:
    move = row.rank_move
    if move is None:
        return "new" if row.old_rank is None else "out"
    if move > 0:
        return f"▲{move}"
    if move < 0:
        return f"▼{-move}"
    return "="


def format_report(report: WhatIfReport, scopes: list[str], every_row: bool, label: str) -> str:
    period = report.period
    out = [
        f"What if {label} had scored {period.key} ({period.start} to {period.end}):",
        f"{report.events} events of {report.cases} cases replayed from their first event.",
    ]
    if report.skipped:
        out.append(f"warning: {report.skipped} logged events did not apply on replay")
    out.append("")
    out.append(f"{'rule':<24}{'now':>8}{'what-if':>10}")
    for rule in RULE_NAMES:
        if rule in report.by_rule:
            old, new = report.by_rule[rule]
            out.append(f"{rule:<24}{old:>8}{new:>10}")
    for scope in scopes:
        rows = report.rows(scope) if every_row else report.changes(scope)
        title = "handlers" if scope == "handler" else "teams"
        out.append("")
        out.append(f"{title}: {len(report.changes(scope))} of {len(report.rows(scope))} change")
        if not rows:
            continue
        out.append(f"{'rank now → what-if':<22}{'id':<16}{'team':<16}points now → what-if")
        for row in rows:
            ranks = f"{_rank(row.old_rank):>4} → {_rank(row.new_rank):<4} {_move(row):<6}"
            points = f"{row.old_points} → {row.new_points}"
            out.append(f"{ranks:<22}{row.id:<16}{row.team_id or '':<16}{points}")
    return "\n".join(out)


def run_whatif(args: argparse.Namespace) -> int:
    try:
        period = parse_period_key(args.period)
    except ValueError as exc:
        print(f"--period: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    candidate = load_scoring_file(args.rules)
    runtime = Runtime.from_settings(load_settings())
    baseline = load_rulebook(
        runtime.engine, load_scoring_rules(runtime.settings), runtime.tz, missing_ok=True
    )
    report = what_if(runtime.engine, period, runtime.tz, baseline, candidate)
    scopes = ["handler", "team"] if args.scope == "both" else [args.scope]
    print(format_report(report, scopes, args.all, str(args.rules)))
    return 0


# -- publish ---------------------------------------------------------------------------


def run_publish(args: argparse.Namespace) -> int:
    try:
        effective_from = date.fromisoformat(args.effective_from)
    except ValueError:
        print(f"--from: must be a date YYYY-MM-DD, got '{args.effective_from}'", file=sys.stderr)
        return EXIT_BAD_INPUT
    rules = load_scoring_file(args.rules)
    try:
        source = args.rules.read_text(encoding="utf-8")
    except OSError as exc:  # pragma: no cover - load_scoring_file read it a moment ago
        raise ConfigError(str(args.rules), "(file)", str(exc)) from exc
    runtime = Runtime.from_settings(load_settings())
    try:
        published = publish(
            runtime.engine,
            rules,
            source,
            effective_from,
            args.by,
            runtime.tz,
            name=args.name,
            note=args.note,
        )
    except (PublishError, RuleSetsUnavailable) as exc:
        print(f"not published: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    print(
        f"published {published.name}: in force from {published.effective_from.isoformat()} "
        f"00:00 ({runtime.settings.timezone}), by {published.published_by}"
    )
    print("it scores events from that moment on; points already given stay as they are")
    return 0
