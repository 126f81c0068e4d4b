"""An httpx transport that calls the SMS-man emulator in-process, with no socket."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qsl

import httpx

from emulators.smsman import SmsManEmulator
from tests.sim.effects import Effects

_CONTROL = "/control/"


class InProcessTransport(httpx.AsyncBaseTransport):
    """Serves the client's control calls from the emulator, failing as the network would: a
    read timeout while the emulator has not answered (it may have acted all the same), a
    protocol error when it drops the connection."""

    def __init__(self, emulator: SmsManEmulator, effects: Effects) -> None:
        self._emulator = emulator
        self._effects = effects

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if not path.startswith(_CONTROL) or request.method != "GET":
            # The client sends every call as a GET with its parameters in the query.
            raise NotImplementedError(f"{request.method} {path} is not simulated")
        endpoint = path.removeprefix(_CONTROL)
        # As aiohttp reads a query: blank values kept, the last of repeated names wins.
        params = dict(parse_qsl(request.url.query.decode(), keep_blank_values=True))
        # A network call always lets other tasks run; so does this one, where a crash may hit.
        await asyncio.sleep(0)
        self._effects.before(f"smsman {endpoint}")
        read_timeout = request.extensions.get("timeout", {}).get("read")
        try:
            async with asyncio.timeout(read_timeout):
                reply = await self._emulator.respond(endpoint, request.method, params)
        except TimeoutError:
            raise httpx.ReadTimeout(f"no answer within {read_timeout} s", request=request) from None
        if reply.dropped:
            raise httpx.RemoteProtocolError(
                "Server disconnected without sending a response.", request=request
            )
        return httpx.Response(
            reply.status,
            headers={"content-type": f"{reply.content_type}; charset=utf-8"},
            content=reply.body.encode(),
            request=request,
        )
