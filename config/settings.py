"""The runtime settings: one frozen object read from ``COMPLAINTOPS_*`` environment variables."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from config.errors import ENVIRONMENT, ConfigError
from config.yaml_loader import describe_error

ENV_PREFIX = "COMPLAINTOPS_"

_TokenList = Annotated[list[str], NoDecode]


def env_var(field_name: str) -> str:
    """The environment variable that sets a field, e.g. ``timezone`` → ``COMPLAINTOPS_TIMEZONE``."""
    return f"{ENV_PREFIX}{field_name.upper()}"


class Settings(BaseSettings):
    """Everything the services need to know about their surroundings.

    Each field is set by the environment variable ``COMPLAINTOPS_<FIELD NAME>``.
    Business rules (teams, clocks, the wall display) live in YAML rule files instead.
    """

    model_config = SettingsConfigDict(env_prefix=ENV_PREFIX, frozen=True, extra="ignore")

    kafka_bootstrap: str | None = Field(
        default=None,
        description=(
            "Kafka bootstrap servers as 'host:port[,host:port]'. "
            "Unset: the demo starts its embedded broker."
        ),
    )
    redis_url: str | None = Field(
        default=None,
        description=(
            "Redis (or Valkey) URL, e.g. 'redis://localhost:6379/0'. "
            "Unset: the demo starts its embedded Valkey server."
        ),
    )
    redis_cluster: bool = Field(
        default=False,
        description=(
            "The Redis URL names one node of a Redis Cluster: the client discovers the "
            "others and follows slot moves. The read model keeps to one hash slot."
        ),
    )
    database_url: str | None = Field(
        default=None,
        description=(
            "SQLAlchemy database URL, e.g. 'postgresql+psycopg://user:pass@host/db'. "
            "Unset: SQLite at <data_dir>/complaintops.db."
        ),
    )
    topic: str = Field(
        default="complaints.case-events",
        min_length=1,
        description="Kafka topic carrying the case events.",
    )
    dlq_topic: str = Field(
        default="complaints.case-events.dlq",
        min_length=1,
        description="Kafka topic receiving invalid case events, with the reason in headers.",
    )
    metrics_group: str = Field(
        default="complaintops-metrics",
        min_length=1,
        description="Kafka consumer group of the Redis metrics consumer.",
    )
    store_group: str = Field(
        default="complaintops-store",
        min_length=1,
        description="Kafka consumer group of the SQL store consumer.",
    )
    timezone: str = Field(
        default="Asia/Shanghai",
        description="Business time zone (IANA name) for dates, deadlines and leaderboards.",
    )
    api_tokens: _TokenList = Field(
        default_factory=list,
        repr=False,
        description="Bearer tokens accepted by the JSON API, comma-separated.",
    )
    kiosk_tokens: _TokenList = Field(
        default_factory=list,
        repr=False,
        description="Tokens that open the wall display (kiosk) without a login, comma-separated.",
    )
    data_dir: Path = Field(
        default=Path(".complaintops"),
        description="Folder for local data: the SQLite database and embedded services' files.",
    )
    rules_dir: Path | None = Field(
        default=None,
        description=(
            "Folder of YAML rule files (teams.yaml, clocks.yaml, wall.yaml, ...); "
            "each file found there replaces the shipped default of the same name."
        ),
    )
    embedded: bool = Field(
        default=False,
        description="Running against the embedded broker: short Kafka session and poll timeouts.",
    )
    mode: Literal["demo", "production"] = Field(
        default="demo",
        description="'production' refuses to start without COMPLAINTOPS_SECRET_KEY.",
    )
    secret_key: str | None = Field(
        default=None,
        repr=False,
        description="Key signing the dashboard's session cookies; required in production.",
    )
    smtp_host: str | None = Field(
        default=None,
        description="SMTP server for alert emails. Unset: alert emails are not sent.",
    )
    smtp_port: int = Field(default=25, ge=1, le=65535, description="SMTP server port.")
    smtp_user: str | None = Field(default=None, description="SMTP login user, if any.")
    smtp_password: SecretStr | None = Field(default=None, description="SMTP login password.")
    smtp_tls: Literal["none", "starttls", "ssl"] = Field(
        default="none",
        description="SMTP transport security: 'none', 'starttls' or 'ssl' (implicit TLS).",
    )
    alert_from: str = Field(
        default="complaintops@localhost",
        min_length=3,
        description="Sender address of alert emails.",
    )
    dashboard_url: str = Field(
        default="http://127.0.0.1:8050",
        description="Public address of the dashboard, used for links in alert emails.",
    )
    batch_size: int = Field(
        default=500, ge=1, description="Most records a consumer takes in one poll."
    )
    poll_timeout_ms: int = Field(
        default=500, ge=0, description="How long a consumer poll waits for records, in ms."
    )
    metrics_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="Port of the Prometheus metrics endpoint of each long-running process "
        "(consumers, scheduler, web server); none when unset.",
    )
    log_format: Literal["text", "json"] = Field(
        default="text", description="Log lines as plain text or as one JSON object per line."
    )

    @field_validator("api_tokens", "kiosk_tokens", mode="before")
    @classmethod
    def _split_tokens(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = value.split(",")
        if isinstance(value, list | tuple):
            return [token.strip() for token in value if not isinstance(token, str) or token.strip()]
        return value

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown time zone {value!r}, expected an IANA name such as 'Asia/Shanghai'"
            ) from None
        return value

    @field_validator("kafka_bootstrap")
    @classmethod
    def _host_port_list(cls, value: str | None) -> str | None:
        if value is None:
            return None
        servers = [server.strip() for server in value.split(",") if server.strip()]
        if not servers:
            raise ValueError("expected 'host:port[,host:port]', got an empty value")
        for server in servers:
            host, _, port = server.rpartition(":")
            if not host or not port.isdigit() or not 1 <= int(port) <= 65535:
                raise ValueError(f"expected 'host:port[,host:port]', got {server!r}")
        return ",".join(servers)

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("expected a URL starting with redis://, rediss:// or unix://")
        return value

    @field_validator("alert_from")
    @classmethod
    def _sender_address(cls, value: str) -> str:
        local, at, domain = value.partition("@")
        if not (at and local and domain) or any(ch.isspace() for ch in value):
            raise ValueError(f"expected an email address such as ops@example.com, got {value!r}")
        if not value.isascii():
            # Alert email goes out without SMTPUTF8: it could never be sent.
            raise ValueError(f"expected an email address of ASCII characters only, got {value!r}")
        return value

    @field_validator("dashboard_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError(f"expected an http:// or https:// address, got {value!r}")
        return value.rstrip("/")

    @property
    def tz(self) -> ZoneInfo:
        """The business time zone."""
        return ZoneInfo(self.timezone)

    @property
    def resolved_database_url(self) -> str:
        """The database URL to use: the configured one, else SQLite in the data directory."""
        if self.database_url:
            return self.database_url
        database = (self.data_dir.expanduser().resolve() / "complaintops.db").as_posix()
        return f"sqlite:///{database}"

    def require_production_secrets(self) -> None:
        """Raise ConfigError when running in production without the secrets it needs."""
        if self.mode == "production" and not (self.secret_key and self.secret_key.strip()):
            raise ConfigError(
                ENVIRONMENT,
                env_var("secret_key"),
                f"required when {env_var('mode')}=production",
            )


def load_settings(**overrides: Any) -> Settings:
    """Read the settings from the environment; keyword overrides win over the environment.

    Raises ConfigError naming the environment variable of the first bad value,
    and TypeError for an override that is not a settings field.
    """
    unknown = sorted(set(overrides) - set(Settings.model_fields))
    if unknown:
        raise TypeError(f"unknown settings field(s): {', '.join(unknown)}")
    try:
        return Settings(**overrides)
    except ValidationError as error:
        location, message = describe_error(Settings, error.errors(include_url=False)[0])
        variable = env_var(str(location[0])) if location else f"{ENV_PREFIX}*"
        raise ConfigError(ENVIRONMENT, variable, message) from None
