"""The Stars upkeep on a timer: unanswered Stars refunds asked again, missed top-ups credited."""

from __future__ import annotations

import asyncio
import contextlib
import logging

from bot.wallet.owner import WalletDesk
from bot.wallet.topups import TopUps

log = logging.getLogger(__name__)

# A top-up missed by a crash waits at most this long for its credit, a refund Telegram did not
# answer as long for its verdict: a person who paid is not kept waiting long, and a round
# (one sqlite read, and in wallet mode one getStarTransactions from the bookmark) costs
# nothing worth a setting at 12 an hour.
PERIOD_SECONDS = 300.0


class StarsUpkeep:
    """Rounds in the background, the first at start: nothing in them can keep the bot from
    starting, and a round that fails is logged and followed by the next one.

    Refunds are asked again in either sales mode (one asked for before a switch to owner mode
    still owes the person their Stars or the owner the debit); the record of payments is read
    in wallet mode only, the only mode that takes them."""

    def __init__(
        self,
        desk: WalletDesk,
        top_ups: TopUps,
        *,
        wallet: bool,
        period: float = PERIOD_SECONDS,
    ) -> None:
        self._desk = desk
        self._top_ups = top_ups
        self._wallet = wallet
        self._period = period
        self._task: asyncio.Task[None] | None = None

    async def round(self) -> None:
        await self._desk.resume()
        if self._wallet:
            await self._top_ups.reconcile()

    def start(self) -> None:
        self._task = asyncio.create_task(self._rounds(), name="stars upkeep")

    async def stop(self) -> None:
        # Cancelled mid-round is as safe as a crash: a refund asked is still pending, a
        # credit is keyed once, and the bookmark moves only after the credits it covers.
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _rounds(self) -> None:
        while True:
            try:
                await self.round()
            except Exception:
                log.exception("Stars upkeep failed; next round in %.0f s", self._period)
            await asyncio.sleep(self._period)
