"""End to end: in a group, one line pointing to the private chat; nothing drawn there, ever."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from aiogram.types import CallbackQuery, User

from bot.factory import Application
from emulators.smsman import SmsManEmulator
from emulators.telegram import DEFAULT_TOKEN, TelegramEmulator
from handlers.render import show
from keyboards.callbacks import MenuAction, MenuCb
from tests.conftest import ALLOWED_ID
from tests.flows import bot_idle
from tests.test_telegram_emulator import make_bot

GROUP = -100_777
POINTER = "I work in a private chat only"


async def test_a_group_gets_one_line_pointing_to_the_private_chat(
    tmp_path: Path, telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    smsman.set_stock(5, 3, count=40, cost=Decimal("12.50"))
    group, person = telegram.group(GROUP), telegram.user(ALLOWED_ID)
    await person.send_in(group, "/start")
    await telegram.wait_until(lambda: any(POINTER in m.text for m in group.messages))
    await person.send_in(group, "/start")
    await person.send_in(group, "usa")
    # A menu the bot may have drawn there before: tapped, it is answered with the line.
    status, sent = await telegram.call(
        DEFAULT_TOKEN,
        "sendMessage",
        {
            "chat_id": GROUP,
            "text": "old menu",
            "reply_markup": {
                "inline_keyboard": [
                    [{"text": "Buy", "callback_data": MenuCb(action=MenuAction.BUY).pack()}]
                ]
            },
        },
    )
    assert status == 200
    old_menu = group.find(sent["result"]["message_id"])
    assert old_menu is not None
    answer = await (
        await person.tap_in(group, old_menu, old_menu.buttons[0][0].callback_data or "")
    ).answered()
    await bot_idle(telegram, bot_app)

    assert answer.show_alert
    assert POINTER in (answer.text or "")
    assert "@test_bot" in (answer.text or "")
    from_bot = [m for m in group.messages if m.from_bot and m.text != "old menu"]
    assert [m.text.count(POINTER) for m in from_bot] == [1], "one line, once a minute"
    assert from_bot[0].buttons == [], "no menu in a group"
    assert old_menu.edited == 0
    assert person.bot_messages == [], "nothing sent to the private chat either"
    assert await bot_app.db.get_user(ALLOWED_ID) is None, "nothing written for the person"
    assert smsman.requests == []


async def test_a_screen_for_a_tap_outside_the_private_chat_is_drawn_in_it(
    telegram: TelegramEmulator,
) -> None:
    """Should a tap on a group's message reach a handler, its screen (a card, say) is sent to
    the person's private chat, never drawn over the group's message."""
    telegram.group(GROUP)
    person = telegram.user(ALLOWED_ID)
    bot = make_bot(telegram.base_url)
    try:
        in_group = await bot.send_message(GROUP, "old menu")
        tapper = User(id=ALLOWED_ID, is_bot=False, first_name="Ann")
        query = CallbackQuery(
            id="1", from_user=tapper, chat_instance="1", message=in_group, data="x"
        ).as_(bot)
        shown = await show(query, "📱 the card")
    finally:
        await bot.session.close()

    assert shown is not None
    assert shown.chat.id == ALLOWED_ID
    assert [m.text for m in person.bot_messages] == ["📱 the card"]
    assert [(m.text, m.edited) for m in telegram.group(GROUP).messages] == [("old menu", 0)]
