"""gettext catalogs and the per-user language, stored in sqlite and chosen on first contact."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiogram.types import TelegramObject, User
from aiogram.utils.i18n import I18n, I18nMiddleware

from bot.clock import Clock
from bot.storage.database import Database

# Package data: an installed bot finds its catalogs next to its code (compiled at build).
LOCALES_DIR = Path(__file__).resolve().parent / "locales"
DOMAIN = "messages"
# Each language's own name, so a person finds theirs whatever the current language is.
LANGUAGES: dict[str, str] = {"en": "English", "ru": "Русский", "zh": "中文"}


def normalize_language(code: str | None) -> str | None:
    """Telegram sends IETF tags such as `pt-BR` or `zh-hans`; we keep the base language."""
    if not code:
        return None
    base = code.replace("_", "-").split("-", 1)[0].lower()
    return base if base in LANGUAGES else None


def create_i18n(default_locale: str, path: Path = LOCALES_DIR) -> I18n:
    return I18n(path=path, default_locale=default_locale, domain=DOMAIN)


async def person_locale(i18n: I18n, db: Database, user: User) -> str:
    """The language a person chose, or Telegram's guess for someone the bot does not know
    yet; reads and never writes, for those the bot answers before their first real update."""
    record = await db.get_user(user.id)
    language = record.language if record else normalize_language(user.language_code)
    return language if language in i18n.available_locales else i18n.default_locale


class UserLanguageMiddleware(I18nMiddleware):
    """Language stored per user; the first contact takes it from Telegram's `language_code`."""

    def __init__(self, i18n: I18n, db: Database, clock: Clock) -> None:
        super().__init__(i18n)
        self._db = db
        self._clock = clock

    async def get_locale(self, event: TelegramObject, data: dict[str, Any]) -> str:
        user: User | None = data.get("event_from_user")
        default = self.i18n.default_locale
        if user is None or user.is_bot:
            return default
        first_guess = normalize_language(user.language_code) or default
        record = await self._db.ensure_user(user.id, first_guess, self._clock())
        language = record.language or default
        return language if language in self.i18n.available_locales else default
