"""The orders service: the one owner of every order status change and of purchases."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import NamedTuple

from bot import limits
from bot.access import Access
from bot.alerts import AdminAlerts, Problem
from bot.catalog import Catalog, CatalogCountry
from bot.clock import Clock
from bot.config import Settings
from bot.limits import Refusal
from bot.notifier import Delivery, Event, Notifier
from bot.provider_float import ProviderFloat
from bot.smsman.client import SmsManClient
from bot.smsman.errors import (
    LowBalance,
    NoNumbers,
    ProviderUnavailable,
    RequestNotFound,
    SmsManError,
    WrongStatus,
    WrongToken,
)
from bot.smsman.models import Application, Price, RequestStatus
from bot.storage import Database, Order, OrderStatus, Quote

log = logging.getLogger(__name__)

ALTERNATIVES = 5
# How often an open order's card is redrawn for its countdown: well inside Telegram's limits.
CARD_REFRESH = 60.0


class Outcome(StrEnum):
    BOUGHT = "bought"
    IN_PROGRESS = "in_progress"
    EXISTING = "existing"
    PRICE_ROSE = "price_rose"
    NO_NUMBERS = "no_numbers"
    UNAVAILABLE = "unavailable"
    PROVIDER_DOWN = "provider_down"
    NOT_FOUND = "not_found"
    FORBIDDEN = "forbidden"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    FINISHED = "finished"
    HAS_CODE = "has_code"
    LIMIT = "limit"
    PAUSED = "paused"


@dataclass(frozen=True, slots=True)
class Result:
    """What a purchase or an order action came to, with what the screen needs to show it."""

    outcome: Outcome
    order: Order | None = None
    quote: Quote | None = None
    alternatives: list[Price] = field(default_factory=list)
    refusal: Refusal | None = None


class Poll(StrEnum):
    """What the poller should do with an order after one look at it."""

    AGAIN = "again"
    BACK_OFF = "back_off"
    IDLE = "idle"
    DONE = "done"


class Next(NamedTuple):
    """The poller's next step for an order; `after` is the wait for IDLE, in seconds."""

    action: Poll
    after: float = 0.0


OrderWatcher = Callable[[Order], None]


class OrderService:
    def __init__(
        self,
        *,
        db: Database,
        smsman: SmsManClient,
        catalog: Catalog,
        settings: Settings,
        alerts: AdminAlerts,
        access: Access,
        provider_float: ProviderFloat,
        notifier: Notifier,
        clock: Clock,
        card_refresh: float = CARD_REFRESH,
    ) -> None:
        self._db = db
        self._smsman = smsman
        self._catalog = catalog
        self._settings = settings
        self._alerts = alerts
        self._access = access
        self._float = provider_float
        self._purchase_lock = asyncio.Lock()
        self._notifier = notifier
        self._clock = clock
        self._card_refresh = card_refresh
        self._card_drawn: dict[int, float] = {}
        self._watchers: list[OrderWatcher] = []
        # Orders with a code whose person asked for another SMS: only these need get-sms.
        self._rearmed: set[int] = set()
        # The poller and the redelivery loop both push codes; one at a time, none twice.
        self._delivering = asyncio.Lock()

    def watch(self, watcher: OrderWatcher) -> None:
        """Be told of every order that starts needing polls (bought, or asked for another SMS)."""
        self._watchers.append(watcher)

    def _opened(self, order: Order) -> None:
        for watcher in self._watchers:
            watcher(order)

    async def quote(
        self, user_id: int, country: CatalogCountry, app: Application, price: Price
    ) -> Quote:
        return await self._db.insert_quote(
            user_id=user_id,
            country_id=country.id,
            country_title=country.title,
            country_iso=country.iso,
            application_id=app.id,
            app_title=app.title,
            price=price.cost,
            currency=self._settings.currency,
            now=self._clock(),
        )

    async def buy(
        self,
        user_id: int,
        chat_id: int,
        quote_id: int,
        card_message_id: int,
        *,
        on_purchase: Callable[[], Awaitable[None]] | None = None,
    ) -> Result:
        """Buy the number a quote offers, at most once per quote, never above its price.

        `on_purchase` runs just before the provider is asked, i.e. only for the one call that
        actually buys, so the screen can say "buying" while a repeated tap says "already".
        """
        if not await self._access.can_buy(user_id):
            return Result(Outcome.FORBIDDEN)
        quote = await self._db.get_quote(quote_id)
        if quote is None or quote.user_id != user_id:
            return Result(Outcome.NOT_FOUND)
        if not await self._float.may_buy(quote.price):
            return Result(Outcome.PAUSED)
        # Limits are checked and the order written under one lock: two taps at once on two
        # different offers cannot both slip under a limit.
        async with self._purchase_lock:
            existing = await self._db.order_for_quote(quote.id)
            if existing is not None:
                busy = existing.status is OrderStatus.PURCHASING
                return Result(Outcome.IN_PROGRESS if busy else Outcome.EXISTING, existing)
            refusal = await self._refusal(user_id, quote)
            if refusal is not None:
                return Result(Outcome.LIMIT, refusal=refusal)
            order, _created = await self._db.insert_order(quote, chat_id, self._clock())
        order = await self._update(
            order, (OrderStatus.PURCHASING,), card_message_id=card_message_id
        )
        if on_purchase is not None:
            await on_purchase()
        try:
            number = await self._smsman.get_number(
                quote.country_id,
                quote.application_id,
                max_price=quote.price,
                currency=quote.currency,
            )
        except NoNumbers:
            return await self._no_numbers(order, quote)
        except LowBalance:
            await self._fail(order, "balance")
            await self._float.ran_dry()
            return Result(Outcome.UNAVAILABLE, order)
        except WrongToken:
            await self._fail(order, "wrong_token")
            await self._alerts.report(Problem.WRONG_TOKEN)
            return Result(Outcome.UNAVAILABLE, order)
        except ProviderUnavailable as exc:
            # The provider may have sold the number without telling us; it will expire unused
            # there, and we cannot reject a request whose id we never heard.
            reason = "outcome_unknown" if exc.outcome_unknown else "provider_down"
            log.warning("purchase for order %s failed: %s (%s)", order.id, exc, reason)
            return Result(Outcome.PROVIDER_DOWN, await self._fail(order, reason))
        except SmsManError as exc:
            log.warning("purchase for order %s refused: %s", order.id, exc)
            return Result(Outcome.PROVIDER_DOWN, await self._fail(order, exc.code or "error"))
        now = self._clock()
        bought = await self._update(
            order,
            (OrderStatus.PURCHASING,),
            status=OrderStatus.ACTIVE,
            request_id=number.request_id,
            number=number.number,
            deadline=now + self._settings.order_timeout_seconds,
        )
        log.info("order %s bought: request %s", order.id, number.request_id)
        self._card_drawn[bought.id] = now
        self._opened(bought)
        await self._float.after_purchase()
        return Result(Outcome.BOUGHT, bought)

    async def _refusal(self, user_id: int, quote: Quote) -> Refusal | None:
        now = self._clock()
        admin = self._access.is_admin(user_id)
        today = await self._db.orders_since(user_id, limits.day_start(now))
        return limits.check(
            price=quote.price,
            open_orders=len(await self._db.user_open_orders(user_id)),
            spent_today=limits.committed(today),
            max_active=self._settings.max_active_orders,
            daily_limit=None if admin else self._settings.daily_spend_limit,
            max_price=self._settings.max_price,
            currency=self._settings.currency,
            now=now,
        )

    async def retry(
        self,
        user_id: int,
        order_id: int,
        chat_id: int,
        card_message_id: int,
        *,
        on_purchase: Callable[[], Awaitable[None]] | None = None,
    ) -> Result:
        """Buy again on the terms of a failed order, with the same price cap."""
        order = await self._db.get_order(order_id)
        if order is None or order.user_id != user_id:
            return Result(Outcome.NOT_FOUND)
        if order.status is not OrderStatus.FAILED:
            return Result(Outcome.EXISTING, order)
        quote = await self._db.get_quote(order.quote_id)
        assert quote is not None
        again = await self._requote(quote, quote.price)
        return await self.buy(user_id, chat_id, again.id, card_message_id, on_purchase=on_purchase)

    async def cancel(self, user_id: int, order_id: int) -> Result:
        """Reject a number that has no code yet; the provider returns the money."""
        return await self._give_back(user_id, order_id, RequestStatus.REJECT)

    async def report_used(self, user_id: int, order_id: int) -> Result:
        """The number is already registered or banned in the app: give it back for a refund."""
        return await self._give_back(user_id, order_id, RequestStatus.USED, failure="used")

    async def _give_back(
        self, user_id: int, order_id: int, status: RequestStatus, failure: str | None = None
    ) -> Result:
        """Return a number without a code (reject or used): both are refunded by the provider."""
        order = await self.get(user_id, order_id)
        if order is None:
            return Result(Outcome.NOT_FOUND)
        if order.status is OrderStatus.PURCHASING:
            return Result(Outcome.IN_PROGRESS, order)
        if order.status is OrderStatus.CODE_RECEIVED:
            return Result(Outcome.HAS_CODE, order)
        if order.status is not OrderStatus.ACTIVE or order.request_id is None:
            return Result(Outcome.FINISHED, order)
        try:
            await self._smsman.set_status(order.request_id, status)
        except RequestNotFound:
            return await self._finish(order, OrderStatus.EXPIRED, Outcome.EXPIRED)
        except WrongStatus:
            return Result(Outcome.HAS_CODE, order)
        return await self._finish(order, OrderStatus.CANCELLED, Outcome.CANCELLED, failure=failure)

    async def open_orders(self, user_id: int) -> list[Order]:
        return await self._db.user_open_orders(user_id)

    async def peek(self, order_id: int) -> Order | None:
        """Any order, for the owner's view."""
        return await self._db.get_order(order_id)

    async def get(self, user_id: int, order_id: int) -> Order | None:
        order = await self._db.get_order(order_id)
        return order if order is not None and order.user_id == user_id else None

    async def another_sms(self, user_id: int, order_id: int) -> Result:
        """Ask the provider to wait for one more SMS on the same number."""
        order = await self.get(user_id, order_id)
        if order is None:
            return Result(Outcome.NOT_FOUND)
        if order.status is not OrderStatus.CODE_RECEIVED or order.request_id is None:
            return Result(Outcome.FINISHED, order)
        try:
            await self._smsman.set_status(order.request_id, RequestStatus.READY)
        except RequestNotFound:
            return await self._finish(order, OrderStatus.CLOSED, Outcome.EXPIRED)
        self._rearmed.add(order.id)
        self._opened(order)
        return Result(Outcome.EXISTING, order)

    async def done(self, user_id: int, order_id: int) -> Result:
        """The person has what they needed: close the request, the charge stays."""
        order = await self.get(user_id, order_id)
        if order is None:
            return Result(Outcome.NOT_FOUND)
        if order.status is not OrderStatus.CODE_RECEIVED or order.request_id is None:
            return Result(Outcome.FINISHED, order)
        # A request the provider finished already ends the same way for the person.
        with contextlib.suppress(RequestNotFound):
            await self._smsman.set_status(order.request_id, RequestStatus.CLOSE)
        return await self._finish(order, OrderStatus.CLOSED, Outcome.FINISHED)

    async def history(self, user_id: int, page: int, per_page: int) -> tuple[list[Order], int]:
        total = await self._db.user_history_count(user_id)
        orders = await self._db.user_history(user_id, limit=per_page, offset=page * per_page)
        return orders, total

    async def resolve_interrupted(self) -> None:
        """Purchases a crash left half-done: no request id was recorded, so none can be used."""
        for order in await self._db.open_orders():
            if order.status is OrderStatus.PURCHASING:
                log.warning("order %s was interrupted while buying", order.id)
                await self._notifier.tell(await self._fail(order, "interrupted"), Event.INTERRUPTED)

    async def pollable(self) -> list[Order]:
        """Orders the poller must watch after a start: every one that has a live request."""
        orders = [o for o in await self._db.open_orders() if o.request_id is not None]
        # Whether someone asked for another SMS before the restart is unknown: look anyway.
        self._rearmed.update(o.id for o in orders if o.status is OrderStatus.CODE_RECEIVED)
        return orders

    async def poll(self, order_id: int) -> Next:
        """One look at an order: fetch its SMS, keep its deadline, redraw its card now and then."""
        order = await self._db.get_order(order_id)
        if order is None or order.request_id is None or not order.is_open:
            self._card_drawn.pop(order_id, None)
            self._rearmed.discard(order_id)
            return Next(Poll.DONE)
        now = self._clock()
        if order.deadline is not None and now >= order.deadline:
            return Next(await self._end_of_life(order))
        if order.status is OrderStatus.CODE_RECEIVED and order.id not in self._rearmed:
            # Nothing new can arrive before the person asks for another SMS: no provider call,
            # only the card's countdown and the deadline to keep.
            if now - self._card_drawn.get(order.id, 0.0) >= self._card_refresh:
                await self._draw(order, now)
            left = (order.deadline or now) - now
            return Next(Poll.IDLE, min(self._card_refresh, left))
        try:
            sms = await self._smsman.get_sms(order.request_id, background=True)
        except RequestNotFound:
            return Next(await self._gone(order))
        except SmsManError as exc:
            log.warning("order %s: get-sms failed: %s", order.id, exc)
            if isinstance(exc, WrongToken):
                await self._alerts.report(Problem.WRONG_TOKEN)
            return Next(Poll.BACK_OFF)
        if sms.code is not None and await self._db.add_code(order.id, sms.code, now) is not None:
            log.info("order %s: code received", order.id)
            received = await self._db.update_order(
                order.id,
                expect=(OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED),
                now=now,
                status=OrderStatus.CODE_RECEIVED,
            )
            order = received or order
            self._rearmed.discard(order.id)
            await self.deliver_pending(order)
            await self._draw(order, now)
        elif now - self._card_drawn.get(order.id, 0.0) >= self._card_refresh:
            await self._draw(order, now)
        return Next(Poll.AGAIN)

    async def deliver_pending(self, only: Order | None = None) -> bool:
        """Push every stored but undelivered code (`only`'s, if given); true when none is left."""
        async with self._delivering:
            return await self._deliver(only)

    async def _deliver(self, only: Order | None) -> bool:
        settled = True
        for code in await self._db.undelivered_codes():
            if only is not None and code.order_id != only.id:
                continue
            # The poller has just read the order it gives: one query fewer per code.
            order = only if only is not None else await self._db.get_order(code.order_id)
            if order is None:
                continue
            delivery = await self._notifier.push_code(order, code)
            if delivery is Delivery.RETRY:
                settled = False
                continue
            error = "undeliverable" if delivery is Delivery.UNDELIVERABLE else None
            await self._db.mark_code_delivered(code.id, self._clock(), error)
        return settled

    async def _draw(self, order: Order, now: float) -> None:
        self._card_drawn[order.id] = now
        await self._notifier.update_card(order)

    async def _end_of_life(self, order: Order) -> Poll:
        """At the deadline a number without a code is rejected (refund); one with a code closed."""
        assert order.request_id is not None
        has_code = order.status is OrderStatus.CODE_RECEIVED
        status = RequestStatus.CLOSE if has_code else RequestStatus.REJECT
        try:
            await self._smsman.set_status(order.request_id, status)
        except RequestNotFound:
            pass  # Gone at the provider already: expired there, which ends it the same way.
        except SmsManError as exc:
            # Keep trying: a number left unrejected would keep the owner's money.
            log.warning("order %s: %s at the deadline failed: %s", order.id, status.value, exc)
            return Poll.BACK_OFF
        final = OrderStatus.CLOSED if has_code else OrderStatus.EXPIRED
        result = await self._finish(order, final, Outcome.EXPIRED)
        if result.order is not None and result.outcome is Outcome.EXPIRED:
            await self._draw(result.order, self._clock())
            if not has_code:
                await self._notifier.tell(result.order, Event.EXPIRED)
        return Poll.DONE

    async def _gone(self, order: Order) -> Poll:
        """The provider no longer knows the request: it expired or was finished there."""
        final = (
            OrderStatus.CLOSED if order.status is OrderStatus.CODE_RECEIVED else OrderStatus.EXPIRED
        )
        result = await self._finish(order, final, Outcome.EXPIRED)
        if result.order is not None and result.outcome is Outcome.EXPIRED:
            await self._draw(result.order, self._clock())
            await self._notifier.tell(result.order, Event.GONE)
        return Poll.DONE

    async def _no_numbers(self, order: Order, quote: Quote) -> Result:
        """Tell a price rise (new quote) from an empty shelf (other countries to try)."""
        try:
            current = (await self._catalog.prices(quote.country_id, fresh=True)).get(
                quote.application_id
            )
        except SmsManError:
            current = None
        if current is not None and current.count > 0 and current.cost > quote.price:
            await self._fail(order, "price_rose")
            new_quote = await self._requote(quote, current.cost)
            return Result(Outcome.PRICE_ROSE, order, quote=new_quote)
        try:
            cheapest = await self._catalog.cheapest_countries(quote.application_id)
        except SmsManError:
            cheapest = []
        others = [p for p in cheapest if p.country_id != quote.country_id][:ALTERNATIVES]
        return Result(
            Outcome.NO_NUMBERS, await self._fail(order, "no_numbers"), alternatives=others
        )

    async def _requote(self, quote: Quote, price: Decimal) -> Quote:
        return await self._db.insert_quote(
            user_id=quote.user_id,
            country_id=quote.country_id,
            country_title=quote.country_title,
            country_iso=quote.country_iso,
            application_id=quote.application_id,
            app_title=quote.app_title,
            price=price,
            currency=quote.currency,
            now=self._clock(),
        )

    async def _finish(
        self, order: Order, status: OrderStatus, outcome: Outcome, failure: str | None = None
    ) -> Result:
        fields: dict[str, object] = {"status": status}
        if failure is not None:
            fields["failure"] = failure
        done = await self._db.update_order(
            order.id,
            expect=(OrderStatus.ACTIVE, OrderStatus.CODE_RECEIVED),
            now=self._clock(),
            **fields,
        )
        self._card_drawn.pop(order.id, None)
        if done is None:
            # A concurrent action (a second tap, the poller) finished it first.
            current = await self._db.get_order(order.id)
            return Result(Outcome.FINISHED, current)
        return Result(outcome, done)

    async def _fail(self, order: Order, reason: str) -> Order:
        return await self._update(
            order, (OrderStatus.PURCHASING,), status=OrderStatus.FAILED, failure=reason
        )

    async def _update(
        self, order: Order, expect: tuple[OrderStatus, ...], **fields: object
    ) -> Order:
        updated = await self._db.update_order(order.id, expect=expect, now=self._clock(), **fields)
        if updated is None:
            raise RuntimeError(f"order {order.id} left {expect} unexpectedly")
        return updated
