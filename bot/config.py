"""Settings read from the environment and `.env`, validated once at start-up."""

from __future__ import annotations

import ipaddress
import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, NamedTuple, Self
from urllib.parse import urlsplit

from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

PositiveSeconds = Annotated[float, Field(gt=0)]
# Parsed from the setting's text, so "0.10" is exactly 0.10 and never a binary float.
Money = Annotated[Decimal, Field(ge=0, allow_inf_nan=False)]


def _parse_id_list(value: Any) -> Any:
    """Accept `1,2,3`, `[1,2,3]`, a single id or nothing."""
    if isinstance(value, int):
        return [value]
    if not isinstance(value, str):
        return value
    text = value.strip()
    if not text:
        return []
    if text.startswith("["):
        try:
            return json.loads(text)
        except json.JSONDecodeError:
            raise ValueError("expected Telegram user ids like 1,2,3 or [1,2,3]") from None
    return [part.strip() for part in text.split(",") if part.strip()]


# Telegram delivers webhooks only to these ports, and checks the secret's alphabet.
WEBHOOK_PORTS = frozenset({443, 80, 88, 8443})
WEBHOOK_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


class ListenAddress(NamedTuple):
    host: str
    port: int

    def __str__(self) -> str:
        return f"[{self.host}]:{self.port}" if ":" in self.host else f"{self.host}:{self.port}"


def _parse_address(value: Any) -> Any:
    """`host:port` (an IPv6 host in brackets) into a `ListenAddress`; port 0 picks a free one."""
    if not isinstance(value, str):
        return value
    text = value.strip()
    try:
        parts = urlsplit(f"//{text}")
        host, port = parts.hostname, parts.port
    except ValueError:
        host = port = None
    if not host or port is None or parts.path or parts.username:
        raise ValueError(f"expected host:port like 127.0.0.1:8080, got {text!r}")
    return ListenAddress(host, port)


def _public_host(host: str) -> bool:
    """Telegram delivers neither to local names nor to private or reserved addresses."""
    name = host.strip("[]").lower()
    if name == "localhost" or name.endswith((".localhost", ".local", ".internal")):
        return False
    try:
        address = ipaddress.ip_address(name)
    except ValueError:
        return "." in name
    # Telegram refuses IPv6 addresses altogether.
    return address.version == 4 and address.is_global


IdList = Annotated[list[int], NoDecode]
Address = Annotated[ListenAddress, NoDecode]
StarList = Annotated[list[Annotated[int, Field(ge=1)]], NoDecode]


class Settings(BaseSettings):
    """Every knob of the bot; names match the environment variables."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    bot_token: SecretStr
    smsman_token: SecretStr
    telegram_api_url: AnyHttpUrl | None = None
    smsman_api_url: AnyHttpUrl = AnyHttpUrl("https://api.sms-man.com/control")
    database_path: Path = Path("data/bot.sqlite3")
    admin_ids: IdList = []
    allowed_user_ids: IdList = []
    poll_interval_seconds: PositiveSeconds = 3.0
    order_timeout_seconds: PositiveSeconds = 900.0
    smsman_max_rps: PositiveSeconds = 5.0
    # Telegram's own limits on sends and edits, which the bot keeps under by itself.
    telegram_max_sends_per_s: PositiveSeconds = 30.0
    telegram_chat_sends_per_s: PositiveSeconds = 1.0
    currency: str = Field(default="RUB", pattern=r"^(RUB|USD|EUR)$")
    default_locale: str = Field(default="en", pattern=r"^(en|ru|zh)$")
    log_level: str = Field(default="INFO", pattern=r"^(DEBUG|INFO|WARNING|ERROR|CRITICAL)$")
    open_to_all: bool = False
    max_active_orders: int = Field(default=3, ge=1)
    daily_spend_limit: Money | None = Decimal("500")
    max_price: Money | None = None
    low_balance_alert: Money = Decimal("100")
    # owner: the owner's SMS-man balance pays for every number (access list, daily limits);
    # wallet: people pay from their own balance, topped up with Telegram Stars, at a markup.
    sales_mode: Literal["owner", "wallet"] = "owner"
    markup_percent: Money = Decimal("30")
    markup_min: Money = Decimal("5")
    # What one Star adds to a wallet, in CURRENCY; required in wallet mode.
    star_price: Annotated[Decimal, Field(gt=0, allow_inf_nan=False)] | None = None
    topup_stars: StarList = [50, 100, 250, 500, 1000]
    # Empty: long polling. Otherwise Telegram posts updates to this https URL; TLS ends at the
    # reverse proxy, which forwards to WEBHOOK_LISTEN.
    webhook_url: AnyHttpUrl | None = None
    webhook_secret: SecretStr | None = None
    webhook_listen: Address = ListenAddress("127.0.0.1", 8080)
    # Empty: off. Otherwise /healthz and /metrics are served here.
    metrics_listen: Address | None = None
    log_format: Literal["text", "json"] = "text"

    @field_validator("admin_ids", "allowed_user_ids", "topup_stars", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        return _parse_id_list(value)

    # Defined before _blank_is_unset, so it runs after it: pydantic runs `before` validators
    # last-defined first, and an empty METRICS_LISTEN must reach here as None.
    @field_validator("webhook_listen", "metrics_listen", mode="before")
    @classmethod
    def _address(cls, value: Any) -> Any:
        return _parse_address(value)

    # An empty value means none: no limit, no price, no webhook.
    @field_validator(
        "daily_spend_limit",
        "max_price",
        "star_price",
        "webhook_url",
        "webhook_secret",
        "metrics_listen",
        mode="before",
    )
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("webhook_url")
    @classmethod
    def _public_https(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is None:
            return None
        if value.scheme != "https":
            raise ValueError("must be an https:// URL (TLS ends at your reverse proxy)")
        if value.port not in WEBHOOK_PORTS:
            raise ValueError("Telegram posts only to ports 443, 80, 88 or 8443")
        if value.username or value.password:
            raise ValueError("must not carry a user name or password")
        if not _public_host(value.host or ""):
            raise ValueError("must name a public host Telegram can reach, not a local address")
        return value

    @field_validator("webhook_secret")
    @classmethod
    def _secret_alphabet(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not WEBHOOK_SECRET.fullmatch(value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z a-z 0-9 _ -")
        return value

    @model_validator(mode="after")
    def _webhook_needs_a_secret(self) -> Self:
        if self.webhook_url is None:
            return self
        if self.webhook_secret is None:
            raise ValueError("WEBHOOK_SECRET is required when WEBHOOK_URL is set")
        if self.metrics_listen == self.webhook_listen and self.webhook_listen.port:
            raise ValueError("METRICS_LISTEN and WEBHOOK_LISTEN must differ")
        return self

    @field_validator("sales_mode", mode="before")
    @classmethod
    def _mode_lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @model_validator(mode="after")
    def _wallet_needs_a_star_price(self) -> Self:
        if self.sales_mode != "wallet":
            return self
        if self.star_price is None:
            raise ValueError("STAR_PRICE is required when SALES_MODE=wallet")
        if not self.topup_stars:
            raise ValueError("TOPUP_STARS needs at least one amount in wallet mode")
        if min(self.topup_stars) * self.star_price < Decimal("0.01"):
            raise ValueError("TOPUP_STARS x STAR_PRICE must credit at least 0.01")
        return self

    @field_validator("currency", "log_level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("default_locale", "log_format", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("bot_token", "smsman_token")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @field_validator("bot_token")
    @classmethod
    def _bot_token_shape(cls, value: SecretStr) -> SecretStr:
        # aiogram's own check, made here so a mistyped token is a configuration error (exit 2,
        # not restarted by the service) rather than a crash at start.
        bot_id, colon, secret = value.get_secret_value().partition(":")
        if not (colon and bot_id.isdigit() and secret) or any(c.isspace() for c in secret):
            raise ValueError("must look like 123456789:AA... as @BotFather gives it")
        return value

    @property
    def smsman_base_url(self) -> str:
        return str(self.smsman_api_url).rstrip("/")

    @property
    def telegram_base_url(self) -> str | None:
        return str(self.telegram_api_url).rstrip("/") if self.telegram_api_url else None

    @property
    def webhook_path(self) -> str:
        """The path the webhook server answers on: the public URL's, which the proxy keeps."""
        return (self.webhook_url.path or "/") if self.webhook_url else "/"

    @property
    def wallet(self) -> bool:
        return self.sales_mode == "wallet"

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admin_ids
