"""What people come for: a curated list of services, and what this bot's people bought lately."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bot.background import Every
from bot.catalog.search import normalize
from bot.clock import Clock
from bot.smsman.models import Application
from bot.storage.database import Database

CURATED_FILE = Path(__file__).with_name("popular.toml")
# Sales older than this no longer count.
WINDOW_SECONDS = 30 * 86_400
REFRESH_SECONDS = 300.0
# More than a first page holds, as some will be out of stock or already shown.
KEPT = 20


@dataclass(frozen=True, slots=True)
class Service:
    title: str
    aliases: tuple[str, ...] = ()


def load_curated(path: Path = CURATED_FILE) -> tuple[Service, ...]:
    with path.open("rb") as file:
        data = tomllib.load(file)
    return tuple(
        Service(str(entry["title"]), tuple(str(a) for a in entry.get("aliases", ())))
        for entry in data.get("service", [])
    )


def curated_ids(
    services: tuple[Service, ...], apps: Mapping[int, Application]
) -> list[tuple[int, ...]]:
    """For each curated service the catalog has, its apps' ids by name (title first, then the
    aliases in order): a country may stock one of them only. Of two apps with one name the
    lower id comes first; an app is one service's only."""
    by_name: dict[str, list[int]] = {}
    for app_id in sorted(apps):
        by_name.setdefault(normalize(apps[app_id].title), []).append(app_id)
    taken: set[int] = set()
    found: list[tuple[int, ...]] = []
    for service in services:
        ids = [
            app_id
            for name in dict.fromkeys(normalize(n) for n in (service.title, *service.aliases))
            for app_id in by_name.get(name, ())
            if app_id not in taken
        ]
        if ids:
            taken.update(ids)
            found.append(tuple(ids))
    return found


class Popularity:
    """This bot's most bought apps and countries of the last 30 days, kept in memory and
    read again every few minutes, so a page flip makes no sqlite round trip."""

    def __init__(
        self,
        db: Database,
        clock: Clock,
        *,
        curated: tuple[Service, ...] | None = None,
        every: float = REFRESH_SECONDS,
    ) -> None:
        self.curated = load_curated() if curated is None else curated
        self._db = db
        self._clock = clock
        self.apps: tuple[int, ...] = ()
        self.countries: tuple[int, ...] = ()
        # The last figures stay when a read fails: a stale order of buttons beats none, and
        # beats no bot.
        self._rounds = Every(
            every, self.refresh, name="popularity", failed="popularity not refreshed"
        )

    async def refresh(self) -> None:
        since = self._clock() - WINDOW_SECONDS
        self.apps = tuple(await self._db.most_bought("application_id", since, KEPT))
        self.countries = tuple(await self._db.most_bought("country_id", since, KEPT))

    def start(self) -> None:
        """Read the figures in the background, at once and then every few minutes: a start does
        not wait for them (until they come, the first pages are a person's recent and A–Z), and
        a failed read leaves the last figures and is tried again."""
        self._rounds.start()

    async def stop(self) -> None:
        await self._rounds.stop()
