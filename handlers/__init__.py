"""Every handler module's router, built fresh for each dispatcher."""

from __future__ import annotations

from aiogram import Router

from handlers import (
    admin,
    errors,
    moderation,
    orders,
    owner_lists,
    owner_wallet,
    pickers,
    purchase,
    settings,
    start,
    wallet,
)


def get_routers() -> list[Router]:
    # Browsing first: page flips are most of the taps, and each router an update passes costs
    # a middleware chain and its filters. Typed search takes any text, so it follows every
    # command; the fallback router must stay last: it catches whatever the others left.
    return [
        errors.build_router(),
        pickers.build_router(),
        start.build_router(),
        admin.build_router(),
        owner_lists.build_router(),
        moderation.build_router(),
        owner_wallet.build_router(),
        settings.build_router(),
        orders.build_router(),
        purchase.build_router(),
        wallet.build_router(),
        pickers.build_search_router(),
        errors.build_fallback_router(),
    ]
