"""Has aiogram's pydantic models built dependencies first, which halves the bot's memory.

At import, aiogram.types calls `model_rebuild(_types_namespace=...)` on each of its ~400
models in alphabetical order. pydantic-core reuses the validator and serializer of a model
that is already built and inlines a private copy of one that is not, so in that order most
models carry their own copy of the whole Message graph: ~100 MiB of the ~170 MiB that
`import aiogram` holds. `install()` wraps `model_rebuild` until aiogram's first such call,
then builds the same models with the same call and namespace in dependency order (cycles
such as Message ↔ Chat one at a time, from their most-connected model) and lets aiogram's
loop find them built. What the models accept and produce is unchanged; the order only
decides what is shared. Should a later aiogram build its models another way, the wrapper
never fires and only the saving is lost; a model that fails to build here is left to
aiogram's own call, which raises as before.
"""

from __future__ import annotations

import contextlib
import sys
import typing
from collections.abc import Iterator, Mapping
from typing import Any

from pydantic import BaseModel

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
    """Call before aiogram is imported; does nothing once it has been."""
    if "aiogram.types" in sys.modules:
        return
    original = BaseModel.__dict__["model_rebuild"]

    def model_rebuild(cls: type[BaseModel], /, **kwargs: Any) -> bool | None:
        types = kwargs.get("_types_namespace")
        if types is not None and cls.__module__.startswith("aiogram."):
            BaseModel.model_rebuild = original  # type: ignore[method-assign]
            unbuilt = [
                value
                for value in dict(types).values()
                if isinstance(value, type)
                and issubclass(value, BaseModel)
                and value.__module__.startswith("aiogram.")
                and not value.__pydantic_complete__
            ]
            try:
                order = build_order(unbuilt, types)
            except Exception:  # aiogram's own order, as if this were not here
                order = []
            for model in order:
                # A model that fails here fails again, with the same error, in aiogram's loop.
                with contextlib.suppress(Exception):
                    original.__func__(model, _types_namespace=types)
        else:
            depth = kwargs.get("_parent_namespace_depth", 2)
            if depth > 0:
                # This wrapper is one frame between pydantic and the caller whose names it reads.
                kwargs["_parent_namespace_depth"] = depth + 1
        result: bool | None = original.__func__(cls, **kwargs)
        return result

    BaseModel.model_rebuild = classmethod(model_rebuild)  # type: ignore[method-assign, assignment]
