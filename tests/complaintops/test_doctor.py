"""``complaintops doctor`` against the real embedded services, and against dead ports."""

from __future__ import annotations

import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from alerts.mailcatcher import MailCatcher
from complaintops.cli import main
from complaintops.commands.doctor import (
    Finding,
    Status,
    _migration_finding,
    exit_code,
    known_revisions,
    run_checks,
)
from complaintops.embedded import find_free_port
from complaintops.embedded_cluster import EmbeddedCluster
from config import Settings, load_settings
from metrics import keys
from store import migrate

TIMEOUT = 2.0


def by_check(findings: list[Finding], check: str) -> list[Finding]:
    return [finding for finding in findings if finding.check == check]


def statuses(findings: list[Finding]) -> set[Status]:
    return {finding.status for finding in findings}


def text(findings: list[Finding]) -> str:
    return "\n".join(finding.line() for finding in findings)


@pytest.fixture
def mail_server(tmp_path: Path) -> Iterator[int]:
    port = find_free_port()
    with MailCatcher(tmp_path / "mail", port=port):
        yield port


@pytest.fixture
def migrated_sqlite(sqlite_url: str) -> str:
    migrate.upgrade(sqlite_url)
    return sqlite_url


@pytest.fixture
def healthy_settings(
    kafka_bootstrap: str,
    valkey_url: str,
    redis_client: redis.Redis,
    new_topic: str,
    migrated_sqlite: str,
    mail_server: int,
) -> Settings:
    redis_client.hset(keys.META, mapping={"built_at": "1800000000", "source": "fresh"})
    return load_settings(
        kafka_bootstrap=kafka_bootstrap,
        redis_url=valkey_url,
        database_url=migrated_sqlite,
        topic=new_topic,
        dlq_topic=f"{new_topic}.dlq",
        smtp_host="127.0.0.1",
        smtp_port=mail_server,
    )


# -- a healthy installation ----------------------------------------------------------


def test_a_healthy_installation_has_no_failure(healthy_settings: Settings) -> None:
    findings = run_checks(healthy_settings, TIMEOUT)

    assert Status.FAIL not in statuses(findings), text(findings)
    assert exit_code(findings) == 0
    for check in ("config", "kafka", "redis", "database", "smtp", "kernel"):
        assert Status.OK in statuses(by_check(findings, check)), check
    lines = text(findings)
    topic = healthy_settings.topic
    assert f"OK    kafka: topic {topic} (case events): 3 partitions" in lines
    assert f"OK    kafka: topic {topic}.dlq (dead letters): 3 partitions" in lines
    assert "OK    redis: read model build marker co:{m}:meta present" in lines
    assert "OK    redis: maxmemory-policy noeviction: keys are never evicted" in lines
    assert "OK    database: schema at the newest revision" in lines
    assert f"OK    smtp: 127.0.0.1:{healthy_settings.smtp_port} (none) accepts connections" in lines
    assert "OK    config: alerts: 7 of 7 rules enabled" in lines
    assert "OK    kernel: compiled batch kernel metrics.kernel._compiled built" in lines
    assert "OK    kernel: compiled record reader consumers.fetch._records built" in lines


def test_the_command_prints_one_line_per_finding_and_exits_0(
    healthy_settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    environment = {
        "COMPLAINTOPS_KAFKA_BOOTSTRAP": healthy_settings.kafka_bootstrap,
        "COMPLAINTOPS_REDIS_URL": healthy_settings.redis_url,
        "COMPLAINTOPS_DATABASE_URL": healthy_settings.database_url,
        "COMPLAINTOPS_TOPIC": healthy_settings.topic,
        "COMPLAINTOPS_DLQ_TOPIC": healthy_settings.dlq_topic,
        "COMPLAINTOPS_SMTP_HOST": "127.0.0.1",
        "COMPLAINTOPS_SMTP_PORT": str(healthy_settings.smtp_port),
    }
    for name, value in environment.items():
        monkeypatch.setenv(name, str(value))

    assert main(["doctor", "--timeout", str(TIMEOUT)]) == 0

    output = capsys.readouterr().out.splitlines()
    assert output[-1].startswith("0 failed, ")
    assert all(line.split()[0] in {"OK", "WARN", "FAIL"} for line in output[:-1])


# -- findings that need attention ----------------------------------------------------


def test_missing_build_marker_is_a_warning_with_advice(
    healthy_settings: Settings, redis_client: redis.Redis
) -> None:
    redis_client.delete(keys.META)

    (marker,) = [
        f for f in run_checks(healthy_settings, TIMEOUT, ["redis"]) if "marker" in f.message
    ]

    assert marker.status is Status.WARN
    assert "complaintops rebuild" in marker.advice


def test_an_evicting_memory_policy_is_a_warning(
    healthy_settings: Settings, redis_client: redis.Redis
) -> None:
    redis_client.config_set("maxmemory-policy", "allkeys-lru")
    try:
        findings = run_checks(healthy_settings, TIMEOUT, ["redis"])
    finally:
        redis_client.config_set("maxmemory-policy", "noeviction")

    (policy,) = [f for f in findings if "maxmemory-policy" in f.message]
    assert policy.status is Status.WARN
    assert "allkeys-lru evicts keys" in policy.message
    assert "noeviction" in policy.advice
    assert exit_code(findings) == 0


def test_missing_topics_fail(healthy_settings: Settings) -> None:
    settings = healthy_settings.model_copy(
        update={"topic": "no.such.topic", "dlq_topic": "no.such.topic.dlq"}
    )

    findings = by_check(run_checks(settings, TIMEOUT, ["kafka"]), "kafka")

    missing = [f for f in findings if f.status is Status.FAIL]
    assert [f.message for f in missing] == [
        "topic no.such.topic (case events) does not exist",
        "topic no.such.topic.dlq (dead letters) does not exist",
    ]
    assert all("create-topics" in f.advice for f in missing)


def test_an_unmigrated_database_fails(healthy_settings: Settings, tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    settings = healthy_settings.model_copy(update={"database_url": f"sqlite:///{empty}"})

    findings = run_checks(settings, TIMEOUT, ["database"])

    assert [f.status for f in findings] == [Status.OK, Status.FAIL]
    assert findings[1].message == "schema not created (no migration applied)"
    assert findings[1].advice == "run `complaintops db upgrade`"


def test_a_bad_rule_file_fails_the_config_check(tmp_path: Path) -> None:
    (tmp_path / "teams.yaml").write_text("teams: []\nbogus: 1\n", encoding="utf-8")
    settings = load_settings(rules_dir=tmp_path)

    findings = run_checks(settings, TIMEOUT, ["config"])

    assert findings[-1].status is Status.FAIL
    assert str(tmp_path / "teams.yaml") in findings[-1].message
    assert exit_code(findings) == 1


@pytest.mark.parametrize(
    ("current", "heads", "status", "words"),
    [
        (("0002", "0003"), ("0002", "0003"), Status.OK, "newest revision"),
        ((), ("0002", "0003"), Status.FAIL, "not created"),
        (("0001",), ("0002", "0003"), Status.FAIL, "the code expects 0002, 0003"),
        (("0009",), ("0002", "0003"), Status.FAIL, "unknown to this version"),
    ],
)
def test_migration_states(
    current: tuple[str, ...], heads: tuple[str, ...], status: Status, words: str
) -> None:
    finding = _migration_finding(current, heads, frozenset({"0001", "0002", "0003"}))
    assert finding.status is status
    assert words in finding.message


def test_known_revisions_include_every_head_and_the_root() -> None:
    known = known_revisions()
    assert set(migrate.head_revisions()) <= known
    assert "0001" in known


# -- nothing answers -----------------------------------------------------------------


def test_dead_ports_fail_with_advice_and_exit_1(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    dead = find_free_port()
    monkeypatch.setenv("COMPLAINTOPS_KAFKA_BOOTSTRAP", f"127.0.0.1:{dead}")
    monkeypatch.setenv("COMPLAINTOPS_REDIS_URL", f"redis://127.0.0.1:{dead}/0")
    monkeypatch.setenv(
        "COMPLAINTOPS_DATABASE_URL",
        f"postgresql+psycopg://complaintops:s3cret-pass@127.0.0.1:{dead}/complaintops",
    )
    monkeypatch.setenv("COMPLAINTOPS_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("COMPLAINTOPS_SMTP_PORT", str(dead))

    assert main(["doctor", "--timeout", "1"]) == 1

    output = capsys.readouterr().out
    failures = {
        line.split()[1].rstrip(":"): line for line in output.splitlines() if line.startswith("FAIL")
    }
    assert set(failures) == {"kafka", "redis", "database", "smtp"}, output
    assert "→ start the broker, or correct COMPLAINTOPS_KAFKA_BOOTSTRAP" in failures["kafka"]
    assert "→ start Redis, or correct COMPLAINTOPS_REDIS_URL" in failures["redis"]
    assert "→ start the database, or correct COMPLAINTOPS_DATABASE_URL" in failures["database"]
    assert "→ check COMPLAINTOPS_SMTP_HOST" in failures["smtp"]
    assert "s3cret-pass" not in output
    assert output.splitlines()[-1].startswith("4 failed, ")


def test_a_missing_sqlite_file_fails_without_creating_it(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "complaintops.db"
    settings = load_settings(database_url=f"sqlite:///{missing}")

    (finding,) = run_checks(settings, TIMEOUT, ["database"])

    assert finding.status is Status.FAIL
    assert "complaintops db upgrade" in finding.advice
    assert not missing.exists()


def test_a_bad_setting_fails_before_anything_else(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("COMPLAINTOPS_SMTP_PORT", "0")

    assert main(["doctor"]) == 1

    (line,) = capsys.readouterr().out.splitlines()
    assert line.startswith("FAIL  config: environment: COMPLAINTOPS_SMTP_PORT:")
    assert "→ correct the environment variable named" in line


def test_finding_lines() -> None:
    assert Finding(Status.OK, "redis", "fine", "ignored").line() == "OK    redis: fine"
    assert (
        Finding(Status.FAIL, "smtp", "refused", "start it").line()
        == "FAIL  smtp: refused → start it"
    )
    assert exit_code([Finding(Status.WARN, "x", "y", "z")]) == 0


def test_a_redis_cluster_is_checked_in_cluster_mode(
    valkey_cluster: EmbeddedCluster, cluster_client: redis.RedisCluster
) -> None:
    cluster_client.hset(keys.META, "source", "fresh")
    settings = Settings(redis_url=valkey_cluster.url, redis_cluster=True)

    findings = run_checks(settings, TIMEOUT, ["redis"])

    assert statuses(findings) == {Status.OK}, text(findings)
    assert any("marker" in f.message for f in findings)


def test_a_cluster_node_without_cluster_mode_fails_with_the_setting_to_change(
    valkey_cluster: EmbeddedCluster,
) -> None:
    settings = Settings(redis_url=valkey_cluster.url, redis_cluster=False)

    (finding,) = run_checks(settings, TIMEOUT, ["redis"])

    assert finding.status is Status.FAIL
    assert "is a Redis Cluster node" in finding.message
    assert finding.advice == "set COMPLAINTOPS_REDIS_CLUSTER=true"


def test_cluster_mode_on_a_single_server_fails_with_the_setting_to_change(
    valkey_url: str,
) -> None:
    settings = Settings(redis_url=valkey_url, redis_cluster=True)

    (finding,) = run_checks(settings, TIMEOUT, ["redis"])

    assert finding.status is Status.FAIL
    assert (
        finding.advice == "this server is not a cluster node: set COMPLAINTOPS_REDIS_CLUSTER=false"
    )


def test_on_a_cluster_the_eviction_policy_is_read_from_the_read_models_primary(
    valkey_cluster: EmbeddedCluster, cluster_client: redis.RedisCluster
) -> None:
    holder = cluster_client.get_node_from_key(keys.META)
    assert (holder.host, holder.port) != valkey_cluster.startup_nodes[0]  # not the URL's node
    cluster_client.config_set("maxmemory-policy", "allkeys-lru", target_nodes=holder)
    try:
        settings = Settings(redis_url=valkey_cluster.url, redis_cluster=True)
        findings = run_checks(settings, TIMEOUT, ["redis"])
    finally:
        cluster_client.config_set("maxmemory-policy", "noeviction", target_nodes=holder)

    (eviction,) = [f for f in findings if "maxmemory-policy" in f.message]
    assert eviction.status is Status.WARN and "allkeys-lru" in eviction.message


def test_a_missing_compiled_kernel_is_a_warning_with_advice(
    healthy_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As where the package was installed without a C compiler.
    monkeypatch.setitem(sys.modules, "metrics.kernel._compiled", None)

    findings = run_checks(healthy_settings, TIMEOUT, only=["kernel"])

    kernel, reader = findings
    assert kernel.status is Status.WARN
    assert "runs the reference kernel" in kernel.message
    assert "C compiler" in kernel.advice
    assert reader.status is Status.OK


def test_a_missing_record_reader_is_a_warning_with_advice(
    healthy_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "consumers.fetch._records", None)

    kernel, reader = run_checks(healthy_settings, TIMEOUT, only=["kernel"])

    assert kernel.status is Status.OK
    assert reader.status is Status.WARN
    assert "kafka-python reads" in reader.message and "C compiler" in reader.advice
