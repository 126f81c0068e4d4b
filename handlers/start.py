"""/start, /help and the main menu."""

from __future__ import annotations

from aiogram import F, Router, html
from aiogram.filters import Command, CommandStart
from aiogram.types import CallbackQuery, InlineKeyboardMarkup, Message
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.storage.database import Database
from handlers.render import show
from keyboards.callbacks import MenuAction, MenuCb
from keyboards.menus import back_to_menu, main_menu


async def menu_keyboard(
    db: Database, settings: Settings, user_id: int, locale: str
) -> InlineKeyboardMarkup:
    """The main menu's buttons with this person's saved pairs."""
    return main_menu(await db.saved_pairs(user_id), locale, wallet=settings.wallet)


def menu_text(first_name: str) -> str:
    return _(
        "👋 Hi, {name}!\n\n"
        "Rent a virtual phone number, use it to sign up anywhere, and the SMS code "
        "arrives right here in the chat."
    ).format(name=html.quote(first_name))


def help_text() -> str:
    return _(
        "<b>How it works</b>\n"
        "1. Tap <b>Buy a number</b>, pick a country and an app.\n"
        "2. Check the price and buy: you get a number to copy.\n"
        "3. Enter the number in the app; the code appears here within seconds.\n"
        "4. No code in time? The order is cancelled and the money returned.\n\n"
        "Commands: /start (menu), /help (this text)."
    )


async def on_start(message: Message, db: Database, settings: Settings, i18n: I18n) -> None:
    user = message.from_user
    markup = (
        await menu_keyboard(db, settings, user.id, i18n.current_locale) if user else main_menu()
    )
    await message.answer(menu_text(user.first_name if user else ""), reply_markup=markup)


async def on_help(message: Message) -> None:
    await message.answer(help_text(), reply_markup=back_to_menu())


async def on_menu(query: CallbackQuery, db: Database, settings: Settings, i18n: I18n) -> None:
    markup = await menu_keyboard(db, settings, query.from_user.id, i18n.current_locale)
    await show(query, menu_text(query.from_user.first_name), markup)


async def on_help_button(query: CallbackQuery) -> None:
    await show(query, help_text(), back_to_menu())


def build_router() -> Router:
    router = Router(name="start")
    router.message.register(on_start, CommandStart())
    router.message.register(on_help, Command("help"))
    router.callback_query.register(on_menu, MenuCb.filter(F.action == MenuAction.MAIN))
    router.callback_query.register(on_help_button, MenuCb.filter(F.action == MenuAction.HELP))
    return router
