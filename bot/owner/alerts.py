"""Messages to the bot's admins about the provider account, at most one per problem per window."""

from __future__ import annotations

import logging
from decimal import Decimal
from enum import StrEnum

from aiogram import Bot
from aiogram.exceptions import TelegramAPIError
from aiogram.utils.i18n import I18n

from bot.clock import Clock
from bot.money import format_money
from bot.storage.database import Database
from bot.telegram.pacer import Priority, priority

log = logging.getLogger(__name__)

REPEAT_AFTER = 600.0


class Problem(StrEnum):
    LOW_BALANCE = "low_balance"
    LOW_FLOAT = "low_float"
    WRONG_TOKEN = "wrong_token"


class AdminAlerts:
    def __init__(
        self,
        bot: Bot,
        db: Database,
        i18n: I18n,
        admin_ids: list[int],
        currency: str,
        clock: Clock,
    ) -> None:
        self._currency = currency
        self._bot = bot
        self._db = db
        self._i18n = i18n
        self._admins = admin_ids
        self._clock = clock
        self._last_sent: dict[Problem, float] = {}

    def _text(self, problem: Problem, balance: Decimal | None) -> str:
        _ = self._i18n.gettext
        if problem is Problem.LOW_BALANCE:
            return _(
                "⚠️ SMS-man says the account balance is too low: purchases are paused. "
                "Top up the SMS-man balance to resume sales."
            )
        if problem is Problem.LOW_FLOAT:
            return _(
                "💸 The SMS-man balance is down to {balance}. Top it up before purchases fail."
            ).format(balance=format_money(balance or Decimal(0), self._currency))
        return _(
            "⚠️ SMS-man refuses the API token: the bot cannot reach the account. Check SMSMAN_TOKEN."
        )

    async def report(self, problem: Problem, *, balance: Decimal | None = None) -> None:
        now = self._clock()
        last = self._last_sent.get(problem)
        if last is not None and now - last < REPEAT_AFTER:
            return
        self._last_sent[problem] = now
        log.error("provider problem: %s", problem.value)
        for admin_id in self._admins:
            user = await self._db.get_user(admin_id)
            locale = user.language if user and user.language else self._i18n.default_locale
            with self._i18n.use_locale(locale):
                text = self._text(problem, balance)
            try:
                with priority(Priority.NOTICE):
                    await self._bot.send_message(admin_id, text)
            except TelegramAPIError as exc:
                log.warning("could not alert admin %s: %s", admin_id, exc)
