"""The lifecycle's promises, checked against what the two emulators recorded and the bot's file."""

from __future__ import annotations

import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from bot.orders.lifecycle import LIVE_STATUSES, REFUNDED, TABLE, Event, OrderStatus
from bot.owner.stats import Figures
from bot.storage.records import Order, order_from_row
from bot.storage.wallets import attempted
from bot.wallet.pricing import selling_price
from emulators.smsman import RequestStatus
from emulators.smsman.state import ActivationRequest, LedgerEntry, LedgerKind
from emulators.telegram import ChatMessage, SimUser
from emulators.telegram.payments import StarPayment
from tests.sim.world import EPOCH, World

PENDING_TEXT = "Time is up"
# Between the last look at get-sms and the close it decides: a few rate-limit slots.
CLOSE_GAP = 1.0
MAY_BE_CHARGED = "may have been charged"


def longest_chain() -> int:
    """The most steps one event can take through the table; raises on a loop of follow-ups."""

    def steps(status: OrderStatus, event: Event, seen: frozenset[tuple[OrderStatus, Event]]) -> int:
        if (status, event) in seen:
            raise AssertionError(f"follow-ups loop through {status} {event}")
        after = [
            steps(then.status, then.follow, seen | {(status, event)})
            for then in TABLE[status, event].then.values()
            if then.follow is not None
        ]
        return 1 + max(after, default=0)

    return max(steps(status, event, frozenset()) for status, event in TABLE)


def read_orders(path: Path) -> list[Order]:
    """What the bot committed to its file (another connection sees nothing uncommitted)."""
    with sqlite3.connect(path) as raw:
        raw.row_factory = sqlite3.Row
        return [order_from_row(row) for row in raw.execute("SELECT * FROM orders ORDER BY id")]


def stored_codes(path: Path) -> dict[int, set[str]]:
    """The codes the bot committed, by order."""
    stored: dict[int, set[str]] = {}
    with sqlite3.connect(path) as raw:
        for order_id, code in raw.execute("SELECT order_id, code FROM codes"):
            stored.setdefault(order_id, set()).add(code)
    return stored


def net(entries: Iterable[LedgerEntry]) -> Decimal:
    """Charges minus refunds."""
    return sum(
        (e.amount if e.kind is LedgerKind.CHARGE else -e.amount for e in entries), Decimal(0)
    )


def refused_codes(path: Path) -> set[str]:
    """Codes whose push Telegram refused for good."""
    with sqlite3.connect(path) as raw:
        rows = raw.execute("SELECT code FROM codes WHERE delivery_error IS NOT NULL")
        return {r[0] for r in rows}


def undelivered_codes(path: Path) -> set[str]:
    with sqlite3.connect(path) as raw:
        return {r[0] for r in raw.execute("SELECT code FROM codes WHERE delivered_at IS NULL")}


def pushes(user: SimUser) -> Counter[str]:
    """How many times each code reached the person's chat (Telegram said OK to each)."""
    counted: Counter[str] = Counter()
    for message in user.bot_messages:
        if " code: " in message.text and " for +" in message.text:
            counted[message.text.split(" code: ", 1)[1].split(" for +", 1)[0]] += 1
    return counted


@dataclass
class Record:
    """What the model remembers across steps: its own taps, and windows a crash opened."""

    quotes_tapped: set[int] = field(default_factory=set)
    retries_tapped: set[int] = field(default_factory=set)
    # Codes pushed whose "delivered" row a crash stopped: pushed again after the restart.
    may_repeat: set[str] = field(default_factory=set)
    # Virtual times a bot process started; a restarted poller spreads its first looks.
    starts: list[float] = field(default_factory=list)


class Checks:
    """Each method checks one promise and raises AssertionError naming what broke."""

    def __init__(self, world: World, user: SimUser, record: Record) -> None:
        self.world = world
        self.user = user
        self.record = record

    @property
    def orders(self) -> list[Order]:
        return read_orders(self.world.settings.database_path)

    def requests(self) -> dict[int, ActivationRequest]:
        return {r.request_id: r for r in self.world.smsman.requests}

    def one_purchase_per_intent(self) -> None:
        """Every number sold belongs to a tap the person made, at most one per intent; a sale
        the bot never heard of is matched by an order that says it may have been charged."""
        orders = self.orders
        known = {o.request_id for o in orders if o.request_id is not None}
        for order in orders:
            if order.retry_of is None:
                assert order.quote_id in self.record.quotes_tapped, f"order {order.id}: no tap"
            else:
                assert order.retry_of in self.record.retries_tapped, f"order {order.id}: no tap"
        intents = Counter(
            (o.retry_of is None, o.retry_of or o.quote_id) for o in orders if o.request_id
        )
        assert max(intents.values(), default=0) <= 1, f"two numbers for one intent: {intents}"
        unheard = [r for r in self.world.smsman.requests if r.request_id not in known]
        uncertain = [o for o in orders if o.status in (OrderStatus.LOST, OrderStatus.PURCHASING)]
        assert len(unheard) <= len(uncertain), (
            f"requests {[r.request_id for r in unheard]} were sold without an order that says so"
        )

    def codes_pushed_once(self, *, finished: bool) -> None:
        """No code is pushed twice (but for a crash between Telegram's OK and the record of it);
        once `finished`, every code the provider holds was pushed, unless Telegram refused
        that code's push for good, or it came in the moment between the bot's last look and
        the close that followed it (no more than CLOSE_GAP apart, unless SMS-man failed the
        close meanwhile and it was retried)."""
        pushed = pushes(self.user)
        for code, times in pushed.items():
            limit = 2 if code in self.record.may_repeat else 1
            assert times <= limit, f"code {code} pushed {times} times"
        if not finished:
            return
        orders = {o.request_id: o for o in self.orders if o.request_id is not None}
        refused = refused_codes(self.world.settings.database_path)
        for request in self.world.smsman.requests:
            order = orders.get(request.request_id)
            if order is None:
                continue
            for code, arrived in zip(request.codes, request.code_times, strict=True):
                if pushed[code] or code in refused:
                    continue
                look = self._last_look(request)
                excused = arrived > look and self._closed_right_after(request, look)
                assert excused, (
                    f"code {code} of order {order.id} (arrived at {arrived}, last look at "
                    f"{look}, request {request.status} at {request.finished_at}) never "
                    f"reached the chat"
                )

    def _last_look(self, request: ActivationRequest) -> float:
        end = request.finished_at if request.finished_at is not None else float("inf")
        looks = [
            c.time
            for c in self.world.smsman.calls
            if c.endpoint == "get-sms"
            and c.answer in ("ok", "wait_sms")
            and c.params.get("request_id") == str(request.request_id)
            and c.time <= end
        ]
        return max(looks, default=float("-inf"))

    def _closed_right_after(self, request: ActivationRequest, look: float) -> bool:
        if request.status is not RequestStatus.CLOSED or request.finished_at is None:
            return False
        if request.finished_at - look <= CLOSE_GAP:
            return True
        return any(
            c.answer.startswith("fault:")
            and c.params.get("request_id") == str(request.request_id)
            and look < c.time <= request.finished_at
            for c in self.world.smsman.calls
        )

    def pushed_codes(self) -> Counter[str]:
        return pushes(self.user)

    def looks(self) -> dict[int, float]:
        """When the bot last saw each request's answer to get-sms."""
        last: dict[int, float] = {}
        for call in self.world.smsman.calls:
            if call.endpoint == "get-sms" and call.answer in ("ok", "wait_sms"):
                last[int(call.params["request_id"])] = call.time
        return last

    def released_on_time(
        self, *, round_: float, after_trouble: float, flood: float, attempt: float
    ) -> None:
        """No order stays open past its deadline and one polling round while the provider and
        Telegram answer and the bot runs. Trouble at or after the deadline extends that: a
        fault of the provider for this request by what its retries take, Telegram's flood
        control by what waiting it out takes, a start by a round. Once an attempt to release
        the order has had time to fail, its card says the release is pending."""
        now = self.world.loop.time()
        faults = self._last_faults()
        floods = [c.time for c in self.world.telegram.calls if c.error_code == 429]
        for order in self.orders:
            if order.status not in LIVE_STATUSES or order.deadline is None:
                continue
            deadline = order.deadline - EPOCH
            since = deadline - round_
            allowed = deadline + round_
            fault = faults.get(order.request_id or 0, float("-inf"))
            if fault > since:
                allowed = max(allowed, fault + after_trouble)
            for moment in [*floods, *self.record.starts]:
                if moment > since:
                    allowed = max(allowed, moment + flood + round_)
            assert now <= allowed, (
                f"order {order.id} still {order.status} {now - deadline:.1f} s after its "
                f"deadline (allowed until {allowed - deadline:.1f} s)"
            )
            tried = max(deadline, *self.record.starts) + round_ + attempt
            card = self._card(order)
            if now > tried and card is not None:
                refused = self.user.chat.blocked or self._edit_refused(order, deadline)
                assert refused or PENDING_TEXT in card.text, (
                    f"order {order.id}: its card does not say the release is pending"
                )

    def _card(self, order: Order) -> ChatMessage | None:
        """The order's card, if its message still shows this order (the person may have
        turned it into a menu or another order's card since)."""
        if order.card_message_id is None or order.number is None:
            return None
        message = self.user.chat.find(order.card_message_id)
        digits = "".join(c for c in message.text if c.isdigit()) if message else ""
        return message if order.number in digits else None

    def _edit_refused(self, order: Order, since: float) -> bool:
        return any(
            c.method == "editMessageText"
            and c.ok is False
            and c.time >= since
            and c.params.get("message_id") == order.card_message_id
            for c in self.world.telegram.calls
        )

    def _last_faults(self) -> dict[int, float]:
        last: dict[int, float] = {}
        for call in self.world.smsman.calls:
            if call.answer.startswith("fault:") and "request_id" in call.params:
                last[int(call.params["request_id"])] = call.time
        return last

    def money_told_as_it_is(self) -> None:
        """Refunded means the provider refunded and charged that it kept the money, for each
        finished order; the owner's figures for them equal the provider's ledger."""
        requests = self.requests()
        figures = Figures()
        finished = set()
        for order in self.orders:
            if order.request_id is None or order.is_open:
                continue
            request = requests[order.request_id]
            assert not request.active, (
                f"order {order.id} is {order.status} but request {request.request_id} is open"
            )
            assert request.cost == order.price, f"order {order.id}: charged {request.cost}"
            assert (order.status in REFUNDED) == request.refunded, (
                f"order {order.id} says {order.status}, the provider "
                f"{'refunded' if request.refunded else 'kept the money'}"
            )
            figures.add(order, codes=0)
            finished.add(order.request_id)
        ledger = net(e for e in self.world.smsman.ledger if e.request_id in finished)
        assert figures.spend == ledger, f"/stats says {figures.spend}, the ledger {ledger}"

    def books_balance(self) -> None:
        """After the provider's lifetime, the owner's figures over every order equal the
        provider's ledger over every request, sales the bot never heard of included."""
        figures = Figures()
        for order in self.orders:
            figures.add(order, codes=0)
        ledger = net(self.world.smsman.ledger)
        assert figures.spend == ledger, f"/stats says {figures.spend} in all, the ledger {ledger}"

    def everything_ended(self) -> None:
        left = [o for o in self.orders if o.is_open]
        assert not left, f"orders still open at the end: {left}"


def wallets_are_their_ledgers(
    path: Path,
    markup_percent: Decimal,
    markup_min: Decimal,
    seen: dict[int, tuple[object, ...]],
    payments: Mapping[str, StarPayment],
) -> None:
    """Wallet mode, from what the bot committed: each balance is the sum of its ledger and
    never negative, no key twice, no row ever changed or gone (`seen` keeps each as first
    read), every order charged its selling price once, and given back exactly when it sold
    nothing (a reversal), SMS-man took the number back (a refund) or the owner gave a held
    charge back (a refund, or else at most a kept hold); Stars went back (Telegram's
    `payments`) exactly for the top-ups whose debit stands, and only one debit stands."""
    with sqlite3.connect(path) as raw:
        rows = raw.execute("SELECT * FROM ledger ORDER BY id").fetchall()
        balances = {u: Decimal(b) for u, b in raw.execute("SELECT user_id, balance FROM wallets")}
    for row in rows:
        assert seen.setdefault(row[0], row) == row, f"ledger row changed: {seen[row[0]]} → {row}"
    assert len(rows) == len(seen), "a ledger row disappeared"
    entries = [(user_id, kind, key, amount) for _id, user_id, kind, key, amount, *_ in rows]
    sums: dict[int, Decimal] = {}
    for user_id, _kind, _key, amount in entries:
        sums[user_id] = sums.get(user_id, Decimal(0)) + Decimal(amount)
    for user_id in sums.keys() | balances.keys():
        balance = balances.get(user_id, Decimal(0))
        assert balance == sums.get(user_id, Decimal(0)), (user_id, balance, sums.get(user_id))
        assert balance >= 0, (user_id, balance)
    moved = {(kind, key): Decimal(amount) for _user, kind, key, amount in entries}
    assert len(moved) == len(entries), "a key used twice"
    orders = read_orders(path)
    for order in orders:
        assert order.paid == selling_price(order.price, markup_percent, markup_min), order
        assert moved.get(("purchase", str(order.id))) == -order.paid, order
        reversal = moved.get(("reversal", str(order.id)))
        refund = moved.get(("refund", str(order.id)))
        kept = moved.get(("hold_kept", str(order.id)))
        assert reversal == (order.paid if order.status is OrderStatus.FAILED else None), order
        if order.status is OrderStatus.LOST:
            assert (refund, kept) in ((None, None), (order.paid, None), (None, 0)), order
        else:
            assert refund == (order.paid if order.status in REFUNDED else None), order
            assert kept is None, order
    ids = {str(order.id) for order in orders}
    by_order = {"purchase", "reversal", "refund", "hold_kept"}
    assert all(key in ids for kind, key in moved if kind in by_order), "money for no order"
    for charge_id, payment in payments.items():
        attempts = [
            key for kind, key in moved if kind == "stars_refund" and attempted(key) == charge_id
        ]
        standing = [key for key in attempts if ("stars_refund_undone", key) not in moved]
        assert len(standing) <= 1, (charge_id, attempts)
        returned = payment.refunded_at is not None
        # Returned, the debit stands (pending until Telegram's answer is written); one
        # confirmed, Telegram returned them; pending and not returned: asked, no answer yet.
        assert standing or not returned, (charge_id, attempts)
        done = [key for key in standing if ("stars_refund_done", key) in moved]
        assert returned or not done, (charge_id, attempts)
