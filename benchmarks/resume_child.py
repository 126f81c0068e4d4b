"""Child process of resume_and_memory: the production bot, timed from opening to its first poll."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import httpx

from benchmarks.proc import peak_rss_mb
from bot.config import Settings

# Imported before the clock starts: aiogram's slow import is not part of the figure.
from bot.factory import Application
from bot.logs import setup_logging
from bot.orders.poller import Poller


async def serve(settings: Settings) -> None:
    """Run the bot as `python -m bot` does; print one JSON line once it polls its orders."""
    loop = asyncio.get_running_loop()
    # What the interpreter holds with the bot's modules loaded, before the bot does anything.
    imports_mb = peak_rss_mb()
    started = time.perf_counter()
    app = await Application.open(settings)
    scheduled: asyncio.Future[tuple[float, int]] = loop.create_future()
    first_poll: asyncio.Future[float] = loop.create_future()

    async def on_request(request: httpx.Request) -> None:
        if request.url.path.endswith("/get-sms") and not first_poll.done():
            first_poll.set_result(time.perf_counter())

    async def on_started(poller: Poller) -> None:
        # Registered after the bot's own start-up handler, so this runs once poller.start()
        # has read every open order from sqlite and put it on the schedule.
        scheduled.set_result((time.perf_counter(), poller.watched))

    hooks = app.http.event_hooks
    app.http.event_hooks = {**hooks, "request": [*hooks["request"], on_request]}
    app.dp.startup.register(on_started)
    polling = asyncio.create_task(app.run_polling())
    try:
        marks = asyncio.gather(scheduled, first_poll)
        either: set[asyncio.Future[Any]] = {polling, marks}
        await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
        if marks.done():
            (ready_at, count), polled_at = marks.result()
            figure = {
                "resume_s": max(ready_at, polled_at) - started,
                "scheduled": count,
                "imports_mb": imports_mb,
            }
            print(json.dumps(figure), flush=True)
        else:
            # Polling ended before the bot polled an order: its error is the child's.
            marks.cancel()
        # Until SIGTERM, which aiogram turns into the end of polling.
        await polling
    finally:
        await app.close()


def main() -> None:
    settings = Settings()
    setup_logging(settings.log_level, [settings.bot_token, settings.smsman_token])
    asyncio.run(serve(settings))


if __name__ == "__main__":
    main()
