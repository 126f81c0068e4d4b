"""The lists people pick from — countries, apps, cheapest offers — and how they are searched."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from itertools import islice

from aiogram import html
from aiogram.filters.callback_data import CallbackData
from aiogram.types import InlineKeyboardMarkup
from aiogram.utils.i18n import gettext as _
from aiogram.utils.i18n import ngettext

from bot.catalog.cache import Catalog, CatalogCountry
from bot.catalog.countries import COUNTRY_ALIASES, country_name, flag
from bot.catalog.popular import Popularity, curated_ids
from bot.catalog.search import Searchable, app_aliases, search
from bot.money import format_money
from bot.smsman.models import Application
from bot.storage.database import Database
from keyboards.callbacks import (
    AllAppsCb,
    AppsCb,
    CheapestCb,
    CountriesCb,
    MenuAction,
    MenuCb,
    PriceCb,
)
from keyboards.pickers import Item, paginate, picker

COUNTRIES_PER_PAGE = 10
APPS_PER_PAGE = 8
RECENT = 3
FOUND_MAX = 10
# Arrangements of first rows kept per listing, least recently shown dropped first: people share
# the popular rows, not their recent ones, and each holds its own lists of the listing's rows.
ARRANGEMENTS_KEPT = 16


@dataclass
class Listing:
    """Everything a picker screen needs: its rows to show and search, and how to page."""

    screen: str
    title: str
    rows: Rows
    per_page: int
    to_page: Callable[[int], CallbackData]
    back: CallbackData
    extra: list[Item] = field(default_factory=list)

    def page(self, number: int) -> tuple[str, InlineKeyboardMarkup]:
        shown = paginate(self.rows.items, number, self.per_page)
        markup = self.rows.markups.get(shown.number)
        if markup is None:
            markup = self.rows.markups[shown.number] = picker(
                shown, to_page=self.to_page, back=self.back, extra=self.extra
            )
        if shown.count > 1:
            return f"{self.title}\n" + _("Page {page} of {pages}.").format(
                page=shown.number + 1, pages=shown.count
            ), markup
        return self.title, markup

    def matches(self, query: str) -> list[Item]:
        rows = self.rows
        return [rows.items[rows.position[k]] for k in search(query, rows.keys, exact_wins=True)]

    def found(self, query: str, items: Sequence[Item]) -> tuple[str, InlineKeyboardMarkup]:
        """A one-page picker of search results; Back returns to the whole list."""
        shown = paginate(items[:FOUND_MAX], 0, FOUND_MAX)
        text = ngettext(
            "🔎 {count} match for “{query}”:", "🔎 {count} matches for “{query}”:", len(items)
        ).format(count=len(items), query=html.quote(query))
        if len(items) > FOUND_MAX:
            text += "\n" + _(
                "Showing the first {shown}; type more letters to narrow it down."
            ).format(shown=FOUND_MAX)
        return text, picker(shown, to_page=self.to_page, back=self.to_page(0))


def _country_key(country: CatalogCountry, locale: str) -> Searchable:
    aliases = COUNTRY_ALIASES.get(country.iso, ()) if country.iso else ()
    iso = (country.iso.lower(),) if country.iso else ()
    names = (country.title, country_name(country.iso, country.title, locale))
    return Searchable(country.id, names, (*iso, *aliases))


def _app_key(app: Application) -> Searchable:
    code = (app.code,) if app.code else ()
    return Searchable(app.id, (app.title,), (*code, *app_aliases(app.title)))


def country_label(country: CatalogCountry, locale: str) -> str:
    return f"{flag(country.iso)} {country_name(country.iso, country.title, locale)}"


@dataclass(frozen=True)
class Rows:
    """A picker's entries in display order: what a person sees (`items`) and what search
    compares (`keys`), parallel. Rows built from the catalog are kept until it is refreshed,
    and with them the keyboard of each page drawn (one listing in one language reads them)."""

    items: list[Item]
    keys: list[Searchable]
    markups: dict[int, InlineKeyboardMarkup] = field(default_factory=dict, compare=False)
    # These rows with other first rows (a person's recent and the popular), by those rows.
    arranged: dict[tuple[int, ...], Rows] = field(default_factory=dict, compare=False)

    @cached_property
    def position(self) -> dict[int, int]:
        """Each entry's index by its id."""
        return {key.key: n for n, key in enumerate(self.keys)}

    def first(self, ids: Iterable[int], limit: int) -> Rows:
        """These rows with those of `ids` that are here (the first `limit` of them, in that
        order) moved to the top, the rest in their order; the same rows when none is here.
        Kept, keyboards and all, for the next flip with the same first rows."""
        first = tuple(
            islice((self.position[i] for i in dict.fromkeys(ids) if i in self.position), limit)
        )
        if not first:
            return self
        kept = self.arranged.pop(first, None)
        if kept is None:
            moved = set(first)
            order = [*first, *(n for n in range(len(self.keys)) if n not in moved)]
            kept = Rows([self.items[n] for n in order], [self.keys[n] for n in order])
        # Newest last: the least recently shown arrangement goes first.
        self.arranged[first] = kept
        while len(self.arranged) > ARRANGEMENTS_KEPT:
            del self.arranged[next(iter(self.arranged))]
        return kept


def mine(rows: Rows, recent: Sequence[int]) -> list[int]:
    """A person's latest few choices that these rows hold."""
    return [i for i in dict.fromkeys(recent) if i in rows.position][:RECENT]


def _country_rows(known: dict[int, CatalogCountry], locale: str) -> Rows:
    ids = sorted(known, key=lambda i: country_name(known[i].iso, known[i].title, locale).casefold())
    return Rows(
        [Item(country_label(known[i], locale), AppsCb(country=i, page=0)) for i in ids],
        [_country_key(known[i], locale) for i in ids],
    )


async def countries(
    catalog: Catalog, popular: Popularity, db: Database, user_id: int, locale: str
) -> Listing:
    """Every country: this person's recent ones, this bot's most bought, then A–Z."""
    known = await catalog.countries()
    rows = catalog.view(("countries", locale), (known,), lambda: _country_rows(known, locale))
    recent = mine(rows, await db.recent_choices(user_id, "country_id", RECENT))
    return Listing(
        screen="countries",
        title=_("🌍 Choose a country, or type its name:"),
        rows=rows.first([*recent, *popular.countries], COUNTRIES_PER_PAGE),
        per_page=COUNTRIES_PER_PAGE,
        to_page=lambda page: CountriesCb(page=page),
        back=MenuCb(action=MenuAction.MAIN),
    )


async def apps(
    catalog: Catalog,
    popular: Popularity,
    db: Database,
    user_id: int,
    locale: str,
    country_id: int,
) -> Listing | None:
    """The apps in stock in one country with their prices: this person's recent ones, the
    curated most wanted, this bot's most bought, then A–Z; None for an unknown country."""
    country = (await catalog.countries()).get(country_id)
    if country is None:
        return None
    known = await catalog.applications()
    prices = await catalog.prices(country_id)

    def build() -> Rows:
        stocked = sorted(
            (a for a, p in prices.items() if p.count > 0 and a in known),
            key=lambda a: known[a].title.casefold(),
        )
        return Rows(
            [
                Item(
                    f"{known[a].title} · "
                    f"{format_money(catalog.person_price(prices[a].cost), catalog.currency)}",
                    PriceCb(country=country_id, app=a),
                )
                for a in stocked
            ],
            [_app_key(known[a]) for a in stocked],
        )

    # By language too, although the apps' names are not translated: their Back is.
    rows = catalog.view(("apps", country_id, locale), (known, prices), build)
    # Apps bought elsewhere may not be on sale here: look further back than for countries.
    recent = mine(rows, await db.recent_choices(user_id, "application_id", RECENT * 3))
    services = catalog.view(
        ("curated", popular.curated), (known,), lambda: curated_ids(popular.curated, known)
    )
    # Each service by the first of its apps on sale here.
    on_sale = (next((i for i in ids if i in rows.position), None) for ids in services)
    curated = [i for i in on_sale if i is not None]
    rows = rows.first([*recent, *curated, *popular.apps], APPS_PER_PAGE)
    title = _("{country}: choose an app, or type its name:").format(
        country=html.quote(country_label(country, locale))
    )
    if not rows.items:
        title = _("{country}: no numbers are available right now.").format(
            country=html.quote(country_label(country, locale))
        )
    return Listing(
        screen=f"apps:{country_id}",
        title=title,
        rows=rows,
        per_page=APPS_PER_PAGE,
        to_page=lambda page: AppsCb(country=country_id, page=page),
        back=CountriesCb(page=0),
        extra=[Item(_("🌍 Cheapest countries for an app"), AllAppsCb(page=0))],
    )


async def all_apps(catalog: Catalog, locale: str) -> Listing:
    known = await catalog.applications()

    def build() -> Rows:
        ids = sorted(known, key=lambda a: known[a].title.casefold())
        return Rows(
            [Item(known[a].title, CheapestCb(app=a, page=0)) for a in ids],
            [_app_key(known[a]) for a in ids],
        )

    rows = catalog.view(("allapps", locale), (known,), build)
    return Listing(
        screen="allapps",
        title=_("📲 Which app is the number for? Type its name or pick it:"),
        rows=rows,
        per_page=APPS_PER_PAGE,
        to_page=lambda page: AllAppsCb(page=page),
        back=CountriesCb(page=0),
    )


async def cheapest(catalog: Catalog, locale: str, app_id: int) -> Listing | None:
    """Countries with this app in stock, cheapest first; None for an unknown app."""
    app = (await catalog.applications()).get(app_id)
    if app is None:
        return None
    known = await catalog.countries()
    offers = await catalog.cheapest_countries(app_id)

    def build() -> Rows:
        shown = [p for p in offers if p.country_id in known]
        return Rows(
            [
                Item(
                    f"{country_label(known[p.country_id], locale)} · "
                    f"{format_money(catalog.person_price(p.cost), catalog.currency)}",
                    PriceCb(country=p.country_id, app=app_id),
                )
                for p in shown
            ],
            [_country_key(known[p.country_id], locale) for p in shown],
        )

    rows = catalog.view(("cheapest", app_id, locale), (known, offers), build)
    title = _("{app}: the cheapest countries with numbers in stock:").format(
        app=html.quote(app.title)
    )
    if not rows.items:
        title = _("{app}: no country has numbers right now.").format(app=html.quote(app.title))
    return Listing(
        screen=f"cheapest:{app_id}",
        title=title,
        rows=rows,
        per_page=APPS_PER_PAGE,
        to_page=lambda page: CheapestCb(app=app_id, page=page),
        back=AllAppsCb(page=0),
    )
