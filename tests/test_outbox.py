"""The outbox over a real sqlite file and pacer: codes first and in order, cards folded, no loss."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any, cast

import pytest
from aiogram import Bot
from aiogram.methods import SendMessage

from bot.orders.lifecycle import OrderStatus, Tell
from bot.orders.notifier import Delivery, Notifier
from bot.orders.outbox import Outbox
from bot.storage.database import Database
from bot.storage.records import Code, Order
from bot.telegram.pacer import Limits, Pacer

NOW = 1_800_000_000.0


class Telegram:
    """A notifier that writes down what it sent; pushes take `push_time` and may be refused."""

    def __init__(self, pacer: Pacer) -> None:
        self.pacer = pacer
        self.sent: list[tuple[str, object]] = []
        self.push_time = 0.0
        self.answers: list[Delivery] = []

    async def push_code(self, order: Order, code: Code) -> tuple[Delivery, str | None]:
        await asyncio.sleep(self.push_time)
        answer = self.answers.pop(0) if self.answers else Delivery.SENT
        if answer is Delivery.SENT:
            self.sent.append(("code", code.code))
        return answer, None

    async def tell(self, order: Order, tell: Tell) -> None:
        self.sent.append(("notice", tell))

    async def update_card(self, order: Order) -> None:
        # The turn is held by the caller: what counts is what is drawn when it comes.
        self.sent.append(("card", order.status))


@pytest.fixture
async def db(tmp_path: Path) -> AsyncIterator[Database]:
    db = await Database.open(tmp_path / "bot.sqlite3")
    await db.ensure_user(7, "en", NOW)
    yield db
    await db.close()


async def open_order(db: Database, chat_id: int = 7) -> Order:
    quote = await db.insert_quote(
        user_id=7,
        country_id=1,
        country_title="Russia",
        country_iso="RU",
        application_id=3,
        app_title="Telegram",
        price=Decimal("9.90"),
        currency="RUB",
        now=NOW,
    )
    order, _ = await db.insert_order(quote, chat_id, NOW, card_message_id=1)
    updated = await db.update_order(
        order.id,
        expect=(OrderStatus.PURCHASING,),
        now=NOW,
        status=OrderStatus.ACTIVE,
        request_id=order.id,
        number="79000000000",
        deadline=NOW + 900,
    )
    assert updated is not None
    return updated


async def code_came(db: Database, order: Order, code: str) -> Order:
    stored = await db.record_code(
        order.id, code, NOW, expect=(order.status,), status=OrderStatus.CODE_RECEIVED
    )
    assert stored is not None
    current = await db.get_order(order.id)
    assert current is not None
    return current


async def until_delivered(outbox: Outbox, db: Database, *orders: Order) -> None:
    """Start the outbox with these orders' codes to push, and stop it once all are delivered."""
    outbox.start()
    try:
        for order in orders:
            outbox.codes(order)
        async with asyncio.timeout(5):
            while await db.undelivered_codes():  # noqa: ASYNC110 - sqlite has no event
                await asyncio.sleep(0.01)
    finally:
        await outbox.stop()


async def sent(_bot: Bot, _method: SendMessage) -> bool:
    return True


def outbox_for(db: Database, limits: Limits | None = None) -> tuple[Outbox, Telegram]:
    pacer = Pacer(limits)
    telegram = Telegram(pacer)
    return Outbox(cast(Notifier, telegram), db, pacer, lambda: NOW, interval=0.05), telegram


async def test_codes_of_one_chat_go_out_oldest_first_and_then_the_cards(db: Database) -> None:
    outbox, telegram = outbox_for(db)
    telegram.push_time = 0.02
    first, second = await open_order(db), await open_order(db)
    first, second = await code_came(db, first, "111"), await code_came(db, second, "222")

    outbox.codes(first)
    outbox.card(first)
    outbox.codes(second)
    outbox.card(second)
    await outbox.settle()

    codes = [("code", "111"), ("code", "222")]
    cards = [("card", OrderStatus.CODE_RECEIVED)] * 2
    assert telegram.sent == codes + cards, "a card never shows a code before its push"
    assert await db.undelivered_codes() == []


async def test_redraws_asked_for_while_one_waits_are_folded_into_it(db: Database) -> None:
    # One send in a chat, then one every 50 ms: the first redraw waits for its turn.
    outbox, telegram = outbox_for(db, Limits(chat_burst=1, chat_rate=20.0))
    order = await open_order(db)
    # The chat's one send: its bucket is empty now.
    await telegram.pacer(cast(Any, sent), cast(Bot, None), SendMessage(chat_id=7, text="menu"))

    for _ in range(5):
        outbox.card(order)
    order = await code_came(db, order, "333")
    outbox.card(order)
    await outbox.settle()

    assert telegram.sent == [("card", OrderStatus.CODE_RECEIVED)], "drawn once, as it is now"


async def test_a_push_telegram_did_not_take_is_sent_again_by_redelivery(db: Database) -> None:
    outbox, telegram = outbox_for(db)
    order = await code_came(db, await open_order(db), "444")
    telegram.answers = [Delivery.RETRY, Delivery.RETRY]
    await until_delivered(outbox, db, order)

    assert telegram.sent == [("code", "444")]


async def test_stop_lets_a_push_under_way_be_recorded(db: Database) -> None:
    outbox, telegram = outbox_for(db)
    telegram.push_time = 0.05
    order = await code_came(db, await open_order(db), "555")
    outbox.start()
    outbox.codes(order)
    await asyncio.sleep(0.01)

    await outbox.stop()

    assert telegram.sent == [("code", "555")]
    assert await db.undelivered_codes() == [], "a code Telegram took would be pushed again"


async def test_notices_go_out_on_their_own(db: Database) -> None:
    outbox, telegram = outbox_for(db)
    order = await open_order(db)

    outbox.notice(order, Tell.EXPIRED)
    await outbox.settle()

    assert telegram.sent == [("notice", Tell.EXPIRED)]


async def test_a_code_telegram_did_not_take_is_not_overtaken_in_its_chat(db: Database) -> None:
    outbox, telegram = outbox_for(db)
    first = await code_came(db, await open_order(db), "111")
    second = await code_came(db, await open_order(db), "222")
    telegram.answers = [Delivery.RETRY]  # a 5xx on the first push
    await until_delivered(outbox, db, first, second)

    assert telegram.sent == [("code", "111"), ("code", "222")]


async def test_stop_leaves_nothing_running(db: Database, monkeypatch: pytest.MonkeyPatch) -> None:
    """Redelivery may be starting pushes as the stop comes; when stop() returns, nothing of
    the outbox runs on (the database is closed next), and the code waits for the next start."""
    monkeypatch.setattr("bot.orders.outbox.STOP_GRACE", 0.2)
    outbox, telegram = outbox_for(db)
    telegram.push_time = 5.0  # Telegram holds every send
    order = await code_came(db, await open_order(db), "666")
    outbox.start()
    outbox.codes(order)
    await asyncio.sleep(0.05)

    await outbox.stop()
    outbox.codes(order)
    outbox.card(order)
    outbox.notice(order, Tell.EXPIRED)

    assert not outbox._tasks, "no task may outlive stop()"
    assert [c.code for c in await db.undelivered_codes()] == ["666"]
    assert telegram.sent == []
