"""The fallback dependency audit's verdicts (pure: project JSON documents in, verdicts out)."""

from __future__ import annotations

from typing import Any

from bench.dependency_audit import audit, judge, pinned


def project(latest: str, *advisories: dict[str, Any]) -> dict[str, Any]:
    return {"info": {"version": latest}, "vulnerabilities": list(advisories)}


ADVISORY = {"id": "PYSEC-2026-1", "aliases": ["CVE-2026-0001"], "fixed_in": ["2.0.1"]}


def test_the_latest_release_without_advisories_is_audited_clean() -> None:
    verdict = judge("redis", "8.1.0", project("8.1.0"))
    assert verdict.audited and verdict.vulnerabilities == ()


def test_an_advisory_of_the_installed_latest_release_is_reported() -> None:
    verdict = judge("pkg", "2.0.0", project("2.0.0", ADVISORY))
    assert verdict.audited
    assert verdict.vulnerabilities == ("PYSEC-2026-1 (CVE-2026-0001) fixed in 2.0.1",)


def test_an_older_release_is_not_audited_even_without_advisories() -> None:
    verdict = judge("selenium", "4.51.0", project("4.52.0"))
    assert not verdict.audited
    assert "latest release is 4.52.0" in verdict.reason


def test_exit_codes_and_lines() -> None:
    documents = {
        "clean": project("1.0"),
        "old": project("3.0"),
        "bad": project("2.0.0", ADVISORY),
    }
    fetch = documents.__getitem__
    assert audit([("clean", "1.0")], fetch).exit_code == 0
    partial = audit([("clean", "1.0"), ("old", "2.9")], fetch)
    assert partial.exit_code == 3
    assert partial.lines()[-1] == "PyPI project JSON: 1 of 2 packages audited, 0 vulnerable"
    report = audit([("bad", "2.0.0"), ("old", "2.9")], fetch)
    assert report.exit_code == 1
    assert report.lines()[0].startswith("VULNERABLE bad 2.0.0: PYSEC-2026-1")


def test_an_unreadable_project_is_not_audited() -> None:
    def fail(name: str) -> dict[str, Any]:
        raise OSError("no route to host")

    report = audit([("x", "1")], fail)
    assert report.exit_code == 3 and "unreadable" in report.unaudited[0].reason


def test_lock_pins_are_read_with_comments_and_markers() -> None:
    text = (
        "# header\nalembic==1.20.1\nredis==8.1.0  # pinned\nfoo==1.0 ; python_version<'4'\n-e .\n"
    )
    assert pinned(text) == [("alembic", "1.20.1"), ("redis", "8.1.0"), ("foo", "1.0")]
