"""Fixture catalog of the emulator: countries, applications and the default offers."""

import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from types import MappingProxyType

# Any number coprime with 10 works: multiplying by it permutes the residues modulo 10**k.
_NUMBER_SPREAD = 48_271_009


@dataclass(frozen=True)
class Country:
    """A country as served by /control/countries, plus what it takes to make numbers."""

    id: int
    title: str
    # Served as the `code` field. SMS-man's real format is unknown; ISO 3166-1 alpha-2
    # in lower case is the emulator's choice.
    iso: str
    calling_code: str
    national_length: int
    mobile_prefix: str

    def phone_number(self, serial: int) -> str:
        """Number for the `serial`-th purchase: digits only, calling code first, no '+'."""
        width = self.national_length - len(self.mobile_prefix)
        # A bijection on serials below 10**width (at least 10**6 here), so every request gets
        # its own number, and consecutive requests do not get consecutive numbers.
        suffix = (serial * _NUMBER_SPREAD + self.id * 31_415_927) % 10**width
        return f"{self.calling_code}{self.mobile_prefix}{suffix:0{width}d}"


@dataclass(frozen=True)
class Application:
    """A service as served by /control/applications."""

    id: int
    title: str
    code: str


@dataclass(frozen=True)
class Offer:
    """Price in RUB and free numbers for one (country, application) pair."""

    cost: Decimal
    count: int


# Ids 1-8, 14 and 100 are SMS-man's known v2 ids; the other ids are fixture choices, as are
# the titles' exact spelling. "Côte d'Ivoire" is real and needs escaping in HTML attributes.
_COUNTRIES = (
    Country(1, "Russia", "ru", "7", 10, "9"),
    Country(2, "Kazakhstan", "kz", "7", 10, "77"),
    Country(3, "China", "cn", "86", 11, "13"),
    Country(4, "Ukraine", "ua", "380", 9, "67"),
    Country(5, "USA", "us", "1", 10, "3"),
    Country(6, "Malaysia", "my", "60", 9, "1"),
    Country(7, "Indonesia", "id", "62", 11, "8"),
    Country(8, "Philippines", "ph", "63", 10, "9"),
    Country(9, "Myanmar", "mm", "95", 9, "9"),
    Country(10, "Vietnam", "vn", "84", 9, "9"),
    Country(11, "Kyrgyzstan", "kg", "996", 9, "7"),
    Country(12, "Israel", "il", "972", 9, "5"),
    Country(13, "Hong Kong", "hk", "852", 8, "6"),
    Country(14, "India", "in", "91", 10, "9"),
    Country(15, "Poland", "pl", "48", 9, "5"),
    Country(16, "Egypt", "eg", "20", 10, "1"),
    Country(17, "Nigeria", "ng", "234", 10, "8"),
    Country(18, "Cambodia", "kh", "855", 9, "9"),
    Country(19, "Laos", "la", "856", 10, "20"),
    Country(20, "Kenya", "ke", "254", 9, "7"),
    Country(21, "Tanzania", "tz", "255", 9, "7"),
    Country(22, "Thailand", "th", "66", 9, "8"),
    Country(23, "Romania", "ro", "40", 9, "7"),
    Country(24, "Brazil", "br", "55", 11, "119"),
    Country(25, "Germany", "de", "49", 11, "15"),
    Country(26, "France", "fr", "33", 9, "6"),
    Country(27, "Spain", "es", "34", 9, "6"),
    Country(28, "Italy", "it", "39", 10, "3"),
    Country(29, "Netherlands", "nl", "31", 9, "6"),
    Country(30, "Canada", "ca", "1", 10, "4"),
    Country(31, "Mexico", "mx", "52", 10, "55"),
    Country(32, "Argentina", "ar", "54", 11, "911"),
    Country(33, "Colombia", "co", "57", 10, "3"),
    Country(34, "Turkey", "tr", "90", 10, "5"),
    Country(35, "South Africa", "za", "27", 9, "7"),
    Country(36, "Pakistan", "pk", "92", 10, "3"),
    Country(37, "Bangladesh", "bd", "880", 10, "1"),
    Country(38, "Uzbekistan", "uz", "998", 9, "9"),
    Country(39, "Georgia", "ge", "995", 9, "5"),
    Country(40, "Estonia", "ee", "372", 8, "5"),
    Country(41, "Latvia", "lv", "371", 8, "2"),
    Country(42, "Lithuania", "lt", "370", 8, "6"),
    Country(43, "Belarus", "by", "375", 9, "29"),
    Country(44, "Portugal", "pt", "351", 9, "9"),
    Country(45, "Sweden", "se", "46", 9, "7"),
    Country(46, "Côte d'Ivoire", "ci", "225", 10, "07"),
    Country(100, "United Kingdom", "gb", "44", 10, "7"),
)

# Ids 3, 6, 122, 124, 125, 133, 136, 162 and 297 are SMS-man's known ids; id 1 exists because
# the official wrappers treat an answer without key "1" as a failure. The other ids and all
# codes are fixture choices (sms-activate-style codes where one is well known). "AT&T" and
# "Other <any service>" need HTML escaping.
_APPLICATIONS = (
    Application(1, "VK", "vk"),
    Application(2, "Odnoklassniki", "ok"),
    Application(3, "Telegram", "tg"),
    Application(4, "Viber", "vi"),
    Application(5, "WeChat", "wb"),
    Application(6, "WhatsApp", "wa"),
    Application(7, "Instagram", "ig"),
    Application(8, "Avito", "av"),
    Application(9, "Yandex", "ya"),
    Application(10, "Mail.ru", "ma"),
    Application(11, "Uber", "ub"),
    Application(12, "TikTok", "lf"),
    Application(13, "Amazon", "am"),
    Application(14, "Netflix", "nf"),
    Application(15, "OLX", "sn"),
    Application(16, "Steam", "mt"),
    Application(17, "Tinder", "oi"),
    Application(18, "Snapchat", "fu"),
    Application(19, "LinkedIn", "tn"),
    Application(20, "PayPal", "ts"),
    Application(21, "Airbnb", "uk"),
    Application(22, "Ozon", "sg"),
    Application(23, "Wildberries", "uu"),
    Application(24, "Signal", "bw"),
    Application(25, "Line", "me"),
    Application(26, "KakaoTalk", "kt"),
    Application(27, "Alibaba", "ab"),
    Application(28, "Shopee", "ka"),
    Application(29, "Grab", "jg"),
    Application(30, "Bolt", "tx"),
    Application(31, "Binance", "aon"),
    Application(32, "OpenAI", "dr"),
    Application(33, "AT&T", "att"),
    Application(34, "Other <any service>", "ot"),
    Application(122, "Google/Gmail", "go"),
    Application(124, "Facebook", "fb"),
    Application(125, "Twitter", "tw"),
    Application(133, "Microsoft", "mm"),
    Application(136, "Yahoo", "mb"),
    Application(162, "Discord", "ds"),
    Application(297, "Apple", "wx"),
)

COUNTRIES: Mapping[int, Country] = MappingProxyType({c.id: c for c in _COUNTRIES})
APPLICATIONS: Mapping[int, Application] = MappingProxyType({a.id: a for a in _APPLICATIONS})

# The pair a person tries first by hand is always on sale at the API docs' example price.
_PINNED = {(1, 3): Offer(Decimal("12.50"), 345)}


def _default_offer(country_id: int, application_id: int) -> Offer | None:
    # crc32, not hash(): str hashes are salted per process, and the fixture must be the same
    # in every run, in the tests and in the CLI alike.
    digest = zlib.crc32(f"smsman-emulator:{country_id}:{application_id}".encode())
    if digest % 9 == 0:
        return None
    count = 0 if digest % 7 == 0 else 1 + (digest >> 3) % 30_000
    cents = 300 + (digest >> 12) % 19_700
    return Offer(Decimal(cents).scaleb(-2), count)


def _default_offers() -> dict[tuple[int, int], Offer]:
    offers: dict[tuple[int, int], Offer] = {}
    for country_id in COUNTRIES:
        for application_id in APPLICATIONS:
            offer = _PINNED.get((country_id, application_id))
            if offer is None:
                offer = _default_offer(country_id, application_id)
            if offer is not None:
                offers[country_id, application_id] = offer
    return offers


# Pairs missing here are not offered at all; pairs with count 0 are offered but sold out.
DEFAULT_OFFERS: Mapping[tuple[int, int], Offer] = MappingProxyType(_default_offers())


@dataclass(frozen=True)
class Catalog:
    """What an emulator sells: its countries, its applications and the offers it starts with."""

    countries: Mapping[int, Country]
    applications: Mapping[int, Application]
    offers: Mapping[tuple[int, int], Offer]

    def __post_init__(self) -> None:
        for country_id, application_id in self.offers:
            if country_id not in self.countries or application_id not in self.applications:
                raise ValueError(f"offer for unknown pair ({country_id}, {application_id})")


DEFAULT_CATALOG = Catalog(COUNTRIES, APPLICATIONS, DEFAULT_OFFERS)
