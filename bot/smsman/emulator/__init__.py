"""Local emulator of the SMS-man control API v2, for tests and for trying the bot by hand."""

from bot.smsman.emulator.calls import Call
from bot.smsman.emulator.catalog import (
    APPLICATIONS,
    COUNTRIES,
    DEFAULT_CATALOG,
    Application,
    Catalog,
    Country,
    Offer,
)
from bot.smsman.emulator.errors import ApiError
from bot.smsman.emulator.faults import Fault, FaultKind
from bot.smsman.emulator.server import CONTROL_ENDPOINTS, Reply, SmsManEmulator
from bot.smsman.emulator.state import (
    RUB_PER_UNIT,
    ActivationRequest,
    Currency,
    EmulatorState,
    LedgerEntry,
    LedgerKind,
    RequestStatus,
)

__all__ = [
    "APPLICATIONS",
    "CONTROL_ENDPOINTS",
    "COUNTRIES",
    "DEFAULT_CATALOG",
    "RUB_PER_UNIT",
    "ActivationRequest",
    "ApiError",
    "Application",
    "Call",
    "Catalog",
    "Country",
    "Currency",
    "EmulatorState",
    "Fault",
    "FaultKind",
    "LedgerEntry",
    "LedgerKind",
    "Offer",
    "Reply",
    "RequestStatus",
    "SmsManEmulator",
]
