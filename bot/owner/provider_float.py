"""The SMS-man balance the bot spends: a low-float warning, and a pause when it runs dry."""

from __future__ import annotations

import logging
from decimal import Decimal

from bot.clock import Clock
from bot.owner.alerts import AdminAlerts, Problem
from bot.smsman.client import SmsManClient
from bot.smsman.errors import SmsManError

log = logging.getLogger(__name__)

# While paused, the balance is looked at no more often than this, however many people tap Buy.
RECHECK_EVERY = 30.0


class ProviderFloat:
    def __init__(
        self, smsman: SmsManClient, alerts: AdminAlerts, threshold: Decimal, clock: Clock
    ) -> None:
        self._smsman = smsman
        self._alerts = alerts
        self._threshold = threshold
        self._clock = clock
        self._paused = False
        self._checked_at = float("-inf")
        self._warned = False

    @property
    def paused(self) -> bool:
        return self._paused

    async def ran_dry(self) -> None:
        """The provider refused a purchase for want of money: stop selling until it is back."""
        self._paused = True
        self._checked_at = self._clock()
        log.error("SMS-man balance too low: purchases paused")
        await self._alerts.report(Problem.LOW_BALANCE)

    async def may_buy(self, price: Decimal) -> bool:
        if not self._paused:
            return True
        if self._clock() - self._checked_at < RECHECK_EVERY:
            return False
        self._checked_at = self._clock()
        balance = await self.balance()
        if balance is not None and balance >= price:
            self._paused = False
            log.info("SMS-man balance is back (%s): purchases resumed", balance)
        return not self._paused

    async def after_purchase(self) -> None:
        """Warn the admins once when the balance falls under the threshold, again only after
        it has been topped up above it and fallen again."""
        balance = await self.balance()
        if balance is None:
            return
        if balance >= self._threshold:
            self._warned = False
        elif not self._warned:
            self._warned = True
            await self._alerts.report(Problem.LOW_FLOAT, balance=balance)

    async def balance(self) -> Decimal | None:
        """The provider balance now, or None when SMS-man cannot say."""
        try:
            return await self._smsman.get_balance()
        except SmsManError as exc:
            log.warning("could not read the SMS-man balance: %s", exc)
            return None
