"""End to end: popular first, buy again, saved pairs, and numbers ready to paste."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from bot.catalog.popular import Popularity
from bot.config import Settings
from bot.factory import Application
from bot.person_rates import SEARCHES_PER_SECOND
from emulators.smsman import APPLICATIONS, SmsManEmulator
from emulators.telegram import ChatMessage, SimUser, TelegramEmulator
from keyboards.callbacks import AgainCb, SaveAction, SaveCb
from tests.conftest import ADMIN_ID, ALLOWED_ID, FakeClock, RunBot, make_settings
from tests.flows import buy_number, labels, main_menu, open_usa, price_screen, wait_for_button

USA, RUSSIA, UK = 5, 1, 100
TELEGRAM, WHATSAPP, INSTAGRAM, TIKTOK, AMAZON, OPENAI = 3, 6, 7, 12, 13, 32
STEAM, NETFLIX, GOOGLE, FACEBOOK, TWITTER, MICROSOFT, DISCORD, APPLE = (
    16,
    14,
    122,
    124,
    125,
    133,
    162,
    297,
)
# The curated list as the emulator's catalog names it, most wanted first.
CURATED = [
    TELEGRAM,
    WHATSAPP,
    GOOGLE,
    OPENAI,
    FACEBOOK,
    INSTAGRAM,
    TIKTOK,
    TWITTER,
    DISCORD,
    MICROSOFT,
    AMAZON,
    APPLE,
]
OPEN_TO_ALL = 3000


def app_buttons(message: ChatMessage) -> list[str]:
    """The app picker's app buttons, without their prices."""
    return [
        label.split(" · ")[0]
        for row in message.buttons
        for button in row
        if " · " in (label := button.text)
    ]


def title(app_id: int) -> str:
    return APPLICATIONS[app_id].title


async def every_page(user: SimUser, first: ChatMessage) -> list[str]:
    """The apps on every page of a picker, paging with ›."""
    shown = app_buttons(first)
    page, message_id = first, first.message_id
    while any(label == "›" for label in labels(page)):
        await (await user.tap("›", exact=True, message=page)).answered()
        page = await user.wait_for_message(lambda m: m.message_id == message_id)
        shown += app_buttons(page)
    return shown


async def test_the_first_app_page_is_the_curated_list_in_stock_then_the_rest_a_to_z(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    for app_id in CURATED:
        smsman.set_stock(USA, app_id, count=5, cost=Decimal("3.00"))
    smsman.set_stock(USA, WHATSAPP, count=0)
    smsman.set_stock(USA, GOOGLE, count=0)
    user = telegram.user(ALLOWED_ID, language_code="en")
    await open_usa(user)
    first = await user.wait_for_text("United States: choose an app", fresh=False)
    in_stock = [a for a in CURATED if a not in (WHATSAPP, GOOGLE)]
    assert app_buttons(first) == [title(a) for a in in_stock[:8]]
    shown = await every_page(user, first)
    assert len(shown) == len(set(shown)), "nothing is listed twice"
    rest = shown[8:]
    assert rest == sorted(rest, key=str.casefold), "after the first page, A–Z"
    assert title(WHATSAPP) not in shown, "out of stock is not shown at all"
    assert {title(a) for a in in_stock} <= set(shown)


async def test_recent_apps_then_curated_then_what_this_bots_people_buy_most(
    telegram: TelegramEmulator, smsman: SmsManEmulator, run_bot: RunBot, tmp_path: Path
) -> None:
    # In Russia only Telegram and Instagram of the curated list are on sale.
    for app_id in CURATED:
        smsman.set_stock(RUSSIA, app_id, count=0, cost=Decimal("1.00"))
    smsman.set_stock(RUSSIA, TELEGRAM, count=5, cost=Decimal("3.00"))
    smsman.set_stock(RUSSIA, INSTAGRAM, count=5, cost=Decimal("3.00"))
    smsman.set_stock(RUSSIA, STEAM, count=50, cost=Decimal("2.00"))
    smsman.set_stock(RUSSIA, NETFLIX, count=50, cost=Decimal("2.00"))
    async with run_bot(make_settings(tmp_path, smsman, telegram, open_to_all=True)) as app:
        # Other people buy Netflix twice and Steam once.
        bought = ((ADMIN_ID, "Netflix"), (ALLOWED_ID, "Netflix"), (OPEN_TO_ALL, "Steam"))
        for person, app_name in bought:
            await buy_in_russia(telegram.user(person, language_code="en"), app_name)
        popular: Popularity = app.dp["popular"]
        await popular.refresh()
        newcomer = telegram.user(OPEN_TO_ALL + 1, language_code="en")
        first = await open_russia(newcomer)
        assert app_buttons(first)[:4] == ["Telegram", "Instagram", "Netflix", "Steam"]
        # Steam's buyer sees it first: their own recent app.
        returning = telegram.user(OPEN_TO_ALL, language_code="en")
        first = await open_russia(returning)
        assert app_buttons(first)[:4] == ["Steam", "Telegram", "Instagram", "Netflix"]


async def open_russia(user: SimUser) -> ChatMessage:
    await main_menu(user)
    await (await user.tap("Buy a number")).answered()
    await user.wait_for_text("Choose a country")
    await user.send("russia")
    return await user.wait_for_text("Russia: choose an app")


async def buy_in_russia(user: SimUser, app: str) -> None:
    await open_russia(user)
    await user.send(app)
    await wait_for_button(user, "Buy for")
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("Waiting for the SMS")


async def test_countries_this_bots_people_buy_most_come_first_after_a_restart_too(
    telegram: TelegramEmulator, smsman: SmsManEmulator, run_bot: RunBot, settings: Settings
) -> None:
    smsman.set_stock(RUSSIA, STEAM, count=50, cost=Decimal("2.00"))
    async with run_bot(settings):
        await buy_in_russia(telegram.user(ADMIN_ID, language_code="en"), "Steam")
    # Counted from sqlite as the bot starts.
    async with run_bot(settings):
        user = telegram.user(ALLOWED_ID, language_code="en")
        await main_menu(user)
        await (await user.tap("Buy a number")).answered()
        countries = await user.wait_for_text("Choose a country")
        assert labels(countries)[0] == "🇷🇺 Russia"
        assert "🇷🇺 Russia" not in labels(countries)[1:], "listed once"


async def test_a_returning_person_buys_again_in_two_taps(
    telegram: TelegramEmulator, smsman: SmsManEmulator, clock: FakeClock, bot_app: Application
) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))
    user = telegram.user(ALLOWED_ID, language_code="en")
    card = await buy_number(user)
    assert "Buy again" not in " ".join(labels(card)), "only a finished order is bought again"
    await (await user.tap("Cancel")).answered()
    card = await user.wait_for_text("Cancelled")
    smsman.set_stock(USA, TELEGRAM, cost=Decimal("13.00"))
    clock.advance(3600)  # an hour later: the bot's cached prices are stale

    await (await user.tap("Buy again", message=card)).answered()
    price = await wait_for_button(user, "Buy for 13.00 ₽")
    assert "Telegram" in price.text
    assert "United States" in price.text, "today's price, same country and app"
    assert price.message_id != card.message_id, "the card keeps its number and codes"
    assert "Cancelled" in card.text
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("Waiting for the SMS")
    assert len(smsman.requests) == 2, "a new number"
    assert smsman.requests[1].number != smsman.requests[0].number
    # Someone else's order, forged: nothing of it is shown.
    stranger = telegram.user(ADMIN_ID, language_code="en")
    await main_menu(stranger)
    order = (await bot_app.db.user_open_orders(ALLOWED_ID))[0]
    forged = await (await stranger.tap_data(AgainCb(order=order.id).pack())).answered()
    assert forged.show_alert
    assert "not yours" in (forged.text or "")


async def test_every_history_entry_can_be_bought_again(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))
    user = telegram.user(ALLOWED_ID, language_code="en")
    await buy_number(user)
    await (await user.tap("Cancel")).answered()
    await user.wait_for_text("Cancelled")
    await main_menu(user)
    await (await user.tap("My numbers")).answered()
    await wait_for_button(user, "History")
    await (await user.tap("History")).answered()
    history = await user.wait_for_text("Your past numbers")
    assert "🔁 Telegram · 🇺🇸 United States" in labels(history)
    await (await user.tap("🔁 Telegram")).answered()
    await wait_for_button(user, "Buy for 12.50 ₽")
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("Waiting for the SMS")
    assert len(smsman.requests) == 2


async def test_a_saved_pair_is_on_the_main_menu_until_removed(
    telegram: TelegramEmulator, smsman: SmsManEmulator, run_bot: RunBot, settings: Settings
) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))
    user = telegram.user(ALLOWED_ID, language_code="en")
    async with run_bot(settings):
        price = await price_screen(user)
        saved = await (await user.tap("⭐ Save", message=price)).answered()
        assert saved.text is not None
        assert "main menu" in saved.text
        await wait_for_button(user, "Remove from saved")
    # After a restart the menu still has it: one tap to the price, one to buy.
    async with run_bot(settings):
        menu = await main_menu(user)
        assert labels(menu)[0] == "⭐ Telegram · 🇺🇸 United States"
        await (await user.tap("⭐ Telegram")).answered()
        price = await wait_for_button(user, "Buy for 12.50 ₽")
        await (await user.tap("Remove from saved", message=price)).answered()
        await wait_for_button(user, "⭐ Save")
        menu = await main_menu(user)
        assert not any(label.startswith("⭐") for label in labels(menu))
        await (await user.tap("⭐ Save", message=price)).answered()
        await (await user.tap("Buy for", message=price)).answered()
        await user.wait_for_text("Waiting for the SMS")


async def test_a_saved_pair_can_be_removed_when_its_offer_is_gone(
    telegram: TelegramEmulator, smsman: SmsManEmulator, clock: FakeClock, bot_app: Application
) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))
    user = telegram.user(ALLOWED_ID, language_code="en")
    price = await price_screen(user)
    await (await user.tap("⭐ Save", message=price)).answered()
    smsman.set_stock(USA, TELEGRAM, count=0)
    clock.advance(3600)
    await main_menu(user)
    await (await user.tap("⭐ Telegram")).answered()
    screen = await user.wait_for_text("No numbers for Telegram")
    assert "⭐ Save" not in labels(screen), "nothing to save while there is nothing on sale"
    await (await user.tap("Remove from saved", message=screen)).answered()
    menu = await main_menu(user)
    assert not any(label.startswith("⭐") for label in labels(menu))
    # A stale Save of an offer sold out meanwhile keeps nothing.
    refused = await (
        await user.tap_data(
            SaveCb(country=USA, app=TELEGRAM, action=SaveAction.SAVE).pack(), message=screen
        )
    ).answered()
    assert refused.show_alert
    assert await bot_app.db.saved_pairs(ALLOWED_ID) == []


async def test_at_most_ten_pairs_are_saved(
    telegram: TelegramEmulator, smsman: SmsManEmulator, clock: FakeClock, bot_app: Application
) -> None:
    apps = [a for a in sorted(APPLICATIONS) if a not in (34,)][:11]
    for app_id in apps:
        smsman.set_stock(USA, app_id, count=5, cost=Decimal("3.00"))
    user = telegram.user(ALLOWED_ID, language_code="en")
    await open_usa(user)
    for n, app_id in enumerate(apps):
        clock.advance(1 / SEARCHES_PER_SECOND)  # typed at a pace the bot takes
        await user.send(title(app_id))
        price = await wait_for_button(user, "Buy for")
        answer = await (await user.tap("⭐ Save", message=price)).answered()
        assert answer.text is not None
        if n < 10:
            assert "Saved" in answer.text
        else:
            assert answer.show_alert
            assert "10 pairs" in answer.text
        await (await user.tap("« Back", message=price)).answered()
        await user.wait_for_text("United States: choose an app")
    menu = await main_menu(user)
    assert len([label for label in labels(menu) if label.startswith("⭐")]) == 10


async def test_the_card_shows_the_number_ready_to_paste_both_ways(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))
    user = telegram.user(ALLOWED_ID, language_code="ru")
    card = await buy_number_ru(user)
    number = smsman.requests[0].number
    assert f"<code>+{number}</code>" in (card.html or "")
    assert f"Без +1: <code>{number[1:]}</code>" in (card.html or "")


async def buy_number_ru(user: SimUser) -> ChatMessage:
    await user.send("/start")
    await user.wait_for_text("Привет")
    await (await user.tap("Купить номер")).answered()
    await user.send("usa")
    await wait_for_button(user, "Telegram")
    await user.send("telegram")
    await wait_for_button(user, "Купить за")
    await (await user.tap("Купить за")).answered()
    return await user.wait_for_text("Ждём SMS")
