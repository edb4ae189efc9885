"""Settings read from COMPLAINTOPS_* environment variables."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pydantic import SecretStr, ValidationError

from config import ConfigError, Settings, env_var, load_settings


@pytest.fixture(autouse=True)
def _no_complaintops_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in list(os.environ):
        if name.upper().startswith("COMPLAINTOPS_"):
            monkeypatch.delenv(name)
    yield


def test_defaults() -> None:
    settings = load_settings()
    assert settings.kafka_bootstrap is None
    assert settings.redis_url is None
    assert settings.database_url is None
    assert settings.topic == "complaints.case-events"
    assert settings.dlq_topic == "complaints.case-events.dlq"
    assert settings.metrics_group == "complaintops-metrics"
    assert settings.store_group == "complaintops-store"
    assert settings.timezone == "Asia/Shanghai"
    assert settings.tz == ZoneInfo("Asia/Shanghai")
    assert settings.api_tokens == []
    assert settings.kiosk_tokens == []
    assert settings.data_dir == Path(".complaintops")
    assert settings.rules_dir is None
    assert settings.embedded is False
    assert settings.mode == "demo"
    assert settings.secret_key is None
    assert settings.smtp_host is None
    assert settings.smtp_port == 25
    assert settings.smtp_user is None
    assert settings.smtp_password is None
    assert settings.smtp_tls == "none"
    assert settings.alert_from == "complaintops@localhost"
    assert settings.dashboard_url == "http://127.0.0.1:8050"
    assert settings.batch_size == 500
    assert settings.poll_timeout_ms == 500


def test_every_field_is_described() -> None:
    missing = [name for name, field in Settings.model_fields.items() if not field.description]
    assert missing == []


def test_values_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTOPS_KAFKA_BOOTSTRAP", "kafka-1:9092, kafka-2:9092")
    monkeypatch.setenv("COMPLAINTOPS_REDIS_URL", "redis://redis:6379/0")
    monkeypatch.setenv("COMPLAINTOPS_TIMEZONE", "Asia/Hong_Kong")
    monkeypatch.setenv("COMPLAINTOPS_EMBEDDED", "true")
    monkeypatch.setenv("COMPLAINTOPS_SMTP_PORT", "587")
    monkeypatch.setenv("COMPLAINTOPS_SMTP_TLS", "starttls")
    monkeypatch.setenv("COMPLAINTOPS_SMTP_PASSWORD", "mail-secret")
    monkeypatch.setenv("COMPLAINTOPS_DASHBOARD_URL", "https://ops.example.com/")
    monkeypatch.setenv("COMPLAINTOPS_RULES_DIR", "/etc/complaintops/rules")
    settings = load_settings()
    assert settings.kafka_bootstrap == "kafka-1:9092,kafka-2:9092"
    assert settings.redis_url == "redis://redis:6379/0"
    assert settings.tz == ZoneInfo("Asia/Hong_Kong")
    assert settings.embedded is True
    assert settings.smtp_port == 587
    assert settings.smtp_tls == "starttls"
    assert isinstance(settings.smtp_password, SecretStr)
    assert settings.smtp_password.get_secret_value() == "mail-secret"
    assert settings.dashboard_url == "https://ops.example.com"
    assert settings.rules_dir == Path("/etc/complaintops/rules")


def test_tokens_are_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTOPS_API_TOKENS", " tok-a, tok-b,, tok-c ,")
    monkeypatch.setenv("COMPLAINTOPS_KIOSK_TOKENS", "wall-1")
    settings = load_settings()
    assert settings.api_tokens == ["tok-a", "tok-b", "tok-c"]
    assert settings.kiosk_tokens == ["wall-1"]


def test_tokens_are_not_decoded_as_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTOPS_API_TOKENS", '["x"]')
    assert load_settings().api_tokens == ['["x"]']


def test_blank_tokens_give_an_empty_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTOPS_API_TOKENS", "  ")
    assert load_settings().api_tokens == []


def test_tokens_and_secrets_stay_out_of_repr() -> None:
    settings = load_settings(api_tokens="tok-a", kiosk_tokens="wall-1", secret_key="s3cret")
    text = repr(settings)
    assert "tok-a" not in text and "wall-1" not in text and "s3cret" not in text


def test_overrides_win_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTOPS_BATCH_SIZE", "100")
    assert load_settings().batch_size == 100
    assert load_settings(batch_size=7).batch_size == 7


def test_unknown_override_is_refused() -> None:
    with pytest.raises(TypeError, match="unknown settings field"):
        load_settings(batchsize=7)


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValidationError):
        settings.batch_size = 1


def test_bad_timezone_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COMPLAINTOPS_TIMEZONE", "Mars/Olympus_Mons")
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == (
        "environment: COMPLAINTOPS_TIMEZONE: unknown time zone 'Mars/Olympus_Mons', "
        "expected an IANA name such as 'Asia/Shanghai'"
    )
    assert caught.value.key == "COMPLAINTOPS_TIMEZONE"


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("COMPLAINTOPS_SMTP_PORT", "smtp", "must be an integer from 1 to 65535, got 'smtp'"),
        ("COMPLAINTOPS_BATCH_SIZE", "0", "must be an integer >= 1, got '0'"),
        ("COMPLAINTOPS_MODE", "prod", "must be one of 'demo', 'production', got 'prod'"),
        (
            "COMPLAINTOPS_SMTP_TLS",
            "tls",
            "must be one of 'none', 'starttls', 'ssl', got 'tls'",
        ),
        (
            "COMPLAINTOPS_KAFKA_BOOTSTRAP",
            "kafka-1:9092,kafka-2",
            "expected 'host:port[,host:port]', got 'kafka-2'",
        ),
        (
            "COMPLAINTOPS_REDIS_URL",
            "localhost:6379",
            "expected a URL starting with redis://, rediss:// or unix://",
        ),
        (
            "COMPLAINTOPS_ALERT_FROM",
            "投诉运营@example.com",
            "expected an email address of ASCII characters only, got '投诉运营@example.com'",
        ),
        (
            "COMPLAINTOPS_ALERT_FROM",
            "ops example.com",
            "expected an email address such as ops@example.com, got 'ops example.com'",
        ),
        (
            "COMPLAINTOPS_DASHBOARD_URL",
            "ops.example.com",
            "expected an http:// or https:// address, got 'ops.example.com'",
        ),
    ],
)
def test_bad_value_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, message: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(ConfigError) as caught:
        load_settings()
    assert str(caught.value) == f"environment: {variable}: {message}"


def test_database_url_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    assert settings.resolved_database_url == f"sqlite:///{tmp_path / 'data' / 'complaintops.db'}"


def test_configured_database_url_is_used_as_is() -> None:
    url = "postgresql+psycopg://ops:pw@db:5432/complaintops"
    assert load_settings(database_url=url).resolved_database_url == url


def test_production_requires_a_secret_key() -> None:
    load_settings().require_production_secrets()
    load_settings(mode="production", secret_key="a-long-random-key").require_production_secrets()
    for secret in (None, "", "   "):
        settings = load_settings(mode="production", secret_key=secret)
        with pytest.raises(ConfigError) as caught:
            settings.require_production_secrets()
        assert str(caught.value) == (
            "environment: COMPLAINTOPS_SECRET_KEY: required when COMPLAINTOPS_MODE=production"
        )


def test_env_var_names() -> None:
    assert env_var("timezone") == "COMPLAINTOPS_TIMEZONE"
    assert env_var("api_tokens") == "COMPLAINTOPS_API_TOKENS"
