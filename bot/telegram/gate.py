"""Who gets in, and how much at once: blocked people dropped, each person's updates bounded."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from aiogram import BaseMiddleware, Bot
from aiogram.enums import ChatType
from aiogram.exceptions import TelegramAPIError
from aiogram.types import Chat, TelegramObject, Update, User
from aiogram.utils.i18n import I18n

from bot.clock import Clock
from bot.i18n import person_locale
from bot.rate_limits import SlidingWindow
from bot.storage.database import Database

log = logging.getLogger(__name__)

# A person's updates handled at once: a tap and a typed word, or two taps, never a flood.
RUNNING = 2
# Then a few wait their turn (taps made in quick succession are all handled) ...
WAITING = 3
# ... and every person's together: past this, the person holding the most waiting updates
# loses their newest. About what one process handles in two seconds (README, *How far one
# process goes*): updates beyond it would be answered too late to help anyone.
HELD = 1_000
# One "slow down" a person per this many seconds, however many of their updates are dropped.
SLOW_DOWN_EVERY = 60.0
# Update tasks at most, being handled, waiting here or being turned away: past it polling
# waits to fetch more and a webhook post is answered 429 (Telegram keeps the rest either
# way). Above the gate's own bound, so that the gate, fair to each person, is what turns a
# flood away; this bound is on the tasks doing that.
UPDATE_TASKS = 2 * HELD

Blocked = Callable[[int], bool]


class _Turn(Enum):
    RUN = "run"
    # A newer tap on the same message took its place: answered without a word.
    SUPERSEDED = "superseded"
    # Over a bound: answered, and the person told to slow down (once a window).
    DROPPED = "dropped"


@dataclass(eq=False)
class _Waiting:
    future: asyncio.Future[_Turn]
    # The message a tap was made on, (chat, message id); None for anything else.
    tapped: tuple[int, int] | None


@dataclass
class _Person:
    running: int = 0
    waiting: deque[_Waiting] = field(default_factory=deque)


class Gate(BaseMiddleware):
    """An outer update middleware, before anything that does work.

    A blocked person's updates are dropped without an answer. Otherwise at most `RUNNING` of
    one person's updates are handled at once; later ones wait, at most `WAITING` of them, in
    arrival order, and a newer tap on a message replaces an older one still waiting there.
    An update past a bound is dropped: a tap is still answered (every tap is), and the person
    is told to slow down at most once in `SLOW_DOWN_EVERY` seconds. When all people's
    together reach `HELD`, the one with the most waiting loses their newest first. A person
    with nothing under way is forgotten.

    A payment Telegram reports is never held or dropped: the money was taken and must be
    credited, whoever paid.
    """

    def __init__(
        self,
        *,
        blocked: Blocked,
        i18n: I18n,
        db: Database,
        clock: Clock,
        running: int = RUNNING,
        waiting: int = WAITING,
        held: int = HELD,
    ) -> None:
        self._blocked = blocked
        self._i18n = i18n
        self._db = db
        self._running = running
        self._waiting = waiting
        self._held_limit = held
        self._held = 0
        self._people: dict[int, _Person] = {}
        # People by how many of their updates wait (index 1..waiting), to find the longest.
        self._by_waiting: list[dict[int, None]] = [{} for _ in range(waiting + 1)]
        self._slow_downs = SlidingWindow(1, SLOW_DOWN_EVERY, clock)

    @property
    def held(self) -> int:
        """Updates being handled or waiting here now."""
        return self._held

    @property
    def people(self) -> int:
        """People with an update being handled or waiting."""
        return len(self._people)

    async def __call__(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        event: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        user: User | None = data.get("event_from_user")
        if user is None or not isinstance(event, Update) or _is_payment(event):
            return await handler(event, data)
        if self._blocked(user.id):
            log.debug("update %s from blocked %s dropped", event.update_id, user.id)
            return None
        turn = await self._turn(user.id, event)
        if turn is not _Turn.RUN:
            await self._refuse(event, data, user, slow_down=turn is _Turn.DROPPED)
            return None
        try:
            return await handler(event, data)
        finally:
            self._done(user.id)

    # -- admission --------------------------------------------------------------------------

    async def _turn(self, user_id: int, update: Update) -> _Turn:
        person = self._people.setdefault(user_id, _Person())
        if person.running < self._running and not person.waiting:
            if self._held < self._held_limit or self._evict_for(person):
                person.running += 1
                self._held += 1
                return _Turn.RUN
            self._forget_if_idle(user_id, person)
            return _Turn.DROPPED
        entry = _Waiting(asyncio.get_running_loop().create_future(), _tapped(update))
        if not self._supersede(person, entry):
            if len(person.waiting) >= self._waiting or (
                self._held >= self._held_limit and not self._evict_for(person)
            ):
                return _Turn.DROPPED
            self._held += 1
            person.waiting.append(entry)
            self._reindex(user_id, len(person.waiting) - 1, len(person.waiting))
        try:
            return await entry.future
        except asyncio.CancelledError:
            if entry.future.done() and not entry.future.cancelled():
                if entry.future.result() is _Turn.RUN:
                    self._done(user_id)  # given its turn, then cancelled before it ran
            elif entry in person.waiting:
                person.waiting.remove(entry)
                self._held -= 1
                self._reindex(user_id, len(person.waiting) + 1, len(person.waiting))
                self._forget_if_idle(user_id, person)
            raise

    def _supersede(self, person: _Person, entry: _Waiting) -> bool:
        """A newer tap on a message replaces an older one waiting there, at the end of the
        line: what was sent after the older tap is still handled before the newer one."""
        if entry.tapped is None:
            return False
        for older in person.waiting:
            if older.tapped == entry.tapped:
                person.waiting.remove(older)
                person.waiting.append(entry)
                _tell(older, _Turn.SUPERSEDED)
                return True
        return False

    def _evict_for(self, newcomer: _Person) -> bool:
        """Make room when all together hold too much: the person with the most waiting
        loses their newest, if they have more waiting than `newcomer`."""
        for length in range(self._waiting, len(newcomer.waiting), -1):
            for user_id in self._by_waiting[length]:
                person = self._people[user_id]
                if person is newcomer:
                    continue
                victim = person.waiting.pop()
                self._held -= 1
                self._reindex(user_id, length, length - 1)
                _tell(victim, _Turn.DROPPED)
                return True
        return False

    def _done(self, user_id: int) -> None:
        person = self._people[user_id]
        person.running -= 1
        self._held -= 1
        while person.waiting and person.running < self._running:
            entry = person.waiting.popleft()
            self._reindex(user_id, len(person.waiting) + 1, len(person.waiting))
            if entry.future.cancelled():
                # Its task was cancelled and has not run since: it leaves here, not there.
                self._held -= 1
                continue
            person.running += 1
            entry.future.set_result(_Turn.RUN)
        self._forget_if_idle(user_id, person)

    def _reindex(self, user_id: int, before: int, after: int) -> None:
        if before:
            del self._by_waiting[before][user_id]
        if after:
            self._by_waiting[after][user_id] = None

    def _forget_if_idle(self, user_id: int, person: _Person) -> None:
        if not person.running and not person.waiting and self._people.get(user_id) is person:
            del self._people[user_id]

    # -- refusals ---------------------------------------------------------------------------

    async def _refuse(
        self, update: Update, data: dict[str, Any], user: User, *, slow_down: bool
    ) -> None:
        """Answer what must be answered; say "slow down" if it is time to, in the person's
        private chat only."""
        chat: Chat | None = data.get("event_chat")
        private = chat is None or chat.type == ChatType.PRIVATE
        tell = slow_down and private and self._slow_downs.take(user.id) == 0
        if tell:
            log.info("updates from %s dropped: too many at once", user.id)
        else:
            log.debug("update %s from %s not handled (%s)", update.update_id, user.id, slow_down)
        bot: Bot = data["bot"]
        try:
            if update.callback_query is not None:
                text = await self._slow_down_text(user) if tell else None
                await bot.answer_callback_query(update.callback_query.id, text=text)
            elif update.pre_checkout_query is not None:
                # Telegram waits for an answer to every payment: a refusal says why.
                error = await self._slow_down_text(user)
                await bot.answer_pre_checkout_query(
                    update.pre_checkout_query.id, ok=False, error_message=error
                )
            elif tell:
                await bot.send_message(user.id, await self._slow_down_text(user))
        except TelegramAPIError as exc:
            log.warning("update %s: the refusal was not answered: %s", update.update_id, exc)

    async def _slow_down_text(self, user: User) -> str:
        locale = await person_locale(self._i18n, self._db, user)
        with self._i18n.context(), self._i18n.use_locale(locale):
            _ = self._i18n.gettext
            return _(
                "🐢 That was a lot at once: I skipped some of your last taps and messages. "
                "Please wait for an answer before the next one."
            )


def _tell(entry: _Waiting, turn: _Turn) -> None:
    # A waiter cancelled meanwhile (a stop) has its own way out: its future is done already.
    if not entry.future.done():
        entry.future.set_result(turn)


def _tapped(update: Update) -> tuple[int, int] | None:
    query = update.callback_query
    if query is None or query.message is None:
        return None
    return query.message.chat.id, query.message.message_id


def _is_payment(update: Update) -> bool:
    return update.message is not None and update.message.successful_payment is not None
