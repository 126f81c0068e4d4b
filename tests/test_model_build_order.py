"""aiogram imported after `bot` holds far less memory and behaves exactly as imported alone."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from bot import model_build_order

ROOT = Path(__file__).resolve().parent.parent
WARNING = "aiogram's models are built in aiogram's own order, without sharing memory: "

# Run in a fresh interpreter, once importing `bot` first and once not: a sample of what the
# models accept, refuse and produce, and the memory held once aiogram is imported.
PROBE = """
import json, sys
from pydantic import BaseModel, ValidationError

if sys.argv[1] == "bot":
    import bot

    def forward_reference_in_a_caller():
        # Any other library's model_rebuild() still reads its caller's names.
        class Later(BaseModel):
            item: "Item"

        class Item(BaseModel):
            n: int

        Later.model_rebuild()
        return Later(item={"n": 1}).item.n

    assert forward_reference_in_a_caller() == 1

from aiogram.methods import EditMessageText, SendMessage
from aiogram.methods.base import Response
from aiogram.types import InlineKeyboardButton, InlineKeyboardMarkup, Message, Update

user = {"id": 42, "is_bot": False, "first_name": "Ann", "language_code": "ru"}
chat = {"id": 42, "type": "private", "first_name": "Ann"}
markup = {"inline_keyboard": [[{"text": "›", "callback_data": "c:1"}]]}
message = {
    "message_id": 2, "date": 1700000000, "chat": chat, "from": user, "text": "hi",
    "entities": [{"type": "bold", "offset": 0, "length": 2}], "reply_markup": markup,
    "reply_to_message": {"message_id": 1, "date": 1, "chat": chat, "text": "x",
                         "pinned_message": {"message_id": 0, "date": 0, "chat": chat}},
    "something_new": {"field": 5},
}
updates = [
    {"update_id": 1, "message": message},
    {"update_id": 2, "callback_query": {"id": "9", "from": user, "chat_instance": "1",
                                        "data": "c:1", "message": message}},
    {"update_id": 3, "callback_query": {"id": "9", "from": user, "chat_instance": "1",
                                        "message": {"chat": chat, "message_id": 5, "date": 0}}},
]
probe = [Update.model_validate(u).model_dump_json(exclude_unset=True) for u in updates]
for bad in ({"update_id": "x", "message": {"chat": 1}}, {"update_id": 4, "callback_query": {}}):
    try:
        Update.model_validate(bad)
    except ValidationError as error:
        probe.append(str(error))
keyboard = InlineKeyboardMarkup(
    inline_keyboard=[[InlineKeyboardButton(text="Buy", callback_data="b:7")]]
)
probe.append(repr(SendMessage(chat_id=1, text="a", reply_markup=keyboard).model_dump()))
probe.append(repr(EditMessageText(chat_id=1, message_id=2, text="b").model_dump()))
parsed = Response[Message | bool].model_validate({"ok": True, "result": message})
probe.append(parsed.model_dump_json(exclude_unset=True))
with open("/proc/self/status") as file:
    status = file.read()
print(json.dumps({
    "probe": probe,
    # VmHWM, not ru_maxrss: Linux carries the latter over from the forking parent.
    "peak_mib": int(status.split("VmHWM:")[1].split()[0]) / 1024,
    "rebuild_restored": BaseModel.model_rebuild.__func__.__module__ == "pydantic.main",
}))
"""


async def probe(first: str) -> dict[str, Any]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        PROBE,
        first,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    result: dict[str, Any] = json.loads(out)
    return result


async def test_aiogram_behaves_the_same_in_half_the_memory() -> None:
    alone, after_bot = await asyncio.gather(probe("aiogram"), probe("bot"))
    assert after_bot["probe"] == alone["probe"]
    assert after_bot["rebuild_restored"], "pydantic's model_rebuild is put back once used"
    # Measured: about 82 MiB against 165 MiB on Python 3.11 with aiogram 3.31.
    assert after_bot["peak_mib"] < 0.7 * alone["peak_mib"], (after_bot, alone)


# With pydantic's model_rebuild where this module does not expect it, or with this module
# failing while aiogram.types is imported: one warning, and aiogram as if `bot` did nothing.
FALLBACK = r"""
import sys
from pydantic import BaseModel

if sys.argv[1] == "moved":
    # As if pydantic had moved it: models still have it, BaseModel's own dict no longer does.
    rebuild = BaseModel.__dict__["model_rebuild"].__func__
    del BaseModel.model_rebuild
    type(BaseModel).model_rebuild = rebuild
before = BaseModel.__dict__.get("model_rebuild")
import bot
import bot.model_build_order

if sys.argv[1] == "raising":
    def build_order(models, types):
        raise RuntimeError("broken\non two lines")

    bot.model_build_order.build_order = build_order
from aiogram.types import Message, Update

assert BaseModel.__dict__.get("model_rebuild") is before
assert not any(type(f).__name__ == "_BuildOrderFinder" for f in sys.meta_path), sys.meta_path
chat = {"id": 42, "type": "private", "first_name": "Ann"}
update = Update.model_validate({"update_id": 1, "message": {
    "message_id": 2, "date": 0, "chat": chat, "text": "hi",
    "reply_to_message": {"message_id": 1, "date": 0, "chat": chat, "text": "x"},
}})
assert update.message.reply_to_message.chat.first_name == "Ann"
assert Message.model_validate_json(update.message.model_dump_json()) == update.message
print("ok")
"""


async def run(script: str, *args: str) -> tuple[str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        script,
        *args,
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await process.communicate()
    assert process.returncode == 0, err.decode()
    return out.decode(), err.decode()


async def test_an_unexpected_pydantic_or_a_failure_leaves_aiogram_as_it_was() -> None:
    reasons = {
        "moved": "TypeError: pydantic's BaseModel.model_rebuild is no longer a classmethod",
        "raising": "RuntimeError: broken",
    }
    results = await asyncio.gather(*(run(FALLBACK, case) for case in reasons))
    for (case, reason), (out, err) in zip(reasons.items(), results, strict=True):
        assert out == "ok\n", case
        assert err == f"{WARNING}{reason}\n", case


def test_a_rebuild_outside_aiogram_still_reads_its_callers_names() -> None:
    # While aiogram.types is imported, other libraries' model_rebuild() go through the wrapper.
    finder = model_build_order._BuildOrderFinder(BaseModel.__dict__["model_rebuild"])

    class Later(BaseModel):
        item: Item  # defined below, resolved by the rebuild

    class Item(BaseModel):
        n: int

    assert finder._model_rebuild(Later) is True
    assert Later(item={"n": 1}).item.n == 1
