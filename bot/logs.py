"""Logging set-up: secrets blanked wherever they would appear, text or one JSON object a line."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime

from pydantic import SecretStr

REDACTED = "***"
# The person and the order a line is about, when the code logging it runs for one; set by the
# update middleware and the order service, read by the JSON formatter.
USER_ID: ContextVar[int | None] = ContextVar("user_id", default=None)
ORDER_ID: ContextVar[int | None] = ContextVar("order_id", default=None)


@contextmanager
def about_order(order_id: int) -> Iterator[None]:
    """Lines logged inside are about this order."""
    token = ORDER_ID.set(order_id)
    try:
        yield
    finally:
        ORDER_ID.reset(token)


def redact(text: str, secrets: Iterable[SecretStr]) -> str:
    for secret in secrets:
        if value := secret.get_secret_value():
            text = text.replace(value, REDACTED)
    return text


class RedactSecrets(logging.Filter):
    """Replaces every secret in the rendered message, whichever library logged it."""

    def __init__(self, secrets: Iterable[SecretStr]) -> None:
        super().__init__()
        self._secrets = [s.get_secret_value() for s in secrets if s.get_secret_value()]

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for secret in self._secrets:
            redacted = redacted.replace(secret, REDACTED)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and record.exc_info[1] is not None:
            text = logging.Formatter().formatException(record.exc_info)
            for secret in self._secrets:
                text = text.replace(secret, REDACTED)
            record.exc_text, record.exc_info = text, None
        return True


class JsonLines(logging.Formatter):
    """One JSON object per line, for log shippers: time, level, logger, message, ids, traceback."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for name, var in (("user_id", USER_ID), ("order_id", ORDER_ID)):
            if (value := var.get()) is not None:
                entry[name] = value
        # RedactSecrets has already turned a traceback into redacted exc_text.
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def setup_logging(level: str, secrets: Iterable[SecretStr], log_format: str = "text") -> None:
    handler = logging.StreamHandler()
    if log_format == "json":
        handler.setFormatter(JsonLines())
    else:
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and SMS-man takes its token in the query string.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
