"""Has aiogram's pydantic models built dependencies first, which halves the bot's memory.

At import, aiogram.types calls `model_rebuild(_types_namespace=...)` on each of its ~400
models in alphabetical order. pydantic-core reuses the validator and serializer of a model
that is already built and inlines a private copy of one that is not, so in that order most
models carry their own copy of the whole Message graph: ~80 MiB of the ~165 MiB that
`import aiogram` holds. `install()` puts a finder on `sys.meta_path` that changes nothing
until aiogram.types is imported; only while that module runs is pydantic's `model_rebuild`
wrapped, and pydantic's own is back when it ends, however it ends. At aiogram's first call
the wrapper builds the same models with the same call and namespace in dependency order
(cycles such as Message ↔ Chat one at a time, from their most-connected model) and lets
aiogram's loop find them built. What the models accept and produce is unchanged; the order
only decides what is shared (tests/test_model_build_order.py compares every aiogram model
both ways). Anything unexpected (pydantic's `model_rebuild` no longer the classmethod with
the private arguments used here, an error in this module) logs one warning and leaves
aiogram to build its models its own way; so does an aiogram that stops calling
`model_rebuild` from aiogram.types, silently. A model that fails to build here is left to
aiogram's own call, which raises as before.
"""

from __future__ import annotations

import contextlib
import importlib.abc
import inspect
import logging
import sys
import typing
from collections.abc import Iterator, Mapping, Sequence
from importlib.abc import Loader
from importlib.machinery import ModuleSpec
from types import ModuleType
from typing import Any, TypeAlias

from pydantic import BaseModel

log = logging.getLogger(__name__)

# Deep enough for aiogram's nesting (a Union of Optionals of lists of models).
MAX_DEPTH = 25


def _models_in(annotation: Any, namespace: Mapping[str, Any], depth: int = 0) -> Iterator[type]:
    """The pydantic models an annotation mentions, looking through unions, generics, aliases
    and aiogram's string annotations."""
    if depth > MAX_DEPTH:
        return
    if isinstance(annotation, typing.ForwardRef):
        annotation = annotation.__forward_arg__
    if isinstance(annotation, str):
        try:
            # aiogram's own annotations, resolved in its own namespace, as pydantic does.
            annotation = eval(annotation, dict(namespace))
        except Exception:  # a dependency missed here costs memory, never correctness
            return
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        yield annotation
        return
    for argument in typing.get_args(annotation):
        yield from _models_in(argument, namespace, depth + 1)
    # A `type X = ...` alias, such as aiogram's RichTextUnion.
    aliased = getattr(annotation, "__value__", None)
    if aliased is not None:
        yield from _models_in(aliased, namespace, depth + 1)


def _dependencies(model: type[BaseModel], types: Mapping[str, Any]) -> set[type]:
    module = sys.modules.get(model.__module__)
    namespace = {**(vars(module) if module else {}), **types}
    found = {
        dependency
        for klass in model.__mro__
        for annotation in vars(klass).get("__annotations__", {}).values()
        for dependency in _models_in(annotation, namespace)
    }
    found.discard(model)
    return found


def build_order(models: list[type[BaseModel]], types: Mapping[str, Any]) -> list[type[BaseModel]]:
    """Strongly connected components, dependencies first (Tarjan's algorithm); inside one,
    its most-connected model first, then whichever has the fewest members still unbuilt."""
    members = set(models)
    needs = {model: _dependencies(model, types) & members for model in models}
    index: dict[type, int] = {}
    low: dict[type, int] = {}
    stack: list[type[BaseModel]] = []
    on_stack: set[type] = set()
    order: list[type[BaseModel]] = []

    def place(component: list[type[BaseModel]]) -> None:
        inside = set(component)
        hub = max(component, key=lambda m: (len(needs[m] & inside), m.__name__))
        built = {hub}
        order.append(hub)
        while len(built) < len(component):
            following = min(inside - built, key=lambda m: (len(needs[m] - built), m.__name__))
            built.add(following)
            order.append(following)

    def enter(model: type[BaseModel]) -> Iterator[type[BaseModel]]:
        index[model] = low[model] = len(index)
        stack.append(model)
        on_stack.add(model)
        return iter(sorted(needs[model], key=lambda m: m.__name__))

    # Depth-first with a stack of its own rather than recursion: a dependency chain as long as
    # the model count must not need a deeper interpreter stack.
    for root in models:
        if root in index:
            continue
        path = [(root, enter(root))]
        while path:
            model, pending = path[-1]
            for dependency in pending:
                if dependency not in index:
                    path.append((dependency, enter(dependency)))
                    break
                if dependency in on_stack:
                    low[model] = min(low[model], index[dependency])
            else:
                path.pop()
                if path:
                    caller = path[-1][0]
                    low[caller] = min(low[caller], low[model])
                if low[model] == index[model]:
                    component: list[type[BaseModel]] = []
                    while not component or component[-1] is not model:
                        member = stack.pop()
                        on_stack.discard(member)
                        component.append(member)
                    place(component)
    return order


def install() -> None:
    """Call before aiogram is imported (it does nothing once it has been); never raises."""
    try:
        if "aiogram.types" in sys.modules or any(
            isinstance(finder, _BuildOrderFinder) for finder in sys.meta_path
        ):
            return
        sys.meta_path.insert(0, _BuildOrderFinder(_pydantic_model_rebuild()))
    except Exception as error:
        _fall_back(error)


def _fall_back(error: BaseException) -> None:
    # One line whatever the error's text: the fallback costs memory, never behaviour.
    reason = (str(error).splitlines() or [""])[0]
    log.warning(
        "aiogram's models are built in aiogram's own order, without sharing memory: %s: %s",
        type(error).__name__,
        reason,
    )


_ModelRebuild: TypeAlias = "classmethod[BaseModel, ..., bool | None]"


def _pydantic_model_rebuild() -> _ModelRebuild:
    """pydantic's own `BaseModel.model_rebuild`, if it is still what this module wraps."""
    original = BaseModel.__dict__.get("model_rebuild")
    if not isinstance(original, classmethod):
        raise TypeError("pydantic's BaseModel.model_rebuild is no longer a classmethod")
    parameters = inspect.signature(original.__func__).parameters
    depth = parameters.get("_parent_namespace_depth")
    if "_types_namespace" not in parameters or depth is None or type(depth.default) is not int:
        raise TypeError("pydantic's BaseModel.model_rebuild takes other private arguments")
    return original


class _BuildOrderFinder(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it has aiogram.types, found as usual, run with `model_rebuild`
    wrapped, and puts pydantic's own back when that module ends, however it ends."""

    def __init__(self, original: _ModelRebuild) -> None:
        self.original = original
        self.rebuild = original.__func__
        self.default_depth: int = (
            inspect.signature(self.rebuild).parameters["_parent_namespace_depth"].default
        )
        self.found = self.built = self.failed = False

    def find_spec(
        self, fullname: str, path: Sequence[str] | None, target: ModuleType | None = None
    ) -> ModuleSpec | None:
        if fullname != "aiogram.types" or self.found:
            return None
        self.found = True
        try:
            for finder in sys.meta_path:
                if finder is not self and hasattr(finder, "find_spec"):
                    spec: ModuleSpec | None = finder.find_spec(fullname, path, target)
                    if spec is not None:
                        self._wrap(spec.loader)
                        return spec
        except Exception as error:
            self._fall_back(error)
        # Left on sys.meta_path, finding nothing: the import system is going through that list.
        return None

    def _wrap(self, loader: Loader | None) -> None:
        if loader is None:
            raise ImportError("aiogram.types was found without a loader")
        run = loader.exec_module

        def exec_module(module: ModuleType) -> None:
            try:
                BaseModel.model_rebuild = classmethod(self._model_rebuild)  # type: ignore[assignment, method-assign]
            except Exception as error:
                self._fall_back(error)
            try:
                run(module)
            finally:
                try:
                    BaseModel.model_rebuild = self.original  # type: ignore[assignment, method-assign]
                    sys.meta_path.remove(self)
                    del loader.exec_module
                except Exception as error:
                    self._fall_back(error)

        # Only on this loader, which found aiogram.types and stays its __loader__.
        loader.exec_module = exec_module  # type: ignore[method-assign]

    def _model_rebuild(self, cls: type[BaseModel], /, **kwargs: Any) -> bool | None:
        namespace = kwargs.get("_types_namespace")
        if namespace is None:
            depth = kwargs.get("_parent_namespace_depth", self.default_depth)
            if depth > 0:
                # This wrapper is one frame between pydantic and the caller whose names it reads.
                kwargs["_parent_namespace_depth"] = depth + 1
        elif cls.__module__.startswith("aiogram.") and not self.built:
            # aiogram's first call: build all it is about to build, in an order that shares.
            self.built = True
            try:
                self._build_in_order(namespace)
            except Exception as error:
                self._fall_back(error)
        return self.rebuild(cls, **kwargs)

    def _build_in_order(self, namespace: Mapping[str, Any]) -> None:
        unbuilt = [
            value
            for value in dict(namespace).values()
            if isinstance(value, type)
            and issubclass(value, BaseModel)
            and value.__module__.startswith("aiogram.")
            and not value.__pydantic_complete__
        ]
        for model in build_order(unbuilt, namespace):
            # A model that fails here fails again, with the same error, in aiogram's loop.
            with contextlib.suppress(Exception):
                self.rebuild(model, _types_namespace=namespace)

    def _fall_back(self, error: BaseException) -> None:
        if not self.failed:
            self.failed = True
            _fall_back(error)
