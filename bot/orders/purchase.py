"""Purchases: a quote for a price screen, and Buy or Try again turned into one order, once."""

from __future__ import annotations

import asyncio
from decimal import Decimal

from bot.catalog.cache import CatalogCountry
from bot.clock import Clock
from bot.config import Settings
from bot.metrics import Metrics
from bot.orders import limits
from bot.orders.lifecycle import RETRYABLE, Event, Tell
from bot.orders.limits import Refusal
from bot.orders.provider_answers import BeforeCall
from bot.orders.service import OrderService, Result
from bot.owner.access import Access
from bot.owner.provider_float import ProviderFloat
from bot.smsman.models import Application, Price
from bot.storage.database import Database
from bot.storage.records import Order, Quote
from bot.storage.wallets import InsufficientFunds
from bot.wallet.charges import price_to_person


class Purchases:
    """Decides whether a tap may buy (access, float, limits) and writes the order for it; the
    orders service then takes it through the lifecycle table."""

    def __init__(
        self,
        *,
        db: Database,
        orders: OrderService,
        settings: Settings,
        access: Access,
        provider_float: ProviderFloat,
        clock: Clock,
        metrics: Metrics | None = None,
    ) -> None:
        self._db = db
        self._metrics = metrics or Metrics()
        self._orders = orders
        self._settings = settings
        self._access = access
        self._float = provider_float
        self._clock = clock
        self._lock = asyncio.Lock()

    @property
    def wallet(self) -> bool:
        return self._settings.wallet

    async def balance(self, user_id: int) -> Decimal:
        """What the person has in their wallet (wallet mode)."""
        return await self._db.balance(user_id)

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
        card_message_id: int | None,
        *,
        on_purchase: BeforeCall | None = None,
    ) -> Result:
        """Buy the number a quote offers, at most once per quote, never above its price.

        `on_purchase` runs just before the provider is asked, i.e. only for the one call that
        actually buys, so the screen can say "buying" while a repeated tap says "already".
        """
        return self._counted(
            await self._buy(user_id, chat_id, quote_id, card_message_id, on_purchase)
        )

    async def _buy(
        self,
        user_id: int,
        chat_id: int,
        quote_id: int,
        card_message_id: int | None,
        on_purchase: BeforeCall | None,
    ) -> Result:
        if not await self._access.can_buy(user_id):
            return Result(Tell.FORBIDDEN)
        quote = await self._db.get_quote(quote_id)
        if quote is None or quote.user_id != user_id:
            return Result(Tell.NOT_FOUND)
        return await self._purchase(quote, chat_id, card_message_id, None, on_purchase)

    def _counted(self, result: Result) -> Result:
        # By what the person is told: bought, no_numbers, limit, in_progress (a repeated tap)...
        self._metrics.purchases.labels(result.tell.name.lower()).inc()
        return result

    async def retry(
        self,
        user_id: int,
        order_id: int,
        chat_id: int,
        card_message_id: int | None,
        *,
        on_purchase: BeforeCall | None = None,
    ) -> Result:
        """Try a failed or lost purchase again, once, on its terms and with its price cap.

        The retry is the same intent as the tap that made it: later taps of the same Try again
        show the order it made instead of buying again.
        """
        return self._counted(
            await self._retry(user_id, order_id, chat_id, card_message_id, on_purchase)
        )

    async def _retry(
        self,
        user_id: int,
        order_id: int,
        chat_id: int,
        card_message_id: int | None,
        on_purchase: BeforeCall | None,
    ) -> Result:
        order = await self._orders.get(user_id, order_id)
        if order is None:
            return Result(Tell.NOT_FOUND)
        if order.status not in RETRYABLE:
            return await self._orders.act(order, Event.RETRY)
        if not await self._access.can_buy(user_id):
            return Result(Tell.FORBIDDEN)
        successor = await self._db.order_for_retry(order.id)
        if successor is not None:
            return await self._orders.act(successor, Event.BUY)
        old = await self._db.get_quote(order.quote_id)
        assert old is not None
        quote = await self._db.requote(old, old.price, self._clock())
        return await self._purchase(quote, chat_id, card_message_id, order.id, on_purchase)

    async def _purchase(
        self,
        quote: Quote,
        chat_id: int,
        card_message_id: int | None,
        retry_of: int | None,
        on_purchase: BeforeCall | None,
    ) -> Result:
        existing = await self._intent_order(quote, retry_of)
        if existing is not None:
            return await self._orders.act(existing, Event.BUY)
        if not await self._float.may_buy(quote.price):
            return Result(Tell.PAUSED)
        # Limits are checked and the order written under one lock: two taps at once on two
        # different offers cannot both slip under a limit.
        async with self._lock:
            existing = await self._intent_order(quote, retry_of)
            if existing is not None:
                return await self._orders.act(existing, Event.BUY)
            refusal = await self._refusal(quote)
            if refusal is not None:
                return Result(Tell.LIMIT, refusal=refusal)
            # In wallet mode the selling price is charged with the order row, from the quote's
            # cost and the settings: never from anything a button carried.
            charge = price_to_person(self._settings, quote.price) if self._settings.wallet else None
            try:
                order, created = await self._db.insert_order(
                    quote,
                    chat_id,
                    self._clock(),
                    card_message_id=card_message_id,
                    retry_of=retry_of,
                    charge=charge,
                )
            except InsufficientFunds:
                return Result(Tell.TOP_UP, quote=quote)
        if not created:
            return await self._orders.act(order, Event.BUY)
        return await self._orders.act(order, Event.PURCHASE, before_call=on_purchase, quote=quote)

    async def _intent_order(self, quote: Quote, retry_of: int | None) -> Order | None:
        if retry_of is None:
            return await self._db.order_for_quote(quote.id)
        return await self._db.order_for_retry(retry_of)

    async def _refusal(self, quote: Quote) -> Refusal | None:
        now = self._clock()
        user_id = quote.user_id
        admin = self._access.is_admin(user_id)
        today = await self._db.orders_since(user_id, limits.day_start(now))
        return limits.check(
            price=quote.price,
            open_orders=len(await self._db.user_open_orders(user_id)),
            spent_today=limits.committed(today),
            max_active=self._settings.max_active_orders,
            # A wallet bounds what a person spends by itself.
            daily_limit=None
            if admin or self._settings.wallet
            else self._settings.daily_spend_limit,
            max_price=self._settings.max_price,
            currency=self._settings.currency,
            now=now,
        )
