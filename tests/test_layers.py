"""Imports go one way: handlers → services → storage and the SMS-man client; worlds stay apart."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = ("bot", "handlers", "keyboards")
# The table's statuses and events are data every layer may name.
DATA = ("bot.orders.lifecycle",)


def modules(package: str) -> list[tuple[str, Path]]:
    found: list[tuple[str, Path]] = []
    for path in sorted((ROOT / package).rglob("*.py")):
        parts = path.relative_to(ROOT).with_suffix("").parts
        found.append((".".join(p for p in parts if p != "__init__"), path))
    return found


def imported(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            # `from bot.orders import limits` imports the module bot.orders.limits.
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def under(name: str, *prefixes: str) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def offending(
    package: str, *forbidden: str, allowed: tuple[str, ...] = (), data: bool = False
) -> list[str]:
    """`module imports name` for each import of `forbidden` in `package`; `data` lets the
    lifecycle table through."""
    return [
        f"{module} imports {name}"
        for module, path in modules(package)
        if not under(module, *allowed)
        for name in sorted(imported(path))
        if under(name, *forbidden) and not (data and under(name, *DATA))
    ]


@pytest.mark.parametrize("package", PRODUCT)
def test_the_product_never_imports_its_test_worlds(package: str) -> None:
    assert offending(package, "emulators", "tests", "benchmarks") == []


def test_services_never_import_handlers_or_keyboards() -> None:
    # The composition root alone wires the presentation layer in.
    assert offending("bot", "handlers", "keyboards", allowed=("bot.factory",)) == []


@pytest.mark.parametrize("package", ["handlers", "keyboards"])
def test_only_services_talk_to_smsman(package: str) -> None:
    assert offending(package, "bot.smsman.client", "bot.smsman.ratelimit", "httpx") == []


def test_keyboards_are_drawn_from_data_alone() -> None:
    services = ("bot.orders", "bot.owner", "bot.telegram", "bot.storage.database", "bot.factory")
    assert offending("keyboards", *services, data=True) == []


@pytest.mark.parametrize("package", ["bot.storage", "bot.smsman"])
def test_storage_and_the_client_are_the_bottom_layer(package: str) -> None:
    above: tuple[str, ...] = (
        "bot.orders",
        "bot.catalog",
        "bot.owner",
        "bot.telegram",
        "bot.factory",
        "bot.i18n",
    )
    above += ("bot.ops", "bot.wallet")
    found = offending("bot", *above, "handlers", "keyboards", data=True)
    assert [line for line in found if under(line.split()[0], package)] == []


def test_the_emulators_share_no_code_with_the_product() -> None:
    # An emulator built from the product's own parsing would agree with the product's bugs.
    assert offending("emulators", *PRODUCT) == []


def test_the_checker_sees_imports() -> None:
    assert "bot.orders.limits" in imported(ROOT / "bot" / "orders" / "purchase.py")
    assert offending("handlers", "bot.orders.purchase") != []
