"""Command line: run the SMS-man emulator until Ctrl-C or SIGTERM."""

import argparse
import asyncio
import logging
import math
import signal
import sys
from collections.abc import Sequence
from decimal import Decimal, InvalidOperation

from emulators.smsman.server import SmsManEmulator

logger = logging.getLogger("emulators.smsman")


def _positive(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def _non_negative_seconds(text: str) -> float:
    value = float(text)
    if not (math.isfinite(value) and value >= 0):
        raise argparse.ArgumentTypeError(f"expected a number of seconds >= 0, got {text!r}")
    return value


def _amount(text: str) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"expected an amount like 1000.00, got {text!r}") from None
    if not value.is_finite():
        raise argparse.ArgumentTypeError(f"expected an amount like 1000.00, got {text!r}")
    return value


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m emulators.smsman",
        description="Local SMS-man control API emulator. Point SMSMAN_API_URL at the URL it "
        "prints.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8081, help="0 picks a free port")
    parser.add_argument("--token", default="test-token")
    parser.add_argument("--balance", type=_amount, default=Decimal("1000"), help="in RUB")
    parser.add_argument(
        "--lifetime",
        type=_positive,
        default=1200.0,
        help="seconds a request lives before it expires",
    )
    parser.add_argument(
        "--sms-after",
        type=_non_negative_seconds,
        default=None,
        metavar="SECONDS",
        help="deliver a random code this long after each purchase and each 'ready'",
    )
    parser.add_argument(
        "--max-rps",
        type=_positive,
        default=None,
        metavar="N",
        help="refuse (HTTP 429) what a token asks beyond N requests in any one second; "
        "no limit by default, as SMS-man documents none",
    )
    return parser.parse_args(argv)


async def _serve(args: argparse.Namespace) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    emulator = SmsManEmulator(
        token=args.token,
        balance=args.balance,
        lifetime=args.lifetime,
        sms_after=args.sms_after,
        max_rps=args.max_rps,
    )
    await emulator.start(args.host, args.port)
    try:
        logger.info(
            "SMS-man emulator listening on %s (token %s, balance %s RUB)",
            emulator.control_url,
            args.token,
            args.balance,
        )
        await stop.wait()
    finally:
        await emulator.close()
    logger.info("SMS-man emulator stopped")


def main(argv: Sequence[str] | None = None) -> None:
    args = _parse_args(argv)
    # stdout, so whoever started the emulator reads the URL where it reads output.
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stdout,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
