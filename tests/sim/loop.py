"""A virtual-time asyncio event loop: timers fire at once and in order, nothing sleeps for real."""

from __future__ import annotations

import asyncio
import selectors
from collections.abc import Awaitable, Callable, Iterator, Mapping
from concurrent.futures import Executor
from contextlib import contextmanager
from typing import Any, TypeVar, TypeVarTuple

T = TypeVar("T")
Ts = TypeVarTuple("Ts")

# Enough virtual time for any shutdown grace period of the bot; a task still running after it
# ignores cancellation, which would otherwise spin the virtual clock forever.
CANCEL_GRACE = 3600.0
_SHOWN_TASKS = 20


class Deadlock(RuntimeError):
    """Every task waits for another and nothing is scheduled: a real loop would hang here."""


class VirtualTimeLoop(asyncio.SelectorEventLoop):
    """`time()` is a virtual clock from 0.0 that jumps to the next timer whenever the loop would
    otherwise sleep, so an hour of timeouts and sleeps passes in no real time, in the same
    order as on a real loop. Threads are refused (`run_in_executor`), since their timing would
    make runs differ. Every call of the exception handler is kept in `exception_events`.
    """

    def __init__(self) -> None:
        self._now = 0.0
        real = selectors.DefaultSelector()
        super().__init__(real)
        # asyncio keeps its selector here; the loop's only wait is this one's select().
        self._selector: selectors.BaseSelector = _VirtualSelector(real, self)
        self.exception_events: list[dict[str, Any]] = []
        self.set_exception_handler(_record_and_log)

    def time(self) -> float:
        return self._now

    def run_in_executor(
        self, executor: Executor | None, func: Callable[[*Ts], T], *args: *Ts
    ) -> asyncio.Future[T]:
        error = RuntimeError(
            f"run_in_executor({func!r}) refused: a thread's timing would break determinism"
        )
        # Raised in the caller, which may catch it; the handler makes it visible regardless.
        self.call_exception_handler({"message": str(error), "exception": error})
        raise error

    def run(self, awaitable: Awaitable[T]) -> T:
        """Run `awaitable` (and everything else) until it is done; what sync code calls."""
        return self.run_until_complete(awaitable)

    def advance(self, seconds: float) -> None:
        """Let `seconds` of virtual time pass, with every task running as it would meanwhile."""
        self.run_until_complete(asyncio.sleep(seconds))

    def cancel_all(self, *, expected: tuple[type[BaseException], ...] = ()) -> None:
        """Cancel every task and run the loop until all are done.

        A task that ends with an exception other than cancellation or one of `expected` is
        reported to the exception handler, as `asyncio.run` does at shutdown.
        """
        for _ in range(10):
            tasks = asyncio.all_tasks(self)
            if not tasks:
                return
            for task in tasks:
                task.cancel()
            _, pending = self.run_until_complete(asyncio.wait(tasks, timeout=CANCEL_GRACE))
            if pending:
                raise RuntimeError(f"tasks ignore cancellation:\n{_describe(pending)}")
            for task in tasks:
                if task.cancelled():
                    continue
                error = task.exception()
                if error is not None and not isinstance(error, expected):
                    message = "task failed while being cancelled"
                    self.call_exception_handler(
                        {"message": message, "exception": error, "task": task}
                    )
        raise RuntimeError("tasks keep starting new tasks while being cancelled")

    def close_async_generators(self) -> None:
        """Close every async generator the loop still knows of, now, and keep the loop usable.

        `shutdown_asyncgens` would also refuse to track new ones. An abandoned generator is
        otherwise closed whenever the garbage collector finds it: its `finally` blocks would
        run at an arbitrary moment, maybe long after the code that owned it is gone.
        """
        generators = list(self._asyncgens)  # type: ignore[attr-defined]
        self._asyncgens.clear()  # type: ignore[attr-defined]

        async def close_them() -> None:
            closing = [generator.aclose() for generator in generators]
            await asyncio.gather(*closing, return_exceptions=True)

        if generators:
            self.run_until_complete(close_them())

    def close(self) -> None:
        """Cancel what is left and close async generators first, so nothing dies pending."""
        if not self.is_closed() and not self.is_running():
            self.cancel_all()
            self.run_until_complete(self.shutdown_asyncgens())
        super().close()


@contextmanager
def virtual_loop() -> Iterator[VirtualTimeLoop]:
    """A fresh VirtualTimeLoop, closed (its tasks cancelled) at the end of the block."""
    loop = VirtualTimeLoop()
    try:
        yield loop
    finally:
        loop.close()


class _VirtualSelector(selectors.BaseSelector):
    """The loop's real selector, except that a wait advances the virtual clock instead."""

    def __init__(self, real: selectors.BaseSelector, loop: VirtualTimeLoop) -> None:
        self._real = real
        self._loop = loop

    def select(self, timeout: float | None = None) -> list[tuple[selectors.SelectorKey, int]]:
        # asyncio asks for a wait of exactly the time until its next timer (capped at a
        # day), or of None when it has none: the jump lands on that timer.
        events = self._real.select(0)
        if events or (timeout is not None and timeout <= 0):
            return events
        if timeout is None:
            raise Deadlock(
                "the loop would wait forever: no callback is ready, no timer is scheduled\n"
                + _describe(asyncio.all_tasks(self._loop))
            )
        self._loop._now += timeout
        return []

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.register(fileobj, events, data)

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._real.unregister(fileobj)

    def modify(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        return self._real.modify(fileobj, events, data)

    def get_map(self) -> Mapping[Any, selectors.SelectorKey]:
        return self._real.get_map()

    def close(self) -> None:
        self._real.close()


def _record_and_log(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    if isinstance(loop, VirtualTimeLoop):
        loop.exception_events.append(context)
    loop.default_exception_handler(context)


def _describe(tasks: set[asyncio.Task[Any]]) -> str:
    lines = []
    for task in sorted(tasks, key=lambda task: task.get_name())[:_SHOWN_TASKS]:
        lines.append(f"  task {task.get_name()} ({task.get_coro()!r}) waits at {_where(task)}")
    if len(tasks) > _SHOWN_TASKS:
        lines.append(f"  … and {len(tasks) - _SHOWN_TASKS} more")
    return "\n".join(lines) or "  (no tasks)"


def _where(task: asyncio.Task[Any]) -> str:
    # Task.get_stack shows only the outermost coroutine of a suspended task; the await chain
    # leads to the line that actually waits.
    awaited: Any = task.get_coro()
    frame = None
    while awaited is not None:
        frame = getattr(awaited, "cr_frame", None) or getattr(awaited, "gi_frame", None) or frame
        awaited = getattr(awaited, "cr_await", None) or getattr(awaited, "gi_yieldfrom", None)
    return f"{frame.f_code.co_filename}:{frame.f_lineno}" if frame is not None else "?"
