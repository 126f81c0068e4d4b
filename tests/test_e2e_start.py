"""End to end: the production bot long-polls the Telegram emulator and a person uses the menu."""

from __future__ import annotations

from bot.factory import Application
from emulators.telegram import TelegramEmulator
from tests.conftest import ALLOWED_ID


async def test_start_shows_the_main_menu(telegram: TelegramEmulator, bot_app: Application) -> None:
    user = telegram.user(ALLOWED_ID, first_name="Ann <&> Lee", language_code="en")
    await user.send("/start")
    menu = await user.wait_for_text("Hi, Ann <&> Lee!")
    labels = [button.text for row in menu.buttons for button in row]
    assert any("Buy" in label for label in labels)
    assert any("My numbers" in label for label in labels)
    assert any("Language" in label for label in labels)
    assert any("Help" in label for label in labels)
    assert "&lt;&amp;&gt;" in (menu.html or "")


async def test_help_command_and_button(telegram: TelegramEmulator, bot_app: Application) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await user.send("/help")
    await user.wait_for_text("How it works")
    await user.send("/start")
    menu = await user.wait_for_text("Hi,")
    tap = await user.tap("Help")
    await tap.answered()
    edited = await user.wait_for_text("How it works")
    assert edited.message_id == menu.message_id, "menus edit one message in place"
    tap = await user.tap("Menu")
    await tap.answered()
    await user.wait_for_text("Hi,")
    assert telegram.unanswered_callback_queries() == []


async def test_commands_are_set_for_every_language(
    telegram: TelegramEmulator, bot_app: Application
) -> None:
    await telegram.wait_until(lambda: telegram.my_commands(language_code="zh") is not None)
    default = telegram.my_commands()
    assert default is not None
    assert [c["command"] for c in default] == ["start", "help"]
    russian = telegram.my_commands(language_code="ru")
    chinese = telegram.my_commands(language_code="zh")
    assert russian is not None
    assert chinese is not None
    assert [c["description"] for c in russian] == ["Главное меню", "Как работает бот"]
    assert chinese[0]["description"] == "主菜单"


async def test_language_switch_redraws_the_menu(
    telegram: TelegramEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, first_name="Ann", language_code="en")
    await user.send("/start")
    menu = await user.wait_for_text("Hi, Ann")
    await (await user.tap("Language")).answered()
    await user.wait_for_text("Choose your language")
    await (await user.tap("Русский")).answered()
    redrawn = await user.wait_for_text("Ann")
    assert redrawn.message_id == menu.message_id
    assert "Привет" in redrawn.text
    user_row = await bot_app.db.get_user(ALLOWED_ID)
    assert user_row is not None
    assert user_row.language == "ru"


async def test_first_language_comes_from_telegram(
    telegram: TelegramEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, first_name="Li", language_code="zh-hans")
    await user.send("/start")
    menu = await user.wait_for_text("Li")
    assert "你好" in menu.text
    stranger = telegram.user(ALLOWED_ID + 1, first_name="Hans", language_code="de")
    await stranger.send("/start")
    assert "Hi, Hans" in (await stranger.wait_for_text("Hans")).text


async def test_stale_or_forged_button_is_answered(
    telegram: TelegramEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await user.send("/start")
    await user.wait_for_text("Hi,")
    for data in ("nonsense", "m:99", "l:xx", "m:" + "9" * 60):
        tap = await user.tap_data(data)
        answer = await tap.answered()
        assert "no longer active" in (answer.text or "")
    assert telegram.unanswered_callback_queries() == []


async def test_a_failing_handler_apologises_instead_of_spinning(
    telegram: TelegramEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await user.send("/start")
    await user.wait_for_text("Hi,")
    telegram.fail_next("editMessageText", 500, "Internal Server Error")
    tap = await user.tap("Help")
    answer = await tap.answered()
    assert "something went wrong" in (answer.text or "")
    assert answer.show_alert
    # The bot keeps answering afterwards.
    tap = await user.tap("Help")
    await tap.answered()
    await user.wait_for_text("How it works")
