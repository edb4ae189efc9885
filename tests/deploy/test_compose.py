"""docker-compose.yml, checked statically: real commands, real settings, sound dependencies.

Docker is not needed: the file is parsed with PyYAML, every service's command
goes through the CLI's own parser, and every COMPLAINTOPS_* variable must be a
setting that loads.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml

from complaintops.cli import build_parser
from config import ConfigError, Settings, check_config, env_var, load_settings

ROOT = Path(__file__).resolve().parents[2]
COMPOSE_FILE = ROOT / "docker-compose.yml"
REDIS_CONF = ROOT / "deploy" / "redis" / "redis.conf"
TOPICS_SCRIPT = ROOT / "deploy" / "kafka" / "create-topics.sh"
ENV_EXAMPLE = ROOT / "deploy" / "complaintops.env.example"
OPERATIONS_GUIDE = ROOT / "docs" / "operations.md"

SETTING_VARIABLES = frozenset(env_var(name) for name in Settings.model_fields)
VARIABLE = re.compile(r"\bCOMPLAINTOPS_[A-Z0-9_]+\b")
INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}")
SCALABLE = ("consumer-metrics", "consumer-store")

SAMPLE_SECRETS = {
    "POSTGRES_PASSWORD": "0123456789abcdef",
    "COMPLAINTOPS_SECRET_KEY": "a-long-random-signing-key",
}


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document: dict[str, Any] = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))
    return document


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, dict[str, Any]]:
    result: dict[str, dict[str, Any]] = compose["services"]
    return result


def app_services(services: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """The services running the ComplaintOps image."""
    return {name: spec for name, spec in services.items() if "build" in spec}


def interpolate(value: str, environment: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} against ``environment``."""

    def replace(match: re.Match[str]) -> str:
        name, operator, argument = match.group(1), match.group(2), match.group(3)
        if name in environment and environment[name] != "":
            return environment[name]
        if operator in (":-", "-"):
            return argument or ""
        if operator in (":?", "?"):
            raise AssertionError(f"compose would stop: {argument}")
        return ""

    return INTERPOLATION.sub(replace, value)


def service_environment(spec: dict[str, Any], host: dict[str, str]) -> dict[str, str]:
    environment = spec.get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {name: interpolate(str(value), host) for name, value in environment.items()}


def depends_on(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    value = spec.get("depends_on") or {}
    if isinstance(value, list):
        return {name: {"condition": "service_started"} for name in value}
    return dict(value)


# -- our services --------------------------------------------------------------------


def test_the_expected_services_exist(services: dict[str, dict[str, Any]]) -> None:
    assert {
        "kafka",
        "kafka-topics",
        "redis",
        "postgres",
        "mailpit",
        "migrate",
        "consumer-metrics",
        "consumer-store",
        "scheduler",
        "dashboard",
        "simulator",
    } <= set(services)


def test_every_command_is_a_real_complaintops_subcommand(
    services: dict[str, dict[str, Any]],
) -> None:
    ours = app_services(services)
    assert len(ours) >= 6
    for name, spec in ours.items():
        command = spec.get("command")
        assert isinstance(command, list) and command, f"{name}: command must be an argv list"
        try:
            args = build_parser().parse_args(command)
        except SystemExit as exit_:
            pytest.fail(f"{name}: `complaintops {' '.join(command)}` is refused ({exit_})")
        assert callable(getattr(args, "func", None)), name


def test_the_roles_run_the_intended_commands(services: dict[str, dict[str, Any]]) -> None:
    expected = {
        "migrate": ["db", "upgrade"],
        "consumer-metrics": ["consume", "metrics"],
        "consumer-store": ["consume", "store"],
        "scheduler": ["scheduler"],
    }
    for name, argv in expected.items():
        assert services[name]["command"] == argv, name
    dashboard = build_parser().parse_args(services["dashboard"]["command"])
    assert dashboard.command == "serve"
    assert dashboard.host == "0.0.0.0"
    assert dashboard.threads > 1
    assert services["simulator"]["command"][0] == "simulate"


def test_app_services_share_one_image_built_from_the_dockerfile(
    services: dict[str, dict[str, Any]],
) -> None:
    ours = app_services(services)
    images = {spec["image"] for spec in ours.values()}
    assert len(images) == 1
    for name, spec in ours.items():
        assert spec["build"] == {"context": ".", "dockerfile": "Dockerfile"}, name


# -- configuration -------------------------------------------------------------------


def test_every_complaintops_variable_in_the_deployment_files_is_a_setting() -> None:
    for path in (COMPOSE_FILE, ENV_EXAMPLE, ROOT / "Dockerfile", OPERATIONS_GUIDE):
        unknown = sorted(
            set(VARIABLE.findall(path.read_text(encoding="utf-8"))) - SETTING_VARIABLES
        )
        assert not unknown, f"{path.name} names variables that are no setting: {unknown}"


def test_every_service_environment_loads_as_valid_settings(
    services: dict[str, dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, spec in app_services(services).items():
        environment = service_environment(spec, SAMPLE_SECRETS)
        for variable in SETTING_VARIABLES:
            monkeypatch.delenv(variable, raising=False)
        for variable, value in environment.items():
            monkeypatch.setenv(variable, value)
        try:
            settings = load_settings()
            settings.require_production_secrets()
        except ConfigError as error:
            pytest.fail(f"{name}: {error}")
        assert settings.mode == "production", name
        assert settings.database_url and settings.database_url.startswith("postgresql+psycopg://")


def test_required_secrets_stop_compose_when_missing(services: dict[str, dict[str, Any]]) -> None:
    spec = services["dashboard"]
    with pytest.raises(AssertionError, match="POSTGRES_PASSWORD"):
        service_environment(spec, {"COMPLAINTOPS_SECRET_KEY": "x"})
    with pytest.raises(AssertionError, match="COMPLAINTOPS_SECRET_KEY"):
        service_environment(spec, {"POSTGRES_PASSWORD": "x"})


def test_addresses_point_at_the_compose_services(services: dict[str, dict[str, Any]]) -> None:
    environment = service_environment(services["dashboard"], SAMPLE_SECRETS)
    kafka_host, _, kafka_port = environment["COMPLAINTOPS_KAFKA_BOOTSTRAP"].rpartition(":")
    assert kafka_host in services
    assert (
        f"PLAINTEXT://{kafka_host}:{kafka_port}"
        in (services["kafka"]["environment"]["KAFKA_ADVERTISED_LISTENERS"])
    )
    assert urlsplit(environment["COMPLAINTOPS_REDIS_URL"]).hostname == "redis"
    database = urlsplit(environment["COMPLAINTOPS_DATABASE_URL"])
    assert database.hostname == "postgres"
    postgres = services["postgres"]["environment"]
    assert database.username == postgres["POSTGRES_USER"]
    assert database.path.lstrip("/") == postgres["POSTGRES_DB"]
    assert environment["COMPLAINTOPS_SMTP_HOST"] == "mailpit"
    assert environment["COMPLAINTOPS_SMTP_PORT"] == "1025"


def test_rule_files_are_mounted_where_the_rules_dir_points(
    services: dict[str, dict[str, Any]],
) -> None:
    for name, spec in app_services(services).items():
        rules_dir = service_environment(spec, SAMPLE_SECRETS)["COMPLAINTOPS_RULES_DIR"]
        mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in spec["volumes"]}
        assert rules_dir in mounts, f"{name}: nothing mounted at {rules_dir}"
        assert (ROOT / mounts[rules_dir]).is_dir(), mounts[rules_dir]


def test_the_mounted_rule_files_pass_check_config(services: dict[str, dict[str, Any]]) -> None:
    spec = services["dashboard"]
    mounts = {volume.split(":")[1]: volume.split(":")[0] for volume in spec["volumes"]}
    environment = service_environment(spec, SAMPLE_SECRETS)
    host_rules = ROOT / mounts[environment["COMPLAINTOPS_RULES_DIR"]]
    lines = check_config(load_settings(rules_dir=host_rules, secret_key="x", mode="production"))
    assert any(line.startswith("teams:") for line in lines)


# -- dependencies and health ---------------------------------------------------------


def test_depends_on_conditions_are_satisfiable(services: dict[str, dict[str, Any]]) -> None:
    for name, spec in services.items():
        for target, options in depends_on(spec).items():
            assert target in services, f"{name} depends on unknown service {target}"
            condition = options.get("condition", "service_started")
            other = services[target]
            if condition == "service_healthy":
                assert "healthcheck" in other, (
                    f"{name} waits for {target}, which has no healthcheck"
                )
                assert other["healthcheck"].get("test"), target
            elif condition == "service_completed_successfully":
                assert other.get("restart") == "no", f"{target} must be a one-shot (restart: 'no')"
                assert "healthcheck" not in other, target
            else:
                assert condition == "service_started", f"{name}: unknown condition {condition}"
            if "profiles" in other:
                assert set(other["profiles"]) <= set(spec.get("profiles", [])), (
                    f"{name} depends on {target}, which only runs in profiles {other['profiles']}"
                )


def test_one_shot_services_run_once(services: dict[str, dict[str, Any]]) -> None:
    for name in ("migrate", "kafka-topics"):
        assert services[name]["restart"] == "no", name
    for name in ("consumer-metrics", "consumer-store", "scheduler", "dashboard"):
        assert services[name]["restart"] == "unless-stopped", name
        assert depends_on(services[name]), f"{name} starts before its services"


def test_consumers_wait_for_the_topics_and_the_database_schema(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in SCALABLE:
        assert depends_on(services[name])["kafka-topics"]["condition"] == (
            "service_completed_successfully"
        )
    for name in ("consumer-store", "scheduler", "dashboard"):
        assert depends_on(services[name])["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_the_dashboard_health_check_asks_the_health_endpoint(
    services: dict[str, dict[str, Any]],
) -> None:
    dashboard = services["dashboard"]
    args = build_parser().parse_args(dashboard["command"])
    probe = " ".join(dashboard["healthcheck"]["test"])
    assert f"http://127.0.0.1:{args.port}/api/v1/health" in probe
    assert dashboard["ports"] == [f"{args.port}:{args.port}"]


# -- scaling and storage -------------------------------------------------------------


def test_scalable_consumers_have_no_fixed_name_or_host_port(
    services: dict[str, dict[str, Any]],
) -> None:
    for name in SCALABLE:
        assert "container_name" not in services[name], name
        assert "ports" not in services[name], name
        assert "hostname" not in services[name], name
    assert not [name for name, spec in services.items() if "container_name" in spec]


def test_state_lives_in_named_volumes(
    compose: dict[str, Any], services: dict[str, dict[str, Any]]
) -> None:
    declared = set(compose["volumes"])
    expected = {
        "postgres": "/var/lib/postgresql/data",
        "redis": "/data",
        "kafka": "/var/lib/kafka/data",
    }
    for service, target in expected.items():
        named = {
            volume.split(":")[0]
            for volume in services[service]["volumes"]
            if volume.split(":")[1] == target
        }
        assert named and named <= declared, f"{service} keeps {target} in no named volume"
    assert services["kafka"]["environment"]["KAFKA_LOG_DIRS"] == expected["kafka"]


def test_postgres_16(services: dict[str, dict[str, Any]]) -> None:
    assert services["postgres"]["image"].startswith("postgres:16")


def test_the_simulator_runs_only_in_the_demo_profile(services: dict[str, dict[str, Any]]) -> None:
    assert services["simulator"]["profiles"] == ["demo"]
    assert [name for name, spec in services.items() if "profiles" in spec] == ["simulator"]


# -- Redis -----------------------------------------------------------------------------


def redis_directives() -> dict[str, str]:
    directives: dict[str, str] = {}
    for line in REDIS_CONF.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            key, _, value = line.partition(" ")
            directives[key] = value.strip()
    return directives


def test_redis_persists_with_aof_and_never_evicts(services: dict[str, dict[str, Any]]) -> None:
    directives = redis_directives()
    assert directives["appendonly"] == "yes"
    assert directives["maxmemory-policy"] == "noeviction"
    assert directives["dir"] == "/data"
    redis = services["redis"]
    config_target = redis["command"][-1]
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in redis["volumes"]}
    assert (ROOT / mounted[config_target]).resolve() == REDIS_CONF


# -- Kafka -----------------------------------------------------------------------------


def test_kafka_runs_in_kraft_mode_without_auto_created_topics(
    services: dict[str, dict[str, Any]],
) -> None:
    kafka = services["kafka"]
    assert kafka["image"].startswith("apache/kafka:")
    environment = kafka["environment"]
    assert set(environment["KAFKA_PROCESS_ROLES"].split(",")) == {"broker", "controller"}
    assert not [name for name in environment if "ZOOKEEPER" in name]
    assert environment["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] == "false"
    cluster_id = interpolate(environment["CLUSTER_ID"], {})
    assert re.fullmatch(r"[A-Za-z0-9_-]{22}", cluster_id), "CLUSTER_ID: 16 bytes in base64url"


def test_topics_are_created_with_the_documented_partitions(
    services: dict[str, dict[str, Any]],
) -> None:
    topics = services["kafka-topics"]
    assert topics["image"] == services["kafka"]["image"]
    environment = topics["environment"]
    settings = Settings()
    assert environment["TOPIC"] == settings.topic
    assert environment["DLQ_TOPIC"] == settings.dlq_topic
    assert environment["TOPIC_PARTITIONS"] == "12"
    assert environment["DLQ_PARTITIONS"] == "3"
    script_target = topics["entrypoint"][-1]
    mounted = {volume.split(":")[1]: volume.split(":")[0] for volume in topics["volumes"]}
    assert (ROOT / mounted[script_target]).resolve() == TOPICS_SCRIPT
    script = TOPICS_SCRIPT.read_text(encoding="utf-8")
    assert "kafka-topics.sh" in script
    assert "--if-not-exists" in script
    for name in ("TOPIC", "DLQ_TOPIC", "TOPIC_PARTITIONS", "DLQ_PARTITIONS"):
        assert f'{name}="${{{name}:-{environment[name]}}}"' in script, name


def test_the_topic_script_is_valid_bash() -> None:
    result = subprocess.run(
        ["bash", "-n", str(TOPICS_SCRIPT)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stderr


# -- the operator's guide --------------------------------------------------------------

GUIDE_RUN = re.compile(r"docker compose run --rm (?:-T )?(migrate|dashboard)\b(.*)")


def guide_snippets() -> list[str]:
    """The guide's shell: lines of fenced code blocks and inline code spans."""
    snippets: list[str] = []
    fenced = False
    for line in OPERATIONS_GUIDE.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
            continue
        snippets += [line] if fenced else re.findall(r"`([^`]+)`", line)
    return snippets


def guide_commands() -> list[list[str]]:
    """The complaintops argv of every `docker compose run --rm migrate ...` in the guide."""
    commands: list[list[str]] = []
    for snippet in guide_snippets():
        match = GUIDE_RUN.search(snippet)
        if match is None:
            continue
        rest = re.split(r"\s(?:<|>|\|\||\|)\s", match.group(2))[0].strip()
        commands.append(shlex.split(rest, comments=True))
    return commands


def test_the_guides_commands_are_real(services: dict[str, dict[str, Any]]) -> None:
    commands = guide_commands()
    assert len(commands) >= 10
    for argv in commands:
        argv = argv or services["migrate"]["command"]
        try:
            build_parser().parse_args(argv)
        except SystemExit as exit_:
            pytest.fail(f"docs/operations.md: `complaintops {' '.join(argv)}` is refused ({exit_})")
