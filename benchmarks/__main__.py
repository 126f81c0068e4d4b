"""`python -m benchmarks [--smoke] [NAME ...]`: JSON lines on stdout, then a human summary."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Callable, Coroutine, Sequence
from typing import Any

from benchmarks import budget, delivery, fairness, menus, resume, throughput
from benchmarks.common import Result, progress

Benchmark = Callable[[bool], Coroutine[Any, Any, list[Result]]]

# In the order they run: the order.
BENCHMARKS: dict[str, Benchmark] = {
    "update_throughput": throughput.run,
    "delivery_latency": delivery.run,
    "resume_and_memory": resume.run,
    "menu_latency": menus.run,
    "telegram_budget": budget.run,
    "fairness": fairness.run,
}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument(
        "names",
        nargs="*",
        metavar="NAME",
        help=f"benchmarks to run, of {', '.join(BENCHMARKS)}; all when none is named",
    )
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="the smallest sizes: checks that everything runs, the figures mean nothing",
    )
    args = parser.parse_args(argv)
    unknown = [name for name in args.names if name not in BENCHMARKS]
    if unknown:
        parser.error(f"no benchmark named {', '.join(unknown)}")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    names = args.names or list(BENCHMARKS)
    summary: list[str] = []
    try:
        for name in names:
            progress(f"{name}: running")
            # One event loop per benchmark, so none inherits another's leftovers.
            for result in asyncio.run(BENCHMARKS[name](args.smoke)):
                print(result.json_line(), flush=True)
                summary += result.summary
    finally:
        # After every JSON line, and even when a later benchmark failed.
        if summary:
            print("", *summary, sep="\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
