"""What a person does again and again in the end-to-end tests, written once."""

from __future__ import annotations

from bot.factory import Application
from emulators.telegram import ChatMessage, SimUser, TelegramEmulator


def labels(message: ChatMessage) -> list[str]:
    return [button.text for row in message.buttons for button in row]


async def wait_for_button(user: SimUser, text: str) -> ChatMessage:
    return await user.wait_for_message(
        lambda m: any(text in label for label in labels(m)), waiting_for=f"a button {text!r}"
    )


async def main_menu(user: SimUser) -> ChatMessage:
    """/start: the main menu."""
    await user.send("/start")
    return await user.wait_for_text("Hi,")


async def open_usa(user: SimUser) -> None:
    """Menu → Buy → type the country: the app picker for the USA."""
    await main_menu(user)
    await (await user.tap("Buy a number")).answered()
    await user.wait_for_text("Choose a country")
    await user.send("usa")
    await user.wait_for_text("United States: choose an app")


async def price_screen(user: SimUser) -> ChatMessage:
    """…then type the app: the price screen for Telegram in the USA."""
    await open_usa(user)
    await user.send("telegram")
    return await wait_for_button(user, "Buy for")


async def buy_number(user: SimUser) -> ChatMessage:
    """…then tap Buy: the order card."""
    await price_screen(user)
    await (await user.tap("Buy for")).answered()
    return await user.wait_for_text("Waiting for the SMS")


async def bot_idle(telegram: TelegramEmulator, app: Application) -> None:
    """Until the bot has taken every update sent so far and finished with them (for what it
    does not answer at all)."""
    await telegram.wait_until(lambda: not telegram.pending_updates)
    in_flight = app.dp["in_flight"]
    await in_flight.drain(5)
    assert not in_flight.running, "the bot is still handling updates"
