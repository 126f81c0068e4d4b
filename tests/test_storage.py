"""Storage: migrations from an empty file, re-opening, and the order/code queries."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import stat
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from bot.ops.backup import backup
from bot.ops.housekeeping import QUOTES_KEPT_FOR, Housekeeping
from bot.orders.lifecycle import OrderStatus
from bot.storage.database import Database
from bot.storage.records import Quote
from bot.storage.schema import MIGRATIONS
from tests.conftest import FakeClock


async def quote(db: Database, *, user_id: int, country_id: int, price: Decimal) -> Quote:
    return await db.insert_quote(
        user_id=user_id,
        country_id=country_id,
        country_title="USA",
        country_iso="US",
        application_id=3,
        app_title="Telegram",
        price=price,
        currency="RUB",
        now=1.0,
    )


async def test_migrates_an_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "bot.sqlite3"
    db = await Database.open(path)
    try:
        assert await db.schema_version() == len(MIGRATIONS)
    finally:
        await db.close()
    with sqlite3.connect(path) as raw:
        tables = {r[0] for r in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")}
        assert {"users", "orders", "codes"} <= tables
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_reopening_keeps_data_and_does_not_migrate_again(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    await db.ensure_user(7, "ru", now=1.0)
    order, _created = await db.insert_order(
        await quote(db, user_id=7, country_id=5, price=Decimal("12.50")),
        chat_id=7,
        now=2.0,
    )
    await db.close()

    db = await Database.open(path)
    try:
        assert await db.schema_version() == len(MIGRATIONS)
        user = await db.get_user(7)
        assert user is not None
        assert user.language == "ru"
        assert user.first_seen == 1.0
        again = await db.get_order(order.id)
        assert again == order
        assert again.price == Decimal("12.50")
    finally:
        await db.close()


async def test_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    with sqlite3.connect(path) as raw:
        raw.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer"):
        await Database.open(path)


async def test_user_keeps_chosen_language(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        await db.ensure_user(1, "en", now=1.0)
        await db.set_user_language(1, "zh")
        user = await db.ensure_user(1, "en", now=5.0)
        assert (user.language, user.first_seen) == ("zh", 1.0)
    finally:
        await db.close()


async def test_order_transitions_are_compare_and_set(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        await db.ensure_user(1, None, now=0.0)
        order, _created = await db.insert_order(
            await quote(db, user_id=1, country_id=1, price=Decimal("9.90")),
            chat_id=1,
            now=1.0,
        )
        assert order.status is OrderStatus.PURCHASING
        assert order.is_open
        active = await db.update_order(
            order.id,
            expect=(OrderStatus.PURCHASING,),
            now=2.0,
            status=OrderStatus.ACTIVE,
            request_id=555,
            number="15551234567",
            deadline=900.0,
        )
        assert active is not None
        assert (active.status, active.request_id, active.updated_at) == (
            OrderStatus.ACTIVE,
            555,
            2.0,
        )
        # A second identical transition finds the order already moved and changes nothing.
        assert (
            await db.update_order(
                order.id, expect=(OrderStatus.PURCHASING,), now=3.0, status=OrderStatus.FAILED
            )
            is None
        )
        assert [o.id for o in await db.open_orders()] == [order.id]
        with pytest.raises(ValueError, match="not order fields"):
            await db.update_order(order.id, expect=(OrderStatus.ACTIVE,), now=4.0, user_id=2)
    finally:
        await db.close()


async def test_codes_are_stored_once_with_the_status_and_tracked_until_delivered(
    tmp_path: Path,
) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        await db.ensure_user(1, None, now=0.0)
        order, _created = await db.insert_order(
            await quote(db, user_id=1, country_id=1, price=Decimal("1")),
            chat_id=1,
            now=1.0,
        )
        waiting = (OrderStatus.PURCHASING,)
        first = await db.record_code(
            order.id, "482913", 2.0, expect=waiting, status=OrderStatus.CODE_RECEIVED
        )
        assert first is not None
        stored = await db.get_order(order.id)
        assert stored is not None
        assert stored.status is OrderStatus.CODE_RECEIVED, "the code and the status together"
        again = await db.record_code(
            order.id, "482913", 3.0, expect=(OrderStatus.CODE_RECEIVED,), status=OrderStatus.CLOSED
        )
        assert again is None
        unchanged = await db.get_order(order.id)
        assert unchanged is not None
        assert unchanged.status is OrderStatus.CODE_RECEIVED, "a known code moves nothing"
        with pytest.raises(RuntimeError, match="left"):
            await db.record_code(order.id, "999999", 4.0, expect=waiting, status=OrderStatus.ACTIVE)
        assert "999999" not in [c.code for c in await db.order_codes(order.id)], "rolled back"
        second = await db.record_code(
            order.id,
            "111222",
            4.0,
            expect=(OrderStatus.CODE_RECEIVED,),
            status=OrderStatus.CODE_RECEIVED,
        )
        assert second is not None
        assert [c.code for c in await db.order_codes(order.id)] == ["482913", "111222"]
        await db.mark_code_delivered(first.id, now=5.0)
        assert [c.id for c in await db.undelivered_codes()] == [second.id]
        await db.give_up_code(second, 6.0, "Forbidden: bot was blocked by the user")
        assert await db.undelivered_codes() == []
        noted = await db.get_order(order.id)
        assert noted is not None
        assert noted.delivery_note == "Forbidden: bot was blocked by the user"
    finally:
        await db.close()


async def test_a_failed_order_is_tried_again_at_most_once(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        await db.ensure_user(1, None, now=0.0)
        failed, _created = await db.insert_order(
            await quote(db, user_id=1, country_id=5, price=Decimal("2")), chat_id=1, now=1.0
        )
        first, created = await db.insert_order(
            await quote(db, user_id=1, country_id=5, price=Decimal("2")),
            chat_id=1,
            now=2.0,
            retry_of=failed.id,
        )
        second, created_again = await db.insert_order(
            await quote(db, user_id=1, country_id=5, price=Decimal("2")),
            chat_id=1,
            now=3.0,
            retry_of=failed.id,
        )
        assert created
        assert not created_again
        assert second == first
        assert await db.order_for_retry(failed.id) == first
        assert len(await db.all_orders()) == 2
    finally:
        await db.close()


async def test_a_transaction_holds_only_its_own_statements(tmp_path: Path) -> None:
    """A write made while another coroutine's transaction is open must not roll back with it."""
    path = tmp_path / "db.sqlite3"
    db = await Database.open(path)
    try:
        with sqlite3.connect(path) as raw:
            raw.execute(
                "CREATE TRIGGER no_audit BEFORE INSERT ON audit "
                "BEGIN SELECT RAISE(ABORT, 'no'); END"
            )
        grant = asyncio.create_task(db.set_access(5, True, actor_id=1, now=1.0))
        await asyncio.sleep(0)
        outcome = await asyncio.gather(
            grant, db.ensure_user(42, "en", now=2.0), return_exceptions=True
        )
        assert isinstance(outcome[0], sqlite3.IntegrityError)
        assert await db.access_override(5) is None, "the grant rolled back"
    finally:
        await db.close()
    with sqlite3.connect(path) as raw:
        users = [row[0] for row in raw.execute("SELECT id FROM users")]
    assert users == [42], "the other coroutine's write stands"


async def test_a_quote_buys_at_most_once(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        await db.ensure_user(1, None, now=0.0)
        offer = await quote(db, user_id=1, country_id=5, price=Decimal("12.50"))
        first, created = await db.insert_order(offer, chat_id=1, now=2.0)
        again, created_again = await db.insert_order(offer, chat_id=1, now=3.0)
        assert created
        assert not created_again
        assert again == first
        assert (first.country_title, first.app_title, first.price) == (
            "USA",
            "Telegram",
            Decimal("12.50"),
        )
    finally:
        await db.close()


async def test_recent_choices_newest_first(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        await db.ensure_user(1, None, now=0.0)
        for country in (5, 1, 5, 7):
            await db.insert_order(
                await quote(db, user_id=1, country_id=country, price=Decimal(1)), 1, now=1.0
            )
        assert await db.recent_choices(1, "country_id", 2) == [7, 5]
        with pytest.raises(ValueError, match="price"):
            await db.recent_choices(1, "price", 2)
    finally:
        await db.close()


async def test_what_a_tap_reads_is_kept_in_memory_and_follows_writes(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    db = await Database.open(path)
    try:
        await db.ensure_user(1, "en", now=0.0)
        await db.recent_choices(1, "country_id", 3)
        await db.access_override(1)
        statements: list[str] = []
        await db._db.set_trace_callback(statements.append)
        for _ in range(3):
            await db.ensure_user(1, "ru", now=5.0)
            await db.get_user(1)
            await db.recent_choices(1, "country_id", 3)
            await db.access_override(1)
            await db.set_screen(1, None, None)
        assert statements == [], "reading a known person again asks sqlite nothing"

        await db.set_screen(1, "countries", 10)
        await db.set_user_language(1, "zh")
        await db.set_access(1, False, actor_id=9, now=6.0)
        await db.insert_order(await quote(db, user_id=1, country_id=5, price=Decimal(1)), 1, 7.0)
        user = await db.ensure_user(1, "en", now=8.0)
        assert (user.language, user.screen, user.menu_message_id) == ("zh", "countries", 10)
        assert await db.access_override(1) is False
        assert await db.recent_choices(1, "country_id", 3) == [5]
    finally:
        await db.close()
    # What memory said is what the file says.
    with sqlite3.connect(path) as raw:
        row = raw.execute("SELECT language, screen, menu_message_id FROM users").fetchone()
        assert row == ("zh", "countries", 10)
        assert raw.execute("SELECT allowed FROM access WHERE user_id = 1").fetchone() == (0,)


async def test_a_write_is_read_back_while_sqlite_still_has_it(tmp_path: Path) -> None:
    """Updates run concurrently: the person's next message may be handled while the write of
    the screen they were just shown still waits for sqlite's thread."""
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        await db.ensure_user(1, "en", now=0.0)
        await db.set_screen(1, "countries", 10)
        writes = [
            asyncio.create_task(db.set_screen(1, "apps:5", 11)),
            asyncio.create_task(db.set_user_language(1, "ru")),
        ]
        await asyncio.sleep(0)
        assert not any(write.done() for write in writes)
        user = await db.get_user(1)
        assert user is not None
        assert (user.screen, user.menu_message_id, user.language) == ("apps:5", 11, "ru")
        await asyncio.gather(*writes)
    finally:
        await db.close()


async def test_a_read_overtaken_by_a_write_does_not_keep_the_old_value(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    try:
        await db.ensure_user(1, None, now=0.0)
        offer = await quote(db, user_id=1, country_id=5, price=Decimal(1))
        # Queued first, so sqlite answers with the rows as they were before the writes, and
        # the answers arrive after the writes have begun.
        reads = asyncio.gather(db.recent_choices(1, "country_id", 3), db.access_override(1))
        await asyncio.sleep(0)
        writes = asyncio.gather(
            db.insert_order(offer, 1, 1.0), db.set_access(1, True, actor_id=9, now=2.0)
        )
        assert tuple(await reads) == ([], None)
        await writes
        assert await db.recent_choices(1, "country_id", 3) == [5]
        assert await db.access_override(1) is True
    finally:
        await db.close()


async def test_the_last_of_several_writes_under_way_wins(tmp_path: Path) -> None:
    """Three quick taps: A and B are written, A has finished, B not yet, when C asks for what
    A had set. C is the newest request, so C's screen is the one kept."""
    path = tmp_path / "db.sqlite3"
    db = await Database.open(path)
    try:
        await db.ensure_user(1, "en", now=0.0)
        await db.set_screen(1, "countries", 1)
        a = asyncio.create_task(db.set_screen(1, "apps:5", 2))
        b = asyncio.create_task(db.set_screen(1, "countries", 2))
        await a
        assert not b.done()
        await db.set_screen(1, "apps:5", 2)
        await b
        user = await db.get_user(1)
        assert user is not None
        assert user.screen == "apps:5"
    finally:
        await db.close()
    with sqlite3.connect(path) as raw:
        assert raw.execute("SELECT screen FROM users").fetchone() == ("apps:5",)


async def test_a_failed_write_is_not_kept(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "db.sqlite3")
    await db.ensure_user(1, "en", now=0.0)
    await db.close()
    with pytest.raises(ValueError, match="no active connection"):
        await db.set_user_language(1, "ru")
    assert db._users.get(1) is None, "read again from the file, which still says en"


@pytest.fixture
def open_umask() -> Iterator[None]:
    """A umask that takes nothing away, as a shell outside systemd may have."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


async def test_the_database_and_its_backups_are_private_whatever_the_umask(
    tmp_path: Path, open_umask: None
) -> None:
    path = tmp_path / "data" / "bot.sqlite3"
    backups = tmp_path / "backups"
    db = await Database.open(path)
    try:
        await db.ensure_user(7, "en", now=1.0)
        # While it is open, sqlite's -wal and -shm are beside it.
        files = [path, *(path.with_name(path.name + end) for end in ("-wal", "-shm"))]
        files.append(backup(path, f"{backups}{os.sep}", now=2.0))
        modes = {p.name: oct(stat.S_IMODE(p.stat().st_mode)) for p in files}
    finally:
        await db.close()
    assert modes == {p.name: "0o600" for p in files}
    for folder in (path.parent, backups):
        assert oct(stat.S_IMODE(folder.stat().st_mode)) == "0o700"


async def test_an_older_world_readable_database_is_made_private(tmp_path: Path) -> None:
    path = tmp_path / "bot.sqlite3"
    db = await Database.open(path)
    await db.close()
    path.chmod(0o644)
    db = await Database.open(path)
    await db.close()
    assert oct(stat.S_IMODE(path.stat().st_mode)) == "0o600"


async def test_quotes_older_than_a_day_that_bought_nothing_are_pruned(tmp_path: Path) -> None:
    db = await Database.open(tmp_path / "bot.sqlite3")
    try:
        await db.ensure_user(7, "en", now=0.0)
        old = [await quote(db, user_id=7, country_id=5, price=Decimal("1")) for _ in range(5)]
        bought, _created = await db.insert_order(old[0], chat_id=7, now=2.0)
        clock = FakeClock(start=1.0 + QUOTES_KEPT_FOR)
        fresh = await db.insert_quote(
            user_id=7,
            country_id=5,
            country_title="USA",
            country_iso="US",
            application_id=3,
            app_title="Telegram",
            price=Decimal("1"),
            currency="RUB",
            now=clock() - 1,
        )
        # Batches of two: the last batch is a short one, and a full one is not the end.
        assert await db.prune_quotes(clock() - QUOTES_KEPT_FOR + 0.5, batch=2) == 4
        assert [q.id for q in old if await db.get_quote(q.id)] == [bought.quote_id]
        assert await db.get_quote(fresh.id) == fresh
        assert await Housekeeping(db, clock).sweep() == 0
        clock.advance(QUOTES_KEPT_FOR)
        assert await Housekeeping(db, clock).sweep() == 1
        # A quote made now never takes a pruned one's id: its Buy button stays stale.
        newest = await quote(db, user_id=7, country_id=5, price=Decimal("1"))
        assert newest.id > fresh.id
    finally:
        await db.close()
