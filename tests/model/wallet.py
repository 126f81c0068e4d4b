"""The lifecycle model in wallet mode: people pay from wallets, and the wallets' promises hold."""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from decimal import Decimal
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import invariant, rule

from bot.storage.records import LedgerKind
from bot.storage.wallets import Movement
from bot.wallet.pricing import credit_for
from tests.conftest import ALLOWED_ID
from tests.model.checks import wallets_are_their_ledgers
from tests.model.driving import guarded
from tests.model.machine import LifecycleModel
from tests.sim.effects import Crashed

STAR_PRICE = Decimal("0.5")
MARKUP_PERCENT, MARKUP_MIN = Decimal(30), Decimal(5)


class WalletModel(LifecycleModel):
    """Every rule of the lifecycle model, with top-ups (replayed ones too) between them; a
    wallet too low for a number shows Top up instead of Buy, so some purchases never start."""

    coverage: ClassVar[Counter[str]] = Counter()
    settings_overrides: ClassVar[dict[str, Any]] = {
        "sales_mode": "wallet",
        "star_price": str(STAR_PRICE),
        "markup_percent": str(MARKUP_PERCENT),
        "markup_min": str(MARKUP_MIN),
    }

    def __init__(self) -> None:
        super().__init__()
        self.charges = itertools.count(1)
        self.paid: list[str] = []

    @rule(stars=st.sampled_from([10, 50, 100]), replay=st.booleans())
    @guarded
    def top_up(self, stars: int, replay: bool) -> None:
        """A successful payment credited, as the payment handler does; or one again."""
        if replay and self.paid:
            charge = self.paid[-1]
            self._count("a payment delivered again")
        else:
            charge = f"charge-{next(self.charges)}"
            self.paid.append(charge)
            self._count("top up")
        app = self.world.app
        assert app is not None
        top_up = Movement(
            ALLOWED_ID, LedgerKind.TOPUP, charge, credit_for(stars, STAR_PRICE), stars
        )

        async def credit() -> None:
            # A crash armed by another rule may take the process down first: the payment is
            # then credited when Telegram delivers it again (the replay above).
            with contextlib.suppress(Crashed):
                await app.db.post(top_up, self.world.now())

        self._run(credit())

    @invariant()
    @guarded
    def wallets_match_their_ledgers(self) -> None:
        wallets_are_their_ledgers(self.world.settings.database_path, MARKUP_PERCENT, MARKUP_MIN)

    def _finish(self) -> None:
        super()._finish()
        self.wallets_match_their_ledgers()
