"""``complaintops check-config``: load and validate every setting and rule file."""

from __future__ import annotations

import argparse
from typing import Any

from config import check_config, load_rules, load_settings, resolve_rule_file


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "check-config",
        help="validate the settings and YAML rule files, naming the file and key of any error",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from alerts.rules import load_alerting
    from config.scoring import load_scoring_rules

    settings = load_settings()
    for line in check_config(settings):
        print(line)
    load_scoring_rules(settings)
    print(f"scoring: valid ({resolve_rule_file(settings, 'scoring')})")
    alerting = load_alerting(settings, load_rules(settings).teams)
    print(f"alerts: valid ({resolve_rule_file(settings, 'alerts')})")
    rotations = len(alerting.oncall.rotations)
    print(f"oncall: valid, {rotations} rotation(s) ({resolve_rule_file(settings, 'oncall')})")
    print("configuration OK")
    return 0
