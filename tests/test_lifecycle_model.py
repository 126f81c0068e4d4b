"""The order lifecycle's promises, searched for counterexamples by a stateful model."""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test

from tests.model.driving import WorldModel
from tests.model.fairness import FairnessModel
from tests.model.machine import LifecycleModel
from tests.model.wallet import WalletModel

# `make test` runs a fixed, derandomized search sized to keep the suite within its few minutes
# (the lifecycle's about two of them on this kind of machine, every other search a fraction of
# it); `make soak` runs the same models far longer from a random seed it prints
# (LIFECYCLE_EXAMPLES, LIFECYCLE_STEPS).
SOAK = "LIFECYCLE_EXAMPLES" in os.environ
EXAMPLES = int(os.environ.get("LIFECYCLE_EXAMPLES", "80"))
STEPS = int(os.environ.get("LIFECYCLE_STEPS", "80"))


def test_the_lifecycle_keeps_its_promises(locales: Path) -> None:
    search(LifecycleModel, locales, EXAMPLES)


def test_the_wallet_keeps_its_promises(locales: Path) -> None:
    # Wallet mode runs every lifecycle rule too: a smaller search of its own in `make test`.
    search(WalletModel, locales, max(1, EXAMPLES // 3))


def test_a_flood_costs_only_the_one_who_floods(locales: Path) -> None:
    # Floods of hundreds of updates make each step cost more: shorter and fewer examples.
    search(FairnessModel, locales, max(1, EXAMPLES // 16), steps=max(1, STEPS // 4))


def search(model: type[WorldModel], locales: Path, examples: int, *, steps: int = STEPS) -> None:
    model.locales = locales
    model.coverage.clear()
    try:
        run_state_machine_as_test(
            model,
            settings=settings(
                max_examples=examples,
                stateful_step_count=steps,
                # The same search every run of `make test`; the soak explores from its seed.
                derandomize=not SOAK,
                deadline=None,
                database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
            ),
        )
    finally:
        coverage = model.coverage
        print(f"\n{model.__name__}: {coverage['steps']} steps")
        for name, count in sorted(coverage.items()):
            if name != "steps":
                print(f"  {count:6d}  {name}")
