"""The owner's hand on wallets: corrections, and Stars returned for a top-up, crash-safe."""

from __future__ import annotations

import asyncio
import logging
import uuid
from decimal import Decimal
from enum import StrEnum

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest

from bot.clock import Clock
from bot.orders.lifecycle import OrderStatus
from bot.storage.database import Database
from bot.storage.records import LedgerEntry, LedgerKind, Order
from bot.storage.wallets import InsufficientFunds, Movement, attempt_key, attempted

log = logging.getLogger(__name__)

ALREADY_REFUNDED = "CHARGE_ALREADY_REFUNDED"


class StarsRefund(StrEnum):
    DONE = "done"
    NO_SUCH_TOP_UP = "no such top-up"
    ALREADY = "already returned"
    SPENT = "balance below the top-up"
    REFUSED = "Telegram refused"
    UNANSWERED = "Telegram did not answer"


class WalletDesk:
    """What an admin may do to a wallet. A Stars refund is written first as a pending debit,
    then Telegram is asked, then an entry of its own keeps the debit or gives it back; one
    Telegram did not answer (or a crash cut short) stays pending and is asked about again
    (`resume`, on the wallet timer). One question to Telegram at a time: the answer to one
    is written before the next is asked, so two cannot disagree in the ledger."""

    def __init__(self, db: Database, bot: Bot, clock: Clock) -> None:
        self._db = db
        self._bot = bot
        self._clock = clock
        self._asking = asyncio.Lock()

    async def credit(
        self, admin_id: int, user_id: int, amount: Decimal, reason: str
    ) -> LedgerEntry:
        """A correction by an admin, positive or negative; InsufficientFunds below zero."""
        movement = Movement(
            user_id,
            LedgerKind.ADJUSTMENT,
            uuid.uuid4().hex,
            amount,
            actor_id=admin_id,
            reason=reason,
        )
        entry = await self._db.post(movement, self._clock())
        assert entry is not None, "a fresh key is never used"
        return entry

    async def held(self, order: Order) -> bool:
        """A charge SMS-man left unknown (a LOST purchase) that the owner has not decided on."""
        if order.status is not OrderStatus.LOST or order.paid is None:
            return False
        return await self._db.hold_decision(order.id) is None

    async def resolve_hold(self, admin_id: int, order: Order, *, refund: bool) -> bool:
        """Give a held charge back to the wallet, or keep it; false when already decided."""
        if not await self.held(order):
            return False
        assert order.paid is not None
        decisions = {
            True: (LedgerKind.REFUND, order.paid),
            False: (LedgerKind.HOLD_KEPT, Decimal(0)),
        }
        kind, amount = decisions[refund]
        rival = decisions[not refund][0]
        decision = Movement(order.user_id, kind, str(order.id), amount, actor_id=admin_id)
        # Two admins, or one double tap: the first decision stands, in one transaction.
        return await self._db.decide(decision, (rival,), self._clock())

    async def refund_stars(self, charge_id: str) -> StarsRefund:
        top_up = await self._db.entry(LedgerKind.TOPUP, charge_id)
        if top_up is None:
            return StarsRefund.NO_SUCH_TOP_UP
        async with self._asking:
            attempts = await self._db.attempts(LedgerKind.STARS_REFUND, charge_id)
            for attempt in attempts:
                if attempt.pending:
                    # Asked before without an answer: ask again rather than wait for the timer.
                    return await self._ask_telegram(attempt)
                if not await self._db.entry(LedgerKind.STARS_REFUND_UNDONE, attempt.key):
                    return StarsRefund.ALREADY
            debit = Movement(
                top_up.user_id,
                LedgerKind.STARS_REFUND,
                attempt_key(charge_id, len(attempts) + 1),
                -top_up.amount,
                stars=top_up.stars,
                pending=True,
            )
            try:
                written = await self._db.post(debit, self._clock())
            except InsufficientFunds:
                return StarsRefund.SPENT
            assert written is not None, "attempts are keyed apart, under the lock"
            return await self._ask_telegram(written)

    async def resume(self) -> None:
        """Stars refunds Telegram has not answered yet (a 5xx, a timeout, a crash)."""
        for entry in await self._db.pending(LedgerKind.STARS_REFUND):
            async with self._asking:
                # Settled meanwhile by an admin's /refundstars: nothing to ask.
                current = await self._db.entry(LedgerKind.STARS_REFUND, entry.key)
                if current is None or not current.pending:
                    continue
                outcome = await self._ask_telegram(current)
            log.info("Stars refund %s asked again: %s", entry.key, outcome.value)

    async def _ask_telegram(self, debit: LedgerEntry) -> StarsRefund:
        charge_id = attempted(debit.key)
        try:
            await self._bot.refund_star_payment(debit.user_id, charge_id)
        except TelegramBadRequest as error:
            if ALREADY_REFUNDED in error.message:
                # Returned before (a crash after Telegram's yes): the debit stands.
                await self._settle(debit, confirmed=True)
                return StarsRefund.DONE
            log.warning("Stars refund %s refused: %s", debit.key, error.message)
            await self._settle(debit, confirmed=False)
            return StarsRefund.REFUSED
        except TelegramAPIError as error:
            # No verdict (a 5xx, a timeout): the debit stays pending and is asked about again.
            log.warning("Stars refund %s unanswered: %s", debit.key, error)
            return StarsRefund.UNANSWERED
        await self._settle(debit, confirmed=True)
        return StarsRefund.DONE

    async def _settle(self, debit: LedgerEntry, *, confirmed: bool) -> None:
        await self._db.settle_pending(
            LedgerKind.STARS_REFUND, debit.key, self._clock(), confirmed=confirmed
        )
