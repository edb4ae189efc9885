"""Audit the installed packages through PyPI's project JSON.

pip-audit's PyPI service reads the per-release JSON
(``/pypi/<name>/<version>/json``) and its OSV service ``api.osv.dev``; where
neither answers, this audit uses what does: the project JSON
(``/pypi/<name>/json``), whose ``vulnerabilities`` are the known advisories
of the project's latest release (PyPI's advisory data, from OSV). So a
package is audited when the installed version is that latest release; any
other version is reported as not audited, never as clean.

Usage: ``python -m bench.dependency_audit [--skip NAME ...] [--lock requirements.lock]``
(the installed packages, or the pins of a lock file such as the image's).
Exit: 0 every package audited and none vulnerable; 1 a known vulnerability;
3 some package could not be audited (and none is vulnerable).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from packaging.utils import canonicalize_name

PROJECT_URL = "https://pypi.org/pypi/{name}/json"
TIMEOUT_S = 20
WORKERS = 16

Fetch = Callable[[str], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class Verdict:
    name: str
    version: str
    # audited: the installed version is the latest release, whose advisories are known.
    audited: bool
    vulnerabilities: tuple[str, ...] = ()
    reason: str = ""


@dataclass(slots=True)
class AuditReport:
    verdicts: list[Verdict] = field(default_factory=list)

    @property
    def vulnerable(self) -> list[Verdict]:
        return [v for v in self.verdicts if v.vulnerabilities]

    @property
    def unaudited(self) -> list[Verdict]:
        return [v for v in self.verdicts if not v.audited]

    @property
    def exit_code(self) -> int:
        if self.vulnerable:
            return 1
        return 3 if self.unaudited else 0

    def lines(self) -> list[str]:
        out = [
            f"VULNERABLE {v.name} {v.version}: {', '.join(v.vulnerabilities)}"
            for v in self.vulnerable
        ]
        out += [f"not audited: {v.name} {v.version} ({v.reason})" for v in self.unaudited]
        audited = len(self.verdicts) - len(self.unaudited)
        out.append(
            f"PyPI project JSON: {audited} of {len(self.verdicts)} packages audited, "
            f"{len(self.vulnerable)} vulnerable"
        )
        return out


def _advisory(entry: dict[str, Any]) -> str:
    fixed = ", ".join(entry.get("fixed_in") or []) or "no fixed version"
    aliases = ", ".join(entry.get("aliases") or [])
    ident = str(entry.get("id", "?"))
    return f"{ident}{f' ({aliases})' if aliases else ''} fixed in {fixed}"


def judge(name: str, version: str, project: dict[str, Any]) -> Verdict:
    """The verdict on ``name`` ``version`` from its project JSON (pure)."""
    latest = str(project.get("info", {}).get("version", ""))
    if latest != version:
        return Verdict(
            name,
            version,
            audited=False,
            reason=f"the latest release is {latest or '?'}; only its advisories are published",
        )
    advisories = tuple(_advisory(e) for e in project.get("vulnerabilities") or [])
    return Verdict(name, version, audited=True, vulnerabilities=advisories)


def fetch_project(name: str) -> dict[str, Any]:
    url = PROJECT_URL.format(name=name)
    # B310: the URL is always https (checked here), never a file: or custom scheme.
    if not url.startswith("https://"):  # pragma: no cover - the constant above
        raise ValueError(url)
    with urllib.request.urlopen(url, timeout=TIMEOUT_S) as response:  # nosec B310
        data: dict[str, Any] = json.load(response)
    return data


def installed(skip: Iterable[str] = ()) -> list[tuple[str, str]]:
    """(name, version) of every installed distribution, except ``skip``."""
    skipped = {canonicalize_name(s) for s in skip}
    found = {
        (dist.metadata["Name"], dist.version)
        for dist in metadata.distributions()
        if dist.metadata["Name"] and canonicalize_name(dist.metadata["Name"]) not in skipped
    }
    return sorted(found, key=lambda item: canonicalize_name(item[0]))


def pinned(lock_text: str) -> list[tuple[str, str]]:
    """(name, version) of every ``name==version`` line of a lock file."""
    out = []
    for line in lock_text.splitlines():
        requirement = line.split("#", 1)[0].split(";", 1)[0].strip()
        name, sep, version = requirement.partition("==")
        if sep and name.strip() and version.strip():
            out.append((name.strip(), version.strip()))
    return out


def audit(packages: Iterable[tuple[str, str]], fetch: Fetch = fetch_project) -> AuditReport:
    def one(package: tuple[str, str]) -> Verdict:
        name, version = package
        try:
            return judge(name, version, fetch(name))
        except (urllib.error.URLError, OSError, ValueError) as exc:
            return Verdict(name, version, audited=False, reason=f"project JSON unreadable: {exc}")

    with ThreadPoolExecutor(WORKERS) as pool:
        return AuditReport(list(pool.map(one, packages)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.dependency_audit")
    parser.add_argument("--skip", action="append", default=[], help="a distribution to leave out")
    parser.add_argument(
        "--lock", type=Path, help="audit the name==version pins of this file instead"
    )
    args = parser.parse_args(argv)
    packages = pinned(args.lock.read_text()) if args.lock else installed(args.skip)
    report = audit(packages)
    for line in report.lines():
        print(line)
    return report.exit_code


if __name__ == "__main__":
    sys.exit(main())
