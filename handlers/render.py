"""Showing a screen: edit the menu message in place for a tap, send a new one for a command."""

from __future__ import annotations

import logging

from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

log = logging.getLogger(__name__)

NOT_MODIFIED = "message is not modified"


async def show(
    event: Message | CallbackQuery,
    text: str,
    markup: InlineKeyboardMarkup | None = None,
    *,
    below: bool = False,
) -> Message | None:
    """Render `text` where the person is looking, without spamming the chat with copies;
    `below` leaves the tapped message as it is and sends the screen under it."""
    if isinstance(event, CallbackQuery) and below:
        return await event.bot.send_message(event.from_user.id, text, reply_markup=markup)  # type: ignore[union-attr]
    if isinstance(event, CallbackQuery):
        message = event.message
        if isinstance(message, Message):
            return await edit(message, text, markup)
        # The menu message is too old to edit (or inaccessible): start a fresh one.
        return await event.bot.send_message(event.from_user.id, text, reply_markup=markup)  # type: ignore[union-attr]
    return await event.answer(text, reply_markup=markup)


async def edit(message: Message, text: str, markup: InlineKeyboardMarkup | None) -> Message | None:
    try:
        edited = await message.edit_text(text, reply_markup=markup)
    except TelegramBadRequest as exc:
        # A repeated tap redraws the same screen; Telegram calls that an error, we don't.
        if NOT_MODIFIED not in exc.message:
            raise
        log.debug("menu %s unchanged", message.message_id)
        return message
    return edited if isinstance(edited, Message) else message
