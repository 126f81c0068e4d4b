"""Owner commands against abuse: /block and /unblock (a blocked person's updates are dropped)."""

from __future__ import annotations

from aiogram import Router
from aiogram.filters import Command, CommandObject
from aiogram.types import Message
from aiogram.utils.i18n import gettext as _

from bot.owner.blocklist import Blocklist
from handlers.admin import USAGE_EXAMPLE, _target, admins_only


async def on_block(message: Message, command: CommandObject, blocklist: Blocklist) -> None:
    target = _target(command)
    if target is None:
        await message.answer(_("Usage: /block {example}").format(example=USAGE_EXAMPLE))
        return
    if not await blocklist.block(message.from_user.id, target):  # type: ignore[union-attr]
        await message.answer(_("Admins cannot be blocked; remove the id from ADMIN_IDS first."))
        return
    await message.answer(
        _(
            "🚫 User <code>{id}</code> is blocked: the bot ignores everything they send. "
            "/unblock {id} undoes it."
        ).format(id=target)
    )


async def on_unblock(message: Message, command: CommandObject, blocklist: Blocklist) -> None:
    target = _target(command)
    if target is None:
        await message.answer(_("Usage: /unblock {example}").format(example=USAGE_EXAMPLE))
        return
    await blocklist.unblock(message.from_user.id, target)  # type: ignore[union-attr]
    await message.answer(_("✅ User <code>{id}</code> is no longer blocked.").format(id=target))


def build_router() -> Router:
    router = Router(name="moderation")
    router.message.filter(admins_only)
    router.message.register(on_block, Command("block"))
    router.message.register(on_unblock, Command("unblock"))
    return router
