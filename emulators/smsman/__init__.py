"""Local emulator of the SMS-man control API v2, for tests and for trying the bot by hand."""

from emulators.smsman.calls import Call
from emulators.smsman.catalog import (
    APPLICATIONS,
    COUNTRIES,
    DEFAULT_CATALOG,
    Application,
    Catalog,
    Country,
    Offer,
)
from emulators.smsman.errors import ApiError
from emulators.smsman.faults import Fault, FaultKind
from emulators.smsman.server import CONTROL_ENDPOINTS, Reply, SmsManEmulator
from emulators.smsman.state import (
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
