"""End to end: a person browses, searches and buys through both emulators, taps only; the
purchase itself by long polling and by webhook."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

import pytest

from bot.catalog.cache import RETRY_AFTER_FAILURE
from bot.factory import Application
from bot.orders.lifecycle import OrderStatus
from bot.storage.database import Database
from bot.storage.records import Order
from emulators.smsman import SmsManEmulator
from emulators.telegram import TelegramEmulator
from tests.conftest import ADMIN_ID, ALLOWED_ID, MODES, FakeClock, RunBot, make_settings
from tests.flows import labels, open_usa, price_screen, wait_for_button

USA, RUSSIA, UK, TELEGRAM, WHATSAPP, OTHER_APP = 5, 1, 100, 3, 6, 34


@pytest.fixture(autouse=True)
def stock(smsman: SmsManEmulator) -> None:
    """Known prices for the pairs the tests buy, whatever the fixture catalog says."""
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))
    smsman.set_stock(USA, OTHER_APP, count=3, cost=Decimal("4.00"))
    smsman.set_stock(RUSSIA, TELEGRAM, count=7, cost=Decimal("9.90"))


@pytest.mark.parametrize("bot_app", MODES, indirect=True)
async def test_happy_path_to_a_bought_number(
    telegram: TelegramEmulator, smsman: SmsManEmulator, clock: FakeClock, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, first_name="Ann", language_code="en")
    await open_usa(user)
    await user.send("t")
    found = await user.wait_for_text("matches for “t”")
    await (await user.tap("Telegram · 12.50 ₽", message=found)).answered()
    price = await wait_for_button(user, "Buy for 12.50 ₽")
    assert "Price: 12.50 ₽" in price.text
    assert "40 numbers available" in price.text
    assert "United States" in price.text

    await (await user.tap("Buy for")).answered()
    card = await user.wait_for_text("Waiting for the SMS")
    assert card.message_id == price.message_id, "the price screen turns into the card"
    request = smsman.requests[0]
    assert f"<code>+{request.number}</code>" in (card.html or ""), "ready to paste"
    assert "Telegram" in card.text
    assert "Price: 12.50 ₽" in card.text
    # The deadline as date entities: the person's app shows it in their time zone and counts
    # down by itself; an older app shows the UTC time and the minutes left at the purchase.
    deadline = int(clock() + bot_app.settings.order_timeout_seconds)
    assert "Waiting for the SMS until 08:15 UTC (in 15 min)." in card.text
    dates = [(e["unix_time"], e["date_time_format"]) for e in card.entities if "unix_time" in e]
    assert dates == [(deadline, "t"), (deadline, "r")]
    assert any("Cancel" in b.text for row in card.buttons for b in row)
    calls = [c for c in smsman.calls if c.endpoint == "get-number"]
    assert len(calls) == 1
    assert Decimal(calls[0].params["maxPrice"]) == Decimal("12.50")
    assert calls[0].params["currency"] == "RUB"
    order = (await bot_app.db.user_open_orders(ALLOWED_ID))[0]
    assert (order.status, order.request_id, order.card_message_id) == (
        OrderStatus.ACTIVE,
        request.request_id,
        card.message_id,
    )


@pytest.mark.parametrize("bot_app", MODES, indirect=True)
async def test_cancel_refunds_and_is_idempotent(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    balance = smsman.balance
    await price_screen(user)
    await (await user.tap("Buy for")).answered()
    card = await user.wait_for_text("Waiting for the SMS")
    first = await user.tap("Cancel")
    second = await user.tap("Cancel", message=card)
    await first.answered()
    await second.answered()
    await user.wait_for_text("money returned")
    assert smsman.balance == balance
    rejects = [c for c in smsman.calls if c.endpoint == "set-status"]
    assert 1 <= len(rejects) <= 2
    assert all(c.params["status"] == "reject" for c in rejects)
    order = await bot_app.db.get_order(1)
    assert order is not None
    assert order.status is OrderStatus.CANCELLED


async def test_pagination_both_ways(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await user.send("/start")
    await user.wait_for_text("Hi,")
    await (await user.tap("Buy a number")).answered()
    first = await user.wait_for_text("Page 1 of")
    countries = [b.text for row in first.buttons[:-2] for b in row]
    assert 8 <= len(countries) <= 10
    assert countries == sorted(countries, key=lambda t: t.split(" ", 1)[1].casefold())
    provider_calls = len(smsman.calls)
    statements: list[str] = []
    await bot_app.db._db.set_trace_callback(statements.append)
    await (await user.tap("›")).answered()
    second = await user.wait_for_text("Page 2 of")
    assert second.message_id == first.message_id
    assert not {b.text for row in second.buttons for b in row} & set(countries)
    await (await user.tap("‹")).answered()
    back = await user.wait_for_text("Page 1 of")
    assert [b.text for row in back.buttons[:-2] for b in row] == countries
    await (await user.tap("1/")).answered()  # the page indicator only stops the spinner
    assert len(smsman.calls) == provider_calls, "page flips are served from the cache"
    assert statements == [], "and from memory: the person's rows were read by the first tap"


async def test_search_one_several_none_and_aliases(
    telegram: TelegramEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await user.send("/start")
    await user.wait_for_text("Hi,")
    await (await user.tap("Buy a number")).answered()
    await user.wait_for_text("Choose a country")

    await user.send("zzzz")
    nothing = await user.wait_for_text("Nothing matches “zzzz”")
    assert "Choose a country" in nothing.text, "the picker stays"

    await user.send("united")
    several = await user.wait_for_text("matches for “united”")
    labels = [b.text for row in several.buttons for b in row]
    assert any("United States" in label for label in labels)
    assert any("United Kingdom" in label for label in labels)

    await user.send("uk")
    await user.wait_for_text("United Kingdom: choose an app")
    await (await user.tap("Back")).answered()
    await user.wait_for_text("Choose a country")
    await user.send("USA")
    await user.wait_for_text("United States: choose an app")
    await user.send("tg")
    price = await wait_for_button(user, "Buy for 12.50 ₽")
    assert "Telegram" in price.text


async def test_text_outside_a_picker_points_to_the_menu(
    telegram: TelegramEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await user.send("hello")
    reply = await user.wait_for_text("Use the menu")
    assert any("Buy" in b.text for row in reply.buttons for b in row)


async def test_cheapest_countries_for_an_app(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    smsman.set_stock(UK, TELEGRAM, count=5, cost=Decimal("0.50"))
    user = telegram.user(ALLOWED_ID, language_code="en")
    await open_usa(user)
    await (await user.tap("Cheapest countries")).answered()
    await user.wait_for_text("Which app")
    await user.send("telegram")
    cheapest = await user.wait_for_text("cheapest countries with numbers in stock")
    labels = [b.text for row in cheapest.buttons for b in row]
    assert "United Kingdom · 0.50 ₽" in labels[0]
    await (await user.tap("United Kingdom")).answered()
    await wait_for_button(user, "Buy for 0.50 ₽")


async def test_price_rose_between_screen_and_tap(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await price_screen(user)
    smsman.set_stock(USA, TELEGRAM, cost=Decimal("15.00"))
    balance = smsman.balance
    await (await user.tap("Buy for 12.50")).answered()
    warning = await user.wait_for_text("went up from 12.50 ₽ to 15.00 ₽")
    assert "Buy for 15.00 ₽" in labels(warning)[0]
    assert smsman.balance == balance, "never charged more than the quote"
    assert not smsman.requests
    await (await user.tap("Buy for 15.00 ₽", message=warning)).answered()
    await user.wait_for_text("Waiting for the SMS")
    assert smsman.balance == balance - Decimal("15.00")
    prices = [Decimal(c.params["maxPrice"]) for c in smsman.calls if c.endpoint == "get-number"]
    assert prices == [Decimal("12.50"), Decimal("15.00")]


@pytest.mark.parametrize("bot_app", MODES, indirect=True)
async def test_double_tap_buys_once(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await price_screen(user)
    screen = user.last_bot_message
    smsman.set_latency("get-number", 0.3)
    taps = [await user.tap("Buy for", message=screen) for _ in range(3)]
    answers = await asyncio.gather(*(tap.answered() for tap in taps))
    await user.wait_for_text("Waiting for the SMS")
    assert len([c for c in smsman.calls if c.endpoint == "get-number"]) == 1
    assert len(smsman.requests) == 1
    assert any("Already buying" in (a.text or "") for a in answers), answers
    assert len(await bot_app.db.user_open_orders(ALLOWED_ID)) == 1


@pytest.mark.parametrize("bot_app", MODES, indirect=True)
async def test_redelivered_buy_after_purchase_shows_the_same_order(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await price_screen(user)
    buy = await user.tap("Buy for")
    await buy.answered()
    card = await user.wait_for_text("Waiting for the SMS")
    again = await user.tap_data(buy.data, message=card)
    await again.answered()
    assert len(smsman.requests) == 1


async def test_foreign_and_forged_callbacks_do_nothing(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    owner = telegram.user(ALLOWED_ID, language_code="en")
    await price_screen(owner)
    buy_data = (await owner.tap("Buy for")).data
    await owner.wait_for_text("Waiting for the SMS")
    thief = telegram.user(ADMIN_ID, language_code="en")
    await thief.send("/start")
    await thief.wait_for_text("Hi,")
    for data in ("o:1:1", "o:1:0", "o:1:2", buy_data, "o:-5:1", "o:1:7", "b:abc"):
        await (await thief.tap_data(data)).answered()
    order = await bot_app.db.get_order(1)
    assert order is not None
    assert order.status is OrderStatus.ACTIVE
    assert not [c for c in smsman.calls if c.endpoint == "set-status"]
    assert len([c for c in smsman.calls if c.endpoint == "get-number"]) == 1
    assert not [m for m in thief.bot_messages if "+1" in m.text]


async def test_stranger_is_denied_without_provider_calls(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    stranger = telegram.user(31337, first_name="Eve", language_code="en")
    await stranger.send("/start")
    await stranger.wait_for_text("Hi, Eve")
    await (await stranger.tap("Buy a number")).answered()
    denied = await stranger.wait_for_text("not open to you")
    assert "31337" in denied.text
    for data in ("c:0", "a:5:0", "p:5:3", "b:1", "x:3:0", "g:0"):
        await (await stranger.tap_data(data)).answered()
    await stranger.send("usa")
    await stranger.wait_for_text("not open to you")
    assert smsman.calls == []


async def test_no_numbers_offers_other_countries(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await price_screen(user)
    smsman.set_stock(USA, TELEGRAM, count=0)
    await (await user.tap("Buy for")).answered()
    gone = await user.wait_for_text("numbers in United States are gone")
    labels = [b.text for row in gone.buttons for b in row]
    assert any("Russia · 9.90 ₽" in label for label in labels)
    await (await user.tap("Russia")).answered()
    await wait_for_button(user, "Buy for 9.90 ₽")


async def test_low_balance_tells_the_user_and_alerts_admins(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    admin = telegram.user(ADMIN_ID, language_code="en")
    user = telegram.user(ALLOWED_ID, language_code="en")
    await price_screen(user)
    smsman.set_balance(Decimal("1.00"))
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("temporarily unavailable")
    alert = await admin.wait_for_text("balance is too low")
    assert "Top up" in alert.text
    # The bot keeps answering afterwards.
    await user.send("/start")
    await user.wait_for_text("Hi,")


async def test_provider_timeout_then_retry(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await price_screen(user)
    smsman.fail_next("get-number", "timeout", seconds=5)
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("did not confirm this purchase")
    await (await user.tap("Buy again")).answered()
    await wait_for_button(user, "Buy for")
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("Waiting for the SMS")
    orders = await bot_app.db.user_open_orders(ALLOWED_ID)
    assert len(orders) == 1
    assert orders[0].price == Decimal("12.50")


async def test_provider_down_while_browsing_then_retry(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application, clock: FakeClock
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await user.send("/start")
    await user.wait_for_text("Hi,")
    smsman.fail_next("countries", "http_500", times=3)
    await (await user.tap("Buy a number")).answered()
    await user.wait_for_text("not answering")
    # Once the failure is no longer remembered, SMS-man is asked again.
    clock.advance(RETRY_AFTER_FAILURE)
    await (await user.tap("Try again")).answered()
    await user.wait_for_text("Choose a country")


async def test_names_with_html_characters_are_escaped(
    telegram: TelegramEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, first_name="<b>&", language_code="en")
    await open_usa(user)
    await user.send("other")
    price = await wait_for_button(user, "Buy for 4.00 ₽")
    assert "Other <any service>" in price.text
    assert "&lt;any service&gt;" in (price.html or "")
    await (await user.tap("Buy for")).answered()
    card = await user.wait_for_text("Waiting for the SMS")
    assert "Other <any service>" in card.text


async def written_order(db: Database, user_id: int) -> Order:
    """An order for Telegram in the USA as a purchase writes it before asking SMS-man."""
    await db.ensure_user(user_id, "en", now=1.0)
    quote = await db.insert_quote(
        user_id=user_id,
        country_id=USA,
        country_title="USA",
        country_iso="US",
        application_id=TELEGRAM,
        app_title="Telegram",
        price=Decimal("12.50"),
        currency="RUB",
        now=1.0,
    )
    order, _created = await db.insert_order(quote, chat_id=user_id, now=2.0)
    return order


async def test_interrupted_purchase_is_resolved_and_reported_at_start(
    tmp_path: Path, telegram: TelegramEmulator, smsman: SmsManEmulator, run_bot: RunBot
) -> None:
    settings = make_settings(tmp_path, smsman, telegram)
    db = await Database.open(settings.database_path)
    await written_order(db, ALLOWED_ID)
    await db.close()
    user = telegram.user(ALLOWED_ID, language_code="en")
    async with run_bot(settings) as app:
        notice = await user.wait_for_text("cut your purchase")
        assert "Telegram" in notice.text
        assert "may have been charged" in notice.text, "nobody knows whether get-number left"
        order = await app.db.get_order(1)
        assert order is not None
        assert (order.status, order.failure) == (OrderStatus.LOST, "interrupted")


async def test_my_numbers_lists_active_orders(
    telegram: TelegramEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await user.send("/start")
    await user.wait_for_text("Hi,")
    await (await user.tap("My numbers")).answered()
    await user.wait_for_text("no active numbers")
    await price_screen(user)
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("Waiting for the SMS")
    await (await user.tap("My numbers")).answered()
    listing = await user.wait_for_text("Your active numbers")
    await (await user.tap("Telegram ·", message=listing)).answered()
    await user.wait_for_text("Waiting for the SMS")


async def test_recent_choices_come_first(telegram: TelegramEmulator, bot_app: Application) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await price_screen(user)
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("Waiting for the SMS")
    await user.send("/start")
    await user.wait_for_text("Hi,")
    await (await user.tap("Buy a number")).answered()
    countries = await user.wait_for_text("Choose a country")
    assert "United States" in labels(countries)[0]
    await (await user.tap("United States", message=countries)).answered()
    apps = await user.wait_for_text("United States: choose an app")
    assert labels(apps)[0] == "Telegram · 12.50 ₽"


async def test_a_request_id_no_order_can_keep_is_a_purchase_that_may_have_charged(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    """Sold under 25 digits, past sqlite's INTEGER: the order does not stay "buying"."""
    smsman.state.number_requests_from(10**25)
    user = telegram.user(ALLOWED_ID, language_code="en")
    await price_screen(user)
    await (await user.tap("Buy for")).answered()
    await user.wait_for_text("did not confirm this purchase")
    assert [r.request_id for r in smsman.requests] == [10**25], "SMS-man did sell it"
    (order,) = await bot_app.db.all_orders()
    assert (order.status, order.request_id) == (OrderStatus.LOST, None)


async def test_a_request_id_another_order_holds_is_a_purchase_that_may_have_charged(
    tmp_path: Path, telegram: TelegramEmulator, smsman: SmsManEmulator, run_bot: RunBot
) -> None:
    settings = make_settings(tmp_path, smsman, telegram)
    db = await Database.open(settings.database_path)
    earlier = await written_order(db, ADMIN_ID)
    await db.update_order(
        earlier.id,
        expect=(OrderStatus.PURCHASING,),
        now=3.0,
        status=OrderStatus.CLOSED,
        request_id=1,
    )
    await db.close()
    user = telegram.user(ALLOWED_ID, language_code="en")
    async with run_bot(settings) as app:
        await price_screen(user)
        await (await user.tap("Buy for")).answered()
        await user.wait_for_text("did not confirm this purchase")
        assert [r.request_id for r in smsman.requests] == [1]
        order = (await app.db.all_orders())[-1]
        assert (order.status, order.failure) == (OrderStatus.LOST, "duplicate_request")
