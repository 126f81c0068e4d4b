"""The lifecycle model in wallet mode: people pay from wallets, and the wallets' promises hold."""

from __future__ import annotations

import contextlib
import itertools
from collections import Counter
from decimal import Decimal
from typing import Any, ClassVar

from hypothesis import strategies as st
from hypothesis.stateful import invariant, precondition, rule

from bot.orders.lifecycle import OrderStatus
from bot.storage.records import LedgerKind, Order
from bot.storage.wallets import Movement
from bot.wallet.pricing import credit_for
from emulators.telegram.payments import StarPayment
from keyboards.callbacks import AdminHoldCb
from tests.conftest import ALLOWED_ID
from tests.model.checks import read_orders, wallets_are_their_ledgers
from tests.model.driving import guarded
from tests.model.machine import LifecycleModel
from tests.sim.effects import Crashed

STAR_PRICE = Decimal("0.5")
MARKUP_PERCENT, MARKUP_MIN = Decimal(30), Decimal(5)


class WalletModel(LifecycleModel):
    """Every rule of the lifecycle model, with top-ups (replayed ones too), Stars returned and
    held charges decided between them; a wallet too low for a number shows Top up instead of
    Buy, so some purchases never start."""

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
        # Every ledger row as first read, by id: none may ever change or go.
        self.ledger_rows: dict[int, tuple[object, ...]] = {}

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
            # Telegram took the Stars: its record has the payment, to return or to credit.
            self.world.telegram.star_payments[charge] = StarPayment(
                charge, ALLOWED_ID, stars, f"topup:{stars}", int(self.world.now())
            )
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

    @precondition(lambda self: self.paid)
    @rule(data=st.data(), fault=st.sampled_from(["none", "no answer", "refused"]))
    @guarded
    def the_owner_returns_stars(self, data: st.DataObject, fault: str) -> None:
        """/refundstars for a top-up: Telegram returns the Stars, says nothing (a 5xx: the
        debit waits for the timer or the next command), or refuses (only what it has not
        returned: a refund done is CHARGE_ALREADY_REFUNDED)."""
        charge = data.draw(st.sampled_from(self.paid))
        telegram = self.world.telegram
        returned = telegram.star_payments[charge].refunded_at is not None
        if fault == "no answer":
            telegram.fail_next("refundStarPayment", 502, "Bad Gateway")
        elif fault == "refused" and not returned:
            telegram.fail_next("refundStarPayment", 400, "Bad Request: BALANCE_TOO_LOW")
        self._count(f"/refundstars, Telegram: {fault}")
        self._run(self._send(self.admin, f"/refundstars {charge}"))

    def _held(self) -> list[Order]:
        return [
            o
            for o in read_orders(self.world.settings.database_path)
            if o.status is OrderStatus.LOST and o.paid is not None
        ]

    @precondition(lambda self: self._held())
    @rule(data=st.data(), times=st.integers(1, 2))
    @guarded
    def the_owner_decides_a_held_charge(self, data: st.DataObject, times: int) -> None:
        """/orders, then one of its decisions (both of them may be tapped, and twice)."""
        self._run(self._send(self.admin, "/orders"))
        listing = self.admin.last_bot_message
        decisions = [
            b.callback_data
            for row in (listing.buttons if listing else [])
            for b in row
            if b.callback_data and b.callback_data.startswith(AdminHoldCb.__prefix__ + ":")
        ]
        if decisions:
            chosen = data.draw(st.sampled_from(decisions))
            self._count(f"the owner decides a held charge x{times}")
            self._run(self._taps(self.admin, chosen, times))

    @invariant()
    @guarded
    def wallets_match_their_ledgers(self) -> None:
        wallets_are_their_ledgers(
            self.world.settings.database_path,
            MARKUP_PERCENT,
            MARKUP_MIN,
            self.ledger_rows,
            self.world.telegram.star_payments,
        )

    def _finish(self) -> None:
        super()._finish()
        self.wallets_match_their_ledgers()
