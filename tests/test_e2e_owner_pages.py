"""/stats and /orders over 200 people and 200 orders, in every language: each page within
Telegram's limits, every person and every troubled order on one, every held charge decidable."""

from __future__ import annotations

import asyncio
import copy
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.config import Settings
from bot.orders.lifecycle import OrderStatus
from bot.storage.database import Database
from bot.storage.records import LedgerKind
from bot.storage.wallets import Movement
from bot.telegram.message_limits import MAX_BUTTONS, MAX_TEXT, utf16_length
from emulators.smsman import SmsManEmulator
from emulators.telegram import ChatMessage, SimUser, TelegramEmulator
from keyboards.callbacks import AdminHoldCb, AdminOrderCb, HoldAction, StatsPageCb
from tests.conftest import ADMIN_ID, FakeClock, RunBot, make_settings
from tests.flows import labels

PEOPLE = 200
FIRST_PERSON = 10**15
# The admins, one per language.
ADMINS = {"en": ADMIN_ID, "ru": ADMIN_ID + 1, "zh": ADMIN_ID + 2}
# The longest lines: SMS-man titles of letters outside the BMP (two UTF-16 units each) and
# reasons full of what HTML must escape, on six-figure sums.
TITLE = "𝕋𝕖𝕝𝕖𝕘𝕣𝕒𝕞 " * 12
REASON = "<b>Tom & Jerry</b> said no " * 20
COST, PAID = Decimal("99999.99"), Decimal("129999.99")
# Every fourth person's order: a held charge, stuck open, failed, done with a code refused.
KINDS = (OrderStatus.LOST, OrderStatus.ACTIVE, OrderStatus.FAILED, OrderStatus.ACTIVE)


async def seed(path: Path, now: float) -> dict[OrderStatus, list[int]]:
    """One order per person, each a kind /orders lists: a held charge (LOST, paid), stuck
    past its deadline, failed just now, or done with a code Telegram refused; written with
    the bot's own storage API as the lifecycle would leave them."""
    db = await Database.open(path)
    # A thousand commits, none of which needs to survive a power cut: no fsync for each.
    await db._db.execute("PRAGMA synchronous = OFF")
    kinds: dict[OrderStatus, list[int]] = {status: [] for status in OrderStatus}
    try:
        for n in range(PEOPLE):
            person = FIRST_PERSON + n
            await db.ensure_user(person, "en", now)
            top_up = Movement(person, LedgerKind.TOPUP, f"stx{n}", Decimal("999999.99"), 100)
            await db.post(top_up, now)
            quote = await db.insert_quote(
                user_id=person,
                country_id=1,
                country_title=TITLE,
                country_iso=None,
                application_id=3,
                app_title=TITLE,
                price=COST,
                currency="RUB",
                now=now,
            )
            order, _created = await db.insert_order(quote, person, now, charge=PAID)
            kind = n % 4
            fields: dict[str, Any] = {"status": KINDS[kind]}
            if KINDS[kind] in (OrderStatus.LOST, OrderStatus.FAILED):
                fields["failure"] = REASON
            else:
                fields |= {"request_id": n + 1, "number": f"7999{n:07d}", "deadline": now - 1e3}
            await db.update_order(order.id, expect=(OrderStatus.PURCHASING,), now=now, **fields)
            if kind == 3:
                code = await db.record_code(
                    order.id,
                    "123456",
                    now,
                    expect=(OrderStatus.ACTIVE,),
                    status=OrderStatus.CODE_RECEIVED,
                )
                assert code is not None
                await db.update_order(
                    order.id,
                    expect=(OrderStatus.CODE_RECEIVED,),
                    now=now,
                    status=OrderStatus.CLOSED,
                )
                await db.give_up_code(code, now, "Bad Request: " + REASON)
            final = await db.get_order(order.id)
            assert final is not None
            kinds[final.status].append(order.id)
    finally:
        await db.close()
    return kinds


@pytest.fixture
def settings(tmp_path: Path, smsman: SmsManEmulator, telegram: TelegramEmulator) -> Settings:
    return make_settings(
        tmp_path,
        smsman,
        telegram,
        admin_ids=list(ADMINS.values()),
        # The stuck orders are looked at once at start, not many times a second as elsewhere.
        poll_interval_seconds=30,
        sales_mode="wallet",
        star_price="1.30",
    )


async def every_page(admin: SimUser, command: str) -> list[ChatMessage]:
    """Send `command`, then tap › until there is none: each page as it was shown."""
    await admin.send(command)
    message = await admin.wait_for_message(lambda m: True, waiting_for=f"the answer to {command}")
    pages = [copy.deepcopy(message)]
    while "›" in labels(message):
        await (await admin.tap("›", exact=True, message=message)).answered()
        message = await admin.wait_for_message(
            lambda m: m.message_id == pages[0].message_id, waiting_for="the next page"
        )
        pages.append(copy.deepcopy(message))
    return pages


def within_telegrams_limits(pages: list[ChatMessage]) -> None:
    for page in pages:
        assert utf16_length(page.text) <= MAX_TEXT, page.text[:200]
        assert sum(map(len, page.buttons)) <= MAX_BUTTONS


def callbacks(pages: list[ChatMessage]) -> list[str]:
    return [b.callback_data or "" for page in pages for row in page.buttons for b in row]


async def read_both(
    language: str, admin: SimUser, kinds: dict[OrderStatus, list[int]]
) -> tuple[list[ChatMessage], list[ChatMessage]]:
    """Every page of /stats and of /orders for one admin, checked: within Telegram's limits,
    every person once, every troubled order once with its buttons."""
    stats = await every_page(admin, "/stats")
    within_telegrams_limits(stats)
    assert len(stats) > 1, "200 people do not fit one message"
    shown = " ".join(page.text for page in stats)
    for n in range(PEOPLE):
        assert shown.count(f"{FIRST_PERSON + n}:") == 1, (language, n)

    listing = await every_page(admin, "/orders")
    within_telegrams_limits(listing)
    assert len(listing) > 1
    shown = " ".join(page.text for page in listing)
    troubled = [order for orders in kinds.values() for order in orders]
    assert len(troubled) == PEOPLE
    assert all(shown.count(f"#{order} ·") == 1 for order in troubled), language
    data = callbacks(listing)
    for order in kinds[OrderStatus.LOST]:
        for action in HoldAction:
            assert AdminHoldCb(order=order, action=action).pack() in data, order
    for order in kinds[OrderStatus.ACTIVE]:
        assert AdminOrderCb(order=order).pack() in data
    return stats, listing


async def test_every_page_of_the_owners_lists_fits_and_every_held_charge_is_decidable(
    telegram: TelegramEmulator,
    smsman: SmsManEmulator,
    run_bot: RunBot,
    settings: Settings,
    clock: FakeClock,
) -> None:
    kinds = await seed(settings.database_path, clock())
    # SMS-man does not answer: the stuck orders stay stuck while the pages are read.
    for endpoint in ("get-sms", "set-status"):
        smsman.fail_next(endpoint, "http_500", times=10**6)
    held = kinds[OrderStatus.LOST]
    admins = {
        language: telegram.user(id_, language_code=language) for language, id_ in ADMINS.items()
    }
    async with run_bot(settings) as app:
        # The three admins page at once, as they could.
        listings = await asyncio.gather(
            *(read_both(language, admin, kinds) for language, admin in admins.items())
        )
        stats, listing = listings[-1]

        # Decided from the last page that has a held charge, in the admin's own language.
        admin = admins["zh"]
        last = next(page for page in reversed(listing) if "y:" in " ".join(callbacks([page])))
        give_back = [AdminHoldCb(order=o, action=HoldAction.REFUND) for o in held]
        decision = next(cb for cb in give_back if cb.pack() in callbacks([last]))
        answer = await (await admin.tap_data(decision.pack(), message=last)).answered()
        assert answer.text is not None
        assert "已退还" in answer.text, answer
        assert await app.db.hold_decision(decision.order) is LedgerKind.REFUND

        # A page past the end, or forged: a stale button.
        for forged in (StatsPageCb(page=len(stats)).pack(), "k:-1", "j:07"):
            answer = await (await admin.tap_data(forged, message=stats[0])).answered()
            assert answer.text == "此按钮已失效。", forged
