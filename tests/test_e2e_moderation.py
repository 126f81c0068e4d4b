"""End to end: /block and /unblock, a blocked person ignored before any work, across a restart."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from emulators.smsman import SmsManEmulator
from emulators.telegram import TelegramEmulator
from tests.conftest import ADMIN_ID, ALLOWED_ID, RunBot, make_settings
from tests.flows import bot_idle, main_menu

STRANGER = 31337


async def test_a_blocked_person_gets_nothing_until_unblocked_even_after_a_restart(
    tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator, run_bot: RunBot
) -> None:
    settings = make_settings(tmp_path, smsman, telegram)
    admin, person = telegram.user(ADMIN_ID), telegram.user(STRANGER)
    async with run_bot(settings) as app:
        menu = await main_menu(person)
        await admin.send(f"/block {STRANGER}")
        await admin.wait_for_text(f"User {STRANGER} is blocked")
        await admin.send(f"/block {ADMIN_ID}")
        await admin.wait_for_text("Admins cannot be blocked")
        await admin.send("/block someone")
        await admin.wait_for_text("Usage: /block")

        seen = len(person.bot_messages)
        await person.send("/start")
        tap = await person.tap("Buy a number", message=menu)
        await bot_idle(telegram, app)
        assert len(person.bot_messages) == seen
        assert tap.answer is None, "no answer at all, not even to a tap"

    async with run_bot(settings) as app:
        await person.send("/start")
        await bot_idle(telegram, app)
        assert len(person.bot_messages) == seen, "still blocked after a restart"
        await admin.send(f"/unblock {STRANGER}")
        await admin.wait_for_text(f"User {STRANGER} is no longer blocked")
        await main_menu(person)
        # Anyone else's /block is typed text like any other.
        await person.send(f"/block {ALLOWED_ID}")
        await person.wait_for_text("not open to you")

    with sqlite3.connect(settings.database_path) as raw:
        audit = raw.execute("SELECT actor_id, action, target_id FROM audit ORDER BY id").fetchall()
        blocked = raw.execute("SELECT user_id FROM blocked").fetchall()
    assert audit == [(ADMIN_ID, "block", STRANGER), (ADMIN_ID, "unblock", STRANGER)]
    assert blocked == []
