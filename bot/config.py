"""Settings from the environment and an optional ``.env`` file (pydantic-settings)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit

from pydantic import Field, SecretStr, ValidationError, ValidationInfo, field_validator
from pydantic_core import PydanticUseDefault
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.alerts.planner import QuietHours, parse_offsets, parse_quiet_hours

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_CONTENT_DIR = REPO_ROOT / "content"
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./data/bot.db"

# A bot token is "<bot id>:<secret>"; BotFather's secrets are 35 characters of this alphabet.
TOKEN_PATTERN = re.compile(r"^\d{1,20}:[A-Za-z0-9_-]{30,64}$")
# Telegram's rule for setWebhook's secret_token.
WEBHOOK_SECRET_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


# The ports setWebhook accepts on Telegram's own servers ("Ports currently supported for
# webhooks: 443, 80, 88, 8443", core.telegram.org/bots/api#setwebhook); a local Bot API server
# takes any.
WEBHOOK_PORTS = (443, 80, 88, 8443)
TELEGRAM_API = "https://api.telegram.org/"


def _blank_inside(value: str) -> str | None:
    """What an operator must fix when a URL or path holds a space or a control character."""
    for char in value:
        if char.isspace():
            return "contains a space: remove it, or write it as %20"
        if ord(char) < 32 or ord(char) == 127:
            return f"contains a control character ({ord(char):#04x}): remove it"
    return None


def _url(value: str, schemes: tuple[str, ...], other_scheme: str = "") -> str:
    """``value`` stripped of surrounding blanks, or a ValueError saying what makes it a URL
    nothing could reach (another scheme: ``other_scheme`` if given; no host, a space, a
    port that is not one)."""
    value = value.strip()
    if not value.startswith(tuple(f"{scheme}://" for scheme in schemes)):
        wanted = " or ".join(f"{scheme}://" for scheme in schemes)
        raise ValueError(other_scheme or f"must start with {wanted}")
    blank = _blank_inside(value)
    if blank:
        raise ValueError(blank)
    parts = urlsplit(value)
    if not parts.hostname:
        raise ValueError(f"has no host: write it as {schemes[-1]}://host.example.com/...")
    try:
        parts.port  # noqa: B018 - urlsplit checks the port only when asked for it
    except ValueError:
        raise ValueError(
            f"{parts.netloc.rpartition(':')[2]!r} is not a port (a number from 1 to 65535)"
        ) from None
    return value


# DEADLINE's plausible years (the campaign is a date in this century).
DEADLINE_YEARS = (2000, 2100)


class ConfigError(Exception):
    """A setting is missing or malformed; the message names the variable in one line."""


class Settings(BaseSettings):
    """Every knob an operator can turn; names are part of the product's interface."""

    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    telegram_token: SecretStr | None = None
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    database_url: str = Field(default=DEFAULT_DATABASE_URL, repr=False)  # shown masked
    admin_ids: Annotated[tuple[int, ...], NoDecode] = ()
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    log_format: Literal["text", "json"] = "text"
    content_dir: Path = DEFAULT_CONTENT_DIR

    # Alerts (operator overrides of content/campaign.yaml).
    deadline: datetime | None = None
    alert_offsets: Annotated[tuple[timedelta, ...] | None, NoDecode] = None
    # No alerts at night unless the operator says otherwise (QUIET_HOURS= empty: none).
    quiet_hours: Annotated[QuietHours | None, NoDecode] = QuietHours(21, 8)
    # At least one message per ten seconds: below that the budget's timers overflow.
    send_rate: float = Field(default=25.0, ge=0.1, le=1000, allow_inf_nan=False)
    allow_paid_broadcast: bool = False
    # One "your plan changed" notice per merchant when a content release changes their plan.
    plan_change_notices: bool = True

    # Privacy: erase merchants inactive this many days (None keeps data until they delete it).
    retention_days: int | None = Field(default=None, ge=1, le=36500)

    # Web server (serve mode).
    host: str = "0.0.0.0"
    port: int = Field(default=8080, ge=1, le=65535)
    webhook_path: str = "/telegram"
    webhook_url: str | None = None
    webhook_secret: SecretStr | None = None
    # /metrics, /livez and /readyz on their own port (serve: instead of the public one; remind
    # and run: only when set).
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # serve: connections held at once; more are answered 503 and closed at once.
    max_connections: int = Field(default=1000, ge=1, le=100_000)
    # serve: seconds /readyz answers 503 after SIGTERM before the listener closes (a second
    # SIGTERM ends the wait early).
    shutdown_grace: float = Field(default=0.0, ge=0, le=600)
    # Seconds an update being handled stays leased to its process; after a crash, the
    # update is handled again once the lease has run out (serve: by any instance).
    inbox_lease: float = Field(default=60.0, ge=1, le=3600)

    # Operator console (bot.console): the public origin login links point at, an optional
    # port of its own, and the key that signs login links and sessions (derived from the
    # bot token when unset).
    public_url: str | None = None
    console_port: int | None = Field(default=None, ge=1, le=65535)
    console_secret: SecretStr | None = None

    @field_validator("admin_ids", mode="before")
    @classmethod
    def _split_ids(cls, value: object) -> object:
        if isinstance(value, str):
            items = [item.strip() for item in value.split(",") if item.strip()]
            try:
                ids = tuple(int(item) for item in items)
            except ValueError:
                raise ValueError("must be comma-separated Telegram user ids") from None
            if any(i <= 0 for i in ids):
                # Group and channel ids are negative: /stats and /console answer people.
                raise ValueError(
                    "must be people's Telegram user ids (positive numbers); a group or"
                    " channel id (negative) cannot use /stats or /console"
                )
            return ids
        return value

    @field_validator(
        "retention_days",
        "deadline",
        "webhook_url",
        "webhook_secret",
        "telegram_token",
        "metrics_port",
        "public_url",
        "console_port",
        "console_secret",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator(
        "telegram_base_url",
        "telegram_base_file_url",
        "log_level",
        "log_format",
        "content_dir",
        "send_rate",
        "allow_paid_broadcast",
        "plan_change_notices",
        "host",
        "port",
        "webhook_path",
        "max_connections",
        "shutdown_grace",
        "inbox_lease",
        mode="before",
    )
    @classmethod
    def _blank_is_default(cls, value: object) -> object:
        # `LOG_LEVEL=` (a .env made from .env.example) means the default, as for the optional
        # settings above; DATABASE_URL= stays an error, QUIET_HOURS= means none (documented).
        if isinstance(value, str) and not value.strip():
            raise PydanticUseDefault()
        return value

    @field_validator("log_level", mode="before")
    @classmethod
    def _upper(cls, value: object) -> object:
        return value.upper() if isinstance(value, str) else value

    @field_validator("deadline")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("must include a timezone, e.g. 2023-09-12T00:00:00+00:00")
        if value is not None and not DEADLINE_YEARS[0] <= value.year <= DEADLINE_YEARS[1]:
            # Every alert and countdown is computed from it: years at the calendar's edge
            # overflow mid-conversation.
            raise ValueError(
                "must be a date between 2000 and 2100, e.g. 2023-09-12T00:00:00+00:00"
            )
        return value

    @field_validator("alert_offsets", mode="before")
    @classmethod
    def _offsets(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_offsets(value) if value.strip() else None
        return value

    @field_validator("quiet_hours", mode="before")
    @classmethod
    def _quiet(cls, value: object) -> object:
        if isinstance(value, str):
            return parse_quiet_hours(value)
        return value

    @field_validator("telegram_base_url", "telegram_base_file_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _url(value, ("http", "https"))

    @field_validator("webhook_url")
    @classmethod
    def _https(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        # Telegram only delivers webhooks over TLS; setWebhook would refuse anything else.
        https_only = "must start with https:// (Telegram delivers webhooks over TLS only)"
        value = _url(value, ("https",), https_only)
        port = urlsplit(value).port
        api = str(info.data.get("telegram_base_url", TELEGRAM_API))
        if port is not None and port not in WEBHOOK_PORTS and api.startswith(TELEGRAM_API):
            ports = ", ".join(str(p) for p in WEBHOOK_PORTS[:-1])
            raise ValueError(
                f"port {port}: Telegram delivers webhooks only to ports {ports} or"
                f" {WEBHOOK_PORTS[-1]} (let a proxy there forward to PORT)"
            )
        return value

    @field_validator("public_url")
    @classmethod
    def _origin(cls, value: str | None) -> str | None:
        if value is None:
            return None
        example = "must be an http:// or https:// URL, e.g. https://bot.example.com"
        value = _url(value, ("http", "https"), example).rstrip("/")
        parts = urlsplit(value)
        if parts.path or parts.query or parts.fragment:
            # The console lives at /console of that origin (its pages link there).
            raise ValueError(
                "must be an origin only (scheme and host), e.g. https://bot.example.com"
            )
        return value

    @field_validator("console_secret")
    @classmethod
    def _long_enough(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < 32:
            raise ValueError("must be at least 32 characters (e.g. `openssl rand -hex 32`)")
        return value

    @field_validator("webhook_path")
    @classmethod
    def _path(cls, value: str) -> str:
        value = value.strip()
        if not value.startswith("/"):
            raise ValueError("must start with /")
        blank = _blank_inside(value)
        if blank:
            raise ValueError(blank)
        if "?" in value or "#" in value:
            raise ValueError("must be a path only, e.g. /telegram (no ? or #)")
        return value

    def token(self) -> str:
        """The bot token, or a ConfigError naming TELEGRAM_TOKEN when it is missing/malformed."""
        if self.telegram_token is None or not self.telegram_token.get_secret_value().strip():
            raise ConfigError(
                "TELEGRAM_TOKEN is not set: get a token from @BotFather and set TELEGRAM_TOKEN"
            )
        token = self.telegram_token.get_secret_value().strip()
        if not TOKEN_PATTERN.match(token):
            raise ConfigError(
                "TELEGRAM_TOKEN is malformed: expected '<digits>:<35 letters, digits, _ or ->'"
                " as @BotFather gives it"
            )
        return token

    def secret(self) -> str:
        """The webhook secret, or a ConfigError naming WEBHOOK_SECRET."""
        if self.webhook_secret is None:
            raise ConfigError(
                "WEBHOOK_SECRET is not set: serve needs 1-256 characters of A-Z a-z 0-9 _ -"
            )
        secret = self.webhook_secret.get_secret_value()
        if not WEBHOOK_SECRET_PATTERN.match(secret):
            raise ConfigError(
                "WEBHOOK_SECRET is malformed: use 1-256 characters of A-Z a-z 0-9 _ -"
            )
        return secret

    def check_ports(self, mode: Literal["run", "serve", "remind"]) -> None:
        """A ConfigError when two settings give a mode the same port to listen on (each
        would otherwise be "address already in use", as if another program held it)."""
        ports = {
            "PORT": self.port if mode == "serve" else None,
            "METRICS_PORT": self.metrics_port,
            "CONSOLE_PORT": self.console_port if mode != "remind" else None,
        }
        first: dict[int, str] = {}
        for name, port in ports.items():
            if port is None:
                continue
            if port in first:
                raise ConfigError(
                    f"{first[port]} and {name} are both {port}: give each its own port"
                    f" (or leave {name} unset)"
                )
            first[port] = name

    def secrets(self) -> tuple[str, ...]:
        """Every secret value that must never reach a log line (the database password too)."""
        values = [self.telegram_token, self.webhook_secret, self.console_secret]
        found = [v.get_secret_value() for v in values if v and v.get_secret_value()]
        password = database_password(self.database_url)
        if password:
            found += [password, unquote(password)]
        return tuple(dict.fromkeys(found))

    def masked_database_url(self) -> str:
        """DATABASE_URL with its password replaced by ``***``."""
        return mask_url(self.database_url)

    def __repr_args__(self) -> Any:
        """The fields for repr(): DATABASE_URL with its password masked."""
        for name, value in super().__repr_args__():
            yield name, value
            if name == "telegram_base_file_url":
                yield "database_url", self.masked_database_url()


def database_password(url: str) -> str | None:
    """The password inside a database URL, as written (percent-encoded), or None."""
    try:
        return urlsplit(url).password
    except ValueError:
        return None


def mask_url(url: str) -> str:
    """``url`` with the password (if any) replaced by ``***``."""
    password = database_password(url)
    if not password:
        return url
    scheme, rest = url.split("://", 1) if "://" in url else ("", url)
    userinfo, at, host = rest.rpartition("@")
    user = userinfo.split(":", 1)[0]
    return f"{scheme}://{user}:***{at}{host}" if scheme else f"{user}:***{at}{host}"


def load_settings(**overrides: object) -> Settings:
    """Build Settings; turn validation errors into one-line ConfigErrors naming the variable."""
    try:
        return Settings(**overrides)  # type: ignore[arg-type]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        message = str(first["msg"]).removeprefix("Value error, ")
        # A parser shared with content files names the setting itself: say it once.
        if message.startswith(f"{name} ") and not message.startswith(f"{name} is "):
            message = message.removeprefix(f"{name} ")
        raise ConfigError(f"{name} is invalid: {message}") from None
