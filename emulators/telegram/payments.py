"""Telegram Stars in the emulator: invoices, a person paying, refunds and the bot's transactions."""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass
from typing import Any

from emulators.telegram.api import QUERY_TOO_OLD, BotApi, loop_time
from emulators.telegram.models import ApiError, ApiObject, Chat, ChatMessage, parse_reply_markup

STARS = "XTR"
# "The Bot API must receive an answer within 10 seconds after the pre-checkout query was sent."
PRE_CHECKOUT_SECONDS = 10.0
ALREADY_REFUNDED = "Bad Request: CHARGE_ALREADY_REFUNDED"
# Telegram's wording for an unknown charge is not documented (community code says
# CHARGE_NOT_FOUND); the emulator says that, explicitly a stand-in.
CHARGE_NOT_FOUND = "Bad Request: CHARGE_NOT_FOUND"


@dataclass
class PreCheckout:
    """A person's tap on Pay: Telegram asks the bot whether to go on."""

    id: str
    chat_id: int
    total_amount: int
    payload: str
    created_at: float
    # The bot's answer: None until it comes; then ok, or the error message it showed.
    ok: bool | None = None
    error_message: str | None = None


@dataclass
class StarPayment:
    """A payment Telegram took: `charge_id` is its `telegram_payment_charge_id`."""

    charge_id: str
    user_id: int
    amount: int
    payload: str
    date: int
    refunded_at: int | None = None


class StarsApi(BotApi):
    """The Bot API with Telegram Stars: what was invoiced, asked, paid and refunded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pre_checkouts: dict[str, PreCheckout] = {}
        self.star_payments: dict[str, StarPayment] = {}
        # Transactions listed as they are given, each at its date (see `list_transaction`).
        self._listed: list[tuple[int, ApiObject]] = []
        self._payment_ids = itertools.count(1)
        self._methods |= {
            "sendInvoice": self._send_invoice,
            "answerPreCheckoutQuery": self._answer_pre_checkout_query,
            "refundStarPayment": self._refund_star_payment,
            "getStarTransactions": self._get_star_transactions,
        }

    def forget_payments(self) -> None:
        self.pre_checkouts.clear()
        self.star_payments.clear()
        self._listed.clear()

    def list_transaction(self, transaction: ApiObject, date: int) -> None:
        """getStarTransactions lists this object as it is, among the payments by `date`: a
        transaction of a kind newer than the bot's aiogram, say, or a malformed one."""
        self._listed.append((date, copy.deepcopy(transaction)))

    # -- what a person does ------------------------------------------------------------------

    def user_pays(self, chat: Chat, invoice: ChatMessage) -> PreCheckout:
        """The person taps Pay on an invoice: Telegram sends the bot a pre_checkout_query."""
        if invoice.invoice is None:
            raise AssertionError(f"#{invoice.message_id} is not an invoice")
        number = next(self._payment_ids)
        query = PreCheckout(
            id=str(9_000_000 + number),
            chat_id=chat.id,
            total_amount=int(invoice.invoice["total_amount"]),
            payload=str(invoice.invoice_payload),
            created_at=loop_time(),
        )
        self.pre_checkouts[query.id] = query
        self.queue_update(
            "pre_checkout_query",
            {
                "id": query.id,
                "from": chat.user,
                "currency": STARS,
                "total_amount": query.total_amount,
                "invoice_payload": query.payload,
            },
        )
        return query

    def redeliver_payment(self, charge_id: str) -> None:
        """Telegram sends the same successful_payment message again (a retried update)."""
        payment = self.star_payments[charge_id]
        chat = self.chats[payment.user_id]
        message = next(
            m
            for m in chat.messages
            if (m.successful_payment or {}).get("telegram_payment_charge_id") == charge_id
        )
        self.queue_update("message", self.message_object(chat, message))

    def _paid(self, query: PreCheckout) -> None:
        chat = self.chats[query.chat_id]
        charge_id = f"stxEmu{next(self._payment_ids):012d}"
        payment = StarPayment(charge_id, chat.id, query.total_amount, query.payload, self._date())
        self.star_payments[charge_id] = payment
        message = ChatMessage(chat.next_message_id(), False, "", payment.date)
        message.successful_payment = {
            "currency": STARS,
            "total_amount": payment.amount,
            "invoice_payload": payment.payload,
            "telegram_payment_charge_id": charge_id,
            "provider_payment_charge_id": "",
        }
        chat.add(message)
        self.queue_update("message", self.message_object(chat, message))

    # -- the Bot API methods ---------------------------------------------------------------------

    async def _send_invoice(self, params: ApiObject) -> ApiObject:
        chat = self._chat(params)
        title, description, payload = (
            params.get("title"),
            params.get("description"),
            params.get("payload"),
        )
        # The emulator's error texts for these checks are stand-ins where Telegram's are unknown.
        if not isinstance(title, str) or not 1 <= len(title) <= 32:
            raise ApiError(400, "Bad Request: INVOICE_TITLE_INVALID")
        if not isinstance(description, str) or not 1 <= len(description) <= 255:
            raise ApiError(400, "Bad Request: INVOICE_DESCRIPTION_INVALID")
        if not isinstance(payload, str) or not 1 <= len(payload.encode()) <= 128:
            raise ApiError(400, "Bad Request: INVOICE_PAYLOAD_INVALID")
        if params.get("currency") != STARS:
            raise ApiError(400, "Bad Request: the emulator only takes payments in Stars (XTR)")
        if params.get("provider_token"):
            raise ApiError(400, "Bad Request: PROVIDER_TOKEN_INVALID")
        prices = params.get("prices")
        if not isinstance(prices, list) or len(prices) != 1 or not isinstance(prices[0], dict):
            raise ApiError(400, "Bad Request: prices must contain exactly one item for XTR")
        amount = prices[0].get("amount")
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < 1:
            raise ApiError(400, "Bad Request: CURRENCY_TOTAL_AMOUNT_INVALID")
        self._check_reachable(chat)
        message = ChatMessage(chat.next_message_id(), True, "", self._date())
        message.invoice = {
            "title": title,
            "description": description,
            "start_parameter": str(params.get("start_parameter") or ""),
            "currency": STARS,
            "total_amount": amount,
        }
        message.invoice_payload = payload
        message.reply_markup, _keyboard = parse_reply_markup(params.get("reply_markup"))
        chat.add(message)
        self._notify()
        return self.message_object(chat, message)

    async def _answer_pre_checkout_query(self, params: ApiObject) -> bool:
        query = self.pre_checkouts.get(str(params.get("pre_checkout_query_id", "")))
        if (
            query is None
            or query.ok is not None
            or loop_time() - query.created_at > PRE_CHECKOUT_SECONDS
        ):
            raise ApiError(400, QUERY_TOO_OLD)
        ok = params.get("ok")
        if not isinstance(ok, bool):
            raise ApiError(400, "Bad Request: parameter ok is required")
        error = params.get("error_message")
        if not ok and not (isinstance(error, str) and error):
            raise ApiError(400, "Bad Request: ERROR_MESSAGE_EMPTY")
        query.ok, query.error_message = ok, None if ok else str(error)
        if ok:
            self._paid(query)
        self._notify()
        return True

    async def _refund_star_payment(self, params: ApiObject) -> bool:
        payment = self.star_payments.get(str(params.get("telegram_payment_charge_id", "")))
        if payment is None or payment.user_id != params.get("user_id"):
            raise ApiError(400, CHARGE_NOT_FOUND)
        if payment.refunded_at is not None:
            raise ApiError(400, ALREADY_REFUNDED)
        payment.refunded_at = self._date()
        self._notify()
        return True

    async def _get_star_transactions(self, params: ApiObject) -> ApiObject:
        offset = params.get("offset", 0)
        limit = params.get("limit", 100)
        if not isinstance(offset, int) or offset < 0:
            raise ApiError(400, "Bad Request: offset is invalid")
        if not isinstance(limit, int) or not 1 <= limit <= 100:
            raise ApiError(400, "Bad Request: limit is invalid")
        transactions: list[tuple[int, ApiObject]] = []
        for payment in self.star_payments.values():
            partner = {
                "type": "user",
                "transaction_type": "invoice_payment",
                "user": dict(self.chats[payment.user_id].user),
                "invoice_payload": payment.payload,
            }
            transactions.append(
                (
                    payment.date,
                    {
                        "id": payment.charge_id,
                        "amount": payment.amount,
                        "date": payment.date,
                        "source": partner,
                    },
                )
            )
            if payment.refunded_at is not None:
                transactions.append(
                    (
                        payment.refunded_at,
                        {
                            "id": payment.charge_id,
                            "amount": payment.amount,
                            "date": payment.refunded_at,
                            "receiver": partner,
                        },
                    )
                )
        transactions += copy.deepcopy(self._listed)
        ordered = [t for _date, t in sorted(transactions, key=lambda t: t[0])]
        return {"transactions": ordered[offset : offset + limit]}
