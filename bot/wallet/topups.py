"""Top-ups with Telegram Stars: the offers, the check before the Stars are taken, the credit."""

from __future__ import annotations

import logging
from decimal import Decimal

from aiogram import Bot
from aiogram.exceptions import ClientDecodeError, TelegramAPIError
from aiogram.types import StarTransaction, TransactionPartnerUser

from bot.clock import Clock
from bot.config import Settings
from bot.owner.access import Access
from bot.storage.database import Database
from bot.storage.records import LedgerEntry, LedgerKind
from bot.storage.wallets import Movement
from bot.wallet.pricing import credit_for
from bot.wallet.star_transactions import StarTransactions, UnreadablePage

log = logging.getLogger(__name__)

STARS = "XTR"
PAYLOAD_PREFIX = "topup:"


def payload_for(stars: int) -> str:
    return f"{PAYLOAD_PREFIX}{stars}"


class TopUps:
    """Only the amounts offered are accepted, and a payment is credited once, by its charge id."""

    def __init__(
        self, db: Database, settings: Settings, access: Access, clock: Clock, bot: Bot
    ) -> None:
        self._db = db
        self._settings = settings
        self._access = access
        self._clock = clock
        self._record = StarTransactions(bot, db)

    def choices(self) -> list[tuple[int, Decimal]]:
        """The offered amounts of Stars, with what each adds to a wallet."""
        return [(stars, self.credit_for(stars)) for stars in self._settings.topup_stars]

    def credit_for(self, stars: int) -> Decimal:
        assert self._settings.star_price is not None, "wallet mode has a STAR_PRICE"
        return credit_for(stars, self._settings.star_price)

    def offered(self, stars: int) -> bool:
        return self._settings.wallet and stars in self._settings.topup_stars

    def stars_in(self, payload: str) -> int | None:
        """The Stars an invoice of ours asks for, or None for a payload we did not make."""
        amount = payload.removeprefix(PAYLOAD_PREFIX)
        if payload == amount or not (amount.isascii() and amount.isdigit()):
            return None
        stars = int(amount)
        return stars if self.offered(stars) else None

    async def may_pay(self, user_id: int, payload: str, currency: str, total: int) -> bool:
        """Telegram's pre-checkout: ok only for an amount we offered, to a person who may buy."""
        stars = self.stars_in(payload)
        return (
            stars is not None
            and currency == STARS
            and total == stars
            and await self._access.can_buy(user_id)
        )

    async def credit(self, user_id: int, stars: int, charge_id: str) -> LedgerEntry | None:
        """Credit a successful payment; None when this charge was credited already."""
        top_up = Movement(user_id, LedgerKind.TOPUP, charge_id, self.credit_for(stars), stars)
        return await self._db.post(top_up, self._clock())

    async def reconcile(self) -> int:
        """Credit the top-ups Telegram took whose successful_payment this bot never handled
        (it died in between, and Telegram does not send an acknowledged update again): the
        bot's Star transactions are the record, read on from where the last look got to; a
        payment returned before it was read is not credited. Returns how many were credited;
        Telegram failing leaves the bookmark where it was, for the next look."""
        received: dict[str, tuple[int, int]] = {}
        returned: set[str] = set()
        try:
            transactions, read_to = await self._record.read()
        except (TelegramAPIError, ClientDecodeError, UnreadablePage) as error:
            log.warning("Star transactions not read: %s", error)
            return 0
        for transaction in transactions:
            self._sort(transaction, received, returned)
        credited = 0
        for charge_id, (user_id, stars) in received.items():
            if charge_id not in returned and await self.credit(user_id, stars, charge_id):
                log.warning("top-up %s of %s credited from Telegram's record", charge_id, user_id)
                credited += 1
        await self._record.keep(read_to)
        return credited

    @staticmethod
    def _sort(
        transaction: StarTransaction,
        received: dict[str, tuple[int, int]],
        returned: set[str],
    ) -> None:
        source, receiver = transaction.source, transaction.receiver
        if isinstance(receiver, TransactionPartnerUser):
            returned.add(transaction.id)
        elif isinstance(source, TransactionPartnerUser) and (
            source.invoice_payload or ""
        ).startswith(PAYLOAD_PREFIX):
            received[transaction.id] = (source.user.id, transaction.amount)
