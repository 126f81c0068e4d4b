"""How the routers are put together, checked without running them."""

from __future__ import annotations

from aiogram.dispatcher.event.handler import CallableObject

from handlers import get_routers


def test_every_handler_and_filter_is_awaited_in_the_event_loop() -> None:
    """aiogram runs a plain function or magic filter through `asyncio.to_thread`: a thread
    hop for every update that passes it, which on a page flip cost more than the flip."""
    called: list[tuple[str, CallableObject]] = []
    for router in get_routers():
        for event, observer in router.observers.items():
            # The observer's own filters apply to all its handlers; its callback is never run.
            called += [
                (f"{router.name}.{event} filter", f) for f in observer._handler.filters or []
            ]
            for handler in observer.handlers:
                called.append((f"{router.name}.{event} handler", handler))
                called += [(f"{router.name}.{event} filter", f) for f in handler.filters or []]
    threaded = [f"{where}: {obj.callback}" for where, obj in called if not obj.awaitable]
    assert threaded == []
    assert len(called) > 20
