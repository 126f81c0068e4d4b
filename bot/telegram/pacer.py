"""The one way out to Telegram: sends and edits wait their turn within limits, shared fairly."""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import logging
import math
from collections import deque
from collections.abc import AsyncIterator, Callable, Hashable, Iterator
from contextvars import ContextVar
from dataclasses import dataclass, field
from enum import IntEnum
from typing import TYPE_CHECKING

from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramRetryAfter
from aiogram.methods import TelegramMethod
from aiogram.methods.base import Response, TelegramType

if TYPE_CHECKING:
    from aiogram import Bot

log = logging.getLogger(__name__)


class Priority(IntEnum):
    """What a send is; in one chat, lower goes first. Over all chats see `Pacer`."""

    MENU = 0  # the person's own screens: they are looking at them
    CODE = 1
    NOTICE = 2  # expired, refunded, ended by SMS-man; what admins must read
    CARD = 3  # a card redrawn because its order changed


# While codes or notices wait, menus may hold at most the rest of the overall limit: a code
# runs against its number's deadline and the app asking for it, a screen only against a
# person's patience. Two thirds leave menus 10 of Telegram's 30 a second, a screen each for
# ten people a second even in a burst of codes, and keep a burst of 1,000 codes under 50 s
# whatever the menus do (33 s when nobody browses).
PUSH_SHARE = 2 / 3
_PUSHES = frozenset({Priority.CODE, Priority.NOTICE})
# A chat never served (or served before every chat the pacer still remembers).
_NEVER = -1


_priority: ContextVar[Priority] = ContextVar("telegram_priority", default=Priority.MENU)
# The chat whose turn the caller already holds (see `Pacer.turn`), used by its next send.
_held: ContextVar[Hashable | None] = ContextVar("telegram_turn_held", default=None)

# Calls that put a message in a chat or change one; answers to queries and chat actions do not.
_PACED_PREFIXES = ("send", "edit", "copy", "forward", "stop")
_NOT_PACED = frozenset({"sendChatAction"})


@contextlib.contextmanager
def priority(level: Priority) -> Iterator[None]:
    """Sends made inside (in this task and the tasks it starts) queue at `level`."""
    token = _priority.set(level)
    try:
        yield
    finally:
        _priority.reset(token)


def paced_chat(method: TelegramMethod[TelegramType]) -> Hashable | None:
    """The chat a send or edit counts against, or None for a call that is not paced."""
    name = method.__api_method__
    if not name.startswith(_PACED_PREFIXES) or name in _NOT_PACED:
        return None
    chat_id = getattr(method, "chat_id", None)
    # An inline message has no chat: it counts against the overall limit only.
    return chat_id if isinstance(chat_id, int | str) else object()


# Added to every wait, so a wait that rounding makes a hair too short is never repeated
# (a wait of 1e-17 s added to a clock at 3.0 would leave it at 3.0, and spin forever).
_EPSILON = 1e-6
# Every so many answers, chats with nothing queued and a full bucket are forgotten.
SWEEP_EVERY = 4096


@dataclass(frozen=True)
class Limits:
    """Telegram's limits (Bots FAQ).

    Telegram counts a call when it arrives, which is after the pacer let it go and before its
    answer came back. So a send counts against a window from the moment it is let go until a
    window after its answer: two sends the server sees inside one window are then impossible,
    however the network delays them. A chat's bucket is one smaller than Telegram's instead.
    """

    # Telegram lets a chat burst 3; the spare one absorbs the network's jitter.
    chat_burst: int = 2
    chat_rate: float = 1.0
    global_limit: int = 30
    global_window: float = 1.0
    group_limit: int = 20
    group_window: float = 60.0

    @classmethod
    def per_second(cls, overall: float, chat: float) -> Limits:
        """At most `overall` sends a second over all chats and `chat` in one chat."""
        limit = max(1, int(overall))
        return cls(chat_rate=chat, global_limit=limit, global_window=limit / overall)


@dataclass
class _Chat:
    tokens: float
    at: float
    group: deque[float] | None
    # Sends let go whose answer has not come back yet.
    in_flight: int = 0
    # (priority, sequence, future): the chat's own queue; only its head is in line.
    queue: list[tuple[int, int, asyncio.Future[None]]] = field(default_factory=list)
    blocked: bool = False
    # When it was last given a turn, counted in turns given: the menu line's order.
    served: int = _NEVER


@dataclass
class _Window:
    """Sends of one kind counted as the overall limit counts them: let go, then one window
    after their answer."""

    in_flight: int = 0
    answered: deque[float] = field(default_factory=deque)

    def wait(self, now: float, limit: int, window: float) -> float:
        return _window_wait(self.answered, now, limit - self.in_flight, window)


class Pacer(BaseRequestMiddleware):
    """A session middleware that keeps sends and edits under Telegram's limits by itself.

    Each chat has its own queue, by priority then arrival; the heads of the chats that may
    send now stand in three lines. Menus: the chat served least recently first, so a person
    who floods the bot waits behind everyone else. Codes and notices: by priority, then by
    arrival. Card redraws go only when neither of the others has a head that may send. Menus
    go before codes and notices until menus hold their share of the overall limit (a third,
    see `PUSH_SHARE`); the rest is the codes' and notices' for as long as they wait. Nothing
    is held back for a kind that does not wait, so either gets everything alone.

    A 429 that still comes pauses every paced call for its retry_after (Telegram does not
    say which limit it was), and the call is made again: Telegram did not execute it. Calls
    that are not paced (answers to queries, getUpdates) never wait here.
    """

    def __init__(
        self,
        limits: Limits | None = None,
        *,
        time: Callable[[], float] | None = None,
        attempts: int = 5,
        max_wait: float = 60.0,
    ) -> None:
        self._limits = limits or Limits()
        self._time = time
        self._attempts = attempts
        self._max_wait = max_wait
        self._chats: dict[Hashable, _Chat] = {}
        # (rank, sequence, chat): rank is when the chat was served for menus, the priority
        # for the others. An entry whose chat has another head by now is skipped.
        self._menus: list[tuple[int, int, Hashable]] = []
        self._pushes: list[tuple[int, int, Hashable]] = []
        self._cards: list[tuple[int, int, Hashable]] = []
        self._blocked: list[tuple[float, int, Hashable]] = []
        # Groups whose limit is all taken by sends still in flight: no time frees them.
        self._stalled: set[Hashable] = set()
        # When the answers to the latest sends came back, and how many are still awaited.
        self._recent: deque[float] = deque()
        self._in_flight = 0
        limits = self._limits
        self._menu_cap = limits.global_limit - math.ceil(limits.global_limit * PUSH_SHARE)
        self._menu_sends = _Window()
        self._turns = itertools.count()
        self._answers = 0
        self._paused_until = 0.0
        self._sequence = itertools.count()
        self._waiting = 0
        self._wake = asyncio.Event()
        self._runner: asyncio.Task[None] | None = None
        self.retries_429 = 0

    @property
    def waiting(self) -> int:
        """Calls queued for their turn now."""
        return self._waiting

    def _now(self) -> float:
        return self._time() if self._time else asyncio.get_running_loop().time()

    async def __call__(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
    ) -> Response[TelegramType]:
        chat = paced_chat(method)
        sequence = next(self._sequence)
        level = _priority.get()
        for attempt in range(1, self._attempts + 1):
            if chat is not None:
                if attempt == 1 and _held.get() == chat:
                    _held.set(None)
                else:
                    await self._turn(chat, level, sequence)
                if level is Priority.MENU:
                    self._menu_sends.in_flight += 1
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                self.retries_429 += 1
                self._paused_until = max(self._paused_until, self._now() + exc.retry_after)
                if attempt == self._attempts or exc.retry_after > self._max_wait:
                    raise
                log.warning(
                    "Telegram %s: 429, sending paused for %ss (%d/%d)",
                    method.__api_method__,
                    exc.retry_after,
                    attempt,
                    self._attempts,
                )
                if chat is None:
                    await asyncio.sleep(exc.retry_after)
            finally:
                if chat is not None:
                    self._answered(chat, level)
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.asynccontextmanager
    async def turn(self, chat_id: int | str, level: Priority) -> AsyncIterator[None]:
        """Wait for a turn in `chat_id` first, then prepare the send (it is spent by the next
        send to that chat inside): what is sent is then as fresh as the moment it goes."""
        await self._turn(chat_id, level, next(self._sequence))
        token = _held.set(chat_id)
        try:
            yield
        finally:
            if _held.get() == chat_id:
                self._release(chat_id)  # nothing was sent with it
            _held.reset(token)

    # -- the line -------------------------------------------------------------------------------

    async def _turn(self, key: Hashable, level: int, sequence: int) -> None:
        now = self._now()
        chat = self._chat(key, now)
        if not self._waiting and self._hold(now) <= 0 and self._chat_wait(chat, now) <= 0:
            self._take(chat, now)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(chat.queue, (level, sequence, future))
        self._waiting += 1
        if chat.queue[0][2] is future:
            self._line_up(key, chat)
        self._wake.set()
        if self._runner is None:
            self._runner = asyncio.create_task(self._dispatch(), name="telegram-pacer")
        try:
            await future
        except asyncio.CancelledError:
            if future.done() and not future.cancelled():
                # Given the turn, then cancelled before it could send: nothing went out.
                self._release(key)
                raise
            # Left the line before its turn; the dispatcher discards the entry.
            future.cancel()
            self._waiting -= 1
            if not self._waiting and self._runner is not None:
                self._runner.cancel()
                self._runner = None
            raise

    def _chat(self, key: Hashable, now: float) -> _Chat:
        chat = self._chats.get(key)
        if chat is None:
            group = deque[float]() if _is_group(key) else None
            chat = self._chats[key] = _Chat(self._limits.chat_burst, now, group)
        return chat

    def _hold(self, now: float) -> float:
        """How long every send must wait: a pause after a 429, or the overall limit (inf:
        until an answer comes back)."""
        limits = self._limits
        free = limits.global_limit - self._in_flight
        overall = _window_wait(self._recent, now, free, limits.global_window)
        return _padded(max(self._paused_until - now, overall))

    def _chat_wait(self, chat: _Chat, now: float) -> float:
        limits = self._limits
        chat.tokens = min(limits.chat_burst, chat.tokens + (now - chat.at) * limits.chat_rate)
        chat.at = now
        wait = 0.0 if chat.tokens >= 1 else (1 - chat.tokens) / limits.chat_rate
        if chat.group is not None:
            free = limits.group_limit - chat.in_flight
            wait = max(wait, _window_wait(chat.group, now, free, limits.group_window))
        return _padded(wait)

    def _take(self, chat: _Chat, now: float) -> None:
        chat.tokens -= 1
        chat.in_flight += 1
        chat.served = next(self._turns)
        self._in_flight += 1

    def _release(self, key: Hashable) -> None:
        """A turn given but not used: the send never left, so it counts for nothing."""
        chat = self._chats[key]
        chat.tokens = min(self._limits.chat_burst, chat.tokens + 1)
        chat.in_flight -= 1
        self._in_flight -= 1
        self._after_answer(key, chat)

    def _answered(self, key: Hashable, level: Priority) -> None:
        """A send let go has its answer (or failed): from now it counts for one window."""
        now = self._now()
        self._in_flight -= 1
        self._recent.append(now)
        if level is Priority.MENU:
            menus = self._menu_sends
            menus.in_flight -= 1
            _forget_older(menus.answered, now - self._limits.global_window)
            menus.answered.append(now)
        chat = self._chats[key]
        chat.in_flight -= 1
        if chat.group is not None:
            chat.group.append(now)
        self._after_answer(key, chat)

    def _after_answer(self, key: Hashable, chat: _Chat) -> None:
        if key in self._stalled:
            # A group held by its sends in flight alone may send again once one is answered.
            self._stalled.discard(key)
            chat.blocked = False
            self._line_up(key, chat)
        self._wake.set()
        self._answers += 1
        if not self._answers % SWEEP_EVERY:
            self._forget_idle_chats()

    async def _dispatch(self) -> None:
        try:
            while self._waiting:
                now = self._now()
                self._unblock(now)
                hold = self._hold(now)
                if hold <= 0 and self._grant(now):
                    # One grant per step, so the granted caller runs before the next one.
                    await asyncio.sleep(0)
                    continue
                if hold <= 0:
                    hold = self._blocked[0][0] - now if self._blocked else math.inf
                # Woken early by a new caller or an answer; nothing is missed by waking.
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(None if math.isinf(hold) else hold):
                        await self._wake.wait()
        finally:
            if self._runner is asyncio.current_task():
                self._runner = None
            self._forget_idle_chats()

    def _grant(self, now: float) -> bool:
        """Give the turn to the first in line whose chat may send now; false if none may."""
        menu, push = self._head(self._menus, now), self._head(self._pushes, now)
        if menu is not None and push is not None:
            line = self._pushes if self._menus_hold_their_share(now) else self._menus
        elif menu is not None or push is not None:
            line = self._menus if menu is not None else self._pushes
        else:
            line = self._cards
        # Looked at again: a look at the other line may have lined up a new head in this one.
        key = self._head(line, now)
        if key is None:
            return False
        heapq.heappop(line)
        chat = self._chats[key]
        _level, _sequence, future = heapq.heappop(chat.queue)
        self._waiting -= 1
        self._take(chat, now)
        future.set_result(None)
        self._line_up(key, chat)
        return True

    def _menus_hold_their_share(self, now: float) -> bool:
        limits = self._limits
        return self._menu_sends.wait(now, self._menu_cap, limits.global_window) > 0

    def _head(self, line: list[tuple[int, int, Hashable]], now: float) -> Hashable | None:
        """The first of `line` whose chat may send now, left in the line; chats that may not
        leave it until they may (they are lined up again then)."""
        while line:
            _rank, sequence, key = line[0]
            chat = self._chats.get(key)
            if chat is None or chat.blocked or not chat.queue or chat.queue[0][1] != sequence:
                heapq.heappop(line)  # gone, or overtaken in its chat since: its head is in line
                continue
            future = chat.queue[0][2]
            if future.done():
                heapq.heappop(line)
                heapq.heappop(chat.queue)
                self._line_up(key, chat)
                continue
            wait = self._chat_wait(chat, now)
            if wait <= 0:
                return key
            heapq.heappop(line)
            chat.blocked = True
            if math.isinf(wait):
                self._stalled.add(key)  # until one of its sends is answered
            else:
                heapq.heappush(self._blocked, (now + wait, sequence, key))
        return None

    def _line_up(self, key: Hashable, chat: _Chat) -> None:
        if chat.queue and not chat.blocked:
            level, sequence, _future = chat.queue[0]
            if level is Priority.MENU:
                heapq.heappush(self._menus, (chat.served, sequence, key))
            else:
                line = self._pushes if level in _PUSHES else self._cards
                heapq.heappush(line, (level, sequence, key))

    def _unblock(self, now: float) -> None:
        while self._blocked and self._blocked[0][0] <= now:
            _at, _sequence, key = heapq.heappop(self._blocked)
            chat = self._chats.get(key)
            if chat is not None:
                chat.blocked = False
                self._line_up(key, chat)

    def _forget_idle_chats(self) -> None:
        """Chats with nobody waiting whose bucket is full again start over as new ones would,
        unless one kept was served before them: whatever is forgotten was served before
        everything remembered, so the menu line's order stays true."""
        now = self._now()
        limits = self._limits
        idle = []
        for key, chat in self._chats.items():
            refilled = chat.tokens + (now - chat.at) * limits.chat_rate
            if chat.group is not None:
                _forget_older(chat.group, now - limits.group_window)
            full = refilled >= limits.chat_burst
            if not chat.queue and full and not chat.group and not chat.in_flight:
                idle.append(key)
        forgotten = set(idle)
        kept = (
            c.served for key, c in self._chats.items() if key not in forgotten and c.served >= 0
        )
        oldest_kept = min(kept, default=math.inf)
        for key in idle:
            if self._chats[key].served < oldest_kept:
                del self._chats[key]


def _padded(wait: float) -> float:
    return wait + _EPSILON if wait > 0 else 0.0


def _forget_older(times: deque[float], than: float) -> None:
    while times and times[0] <= than:
        times.popleft()


def _window_wait(times: deque[float], now: float, limit: int, window: float) -> float:
    """Until fewer than `limit` of `times` are within `window` (inf: never, by time alone)."""
    _forget_older(times, now - window)
    if len(times) < limit:
        return 0.0
    if limit <= 0:
        return math.inf
    return times[len(times) - limit] + window - now


def _is_group(key: Hashable) -> bool:
    # Groups and channels have negative ids (or an @username); private chats positive ones.
    return (isinstance(key, int) and key < 0) or isinstance(key, str)
