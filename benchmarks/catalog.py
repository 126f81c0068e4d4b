"""A large catalog for the SMS-man emulator: real territories, real apps, then made-up apps."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from collections.abc import Iterable
from decimal import Decimal

from babel import Locale

from bot.catalog.countries import COUNTRY_ALIASES
from bot.catalog.search import APP_ALIASES, normalize
from emulators.smsman import APPLICATIONS, Application, Catalog, Country, Offer

# Babel lists these among territories, but they are groupings or test codes, not places.
NOT_COUNTRIES = frozenset({"EU", "EZ", "QO", "UN", "XA", "XB", "ZZ"})
# Made-up app names are head + tail + suffix, e.g. "Zorvex Pay": a head starts ~80 of 1,000.
HEADS = ("zor", "kel", "mip", "dra", "vun", "sol", "bri", "nax", "qua", "fen", "lum", "tek")
TAILS = ("vex", "ora", "lin", "ium", "bit", "ano", "ply", "dex", "ova", "ric", "oon", "ast")
SUFFIXES = ("", " Pay", " Chat", " Go", " Shop", " Mail", " Cloud")
FIRST_MADE_UP_ID = 1001
# A search that equals one of these picks that one entry alone instead of listing matches.
EXACT_WORDS = frozenset(
    normalize(word)
    for words in itertools.chain(COUNTRY_ALIASES.values(), APP_ALIASES.values())
    for word in words
)


def large_catalog(countries: int, apps: int, *, seed: int = 1) -> Catalog:
    """`countries` real territories (Babel's English names) × `apps` apps, every pair in stock.

    Dialling codes are made up: the menus never show a number.
    """
    rng = random.Random(seed)
    names = {str(code): name for code, name in Locale("en").territories.items()}
    codes = sorted(
        code for code in names if len(code) == 2 and code.isalpha() and code not in NOT_COUNTRIES
    )
    most_apps = len(APPLICATIONS) + len(HEADS) * len(TAILS) * len(SUFFIXES)
    if countries > len(codes) or apps > most_apps:
        raise ValueError(f"at most {len(codes)} countries and {most_apps} apps")
    by_country = {
        n: Country(n, names[code], code.lower(), str(200 + n), 9, "9")
        for n, code in enumerate(codes[:countries], start=1)
    }
    made_up = [
        f"{head.capitalize()}{tail}{suffix}"
        for head, tail, suffix in itertools.product(HEADS, TAILS, SUFFIXES)
    ]
    rng.shuffle(made_up)
    by_app = dict(list(APPLICATIONS.items())[:apps])
    for n, title in enumerate(made_up[: apps - len(by_app)], start=FIRST_MADE_UP_ID):
        by_app[n] = Application(n, title, f"z{n}")
    offers = {
        (country, app): Offer(
            Decimal(rng.randrange(300, 20_000)).scaleb(-2), rng.randrange(1, 30_000)
        )
        for country in by_country
        for app in by_app
    }
    return Catalog(by_country, by_app, offers)


def shared_starts(titles: Iterable[str], count: int) -> list[str]:
    """The `count` three-letter starts most titles share: searches that list several matches."""
    starts = Counter(normalize(title)[:3] for title in titles)
    return [
        start
        for start, titles_sharing in starts.most_common()
        if titles_sharing > 1 and start.isalpha() and len(start) == 3 and start not in EXACT_WORDS
    ][:count]
