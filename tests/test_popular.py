"""The curated list, what this bot's people buy most, and saved pairs, down to sqlite."""

from __future__ import annotations

import asyncio
import sqlite3
from decimal import Decimal
from pathlib import Path

import pytest

from bot.catalog.popular import CURATED_FILE, Popularity, Service, curated_ids, load_curated
from bot.orders.lifecycle import OrderStatus
from bot.smsman.models import Application
from bot.storage.database import Database
from bot.storage.records import SavedPair
from tests.conftest import FakeClock
from tests.test_storage import quote


def apps(*titles: str) -> dict[int, Application]:
    return {n: Application(n, t, f"c{n}") for n, t in enumerate(titles, start=1)}


def test_the_shipped_list_names_the_services_most_people_come_for() -> None:
    services = load_curated(CURATED_FILE)
    names = [s.title for s in services]
    assert names[:3] == ["Telegram", "WhatsApp", "Google"]
    assert len(names) == len(set(names)) <= 15, "a short list"
    assert "Twitter" in next(s for s in services if s.title == "X").aliases


def test_services_are_found_by_title_or_alias_in_the_lists_order() -> None:
    catalog = apps("twitter", "Google/Gmail", "WhatsApp", "Telegram", "Steam", "TELEGRAM")
    services = (
        Service("Telegram"),
        Service("Nowhere"),
        Service("X", ("Twitter",)),
        Service("Google", ("Google/Gmail",)),
        Service("WhatsApp"),
    )
    # Two apps called Telegram: both, the lower id first; a service the catalog lacks is left
    # out.
    assert curated_ids(services, catalog) == [(4, 6), (1,), (2,), (3,)]


def test_a_service_has_all_its_apps_title_first_as_a_country_may_stock_one_only() -> None:
    catalog = apps("Gmail", "Google", "YouTube")
    assert curated_ids((Service("Google", ("Gmail", "YouTube")),), catalog) == [(2, 1, 3)]


def test_an_app_belongs_to_one_service() -> None:
    catalog = apps("X")
    assert curated_ids((Service("X"), Service("Twitter", ("X",))), catalog) == [(1,)]


async def sold(db: Database, user_id: int, country_id: int, app_id: int, now: float) -> None:
    """An order that got a number, as the orders service leaves one."""
    q = await db.insert_quote(
        user_id=user_id,
        country_id=country_id,
        country_title="Somewhere",
        country_iso=None,
        application_id=app_id,
        app_title=f"app {app_id}",
        price=Decimal(1),
        currency="RUB",
        now=now,
    )
    order, _created = await db.insert_order(q, user_id, now)
    await db.update_order(
        order.id,
        expect=(OrderStatus.PURCHASING,),
        now=now,
        status=OrderStatus.ACTIVE,
        request_id=order.id * 1000,
    )


async def test_most_bought_counts_sold_numbers_of_the_last_thirty_days(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    clock = FakeClock(100 * 86_400.0)
    try:
        await db.ensure_user(1, None, now=0.0)
        now = clock()
        for country, app, when in (
            (5, 3, now - 31 * 86_400),  # too old
            (5, 3, now - 31 * 86_400),
            (5, 3, now - 31 * 86_400),
            (1, 7, now - 2),
            (1, 7, now - 1),
            (5, 9, now),
        ):
            await sold(db, 1, country, app, when)
        # A purchase that got no number is no sale.
        await db.insert_order(await quote(db, user_id=1, country_id=7, price=Decimal(1)), 1, now)
        popular = Popularity(db, clock, curated=())
        await popular.refresh()
        assert popular.apps == (7, 9)
        assert popular.countries == (1, 5)
    finally:
        await db.close()


async def test_popularity_is_read_again_while_it_runs(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    clock = FakeClock(100 * 86_400.0)
    popular = Popularity(db, clock, curated=(), every=0.01)
    try:
        await db.ensure_user(1, None, now=0.0)
        popular.start()
        assert not popular.apps
        await sold(db, 1, 5, 3, clock())
        for _ in range(200):
            if 3 in popular.apps:
                break
            await asyncio.sleep(0.01)
        assert popular.apps == (3,), popular.apps
    finally:
        await popular.stop()
        await db.close()


async def test_saved_pairs_are_kept_in_order_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await Database.open(path)
    pairs = [SavedPair(5, n, "USA", "US", f"app {n}") for n in range(1, 5)]
    try:
        await db.ensure_user(1, None, now=0.0)
        for n, pair in enumerate(pairs[:3]):
            assert await db.save_pair(1, pair, now=float(n), limit=3)
        assert await db.save_pair(1, pairs[0], now=9.0, limit=3), "already kept: still true"
        assert not await db.save_pair(1, pairs[3], now=9.0, limit=3)
        assert await db.saved_pairs(1) == pairs[:3]
        await db.remove_pair(1, 5, 2)
        assert await db.saved_pairs(1) == [pairs[0], pairs[2]]
        assert await db.save_pair(1, pairs[3], now=10.0, limit=3)
        assert await db.saved_pairs(2) == []
    finally:
        await db.close()
    db = await Database.open(path)
    try:
        assert await db.saved_pairs(1) == [pairs[0], pairs[2], pairs[3]]
    finally:
        await db.close()


async def test_a_failed_read_leaves_the_figures_empty_and_the_bot_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    popular = Popularity(db, FakeClock(), curated=(), every=0.01)

    async def locked(*_args: object) -> list[int]:
        raise sqlite3.OperationalError("database is locked")

    monkeypatch.setattr(db, "most_bought", locked)
    try:
        popular.start()
        await asyncio.sleep(0.005)
        assert (popular.apps, popular.countries) == ((), ())
        assert "popularity: this round failed" in caplog.text
        monkeypatch.undo()
        await db.ensure_user(1, None, now=0.0)
        await sold(db, 1, 5, 3, FakeClock()())
        for _ in range(200):
            if popular.apps:
                break
            await asyncio.sleep(0.01)
        assert popular.apps == (3,), "read again later"
    finally:
        await popular.stop()
        await db.close()
