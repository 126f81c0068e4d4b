"""The framework floor: a bare aiogram bot answering each page flip with the bot's two calls."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import sys
from contextlib import suppress

from aiogram import Bot, Dispatcher
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ParseMode
from aiogram.exceptions import TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message

from bot.telegram.response_types import KeepResponseTypes

# Callback data → the text and keyboard the real bot drew for it, replayed byte for byte.
Pages = dict[str, tuple[str, InlineKeyboardMarkup]]


def build_dispatcher(pages: Pages) -> Dispatcher:
    dispatcher = Dispatcher()

    async def start(message: Message) -> None:
        # Set-up only: gives each user a picker message to flip.
        text, markup = pages["c:0"]
        await message.answer(text, reply_markup=markup)

    async def flip(query: CallbackQuery) -> None:
        text, markup = pages[query.data or ""]
        if isinstance(query.message, Message):
            # Two flips of one menu may land out of order; the bot shrugs that off too.
            with suppress(TelegramBadRequest):
                await query.message.edit_text(text, reply_markup=markup)
        await query.answer()

    dispatcher.message.register(start)
    dispatcher.callback_query.register(flip)
    return dispatcher


async def serve(pages: Pages) -> None:
    # The same session and API server set-up as bot.factory.create_bot, minus the bot's logic:
    # KeepResponseTypes mends a cost in the framework itself, so the floor has it too.
    session = AiohttpSession(api=TelegramAPIServer.from_base(os.environ["TELEGRAM_API_URL"]))
    session.middleware(KeepResponseTypes())
    bot = Bot(
        os.environ["BOT_TOKEN"],
        session=session,
        default=DefaultBotProperties(parse_mode=ParseMode.HTML),
    )
    await build_dispatcher(pages).start_polling(bot)


def main() -> None:
    # Logged like the bot (INFO, to stderr), so aiogram's line per update costs both the same.
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # aiogram is imported: the parent waits for this, so the import never competes with a
    # measurement; the pages follow once the bot under test has drawn them.
    print(json.dumps({"ready": True}), flush=True)
    raw = json.loads(sys.stdin.readline())
    pages = {
        data: (page["text"], InlineKeyboardMarkup.model_validate(page["reply_markup"]))
        for data, page in raw.items()
    }
    asyncio.run(serve(pages))


if __name__ == "__main__":
    main()
