"""Secrets never reach the log output, whoever logs them and however."""

from __future__ import annotations

import io
import logging

from pydantic import SecretStr

from bot.logs import RedactSecrets, setup_logging


def test_tokens_are_blanked_in_messages_args_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets([SecretStr("123:bot-secret"), SecretStr("sms-secret")]))
    logger = logging.getLogger("test.redact")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("GET https://api/control/get-sms?token=%s&id=1", "sms-secret")
        logger.warning("url /bot123:bot-secret/getMe")
        try:
            raise RuntimeError("failed with sms-secret inside")
        except RuntimeError:
            logger.exception("boom")
    finally:
        logger.removeHandler(handler)
    output = stream.getvalue()
    assert "sms-secret" not in output
    assert "bot-secret" not in output
    assert "token=***&id=1" in output
    assert "/bot***/getMe" in output
    assert "RuntimeError: failed with *** inside" in output
    assert "RuntimeError" in output


def test_setup_keeps_request_urls_out_of_the_log() -> None:
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    try:
        setup_logging("DEBUG", [SecretStr("sms-secret")])
        assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
        assert any(isinstance(f, RedactSecrets) for h in root.handlers for f in h.filters)
    finally:
        root.handlers[:], level = saved
        root.setLevel(level)
