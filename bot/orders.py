"""The orders service: the one owner of every order status change and of purchases."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from bot.alerts import AdminAlerts, Problem
from bot.catalog import Catalog, CatalogCountry
from bot.clock import Clock
from bot.config import Settings
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


@dataclass(frozen=True, slots=True)
class Result:
    """What a purchase or an order action came to, with what the screen needs to show it."""

    outcome: Outcome
    order: Order | None = None
    quote: Quote | None = None
    alternatives: list[Price] = field(default_factory=list)


class OrderService:
    def __init__(
        self,
        *,
        db: Database,
        smsman: SmsManClient,
        catalog: Catalog,
        settings: Settings,
        alerts: AdminAlerts,
        clock: Clock,
    ) -> None:
        self._db = db
        self._smsman = smsman
        self._catalog = catalog
        self._settings = settings
        self._alerts = alerts
        self._clock = clock

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
        if not self._settings.can_buy(user_id):
            return Result(Outcome.FORBIDDEN)
        quote = await self._db.get_quote(quote_id)
        if quote is None or quote.user_id != user_id:
            return Result(Outcome.NOT_FOUND)
        order, created = await self._db.insert_order(quote, chat_id, self._clock())
        if not created:
            busy = order.status is OrderStatus.PURCHASING
            return Result(Outcome.IN_PROGRESS if busy else Outcome.EXISTING, order)
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
        except (LowBalance, WrongToken) as exc:
            await self._fail(order, exc.code or type(exc).__name__)
            problem = Problem.LOW_BALANCE if isinstance(exc, LowBalance) else Problem.WRONG_TOKEN
            await self._alerts.report(problem)
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
        return Result(Outcome.BOUGHT, bought)

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
        order = await self._db.get_order(order_id)
        if order is None or order.user_id != user_id:
            return Result(Outcome.NOT_FOUND)
        if order.status is OrderStatus.PURCHASING:
            return Result(Outcome.IN_PROGRESS, order)
        if order.status is OrderStatus.CODE_RECEIVED:
            return Result(Outcome.HAS_CODE, order)
        if order.status is not OrderStatus.ACTIVE or order.request_id is None:
            return Result(Outcome.FINISHED, order)
        try:
            await self._smsman.set_status(order.request_id, RequestStatus.REJECT)
        except RequestNotFound:
            return await self._finish(order, OrderStatus.EXPIRED, Outcome.EXPIRED)
        except WrongStatus:
            return Result(Outcome.HAS_CODE, order)
        return await self._finish(order, OrderStatus.CANCELLED, Outcome.CANCELLED)

    async def open_orders(self, user_id: int) -> list[Order]:
        return await self._db.user_open_orders(user_id)

    async def get(self, user_id: int, order_id: int) -> Order | None:
        order = await self._db.get_order(order_id)
        return order if order is not None and order.user_id == user_id else None

    async def resolve_interrupted(self) -> list[Order]:
        """Purchases a crash left half-done: no request id was recorded, so none can be used."""
        failed = []
        for order in await self._db.open_orders():
            if order.status is OrderStatus.PURCHASING:
                log.warning("order %s was interrupted while buying", order.id)
                failed.append(await self._fail(order, "interrupted"))
        return failed

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

    async def _finish(self, order: Order, status: OrderStatus, outcome: Outcome) -> Result:
        done = await self._db.update_order(
            order.id, expect=(OrderStatus.ACTIVE,), now=self._clock(), status=status
        )
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
