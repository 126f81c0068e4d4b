"""Every aiogram model behaves the same imported after `bot`, in far less memory."""

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

# Run in a fresh interpreter, importing `bot` first or not: for every aiogram model (enumerated
# once every module under aiogram that can be imported is), its JSON schema if pydantic makes
# one, its core schema in a form that build order does not change, and what it makes of two
# samples generated from its fields with a fixed seed (validated, then dumped both ways), each
# with any warnings; long texts as digests. Written to the file named by argv[2] as JSON.
PROBE = r"""
import datetime, enum, hashlib, importlib, json, pkgutil, random, re, sys, types, typing, warnings
from pydantic import BaseModel

original = BaseModel.__dict__["model_rebuild"]
restored = []
if sys.argv[1] == "bot":
    import bot

    restored.append(BaseModel.__dict__["model_rebuild"] is original)
import aiogram

restored.append(BaseModel.__dict__["model_rebuild"] is original)
with open("/proc/self/status") as file:
    # VmHWM, not ru_maxrss: Linux carries the latter over from the forking parent.
    peak_mib = int(file.read().split("VmHWM:")[1].split()[0]) / 1024

# Every module under aiogram that imports here (redis, mongo... need what is not installed).
for info in pkgutil.walk_packages(aiogram.__path__, "aiogram.", onerror=lambda name: None):
    try:
        importlib.import_module(info.name)
    except ImportError:
        pass


def subclasses(klass):
    for sub in klass.__subclasses__():
        yield sub
        yield from subclasses(sub)


MODELS = {}
for model in subclasses(BaseModel):
    if model.__module__.split(".")[0] == "aiogram":
        assert MODELS.setdefault(f"{model.__module__}.{model.__qualname__}", model) is model
SCALARS = (BaseModel, enum.Enum, str, int, float, datetime.datetime, datetime.timedelta)
WORDS = ("a", "Ann", " hello world ", "c:1", "https://example.com/x", "", "😀", "<b>x</b>")


def digest(text):
    return f"{len(text)}:{hashlib.sha256(text.encode()).hexdigest()[:16]}"


def stable(text):
    # Addresses of functions, and ids that pydantic puts in its definition references.
    return re.sub(r"0x[0-9a-f]+", "0x?", re.sub(r":\d{6,}\b", ":?", text))


def hoisted(schema):
    # Whether pydantic inlines a model's schema or refers to it in a table depends on what was
    # built first: with every schema that has a ref moved to one table, both forms are one.
    table = {}

    def walk(node):
        if isinstance(node, (list, tuple)):
            return [walk(item) for item in node]
        if not isinstance(node, dict):
            return node
        if node.get("type") == "definitions":
            walk(node["definitions"])
            return walk(node["schema"])
        node = {key: walk(item) for key, item in node.items()}
        if "ref" not in node or node.get("type") == "definition-ref":
            return node
        table.setdefault(stable(node["ref"]), set()).add(stable(repr(node)))
        return {"type": "definition-ref", "schema_ref": node["ref"]}

    top = walk(schema)
    return stable(repr([top, sorted((ref, sorted(forms)) for ref, forms in table.items())]))


def makeable(annotation):
    return not isinstance(annotation, type) or issubclass(annotation, SCALARS)


def is_model(annotation):
    return isinstance(annotation, type) and issubclass(annotation, BaseModel)


# Data for a model from its fields' annotations: all fields near the top when full, some of
# them further down otherwise, within a budget that keeps a Message (whose fields lead to more
# Messages) to a few hundred values.
class Sample:
    def __init__(self, seed, full):
        self.rng, self.full, self.budget = random.Random(seed), full, 400

    def of(self, model, depth=0):
        data = {}
        for name, field in model.model_fields.items():
            if not field.is_required() and (
                self.budget <= 0
                or depth > (1 if self.full else 3)
                or not self.full and self.rng.random() < 0.5
            ):
                continue
            self.budget -= 1
            alias = field.validation_alias
            data[alias if isinstance(alias, str) else field.alias or name] = self.value(
                field.annotation, depth
            )
        return data

    def value(self, annotation, depth):
        rng = self.rng
        origin, args = typing.get_origin(annotation), typing.get_args(annotation)
        if origin is typing.Annotated:
            return self.value(args[0], depth)
        if annotation is None or annotation is type(None):
            return None
        if not isinstance(annotation, type) and hasattr(annotation, "__value__"):
            return self.value(annotation.__value__, depth)  # a `type X = ...` alias
        if origin is typing.Literal:
            chosen = rng.choice(args)  # a discriminator gives its variant's own value
            return chosen.value if isinstance(chosen, enum.Enum) else chosen
        if origin in (typing.Union, types.UnionType):
            options = [arg for arg in args if arg is not type(None)]
            if len(options) < len(args) and rng.random() < 0.2:
                return None
            options = [option for option in options if makeable(option)] or options
            if depth >= 2:
                # aiogram's rich text is a union of ~20 models without a discriminator, each
                # holding such a union: a wrong guess deep down costs pydantic 20**depth tries.
                options = [o for o in options if not is_model(o)] or options
            return self.value(rng.choice(options), depth)
        if origin is tuple and args and args[-1] is not Ellipsis:
            return [self.value(arg, depth) for arg in args]
        if origin in (list, set, frozenset, tuple) or "Sequence" in str(origin):
            # Empty once the budget is spent: rich text's blocks hold lists of blocks.
            length = rng.randint(1, 2) if self.budget > 0 else 0
            return [self.value(args[0] if args else str, depth) for _ in range(length)]
        if origin is dict or "Mapping" in str(origin):
            return {f"k{i}": self.value(args[1] if args else str, depth) for i in range(2)}
        if isinstance(annotation, type):
            if is_model(annotation):
                return self.of(annotation, depth + 1)
            if issubclass(annotation, enum.Enum):
                return rng.choice(list(annotation)).value
            if issubclass(annotation, bool):
                return rng.random() < 0.5
            if issubclass(annotation, int):
                return rng.randint(-5, 2_000_000_000)
            if issubclass(annotation, float):
                return round(rng.uniform(-100, 100), 3)
            if issubclass(annotation, datetime.datetime):
                return rng.randint(0, 2_000_000_000)
            if issubclass(annotation, datetime.timedelta):
                return rng.randint(1, 100_000)
        # str, Any, a TypeVar, or a class no JSON makes (InputFile): a string, refused or not.
        return rng.choice(WORDS)


def outcome(call):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            result = call()
        except Exception as error:
            result = stable(f"{type(error).__name__}: {error}")
    return [result, [str(warning.message) for warning in caught]]


report = {}
for name, model in sorted(MODELS.items()):
    entry = report[name] = {}
    # Both: ~55 models have no JSON schema, and one leaves out much (a config's str_strip...).
    entry["schema"] = outcome(lambda: digest(json.dumps(model.model_json_schema())))
    entry["core"] = outcome(lambda: digest(hoisted(model.__pydantic_core_schema__)))
    for full in (True, False):
        data = Sample(f"{name}:{full}", full).of(model)
        validated = outcome(lambda: model.model_validate(data))
        if isinstance(validated[0], str):
            entry[f"sample {full}"] = validated
            continue
        entry[f"sample {full}"] = [
            outcome(validated[0].model_dump_json),
            outcome(lambda: json.dumps(validated[0].model_dump(mode="json"))),
            validated[1],
        ]
with open(sys.argv[2], "w") as file:
    json.dump({"peak_mib": peak_mib, "restored": restored, "models": report}, file)
"""

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


async def probe(first: str, tmp_path: Path) -> dict[str, Any]:
    path = tmp_path / f"{first}.json"
    await run(PROBE, first, str(path))
    result: dict[str, Any] = json.loads(path.read_text())
    return result


async def test_every_aiogram_model_behaves_the_same_in_half_the_memory(tmp_path: Path) -> None:
    alone, after_bot = await asyncio.gather(probe("aiogram", tmp_path), probe("bot", tmp_path))
    assert after_bot["models"].keys() == alone["models"].keys()
    differing = [
        f"{name} ({', '.join(k for k in entry if entry[k] != alone['models'][name].get(k))})"
        for name, entry in after_bot["models"].items()
        if entry != alone["models"][name]
    ]
    assert not differing, f"{len(differing)} models differ, first: {differing[:10]}"
    entries = alone["models"].values()
    # What the comparison covered, so that a generator or enumeration gone empty shows.
    without_json_schema = sum(not entry["schema"][0][0].isdigit() for entry in entries)
    validated = sum(not isinstance(e[k][0], str) for e in entries for k in e if "sample" in k)
    assert len(entries) > 550, len(entries)
    assert without_json_schema < 100, without_json_schema
    assert all(entry["core"][0][0].isdigit() for entry in entries)
    assert validated > 0.75 * 2 * len(entries), validated
    assert after_bot["restored"] == [True, True], "pydantic's model_rebuild is its own again"
    # Measured: about 83 MiB against 166 MiB on Python 3.11 with aiogram 3.31.
    peaks = after_bot["peak_mib"], alone["peak_mib"]
    assert peaks[0] < 0.7 * peaks[1], peaks


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
