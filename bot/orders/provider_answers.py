"""One SMS-man call of a lifecycle step, and what its answer (or failure) comes to in the table."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from decimal import Decimal

from bot.catalog.cache import Catalog
from bot.orders.lifecycle import Answer, Call
from bot.owner.alerts import AdminAlerts, Problem
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
from bot.smsman.models import Price, PurchasedNumber, RequestStatus
from bot.storage.records import Order, Quote

log = logging.getLogger(__name__)

ALTERNATIVES = 5
SET_STATUS = {
    Call.REJECT: RequestStatus.REJECT,
    Call.REPORT_USED: RequestStatus.USED,
    Call.READY: RequestStatus.READY,
    Call.CLOSE: RequestStatus.CLOSE,
}

BeforeCall = Callable[[], Awaitable[None]]
Requote = Callable[[Quote, Decimal], Awaitable[Quote]]


@dataclass(frozen=True, slots=True)
class Reply:
    """A provider call's answer, with what came with it."""

    answer: Answer
    number: PurchasedNumber | None = None
    code: str | None = None
    failure: str | None = None
    quote: Quote | None = None
    alternatives: list[Price] = field(default_factory=list)


class ProviderAnswers:
    """Makes a step's call and never raises: every failure is an answer the table knows."""

    def __init__(
        self, smsman: SmsManClient, catalog: Catalog, alerts: AdminAlerts, requote: Requote
    ) -> None:
        self._smsman = smsman
        self._catalog = catalog
        self._alerts = alerts
        self._requote = requote

    async def ask(
        self,
        call: Call,
        order: Order,
        *,
        background: bool,
        quote: Quote | None = None,
        before_call: BeforeCall | None = None,
    ) -> Reply:
        """`background` calls (the poller's) yield the rate limit to people's taps."""
        if call is Call.GET_NUMBER:
            assert quote is not None
            return await self._get_number(order, quote, before_call)
        assert order.request_id is not None
        try:
            if call is Call.GET_SMS:
                sms = await self._smsman.get_sms(order.request_id, background=background)
                if sms.code is None:
                    return Reply(Answer.NO_CODE)
                # New or one the order has: the service tells, as it stores it.
                return Reply(Answer.NEW_CODE, code=sms.code)
            await self._smsman.set_status(order.request_id, SET_STATUS[call], background=background)
        except RequestNotFound:
            return Reply(Answer.GONE)
        except WrongStatus:
            return Reply(Answer.WRONG_STATUS)
        except SmsManError as exc:
            log.warning("order %s: %s failed: %s", order.id, call.value, exc)
            if isinstance(exc, WrongToken):
                await self._alerts.report(Problem.WRONG_TOKEN)
            return Reply(Answer.FAULT)
        except Exception:
            log.exception("order %s: %s failed", order.id, call.value)
            return Reply(Answer.FAULT)
        return Reply(Answer.OK)

    async def _get_number(
        self, order: Order, quote: Quote, before_call: BeforeCall | None
    ) -> Reply:
        if before_call is not None:
            try:
                await before_call()
            except Exception:
                # Only the "buying" note: the purchase the person asked for goes ahead.
                log.warning("order %s: could not say it is buying", order.id, exc_info=True)
        try:
            number = await self._smsman.get_number(
                quote.country_id,
                quote.application_id,
                max_price=quote.price,
                currency=quote.currency,
            )
        except NoNumbers:
            return await self._no_numbers(quote)
        except LowBalance:
            return Reply(Answer.NO_MONEY, failure="balance")
        except WrongToken:
            await self._alerts.report(Problem.WRONG_TOKEN)
            return Reply(Answer.REFUSED, failure="wrong_token")
        except ProviderUnavailable as exc:
            log.warning("purchase for order %s failed: %s", order.id, exc)
            if exc.outcome_unknown:
                return Reply(Answer.UNKNOWN, failure="outcome_unknown")
            return Reply(Answer.NOT_SENT, failure="provider_down")
        except SmsManError as exc:
            log.warning("purchase for order %s refused: %s", order.id, exc)
            return Reply(Answer.REFUSED, failure=exc.code or "error")
        except Exception:
            # The request may have left: whether a number was sold is unknown.
            log.exception("purchase for order %s failed", order.id)
            return Reply(Answer.UNKNOWN, failure="outcome_unknown")
        log.info("order %s bought: request %s", order.id, number.request_id)
        return Reply(Answer.SOLD, number=number)

    async def _no_numbers(self, quote: Quote) -> Reply:
        """Tell a price rise (a new quote) from an empty shelf (other countries to try)."""
        try:
            current = (await self._catalog.prices(quote.country_id, fresh=True)).get(
                quote.application_id
            )
        except SmsManError:
            current = None
        if current is not None and current.count > 0 and current.cost > quote.price:
            new_quote = await self._requote(quote, current.cost)
            return Reply(Answer.NO_NUMBERS, failure="price_rose", quote=new_quote)
        try:
            cheapest = await self._catalog.cheapest_countries(quote.application_id)
        except SmsManError:
            cheapest = []
        others = [p for p in cheapest if p.country_id != quote.country_id][:ALTERNATIVES]
        return Reply(Answer.NO_NUMBERS, failure="no_numbers", alternatives=others)
