"""Main menu, language picker and help keyboards: pure functions of their inputs."""

from __future__ import annotations

from collections.abc import Sequence

from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.keyboard import InlineKeyboardBuilder

from bot.catalog.countries import country_name, flag
from bot.i18n import LANGUAGES
from bot.storage.records import SavedPair
from keyboards.callbacks import (
    Language,
    LanguageCb,
    MenuAction,
    MenuCb,
    PriceCb,
    WalletAction,
    WalletCb,
)


def main_menu(
    saved: Sequence[SavedPair] = (), locale: str = "en", *, wallet: bool = False
) -> InlineKeyboardMarkup:
    """The menu, with a person's saved pairs first: one tap to their price screens; in wallet
    mode, the wallet."""
    builder = InlineKeyboardBuilder()
    for pair in saved:
        country = country_name(pair.country_iso, pair.country_title, locale)
        builder.button(
            text=f"⭐ {pair.app_title} · {flag(pair.country_iso)} {country}",
            callback_data=PriceCb(country=pair.country_id, app=pair.application_id),
        )
    builder.button(text=_("🛒 Buy a number"), callback_data=MenuCb(action=MenuAction.BUY))
    builder.button(text=_("📱 My numbers"), callback_data=MenuCb(action=MenuAction.MY_NUMBERS))
    if wallet:
        builder.button(text=_("💳 Wallet"), callback_data=WalletCb(action=WalletAction.SHOW))
    builder.button(text=_("🌐 Language"), callback_data=MenuCb(action=MenuAction.LANGUAGE))
    builder.button(text=_("❓ Help"), callback_data=MenuCb(action=MenuAction.HELP))
    builder.adjust(*([1] * len(saved)), 1, 2, 2 if wallet else 1)
    return builder.as_markup()


def add_menu_button(builder: InlineKeyboardBuilder) -> None:
    builder.button(text=_("« Menu"), callback_data=MenuCb(action=MenuAction.MAIN))


def back_to_menu() -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    add_menu_button(builder)
    return builder.as_markup()


def language_menu(current: str) -> InlineKeyboardMarkup:
    builder = InlineKeyboardBuilder()
    for language in Language:
        mark = "✅ " if language.value == current else ""
        builder.button(
            text=f"{mark}{LANGUAGES[language.value]}",
            callback_data=LanguageCb(language=language),
        )
    add_menu_button(builder)
    builder.adjust(3, 1)
    return builder.as_markup()


def retry_keyboard(callback_data: str | CallbackData) -> InlineKeyboardMarkup:
    """Repeat the tap that failed: raw data is the failed button's own, already accepted once."""
    builder = InlineKeyboardBuilder()
    builder.button(text=_("🔄 Try again"), callback_data=callback_data)
    add_menu_button(builder)
    builder.adjust(1)
    return builder.as_markup()
