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
    if isinstance(event, CallbackQuery):
        message = tapped_in_private(event)
        if message is not None and not below:
            return await edit(message, text, markup)
        # Below the tapped message, or it is too old to edit (or inaccessible, or not in the
        # person's private chat, where alone their screens are drawn): a fresh one there.
        return await event.bot.send_message(event.from_user.id, text, reply_markup=markup)  # type: ignore[union-attr]
    return await event.answer(text, reply_markup=markup)


def tapped_in_private(query: CallbackQuery) -> Message | None:
    """The message tapped, if it is one the bot may redraw: in the person's private chat."""
    message = query.message
    if isinstance(message, Message) and message.chat.id == query.from_user.id:
        return message
    return None


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
