"""The crash switch every outside effect of the simulated bot process passes through."""

from __future__ import annotations

from collections import deque


class Crashed(BaseException):
    """The simulated process died. A BaseException, so that the bot's `except Exception`
    recovery never catches it and carries on as if the process were still alive."""


class Effects:
    """Counts and names the bot's effects on the world (each sqlite statement, Telegram call
    and SMS-man call), and kills the process before one of them on request.

    Once crashed, every further effect raises Crashed, so nothing a dying process still runs
    (a `finally`, an `except BaseException` clean-up) can reach the world; `revive` is for
    the next process.
    """

    def __init__(self, *, keep: int = 30) -> None:
        self.crashed = False
        # How many effects happened in all, and the last `keep` of them by name.
        self.count = 0
        self.recent: deque[str] = deque(maxlen=keep)
        # The effect the crash came before, for failure messages.
        self.crashed_before: str | None = None
        self._countdown: int | None = None
        # Only the effects whose name contains one of these count down to an armed crash.
        self._counting: tuple[str, ...] = ("",)

    def before(self, what: str) -> None:
        """Called just before the effect `what` happens; raises Crashed instead if it may not."""
        counts = any(part in what for part in self._counting)
        if self._countdown == 0 and counts:
            self._countdown = None
            self.crashed = True
            self.crashed_before = what
        if self.crashed:
            raise Crashed(f"the process has crashed; {what} did not happen")
        if self._countdown is not None and counts:
            self._countdown -= 1
        self.count += 1
        self.recent.append(what)

    def arm(self, k: int, *, among: tuple[str, ...] = ("",)) -> None:
        """Crash before the k-th next effect, counting from 0: `arm(0)` stops the very next
        one, `arm(2)` lets two happen and stops the third. With `among`, only effects whose
        name contains one of those parts count (and the crash comes before one of them):
        `arm(1, among=("INSERT", "UPDATE"))` crashes between two writes."""
        if k < 0:
            raise ValueError(f"k must be at least 0, not {k}")
        self._countdown = k
        self._counting = among

    def disarm(self) -> None:
        self._countdown = None

    def crash(self) -> None:
        """Crash now: no further effect happens."""
        self._countdown = None
        if not self.crashed:
            self.crashed = True
            self.crashed_before = None

    def revive(self) -> None:
        """A new process starts: effects happen again (a crash armed meanwhile stays armed,
        so a start can be crashed too)."""
        self.crashed = False
        self.crashed_before = None

    def describe(self) -> str:
        state = "crashed" if self.crashed else "alive"
        if self.crashed_before is not None:
            state += f" before {self.crashed_before}"
        armed = "" if self._countdown is None else f", crash armed in {self._countdown}"
        recent = "\n".join(f"  {what}" for what in self.recent) or "  (none)"
        return f"{self.count} effects, {state}{armed}; the last ones, oldest first:\n{recent}"
