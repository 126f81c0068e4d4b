"""The error observer and the catch-all for buttons nobody handles: log, then tell the person."""

from __future__ import annotations

import logging
from contextlib import suppress

from aiogram import Router
from aiogram.exceptions import (
    TelegramAPIError,
    TelegramBadRequest,
    TelegramForbiddenError,
    TelegramRetryAfter,
)
from aiogram.filters import ExceptionTypeFilter
from aiogram.types import CallbackQuery, ErrorEvent
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.owner.alerts import AdminAlerts, Problem
from bot.smsman.errors import LowBalance, SmsManError, WrongToken
from bot.storage.database import Database
from bot.telegram.callback_answer import Answer
from handlers.render import show
from handlers.start import menu_keyboard
from handlers.texts import unavailable_text
from keyboards.menus import back_to_menu, retry_keyboard

log = logging.getLogger(__name__)


async def on_error(event: ErrorEvent) -> bool:
    update = event.update
    log.error(
        "update %s failed: %s",
        update.update_id,
        event.exception,
        exc_info=(type(event.exception), event.exception, event.exception.__traceback__),
    )
    text = _("😕 Sorry, something went wrong on our side. Please try again in a moment.")
    try:
        if update.callback_query is not None:
            query = update.callback_query
            try:
                await query.answer(text, show_alert=True)
            except TelegramAPIError:
                # Already answered (or too old): the spinner is gone, so say it in the chat.
                await query.bot.send_message(query.from_user.id, text)  # type: ignore[union-attr]
        elif update.message is not None:
            await update.message.answer(text)
    except TelegramAPIError as exc:
        log.warning("could not apologise for update %s: %s", update.update_id, exc)
    return True


async def on_refused(event: ErrorEvent) -> bool:
    """Telegram refused our answer: the person blocked the bot, or flood control held the
    answer longer than it is worth waiting. Nobody can be told, and nothing is broken here."""
    log.warning("update %s: Telegram refused: %s", event.update.update_id, event.exception)
    return True


async def on_stale_button(
    query: CallbackQuery, answer: Answer, db: Database, settings: Settings, i18n: I18n
) -> None:
    """A button from an old message or a forged one: answer it and offer the menu again."""
    log.info("unhandled callback data %r from %s", query.data, query.from_user.id)
    await answer(_("This button is no longer active."))
    if query.message is not None:
        markup = await menu_keyboard(db, settings, query.from_user.id, i18n.current_locale)
        await query.bot.send_message(  # type: ignore[union-attr]
            query.from_user.id, _("Here is the menu again:"), reply_markup=markup
        )


async def on_provider_error(event: ErrorEvent, alerts: AdminAlerts) -> bool:
    """SMS-man failed while a screen was being built: say so and offer to repeat the tap."""
    exc = event.exception
    log.warning("update %s: provider error: %s", event.update.update_id, exc)
    if isinstance(exc, LowBalance | WrongToken):
        await alerts.report(
            Problem.LOW_BALANCE if isinstance(exc, LowBalance) else Problem.WRONG_TOKEN
        )
        text = unavailable_text()
        markup = back_to_menu()
    else:
        text = _("📡 SMS-man is not answering right now. Please try again in a moment.")
        query = event.update.callback_query
        markup = retry_keyboard(query.data) if query is not None and query.data else back_to_menu()
    update = event.update
    try:
        if update.callback_query is not None:
            query = update.callback_query
            with suppress(TelegramBadRequest):
                await query.answer()
            await show(query, text, markup)
        elif update.message is not None:
            await update.message.answer(text, reply_markup=markup)
    except TelegramAPIError as error:
        log.warning("could not report the provider error: %s", error)
    return True


def build_router() -> Router:
    router = Router(name="errors")
    router.errors.register(on_provider_error, ExceptionTypeFilter(SmsManError))
    router.errors.register(
        on_refused, ExceptionTypeFilter(TelegramForbiddenError, TelegramRetryAfter)
    )
    router.errors.register(on_error)
    return router


def build_fallback_router() -> Router:
    router = Router(name="fallback")
    router.callback_query.register(on_stale_button)
    return router
