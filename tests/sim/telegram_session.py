"""An aiogram session that calls the Telegram emulator in-process, with no socket."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any, cast

from aiogram.client.session.base import BaseSession
from aiogram.exceptions import TelegramNetworkError
from aiogram.methods import TelegramMethod
from aiogram.methods.base import TelegramType
from aiogram.types import InputFile

from emulators.telegram import TelegramEmulator, decode_param
from tests.sim.effects import Effects

if TYPE_CHECKING:
    from aiogram import Bot


class InProcessSession(BaseSession):
    """Each call reaches the emulator exactly as aiogram's aiohttp session would send it: the
    same form fields, read back as the emulator's HTTP handler reads them; the answer goes
    through aiogram's own checks, so its real exceptions come out."""

    def __init__(self, emulator: TelegramEmulator, effects: Effects) -> None:
        super().__init__()
        self._emulator = emulator
        self._effects = effects

    async def close(self) -> None:
        """Nothing to close: there is no connection."""

    async def make_request(
        self,
        bot: Bot,
        method: TelegramMethod[TelegramType],
        timeout: int | None = None,  # noqa: ASYNC109 - aiogram's signature
    ) -> TelegramType:
        name = method.__api_method__
        params = self._params(bot, method)
        # A network call always lets other tasks run; so does this one, where a crash may hit.
        await asyncio.sleep(0)
        self._effects.before(f"telegram {name}")
        try:
            async with asyncio.timeout(self.timeout if timeout is None else timeout):
                status, payload = await self._emulator.call(bot.token, name, params)
        except TimeoutError as exc:
            raise TelegramNetworkError(method=method, message="Request timeout error") from exc
        response = self.check_response(
            bot=bot, method=method, status_code=status, content=json.dumps(payload)
        )
        return cast(TelegramType, response.result)

    def stream_content(
        self,
        url: str,
        headers: dict[str, Any] | None = None,
        timeout: int = 30,
        chunk_size: int = 65536,
        raise_for_status: bool = True,
    ) -> AsyncGenerator[bytes, None]:
        raise NotImplementedError("downloads are not simulated")

    def _params(self, bot: Bot, method: TelegramMethod[Any]) -> dict[str, Any]:
        # What AiohttpSession.build_form_data puts in the form, decoded as the emulator would.
        files: dict[str, InputFile] = {}
        params: dict[str, Any] = {}
        for key, value in method.model_dump(warnings=False).items():
            prepared = self.prepare_value(value, bot=bot, files=files)
            if prepared:
                # Only the characters travel in a form, not a str subclass such as
                # ParseMode.HTML, whose str() is "ParseMode.HTML".
                params[key] = decode_param(key, prepared.encode().decode())
        if files:
            raise NotImplementedError(f"{method.__api_method__}: file uploads are not simulated")
        return params
