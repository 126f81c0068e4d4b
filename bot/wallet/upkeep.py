"""The Stars upkeep on a timer: unanswered Stars refunds asked again, missed top-ups credited."""

from __future__ import annotations

from bot.periodic import Periodic
from bot.wallet.owner import WalletDesk
from bot.wallet.topups import TopUps

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
        self._rounds = Periodic("stars upkeep", self.round, period)

    async def round(self) -> None:
        await self._desk.resume()
        if self._wallet:
            await self._top_ups.reconcile()

    def start(self) -> None:
        self._rounds.start()

    async def stop(self) -> None:
        # Cancelled mid-round is as safe as a crash: a refund asked is still pending, a
        # credit is keyed once, and the bookmark moves only after the credits it covers.
        await self._rounds.stop()
