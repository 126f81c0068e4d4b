"""Every handler module's router, built fresh for each dispatcher."""

from __future__ import annotations

from aiogram import Router

from handlers import admin, errors, orders, pickers, purchase, settings, start


def get_routers() -> list[Router]:
    # The fallback router must stay last: it catches whatever the others left unhandled.
    return [
        errors.build_router(),
        start.build_router(),
        admin.build_router(),
        settings.build_router(),
        orders.build_router(),
        purchase.build_router(),
        pickers.build_router(),
        errors.build_fallback_router(),
    ]
