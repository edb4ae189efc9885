"""``complaintops doctor``: check the installation's configuration and every service it uses.

One line per finding, ``OK``, ``WARN`` or ``FAIL``, with advice after ``→``
for anything that is not OK. Exit code 1 when any check FAILs, else 0.

Checks: the settings and every rule file; Kafka (reachable, the case-event
and dead-letter topics exist, their partition counts); Redis (PING, the
read model's build marker, an eviction policy that would lose keys); the
database (reachable, migrated to the code's newest revision); SMTP (the
alert mail server accepts a connection and, if configured, the login);
the compiled batch kernel of the metrics consumer (built, or the consumer
runs the reference kernel, several times slower).
"""

from __future__ import annotations

import argparse
import contextlib
import socket
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final, cast

from complaintops.commands import first_line
from config import ConfigError, Settings, check_config, env_var, load_settings

DEFAULT_TIMEOUT_SECONDS: Final = 3.0
SAFE_EVICTION_POLICIES: Final = frozenset({"noeviction"})
"""Redis eviction policies that never drop a key of the read model."""

UNKNOWN_TOPIC_OR_PARTITION: Final = 3


class Status(StrEnum):
    OK = "OK"
    WARN = "WARN"
    FAIL = "FAIL"


@dataclass(frozen=True, slots=True)
class Finding:
    status: Status
    check: str
    message: str
    advice: str = ""

    def line(self) -> str:
        advice = f" → {self.advice}" if self.advice and self.status is not Status.OK else ""
        return f"{self.status.value:<4}  {self.check}: {self.message}{advice}"


def ok(check: str, message: str) -> Finding:
    return Finding(Status.OK, check, message)


def warn(check: str, message: str, advice: str) -> Finding:
    return Finding(Status.WARN, check, message, advice)


def fail(check: str, message: str, advice: str) -> Finding:
    return Finding(Status.FAIL, check, message, advice)


def exit_code(findings: Iterable[Finding]) -> int:
    return 1 if any(finding.status is Status.FAIL for finding in findings) else 0


# -- configuration -----------------------------------------------------------------


def check_configuration(settings: Settings) -> list[Finding]:
    """Every rule file loads; production essentials are set."""
    findings: list[Finding] = []
    try:
        findings += [ok("config", line) for line in check_config(settings)]
        findings += _extra_rule_files(settings)
    except ConfigError as error:
        return [
            *findings,
            fail("config", str(error), "correct the file and key named, then run doctor again"),
        ]
    findings += _deployment_warnings(settings)
    return findings


def _extra_rule_files(settings: Settings) -> list[Finding]:
    """The rule files outside check_config: alerts.yaml, oncall.yaml, scoring.yaml."""
    from alerts.rules import RULE_NAMES, load_alerting
    from config import is_shipped_default, load_rules, resolve_rule_file
    from config.scoring import SCORING_FILE, load_scoring_rules

    teams = load_rules(settings).teams
    alerting = load_alerting(settings, teams)
    load_scoring_rules(settings)
    enabled = alerting.alerts.rules.enabled_names()
    summaries = {
        "alerts": f"{len(enabled)} of {len(RULE_NAMES)} rules enabled",
        "oncall": f"{len(alerting.oncall.rotations)} rotation(s)",
        "scoring": "point rules loaded",
    }
    sources = {**alerting.sources, "scoring": resolve_rule_file(settings, SCORING_FILE)}
    findings = []
    for name, summary in summaries.items():
        path = sources[name]
        origin = "shipped default" if is_shipped_default(path) else "override"
        findings.append(ok("config", f"{name}: {summary} ({origin}: {path})"))
    return findings


def _deployment_warnings(settings: Settings) -> list[Finding]:
    from complaintops.runtime import DEFAULT_KAFKA_BOOTSTRAP, DEFAULT_REDIS_URL

    findings: list[Finding] = []
    unset_service = {
        "kafka_bootstrap": f"the demo's address {DEFAULT_KAFKA_BOOTSTRAP} is used",
        "redis_url": f"the demo's address {DEFAULT_REDIS_URL} is used",
    }
    for field, consequence in unset_service.items():
        if getattr(settings, field) is None:
            findings.append(
                warn("config", f"{env_var(field)} is not set: {consequence}", _set(field))
            )
    if settings.database_url is None and settings.mode == "production":
        findings.append(
            warn(
                "config",
                f"{env_var('database_url')} is not set: SQLite at {settings.resolved_database_url}",
                "use PostgreSQL in production: " + _set("database_url"),
            )
        )
    if settings.mode == "production" and not settings.api_tokens:
        findings.append(
            warn(
                "config",
                f"{env_var('api_tokens')} is empty: the JSON API refuses every request",
                _set("api_tokens") + " (comma-separated bearer tokens)",
            )
        )
    if settings.mode == "production" and not settings.dashboard_url.startswith("https://"):
        findings.append(
            warn(
                "config",
                f"{env_var('dashboard_url')} is {settings.dashboard_url}: session cookies "
                "are not marked Secure",
                "serve the dashboard over HTTPS and set its https:// address",
            )
        )
    return findings


def _set(field: str) -> str:
    return f"set {env_var(field)}"


# -- Kafka -------------------------------------------------------------------------


def check_kafka(settings: Settings, timeout: float) -> list[Finding]:
    from kafka.admin import KafkaAdminClient
    from kafka.errors import KafkaError

    from complaintops.runtime import DEFAULT_KAFKA_BOOTSTRAP

    bootstrap = settings.kafka_bootstrap or DEFAULT_KAFKA_BOOTSTRAP
    advice = (
        f"start the broker, or correct {env_var('kafka_bootstrap')} (inside compose: kafka:9092)"
    )
    unreachable = [server for server in bootstrap.split(",") if not _tcp_connects(server, timeout)]
    if len(unreachable) == len(bootstrap.split(",")):
        return [fail("kafka", f"no connection to {bootstrap}", advice)]
    try:
        admin = KafkaAdminClient(
            bootstrap_servers=bootstrap.split(","),
            client_id="complaintops-doctor",
            bootstrap_timeout_ms=int(timeout * 1000),
            request_timeout_ms=int(timeout * 1000),
        )
    except KafkaError as error:
        return [fail("kafka", f"{bootstrap} does not answer as a Kafka broker ({error})", advice)]
    try:
        described = admin.describe_topics([settings.topic, settings.dlq_topic])
    except KafkaError as error:
        return [fail("kafka", f"cannot read topic metadata from {bootstrap} ({error})", advice)]
    finally:
        admin.close()
    findings = [ok("kafka", f"broker at {bootstrap} answers")]
    if unreachable:
        findings.append(
            warn(
                "kafka",
                f"bootstrap server(s) {', '.join(unreachable)} refuse connections",
                "remove them from " + env_var("kafka_bootstrap") + " or start them",
            )
        )
    partitions = {topic["name"]: topic for topic in described}
    for name, role in ((settings.topic, "case events"), (settings.dlq_topic, "dead letters")):
        findings.append(_topic_finding(name, role, partitions.get(name)))
    return findings


def _topic_finding(name: str, role: str, described: dict[str, Any] | None) -> Finding:
    if described is None or described.get("error_code") == UNKNOWN_TOPIC_OR_PARTITION:
        return fail(
            "kafka",
            f"topic {name} ({role}) does not exist",
            "create it (compose: the kafka-topics service; see deploy/kafka/create-topics.sh)",
        )
    if described.get("error_code"):
        return fail(
            "kafka",
            f"topic {name} ({role}): broker error code {described['error_code']}",
            "check the broker's log and the client's permissions on the topic",
        )
    count = len(described.get("partitions") or [])
    if role == "case events" and count < 2:
        return warn(
            "kafka",
            f"topic {name} ({role}) has {count} partition: one consumer per group can work",
            "add partitions to scale out (kafka-topics.sh --alter --partitions N)",
        )
    return ok("kafka", f"topic {name} ({role}): {count} partitions")


def _tcp_connects(server: str, timeout: float) -> bool:
    host, _, port = server.strip().rpartition(":")
    try:
        with socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout):
            return True
    except (OSError, ValueError):
        return False


# -- Redis -------------------------------------------------------------------------


def check_redis(settings: Settings, timeout: float) -> list[Finding]:
    import redis
    from redis.backoff import NoBackoff
    from redis.exceptions import RedisClusterException
    from redis.retry import Retry

    from complaintops.redis_client import connect as connect_redis
    from complaintops.runtime import DEFAULT_REDIS_URL
    from metrics import keys

    url = settings.redis_url or DEFAULT_REDIS_URL
    try:
        client = connect_redis(
            url,
            cluster=settings.redis_cluster,
            socket_timeout=timeout,
            socket_connect_timeout=timeout,
            retry=Retry(NoBackoff(), retries=0),
        )
    except (redis.RedisError, RedisClusterException) as error:
        advice = (
            f"this server is not a cluster node: set {env_var('redis_cluster')}=false"
            if "cluster mode is not enabled" in str(error).lower()
            else f"start the cluster, or correct {env_var('redis_url')}"
        )
        return [fail("redis", f"no Redis Cluster at {_redacted(url)} ({error})", advice)]
    try:
        try:
            client.ping()
        except redis.RedisError as error:
            return [
                fail(
                    "redis",
                    f"no answer to PING at {_redacted(url)} ({error})",
                    f"start Redis, or correct {env_var('redis_url')} (inside compose: "
                    "redis://redis:6379/0)",
                )
            ]
        if not settings.redis_cluster and _is_cluster_node(client):
            return [
                fail(
                    "redis",
                    f"{_redacted(url)} is a Redis Cluster node",
                    f"set {env_var('redis_cluster')}=true",
                )
            ]
        # On a cluster, ask the primary that holds the read model's slot.
        target = (
            {"target_nodes": cast(redis.RedisCluster, client).get_node_from_key(keys.META)}
            if settings.redis_cluster
            else {}
        )
        try:
            info = client.info("server", **target)
        except redis.RedisError:
            info = {}
        version = info.get("valkey_version") or info.get("redis_version") or "?"
        findings = [ok("redis", f"PING answered at {_redacted(url)} (version {version})")]
        findings.append(_build_marker_finding(bool(client.exists(keys.META)), keys.META))
        findings.append(_eviction_finding(client, target))
        return findings
    finally:
        with contextlib.suppress(redis.RedisError):
            client.close()


def _is_cluster_node(client: Any) -> bool:
    import redis

    try:
        return str(client.info("cluster").get("cluster_enabled", 0)) == "1"
    except redis.RedisError:
        return False


def _build_marker_finding(present: bool, key: str) -> Finding:
    if present:
        return ok("redis", f"read model build marker {key} present")
    return warn(
        "redis",
        f"read model build marker {key} is missing",
        "on a new installation the metrics consumer creates it when it first starts; "
        "if Redis lost its data, run `complaintops rebuild`",
    )


def _eviction_finding(client: Any, target: dict[str, Any]) -> Finding:
    import redis

    try:
        reply = client.config_get("maxmemory-policy", **target)
        policy = str(reply.get("maxmemory-policy", "?"))
    except redis.RedisError as error:
        return warn(
            "redis",
            f"cannot read maxmemory-policy ({error})",
            "make sure the server never evicts keys (maxmemory-policy noeviction)",
        )
    if policy in SAFE_EVICTION_POLICIES:
        return ok("redis", f"maxmemory-policy {policy}: keys are never evicted")
    return warn(
        "redis",
        f"maxmemory-policy {policy} evicts keys under memory pressure: "
        "the read model would silently lose counters",
        "set `maxmemory-policy noeviction` (deploy/redis/redis.conf) and give Redis enough memory",
    )


def _redacted(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


# -- database ----------------------------------------------------------------------


def check_database(settings: Settings, timeout: float) -> list[Finding]:
    from sqlalchemy import create_engine, text

    from store import migrate
    from store.db import normalise_url
    from store.errors import UnsupportedDatabase

    url = settings.resolved_database_url
    shown = _redacted(url)
    try:
        parsed = normalise_url(url)
    except UnsupportedDatabase as error:
        return [fail("database", str(error), f"correct {env_var('database_url')}")]
    if parsed.get_backend_name() == "sqlite":
        database = Path(parsed.database or "")
        if parsed.database not in (None, "", ":memory:") and not database.is_file():
            return [
                fail(
                    "database",
                    f"no SQLite database at {database}",
                    "run `complaintops db upgrade` to create it, or correct "
                    + env_var("database_url"),
                )
            ]
        connect_args: dict[str, Any] = {}
    else:
        connect_args = {"connect_timeout": max(1, round(timeout))}
    engine = create_engine(parsed, connect_args=connect_args)
    try:
        try:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except Exception as error:
            return [
                fail(
                    "database",
                    f"cannot connect to {shown} ({first_line(error)})",
                    f"start the database, or correct {env_var('database_url')}",
                )
            ]
        findings = [ok("database", f"connected to {shown}")]
        findings.append(
            _migration_finding(
                migrate.current_heads(url), migrate.head_revisions(), known_revisions()
            )
        )
        return findings
    finally:
        engine.dispose()


def known_revisions() -> frozenset[str]:
    """Every migration revision this version of the code ships."""
    from alembic.script import ScriptDirectory

    from store import migrate

    script = ScriptDirectory.from_config(migrate.alembic_config())
    return frozenset(revision.revision for revision in script.walk_revisions())


def _migration_finding(
    current: tuple[str, ...], heads: tuple[str, ...], known: frozenset[str]
) -> Finding:
    if current == heads:
        return ok("database", f"schema at the newest revision ({', '.join(heads)})")
    if not current:
        return fail(
            "database",
            "schema not created (no migration applied)",
            "run `complaintops db upgrade`",
        )
    unknown = sorted(set(current) - known)
    if unknown:
        return fail(
            "database",
            f"schema at revision(s) {', '.join(unknown)} unknown to this version of the code",
            "run the newer version that migrated it, or restore the database's backup",
        )
    return fail(
        "database",
        f"schema at {', '.join(current)}, the code expects {', '.join(heads)}",
        "run `complaintops db upgrade`",
    )


# -- SMTP --------------------------------------------------------------------------


def check_smtp(settings: Settings, timeout: float) -> list[Finding]:
    from dataclasses import replace

    from alerts.smtp import DeliveryError, SmtpConfig, SmtpTransport

    config = SmtpConfig.from_settings(settings)
    if config is None:
        return [
            warn(
                "smtp",
                f"{env_var('smtp_host')} is not set: alert emails stay in the outbox",
                f"{_set('smtp_host')} (and {env_var('smtp_port')}, {env_var('smtp_tls')}, "
                f"{env_var('smtp_user')} as the server needs)",
            )
        ]
    config = replace(config, timeout=timeout)
    where = f"{config.host}:{config.port} ({config.tls})"
    try:
        with SmtpTransport(config).session():
            pass
    except DeliveryError as error:
        return [
            fail(
                "smtp",
                f"{where}: {error}",
                f"check {env_var('smtp_host')}, {env_var('smtp_port')}, {env_var('smtp_tls')} "
                "and the login settings; alert emails wait in the outbox meanwhile",
            )
        ]
    login = f", logged in as {config.user}" if config.user else ""
    return [ok("smtp", f"{where} accepts connections{login}")]


# -- the command -------------------------------------------------------------------

Check = Callable[[Settings, float], list[Finding]]


def check_kernel(settings: Settings, timeout: float) -> list[Finding]:
    """Whether the consumers' compiled extensions are built: the metrics
    consumer's batch kernel and the Kafka record reader."""
    from consumers import fetch
    from metrics.kernel import COMPILED_MODULE, compiled_available

    advice = "reinstall the package where a C compiler is present (make venv)"
    findings = [
        ok("kernel", f"compiled batch kernel {COMPILED_MODULE} built")
        if compiled_available()
        else warn(
            "kernel",
            f"compiled batch kernel {COMPILED_MODULE} not built: the metrics consumer "
            "runs the reference kernel, several times slower",
            advice,
        )
    ]
    findings.append(
        ok("kernel", f"compiled record reader {fetch.COMPILED_MODULE} built")
        if fetch.compiled_available()
        else warn(
            "kernel",
            f"compiled record reader {fetch.COMPILED_MODULE} not built: kafka-python "
            "reads the consumers' records, several times slower",
            advice,
        )
    )
    return findings


def _check_configuration(settings: Settings, timeout: float) -> list[Finding]:
    return check_configuration(settings)


CHECKS: Final[tuple[tuple[str, Check], ...]] = (
    ("config", _check_configuration),
    ("kafka", check_kafka),
    ("redis", check_redis),
    ("database", check_database),
    ("smtp", check_smtp),
    ("kernel", check_kernel),
)


def run_checks(
    settings: Settings, timeout: float = DEFAULT_TIMEOUT_SECONDS, only: Iterable[str] = ()
) -> list[Finding]:
    """Every check's findings, in order; a check that crashes is a FAIL, not a traceback."""
    wanted = set(only)
    findings: list[Finding] = []
    for name, check in CHECKS:
        if wanted and name not in wanted:
            continue
        try:
            findings += check(settings, timeout)
        except Exception as error:
            findings.append(
                fail(
                    name,
                    f"check crashed: {type(error).__name__}: {error}",
                    "unexpected: check the service's log and permissions, then run doctor again",
                )
            )
    return findings


CHECK_NAMES: Final = tuple(name for name, _ in CHECKS)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check the configuration, Kafka, Redis, the database and SMTP; exit 1 on a failure",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=DEFAULT_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"connection timeout per service (default {DEFAULT_TIMEOUT_SECONDS:g})",
    )
    parser.add_argument(
        "--only",
        action="append",
        choices=CHECK_NAMES,
        default=None,
        help="run only this check (repeatable)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    try:
        settings = load_settings()
    except ConfigError as error:
        finding = fail(
            "config", str(error), "correct the environment variable named; nothing else checked"
        )
        print(finding.line())
        return 1
    findings = run_checks(settings, args.timeout, args.only or ())
    for finding in findings:
        print(finding.line())
    failed = sum(1 for finding in findings if finding.status is Status.FAIL)
    warned = sum(1 for finding in findings if finding.status is Status.WARN)
    print(f"{failed} failed, {warned} warning(s), {len(findings) - failed - warned} OK")
    return exit_code(findings)
