"""Every handler module's router, built fresh for each dispatcher."""

from __future__ import annotations

from aiogram import Router

from handlers import errors, settings, start


def get_routers() -> list[Router]:
    # The fallback router must stay last: it catches whatever the others left unhandled.
    return [
        errors.build_router(),
        start.build_router(),
        settings.build_router(),
        errors.build_fallback_router(),
    ]
