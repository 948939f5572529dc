"""Configuration: a TOML file plus KEHRABOT_* environment variables (pydantic-settings).

Environment variables win over the file; nested keys use a double underscore,
e.g. KEHRABOT_TELEGRAM__TOKEN. Secrets may instead come from files (``*_file`` keys).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

Language = Literal["fi", "sv", "en"]
TransportName = Literal["console", "telegram", "matrix"]


class ConfigError(Exception):
    """A configuration problem, already phrased as one line for the person running the bot."""


def _read_secret(value: SecretStr | None, file: Path | None, key: str) -> str | None:
    if value is not None:
        return value.get_secret_value()
    if file is not None:
        try:
            return file.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise ConfigError(f"config error: {key}_file: cannot read {file}: {exc.strerror}") from exc
    return None


class TelegramSettings(BaseModel):
    token: SecretStr | None = None
    token_file: Path | None = None
    #: Bot API server; change only for a local Bot API server or tests
    base_url: str = "https://api.telegram.org/bot"
    base_file_url: str = "https://api.telegram.org/file/bot"
    #: public HTTPS URL for webhook mode; empty means long polling
    webhook_url: str | None = None
    webhook_listen: str = "127.0.0.1"
    webhook_port: int = Field(8443, ge=1, le=65535)
    admin_cache_seconds: int = Field(300, ge=0)
    #: webhook secret (X-Telegram-Bot-Api-Secret-Token); when empty, one derived from the token
    #: (the same in every process of the bot)
    webhook_secret: SecretStr | None = None
    #: long-polling timeout of getUpdates, seconds
    poll_timeout: int = Field(30, ge=0, le=50)
    #: Telegram's flood limits held by the bot (scaled down only in tests)
    rate_overall: int = Field(30, ge=1)
    rate_overall_seconds: float = Field(1.0, gt=0)
    rate_group: int = Field(20, ge=1)
    rate_group_seconds: float = Field(60.0, gt=0)
    #: new messages to one chat: rate_chat_burst back to back, then one per rate_chat_seconds
    #: (0: no spacing)
    rate_chat_seconds: float = Field(1.0, ge=0)
    rate_chat_burst: int = Field(3, ge=1)
    #: retries after a 429 or a network error / 5xx, with exponential back-off
    max_retries: int = Field(5, ge=0)
    retry_backoff: float = Field(0.5, gt=0)
    retry_backoff_max: float = Field(30.0, gt=0)
    #: seconds to wait for Telegram's answer to a call (getUpdates: poll_timeout longer); a send
    #: that times out is not repeated (it may have arrived)
    request_timeout: float = Field(15.0, gt=0)

    def secret_token(self) -> str | None:
        return _read_secret(self.token, self.token_file, "telegram.token")

    def secret_webhook(self) -> str | None:
        return self.webhook_secret.get_secret_value() if self.webhook_secret else None


class MatrixSettings(BaseModel):
    homeserver: str | None = None
    user_id: str | None = None
    password: SecretStr | None = None
    password_file: Path | None = None
    access_token: SecretStr | None = None
    access_token_file: Path | None = None
    device_name: str = "kehrabot"
    #: who may invite the bot: full user ids, ":server.name" for a whole server, or "*"
    allowed_inviters: list[str] = Field(default_factory=list)
    encryption: bool = False
    #: where the encryption keys are kept (default data_dir/matrix-crypto); several processes of
    #: one bot share one directory (the syncing process alone opens it)
    crypto_dir: Path | None = None
    #: events per room in one sync response; older ones of a gap are back-filled with /messages
    timeline_limit: int = Field(50, ge=1, le=100)
    sync_timeout_seconds: float = Field(30, gt=0)
    request_timeout_seconds: float = Field(40, gt=0)
    #: longest wait between retries while the homeserver is unreachable
    max_backoff_seconds: float = Field(60, gt=0)
    #: events handled at the same time (order is kept per room and sender)
    max_concurrency: int = Field(16, ge=1)
    #: power level from which a room member counts as a chat admin (Element: 50 moderator, 100 admin)
    admin_power_level: int = 50

    def secret_password(self) -> str | None:
        return _read_secret(self.password, self.password_file, "matrix.password")

    def secret_access_token(self) -> str | None:
        return _read_secret(self.access_token, self.access_token_file, "matrix.access_token")


class LimitSettings(BaseModel):
    #: commands and #idea messages one person may send a minute; admins and coordinators exempt
    per_person_per_minute: int = Field(20, ge=1)
    #: the same for one chat
    per_chat_per_minute: int = Field(60, ge=1)


def _keep_for_backfill(value: int) -> int:
    if 0 < value < 4:
        raise ValueError("0 (keep forever) or at least 4: a digest missed while the bot was down is "
                         "made from these up to 12 weeks late")
    return value


class RetentionSettings(BaseModel):
    """How long raw records are kept, in months; 0 keeps them forever. Enforced nightly at 03:30
    Helsinki time (handlers/retention). What a stored result or digest shows stays."""

    #: weekly message counts and activity marks per chat (the digests keep their figures)
    activity_months: int = Field(24, ge=0)
    #: each vote of a closed or cancelled poll (the closed poll's result stays as counted)
    poll_votes_months: int = Field(12, ge=0)
    #: RSVPs of meeting occurrences that are past
    rsvp_months: int = Field(24, ge=0)
    #: the audit log's records
    audit_months: int = Field(24, ge=0)

    _backfill = field_validator("activity_months", "rsvp_months")(_keep_for_backfill)


class HttpSettings(BaseModel):
    """The bot's HTTP server: /healthz, /readyz, /metrics (bot/http.py); never in console mode."""

    listen: str = "127.0.0.1"
    #: 0: no server
    port: int = Field(0, ge=0, le=65535)
    #: the server's address as the world reaches it ("https://kehra.example.org"), for links to
    #: its calendar feeds; "" = feeds are not offered
    public_url: str = Field("", max_length=500)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="KEHRABOT_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Path("kehrabot-data")
    #: SQLAlchemy URL; empty means SQLite in data_dir. postgresql://… uses asyncpg.
    database_url: str | None = None
    default_language: Language = "fi"
    timezone: str = "Europe/Helsinki"
    #: project coordinators, as platform:user-id ("telegram:12345", "matrix:@pm:example.org")
    coordinators: list[str] = Field(default_factory=list)
    #: the bot's operators, the same way: everything a coordinator is (handlers/permissions.py)
    operators: list[str] = Field(default_factory=list)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    #: which transports to run; empty = Telegram and/or Matrix when configured, else console
    transports: list[TransportName] = Field(default_factory=list)
    telegram: TelegramSettings = Field(default_factory=TelegramSettings)
    matrix: MatrixSettings = Field(default_factory=MatrixSettings)
    #: the rate limit against flooding (handlers/limits.py)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    #: a profile, anonymous poll count or digest figure from fewer respondents than this is not
    #: shown to others (it would reveal one person's answer)
    min_respondents: int = Field(3, ge=1)
    #: how long raw records are kept (months; 0 = forever)
    retention: RetentionSettings = Field(default_factory=RetentionSettings)
    #: this process's name on job leases; default: an id kept in data_dir (give each of several
    #: processes on one database its own data_dir or instance)
    instance: str | None = Field(default=None, max_length=64)
    #: seconds a SIGTERM/SIGINT waits for handlers, jobs and sends in flight
    stop_deadline_seconds: float = Field(default=10.0, gt=0, le=600)
    #: health endpoints and Prometheus metrics (off unless a port is given)
    http: HttpSettings = Field(default_factory=HttpSettings)

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown time zone {value!r}") from exc
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))

    def resolved_database_url(self) -> str:
        url = self.database_url
        if not url:
            return f"sqlite+aiosqlite:///{(self.data_dir / 'kehrabot.sqlite3').as_posix()}"
        for plain in ("postgresql://", "postgres://"):
            if url.startswith(plain):
                return "postgresql+asyncpg://" + url[len(plain):]
        if url.startswith("sqlite:///"):
            return "sqlite+aiosqlite:///" + url[len("sqlite:///"):]
        return url

    def instance_id(self) -> str:
        if self.instance:
            return self.instance
        path = Path(self.data_dir) / "instance-id"
        try:
            return path.read_text().strip() or _new_instance_id(path)
        except FileNotFoundError:
            return _new_instance_id(path)

    def active_transports(self) -> list[str]:
        if self.transports:
            return list(self.transports)
        chosen = []
        if self.telegram.token or self.telegram.token_file:
            chosen.append("telegram")
        if self.matrix.homeserver:
            chosen.append("matrix")
        return chosen or ["console"]


def _new_instance_id(path: Path) -> str:
    import secrets
    import socket

    value = f"{socket.gethostname()[:40]}-{secrets.token_hex(4)}"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(value + "\n")
    return value


def load_settings(path: str | os.PathLike | None = None, **overrides) -> Settings:
    """Load settings from ``path`` (or KEHRABOT_CONFIG, or ./kehrabot.toml if present) and the
    environment. Raises :class:`ConfigError` with a one-line message naming the key."""
    if path is None:
        path = os.environ.get("KEHRABOT_CONFIG") or ("kehrabot.toml" if Path("kehrabot.toml").exists() else None)
    if path is not None and not Path(path).is_file():
        raise ConfigError(f"config error: file {path} not found")

    class _FileSettings(Settings):
        model_config = SettingsConfigDict(**{**Settings.model_config, "toml_file": path})

    try:
        settings = _FileSettings(**overrides)
    except ValidationError as exc:
        raise ConfigError(_one_line(exc)) from None
    except ValueError as exc:  # e.g. malformed TOML
        raise ConfigError(f"config error: {path}: {exc}") from None
    return Settings.model_construct(**dict(settings))


def _one_line(exc: ValidationError) -> str:
    problems = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"]) or "(root)"
        env = "KEHRABOT_" + "__".join(str(p).upper() for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown setting"
        problems.append(f"{key} ({env}): {msg}")
    return "config error: " + "; ".join(problems)
