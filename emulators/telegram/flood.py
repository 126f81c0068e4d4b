"""Telegram's send limits, as the Bots FAQ states them: per chat, over all chats, per group."""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from emulators.telegram.models import ApiError

# Calls that put a message in a chat or change one; answers to queries and chat actions do not.
_COUNTED_PREFIXES = ("send", "edit", "copy", "forward", "stop")
_NOT_COUNTED = frozenset({"sendChatAction"})


def counts_against_limits(method: str) -> bool:
    return method.startswith(_COUNTED_PREFIXES) and method not in _NOT_COUNTED


@dataclass
class _Bucket:
    tokens: float
    at: float


@dataclass
class FloodLimits:
    """Refuses a send or an edit over a limit with Telegram's 429, before it is executed.

    Per chat a bucket of `chat_burst` refilled at `chat_rate` per second (short bursts pass, a
    steady stream is held to one a second); over all chats `global_limit` per sliding
    `global_window`; per group (negative chat id) `group_limit` per sliding `group_window`.
    """

    clock: Callable[[], float]
    chat_burst: int = 3
    chat_rate: float = 1.0
    global_limit: int = 30
    global_window: float = 1.0
    group_limit: int = 20
    group_window: float = 60.0
    # When each send and edit was let through, and when each was refused with a 429.
    sent: list[float] = field(default_factory=list)
    refusals: list[float] = field(default_factory=list)
    _recent: deque[float] = field(default_factory=deque)
    _buckets: dict[int | str, _Bucket] = field(default_factory=dict)
    _groups: dict[int | str, deque[float]] = field(default_factory=dict)

    @property
    def refused(self) -> int:
        return len(self.refusals)

    def check(self, chat_id: int | str) -> None:
        """Count one send to `chat_id`, or raise the 429 Telegram would answer instead."""
        now = self.clock()
        waits = [self._chat_wait(chat_id, now), self._global_wait(now)]
        group = self._groups.setdefault(chat_id, deque()) if _is_group(chat_id) else None
        if group is not None:
            waits.append(_window_wait(group, now, self.group_limit, self.group_window))
        wait = max(waits)
        if wait > 0:
            self.refusals.append(now)
            retry_after = max(1, math.ceil(wait))
            raise ApiError(
                429, f"Too Many Requests: retry after {retry_after}", retry_after=retry_after
            )
        self._buckets[chat_id].tokens -= 1
        self._recent.append(now)
        if group is not None:
            group.append(now)
        self.sent.append(now)

    def _chat_wait(self, chat_id: int | str, now: float) -> float:
        bucket = self._buckets.setdefault(chat_id, _Bucket(self.chat_burst, now))
        bucket.tokens = min(self.chat_burst, bucket.tokens + (now - bucket.at) * self.chat_rate)
        bucket.at = now
        return 0.0 if bucket.tokens >= 1 else (1 - bucket.tokens) / self.chat_rate

    def _global_wait(self, now: float) -> float:
        return _window_wait(self._recent, now, self.global_limit, self.global_window)


def _window_wait(times: deque[float], now: float, limit: int, window: float) -> float:
    while times and times[0] <= now - window:
        times.popleft()
    return 0.0 if len(times) < limit else times[0] + window - now


def _is_group(chat_id: int | str) -> bool:
    return isinstance(chat_id, str) or chat_id < 0
