"""Secrets never reach the log output, whoever logs them and however."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bot.logs import USER_ID, RedactSecrets, about_order, setup_logging


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


@pytest.fixture
def root() -> Iterator[logging.Logger]:
    """The root logger, given back as it was: setup_logging replaces its handlers."""
    logger = logging.getLogger()
    handlers, level = logger.handlers[:], logger.level
    yield logger
    logger.handlers[:] = handlers
    logger.setLevel(level)


def test_setup_keeps_request_urls_out_of_the_log(root: logging.Logger) -> None:
    setup_logging("DEBUG", [SecretStr("sms-secret")])
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert any(isinstance(f, RedactSecrets) for h in root.handlers for f in h.filters)


def test_json_lines_carry_the_person_and_the_order_and_no_secret(root: logging.Logger) -> None:
    stream = io.StringIO()
    setup_logging("INFO", [SecretStr("sms-secret")], "json")
    (handler,) = root.handlers
    assert isinstance(handler, logging.StreamHandler)
    handler.setStream(stream)
    log = logging.getLogger("test.json")
    log.info("plain %s", "line")
    token = USER_ID.set(2000)
    try:
        with about_order(77):
            log.warning("get-sms?token=%s failed", "sms-secret")
            try:
                raise RuntimeError("boom with sms-secret")
            except RuntimeError:
                log.exception("poll failed")
    finally:
        USER_ID.reset(token)
    log.info("after")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["message"] for line in lines] == [
        "plain line",
        "get-sms?token=*** failed",
        "poll failed",
        "after",
    ]
    assert set(lines[0]) == {"time", "level", "logger", "message"}
    assert lines[0]["logger"] == "test.json"
    assert lines[0]["level"] == "INFO"
    assert lines[0]["time"].endswith("+00:00")
    assert (lines[1]["user_id"], lines[1]["order_id"]) == (2000, 77)
    assert "RuntimeError: boom with ***" in lines[2]["exception"]
    assert "order_id" not in lines[3]
    assert "sms-secret" not in stream.getvalue()
