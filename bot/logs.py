"""Logging set-up with a filter that blanks the bot's secrets wherever they would appear."""

from __future__ import annotations

import logging
from collections.abc import Iterable

from pydantic import SecretStr

REDACTED = "***"


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


def setup_logging(level: str, secrets: Iterable[SecretStr]) -> None:
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactSecrets(secrets))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    # httpx logs every request URL at INFO, and SMS-man takes its token in the query string.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)
