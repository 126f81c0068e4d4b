"""The gettext catalogs: the template matches the code, and en/ru/zh are complete and consistent."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.i18n import DOMAIN, LANGUAGES, LOCALES_DIR

ROOT = Path(__file__).resolve().parent.parent
SOURCES = ("bot", "handlers", "keyboards")
# The same keywords as `make i18n-update`.
KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2), "__": None}
PLACEHOLDER = re.compile(r"\{[^{}]*\}")


def read(path: Path, locale: str | None = None) -> Catalog:
    with path.open("rb") as source:
        return read_po(source, locale=locale)


def key(message_id: str | Sequence[str]) -> str:
    return message_id if isinstance(message_id, str) else message_id[0]


def message_ids(catalog: Catalog) -> set[str]:
    return {key(m.id) for m in catalog if m.id}


def ids_in_code() -> set[str]:
    found: set[str] = set()
    for folder in SOURCES:
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / folder, keywords=KEYWORDS
        ):
            found.add(key(message))
    return found


def test_template_matches_the_code() -> None:
    template = message_ids(read(LOCALES_DIR / f"{DOMAIN}.pot"))
    code = ids_in_code()
    assert code - template == set(), "run `make i18n-update`: new strings are not in the template"
    assert template - code == set(), "run `make i18n-update`: the template has stale strings"


@pytest.mark.parametrize("language", sorted(LANGUAGES))
def test_catalog_is_complete_and_consistent(language: str) -> None:
    template = read(LOCALES_DIR / f"{DOMAIN}.pot")
    catalog = read(LOCALES_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po", language)
    wanted = message_ids(template)
    have = {key(m.id): m for m in catalog if m.id}
    assert wanted - set(have) == set(), f"{language}: missing, run `make i18n-update`"
    assert set(have) - wanted == set(), f"{language}: obsolete entries, run `make i18n-update`"
    for msgid, message in have.items():
        assert not message.fuzzy, f"{language}: fuzzy {msgid!r}"
        sources = [message.id] if isinstance(message.id, str) else list(message.id)
        strings = (
            [message.string] if isinstance(message.string, str) else list(message.string or ())
        )
        assert all(strings), f"{language}: untranslated {msgid!r}"
        expected = {p for source in sources for p in PLACEHOLDER.findall(source)}
        # A plural form may spell the number out ("одна"), so only {count} may be left out.
        required = expected - {"{count}"} if isinstance(message.id, tuple) else expected
        for translated in strings:
            found = set(PLACEHOLDER.findall(translated))
            assert required <= found <= expected, (
                f"{language}: placeholders of {msgid!r} differ: {translated!r}"
            )
        if isinstance(message.id, tuple):
            assert len(strings) == catalog.num_plurals, f"{language}: plural forms of {msgid!r}"
