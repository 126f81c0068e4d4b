"""The error observer and the catch-all for buttons nobody handles: log, then tell the person."""

from __future__ import annotations

import logging

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.types import CallbackQuery, ErrorEvent
from aiogram.utils.i18n import gettext as _

from bot.callback_answer import Answer
from keyboards.menus import main_menu

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


async def on_stale_button(query: CallbackQuery, answer: Answer) -> None:
    """A button from an old message or a forged one: answer it and offer the menu again."""
    log.info("unhandled callback data %r from %s", query.data, query.from_user.id)
    await answer(_("This button is no longer active."))
    if query.message is not None:
        await query.bot.send_message(  # type: ignore[union-attr]
            query.from_user.id, _("Here is the menu again:"), reply_markup=main_menu()
        )


def build_router() -> Router:
    router = Router(name="errors")
    router.errors.register(on_error)
    return router


def build_fallback_router() -> Router:
    router = Router(name="fallback")
    router.callback_query.register(on_stale_button)
    return router
