"""Owner commands: /allow and /deny; `admins_only`, the filter of every owner's router."""

from __future__ import annotations

from contextlib import suppress

from aiogram import Router
from aiogram.exceptions import TelegramAPIError
from aiogram.filters import Command, CommandObject
from aiogram.types import Message, TelegramObject, User
from aiogram.utils.i18n import gettext as _

from bot.owner.access import Access

USAGE_EXAMPLE = "<code>123456789</code>"


async def admins_only(
    event: TelegramObject, access: Access, event_from_user: User | None = None
) -> bool:
    # A coroutine on purpose: aiogram runs a plain function filter in a worker thread.
    return event_from_user is not None and access.is_admin(event_from_user.id)


def _target(command: CommandObject) -> int | None:
    text = (command.args or "").strip()
    return int(text) if text.lstrip("-").isdigit() and len(text) < 20 else None


async def on_allow(message: Message, command: CommandObject, access: Access) -> None:
    target = _target(command)
    if target is None:
        await message.answer(_("Usage: /allow {example}").format(example=USAGE_EXAMPLE))
        return
    await access.grant(message.from_user.id, target)  # type: ignore[union-attr]
    await message.answer(_("✅ User <code>{id}</code> may buy numbers now.").format(id=target))
    # Someone who never started the bot cannot be told; the grant stands all the same.
    with suppress(TelegramAPIError):
        await message.bot.send_message(target, _("✅ You can buy numbers now: /start"))  # type: ignore[union-attr]


async def on_deny(message: Message, command: CommandObject, access: Access) -> None:
    target = _target(command)
    if target is None:
        await message.answer(_("Usage: /deny {example}").format(example=USAGE_EXAMPLE))
        return
    if access.is_admin(target):
        await message.answer(_("Admins always may buy; remove the id from ADMIN_IDS instead."))
        return
    await access.revoke(message.from_user.id, target)  # type: ignore[union-attr]
    await message.answer(
        _("⛔ User <code>{id}</code> may no longer buy numbers.").format(id=target)
    )


def build_router() -> Router:
    router = Router(name="admin")
    router.message.filter(admins_only)
    router.callback_query.filter(admins_only)
    router.message.register(on_allow, Command("allow"))
    router.message.register(on_deny, Command("deny"))
    return router
