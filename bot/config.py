"""Settings read from the environment and `.env`, validated once at start-up."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any, Literal, Self

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


IdList = Annotated[list[int], NoDecode]
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

    @field_validator("daily_spend_limit", "max_price", mode="before")
    @classmethod
    def _blank_is_unlimited(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("admin_ids", "allowed_user_ids", "topup_stars", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        return _parse_id_list(value)

    @field_validator("star_price", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: Any) -> Any:
        return None if isinstance(value, str) and not value.strip() else value

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

    @field_validator("default_locale", mode="before")
    @classmethod
    def _lower(cls, value: Any) -> Any:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("bot_token", "smsman_token")
    @classmethod
    def _not_blank(cls, value: SecretStr) -> SecretStr:
        if not value.get_secret_value().strip():
            raise ValueError("must not be empty")
        return value

    @property
    def smsman_base_url(self) -> str:
        return str(self.smsman_api_url).rstrip("/")

    @property
    def telegram_base_url(self) -> str | None:
        return str(self.telegram_api_url).rstrip("/") if self.telegram_api_url else None

    @property
    def wallet(self) -> bool:
        return self.sales_mode == "wallet"

    def is_admin(self, user_id: int) -> bool:
        return user_id in self.admin_ids
