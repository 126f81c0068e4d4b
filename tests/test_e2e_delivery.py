"""End to end: codes pushed to the chat, card actions, deadlines, and Telegram failures."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.factory import Application
from bot.orders.lifecycle import OrderStatus
from bot.orders.poller import Poller
from emulators.smsman import SmsManEmulator
from emulators.telegram import BLOCKED, ChatMessage, SimUser, TelegramEmulator
from tests.conftest import ALLOWED_ID, MODES, FakeClock
from tests.flows import buy_number as buy
from tests.flows import labels

USA, TELEGRAM = 5, 3


@pytest.fixture(autouse=True)
def stock(smsman: SmsManEmulator) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))


def pushes(user: SimUser, code: str) -> list[ChatMessage]:
    return [m for m in user.bot_messages if f"code: {code} for +1" in m.text]


@pytest.mark.parametrize("bot_app", MODES, indirect=True)
async def test_code_is_pushed_and_the_card_updated(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    card = await buy(user)
    request = smsman.requests[0]
    smsman.deliver_sms(request.request_id, "482913")
    push = await user.wait_for_text("Telegram code: 482913")
    assert push.message_id != card.message_id, "a new message, so the phone notifies"
    assert "<code>482913</code>" in (push.html or "")
    number = request.number
    assert f"+1 {number[1:4]}-{number[4:7]}-{number[7:]}" in push.text
    updated = await user.wait_for_message(
        lambda m: m.message_id == card.message_id and "482913" in m.text
    )
    assert "Code received" in updated.text
    assert {"📩 Another SMS", "✅ Done"} <= set(labels(updated))
    assert not any("Cancel" in label for label in labels(updated))
    order = await bot_app.db.get_order(1)
    assert order is not None
    assert order.status is OrderStatus.CODE_RECEIVED


async def test_same_code_is_pushed_once(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await buy(user)
    request_id = smsman.requests[0].request_id
    smsman.deliver_sms(request_id, "111222")
    await user.wait_for_text("code: 111222")
    card = await user.wait_for_message(lambda m: "Another SMS" in " ".join(labels(m)))
    await (await user.tap("Another SMS", message=card)).answered()
    seen = len([c for c in smsman.calls if c.endpoint == "get-sms"])
    smsman.deliver_sms(request_id, "111222")
    await smsman.wait_for_calls("get-sms", seen + 3)
    smsman.deliver_sms(request_id, "333444")
    await user.wait_for_text("code: 333444")
    assert len(pushes(user, "111222")) == 1


async def test_no_polls_after_a_code_until_another_sms(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await buy(user)
    first = smsman.requests[0].request_id
    smsman.deliver_sms(first, "121212")
    await user.wait_for_text("code: 121212")
    await buy(user)
    calls = len(smsman.calls)
    await smsman.wait_for_calls(
        "get-sms", len([c for c in smsman.calls if c.endpoint == "get-sms"]) + 5
    )
    assert not [
        c
        for c in smsman.calls[calls:]
        if c.endpoint == "get-sms" and c.params["request_id"] == str(first)
    ], "a number with a code is not polled until someone asks for another SMS"


async def test_another_sms_brings_a_second_code(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await buy(user)
    request_id = smsman.requests[0].request_id
    smsman.deliver_sms(request_id, "100001")
    await user.wait_for_text("code: 100001")
    card = await user.wait_for_message(lambda m: "Another SMS" in " ".join(labels(m)))
    await (await user.tap("Another SMS", message=card)).answered()
    await smsman.wait_for_calls("set-status")
    assert [c.params["status"] for c in smsman.calls if c.endpoint == "set-status"] == ["ready"]
    smsman.deliver_sms(request_id, "200002")
    await user.wait_for_text("code: 200002")
    both = await user.wait_for_message(
        lambda m: m.message_id == card.message_id and "100001" in m.text and "200002" in m.text
    )
    assert both.text.index("100001") < both.text.index("200002")
    assert len(pushes(user, "100001")) == 1


async def test_done_closes_and_keeps_the_charge(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    balance = smsman.balance
    await buy(user)
    smsman.deliver_sms(smsman.requests[0].request_id, "424242")
    await user.wait_for_text("code: 424242")
    card = await user.wait_for_message(lambda m: "Done" in " ".join(labels(m)))
    await (await user.tap("Done", message=card)).answered()
    await user.wait_for_text("✔️ Done.")
    statuses = [c.params["status"] for c in smsman.calls if c.endpoint == "set-status"]
    assert statuses == ["close"]
    assert smsman.balance == balance - Decimal("12.50")
    order = await bot_app.db.get_order(1)
    assert order is not None
    assert order.status is OrderStatus.CLOSED


async def test_cancel_stops_polling_for_that_order(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    balance = smsman.balance
    first = await buy(user)
    await (await user.tap("Cancel", message=first)).answered()
    await user.wait_for_text("money returned")
    assert smsman.balance == balance
    cancelled_id = smsman.requests[0].request_id
    polls_before = [c for c in smsman.calls if c.endpoint == "get-sms"]
    await buy(user)
    seen = len([c for c in smsman.calls if c.endpoint == "get-sms"])
    await smsman.wait_for_calls("get-sms", seen + 5)
    polls_after = [
        c
        for c in smsman.calls
        if c.endpoint == "get-sms" and c.params["request_id"] == str(cancelled_id)
    ]
    assert len(polls_after) == len(
        [c for c in polls_before if c.params["request_id"] == str(cancelled_id)]
    )


async def test_number_used_is_returned_for_a_refund(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    balance = smsman.balance
    card = await buy(user)
    await (await user.tap("already used", message=card)).answered()
    await user.wait_for_text("Reported as used or banned")
    assert [c.params["status"] for c in smsman.calls if c.endpoint == "set-status"] == ["used"]
    assert smsman.balance == balance


async def test_deadline_rejects_and_refunds(
    telegram: TelegramEmulator, smsman: SmsManEmulator, clock: FakeClock, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    balance = smsman.balance
    card = await buy(user)
    clock.advance(bot_app.settings.order_timeout_seconds)
    notice = await user.wait_for_text("No code came for")
    assert "Telegram" in notice.text
    await user.wait_for_message(
        lambda m: m.message_id == card.message_id and "No code arrived in time" in m.text
    )
    assert [c.params["status"] for c in smsman.calls if c.endpoint == "set-status"] == ["reject"]
    assert smsman.balance == balance
    order = await bot_app.db.get_order(1)
    assert order is not None
    assert order.status is OrderStatus.EXPIRED


async def test_a_failing_reject_at_the_deadline_is_retried(
    telegram: TelegramEmulator, smsman: SmsManEmulator, clock: FakeClock, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    balance = smsman.balance
    await buy(user)
    smsman.fail_next("set-status", "http_500", times=3)
    clock.advance(bot_app.settings.order_timeout_seconds + 1)
    await user.wait_for_text("No code came for", timeout=10)
    assert smsman.balance == balance
    assert len([c for c in smsman.calls if c.endpoint == "set-status"]) == 4


async def test_request_gone_at_the_provider_expires_the_order(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await buy(user)
    smsman.fail_next(
        "get-sms", "error_code", code="wrong_request_id", msg="Current request not exists"
    )
    await user.wait_for_text("SMS-man ended the order")
    order = await bot_app.db.get_order(1)
    assert order is not None
    assert order.status is OrderStatus.EXPIRED


async def test_push_hit_by_429_is_retried(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await buy(user)
    telegram.fail_next("sendMessage", 429, "Too Many Requests: retry after 1", retry_after=1)
    smsman.deliver_sms(smsman.requests[0].request_id, "555000")
    await user.wait_for_text("code: 555000", timeout=10)
    assert len(pushes(user, "555000")) == 1


async def test_push_hit_by_a_server_error_is_redelivered(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await buy(user)
    telegram.fail_next("sendMessage", 500, "Internal Server Error")
    smsman.deliver_sms(smsman.requests[0].request_id, "777000")
    await user.wait_for_text("code: 777000", timeout=10)
    assert len(pushes(user, "777000")) == 1


async def test_blocked_user_order_still_closes(
    telegram: TelegramEmulator, smsman: SmsManEmulator, clock: FakeClock, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await buy(user)
    telegram.block(ALLOWED_ID)
    smsman.deliver_sms(smsman.requests[0].request_id, "909090")
    # The push is refused with 403; the bot gives that code up instead of retrying forever.
    await telegram.wait_until(
        lambda: any(c.method == "sendMessage" and c.error_code == 403 for c in telegram.calls)
    )
    clock.advance(bot_app.settings.order_timeout_seconds + 1)
    # With its code in, the order is next looked at when its deadline comes on the poller's
    # own clock (the loop's), a quarter of an hour away: the test's clock jumped, so look now.
    poller: Poller = bot_app.dp["poller"]
    poller.schedule(1, 0.0)
    # The closed card is drawn (and refused: blocked) right after the order row is written.
    await telegram.wait_until(
        lambda: any(
            "Done." in str(c.params.get("text")) for c in telegram.calls_of("editMessageText")
        )
    )
    assert [c.params["status"] for c in smsman.calls if c.endpoint == "set-status"] == ["close"]
    order = await bot_app.db.get_order(1)
    assert order is not None
    assert order.status is OrderStatus.CLOSED
    stored = await bot_app.db.order_codes(1)
    assert [(c.code, c.delivery_error) for c in stored] == [("909090", BLOCKED)]
    assert order.delivery_note == BLOCKED, "the order says why its code was not pushed"


async def test_history_lists_past_orders(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, language_code="en")
    await buy(user)
    smsman.deliver_sms(smsman.requests[0].request_id, "313131")
    await user.wait_for_text("code: 313131")
    card = await user.wait_for_message(lambda m: "Done" in " ".join(labels(m)))
    await (await user.tap("Done", message=card)).answered()
    await user.wait_for_text("✔️ Done.")
    await (await user.tap("My numbers")).answered()
    await user.wait_for_text("no active numbers")
    await (await user.tap("History")).answered()
    history = await user.wait_for_text("Your past numbers")
    assert "313131" in history.text
    assert "12.50 ₽" in history.text
    assert "Telegram" in history.text
