"""Language choice: stored per user and applied to the very screen that changed it."""

from __future__ import annotations

from aiogram import F, Router
from aiogram.types import CallbackQuery
from aiogram.utils.i18n import I18n
from aiogram.utils.i18n import gettext as _

from bot.config import Settings
from bot.storage.database import Database
from bot.telegram.callback_answer import Answer
from handlers.render import show
from handlers.start import menu_keyboard, menu_text
from keyboards.callbacks import LanguageCb, MenuAction, MenuCb
from keyboards.menus import language_menu


async def on_language_menu(query: CallbackQuery, i18n: I18n) -> None:
    await show(query, _("🌐 Choose your language:"), language_menu(i18n.current_locale))


async def on_language_chosen(
    query: CallbackQuery,
    callback_data: LanguageCb,
    db: Database,
    settings: Settings,
    i18n: I18n,
    answer: Answer,
) -> None:
    language = callback_data.language.value
    await db.set_user_language(query.from_user.id, language)
    with i18n.use_locale(language):
        markup = await menu_keyboard(db, settings, query.from_user.id, language)
        await show(query, menu_text(query.from_user.first_name), markup)
        await answer(_("Language changed."))


def build_router() -> Router:
    router = Router(name="settings")
    router.callback_query.register(on_language_menu, MenuCb.filter(F.action == MenuAction.LANGUAGE))
    router.callback_query.register(on_language_chosen, LanguageCb.filter())
    return router
