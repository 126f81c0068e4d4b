"""The production Bot keeps aiogram's Response classes, so calls stop rebuilding them."""

from __future__ import annotations

import gc
import weakref

from aiogram.methods.base import Response
from aiogram.types import User

from bot.config import Settings
from bot.factory import create_bot
from bot.metrics import Metrics
from bot.telegram.pacer import Pacer


async def test_response_classes_survive_garbage_collection(settings: Settings) -> None:
    bot = create_bot(settings, Pacer(), Metrics())
    try:
        await bot.get_me()
        gc.collect()
        # The class the call parsed with, if still alive; otherwise a new one nobody keeps.
        parsed_with = weakref.ref(Response[User])
        gc.collect()
        assert parsed_with() is not None, "the next getMe would build Response[User] again"
        await bot.get_me()
        assert Response[User] is parsed_with()
    finally:
        await bot.session.close()
