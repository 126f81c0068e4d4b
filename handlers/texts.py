"""Texts more than one handler shows."""

from __future__ import annotations

from aiogram.utils.i18n import gettext as _


def no_access_text(user_id: int) -> str:
    return _(
        "⛔ Buying numbers is not open to you yet.\n\n"
        "Send your Telegram id <code>{user_id}</code> to the bot's owner and ask for access."
    ).format(user_id=user_id)


def unavailable_text() -> str:
    return _("🛠 Buying is temporarily unavailable. The owner has been notified; please try later.")
