"""Settings: names, defaults, list and duration parsing, and the one-line start-up error."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from pydantic import ValidationError

from bot.__main__ import describe
from bot.config import ListenAddress, Settings
from tests.conftest import SETTING_NAMES

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in SETTING_NAMES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def settings(**env: str) -> Settings:
    values = {"BOT_TOKEN": "123:abc", "SMSMAN_TOKEN": "sms-secret", **env}
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        return Settings()
    finally:
        for key, value in old.items():
            if value is None:
                os.environ.pop(key)
            else:
                os.environ[key] = value


def test_defaults() -> None:
    s = settings()
    assert s.telegram_base_url is None
    assert s.smsman_base_url == "https://api.sms-man.com/control"
    assert s.database_path == Path("data/bot.sqlite3")
    assert s.admin_ids == []
    assert s.allowed_user_ids == []
    assert s.poll_interval_seconds == 3
    assert s.order_timeout_seconds == 900
    assert s.smsman_max_rps == 5
    assert (s.currency, s.default_locale, s.log_level) == ("RUB", "en", "INFO")
    assert not s.open_to_all
    assert s.max_active_orders == 3
    assert s.daily_spend_limit == Decimal("500")
    assert s.max_price is None
    assert s.low_balance_alert == Decimal("100")


def test_money_settings_are_exact_decimals() -> None:
    s = settings(DAILY_SPEND_LIMIT="0.30", MAX_PRICE="12.10", LOW_BALANCE_ALERT="5")
    assert (s.daily_spend_limit, s.max_price, s.low_balance_alert) == (
        Decimal("0.30"),
        Decimal("12.10"),
        Decimal("5"),
    )
    assert settings(DAILY_SPEND_LIMIT="").daily_spend_limit is None
    with pytest.raises(ValidationError):
        settings(MAX_PRICE="-1")
    with pytest.raises(ValidationError):
        settings(MAX_ACTIVE_ORDERS="0")


@pytest.mark.parametrize("raw", ["1,2,3", "[1,2,3]", " 1 , 2,3 ", "[1, 2, 3]"])
def test_id_lists_accept_both_forms(raw: str) -> None:
    s = settings(ADMIN_IDS=raw, ALLOWED_USER_IDS=raw)
    assert s.admin_ids == [1, 2, 3]
    assert s.allowed_user_ids == [1, 2, 3]


def test_single_and_empty_id_lists() -> None:
    assert settings(ADMIN_IDS="42", ALLOWED_USER_IDS="").admin_ids == [42]
    assert settings(ALLOWED_USER_IDS="").allowed_user_ids == []


@pytest.mark.parametrize("raw", ["abc", "[1,", "1,x"])
def test_bad_id_lists_are_rejected(raw: str) -> None:
    with pytest.raises(ValidationError, match="admin_ids"):
        settings(ADMIN_IDS=raw)


def test_durations_take_fractions_and_refuse_non_positive() -> None:
    s = settings(POLL_INTERVAL_SECONDS="0.05", ORDER_TIMEOUT_SECONDS="2.5", SMSMAN_MAX_RPS="200")
    assert (s.poll_interval_seconds, s.order_timeout_seconds, s.smsman_max_rps) == (0.05, 2.5, 200)
    rates = ("SMSMAN_MAX_RPS", "TELEGRAM_MAX_SENDS_PER_S", "TELEGRAM_CHAT_SENDS_PER_S")
    for name in ("POLL_INTERVAL_SECONDS", "ORDER_TIMEOUT_SECONDS", *rates):
        with pytest.raises(ValidationError):
            settings(**{name: "0"})


def test_urls_and_case_normalised() -> None:
    s = settings(
        TELEGRAM_API_URL="http://127.0.0.1:8082/",
        SMSMAN_API_URL="http://127.0.0.1:8081/control/",
        CURRENCY="usd",
        DEFAULT_LOCALE="RU",
        LOG_LEVEL="debug",
    )
    assert s.telegram_base_url == "http://127.0.0.1:8082"
    assert s.smsman_base_url == "http://127.0.0.1:8081/control"
    assert (s.currency, s.default_locale, s.log_level) == ("USD", "ru", "DEBUG")
    with pytest.raises(ValidationError):
        settings(CURRENCY="BTC")
    with pytest.raises(ValidationError):
        settings(DEFAULT_LOCALE="de")


def test_environment_overrides_dotenv(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("BOT_TOKEN=1:from-file\nSMSMAN_TOKEN=file\nCURRENCY=EUR\n")
    os.environ["CURRENCY"] = "USD"
    try:
        s = Settings()
    finally:
        del os.environ["CURRENCY"]
    assert s.bot_token.get_secret_value() == "1:from-file"
    assert s.currency == "USD"


def test_tokens_are_secret() -> None:
    s = settings(BOT_TOKEN="123:very-secret", SMSMAN_TOKEN="sms-very-secret")
    shown = repr(s) + str(s) + s.model_dump_json()
    assert "very-secret" not in shown


def test_blank_token_is_refused() -> None:
    with pytest.raises(ValidationError, match="bot_token"):
        settings(BOT_TOKEN="  ")


def run_bot(tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if k not in SETTING_NAMES}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-m", "bot"],
        cwd=tmp_path,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_missing_bot_token_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_bot(tmp_path, SMSMAN_TOKEN="x")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "BOT_TOKEN" in lines[0]
    assert "Traceback" not in result.stderr


def test_malformed_setting_names_it(tmp_path: Path) -> None:
    result = run_bot(tmp_path, BOT_TOKEN="1:x", SMSMAN_TOKEN="y", POLL_INTERVAL_SECONDS="soon")
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        line for line in result.stderr.strip().splitlines() if "POLL_INTERVAL_SECONDS" in line
    ]
    assert "Traceback" not in result.stderr


def test_wallet_mode_without_a_star_price_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_bot(tmp_path, BOT_TOKEN="1:x", SMSMAN_TOKEN="y", SALES_MODE="wallet")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "STAR_PRICE" in lines[0]


def test_wallet_settings_are_read_from_text() -> None:
    settings = Settings(
        _env_file=None,
        bot_token="1:x",
        smsman_token="y",
        sales_mode=" Wallet ",
        star_price="0.013",
        markup_percent="12.5",
        topup_stars="25, 100",
    )
    assert settings.wallet
    assert settings.star_price == Decimal("0.013")
    assert settings.markup_percent == Decimal("12.5")
    assert settings.topup_stars == [25, 100]
    with pytest.raises(ValidationError):
        Settings(_env_file=None, bot_token="1:x", smsman_token="y", topup_stars="0")
    with pytest.raises(ValidationError):
        Settings(_env_file=None, bot_token="1:x", smsman_token="y", sales_mode="shop")


def test_production_settings_default_to_polling_without_a_monitor() -> None:
    s = settings()
    assert s.webhook_url is None
    assert s.webhook_secret is None
    assert s.webhook_listen == ListenAddress("127.0.0.1", 8080)
    assert s.metrics_listen is None
    assert s.log_format == "text"


def test_webhook_settings_are_read_from_text() -> None:
    s = settings(
        WEBHOOK_URL="https://bot.example.com:8443/tg/hook",
        WEBHOOK_SECRET="s3cret_-X",
        WEBHOOK_LISTEN=" 0.0.0.0:9000 ",
        METRICS_LISTEN="[::1]:9108",
        LOG_FORMAT="JSON",
    )
    assert str(s.webhook_url) == "https://bot.example.com:8443/tg/hook"
    assert s.webhook_path == "/tg/hook"
    assert s.webhook_listen == ListenAddress("0.0.0.0", 9000)
    assert str(s.metrics_listen) == "[::1]:9108"
    assert s.log_format == "json"
    assert settings(WEBHOOK_URL="", WEBHOOK_SECRET="", METRICS_LISTEN="").webhook_url is None


@pytest.mark.parametrize(
    ("env", "named", "why"),
    [
        ({"WEBHOOK_URL": "http://bot.example.com/hook"}, "WEBHOOK_URL", "https://"),
        ({"WEBHOOK_URL": "https://bot.example.com:8080/hook"}, "WEBHOOK_URL", "443, 80, 88"),
        ({"WEBHOOK_URL": "bot.example.com/hook"}, "WEBHOOK_URL", "URL"),
        ({"WEBHOOK_SECRET": "has space"}, "WEBHOOK_SECRET", "A-Z a-z 0-9 _ -"),
        ({"WEBHOOK_SECRET": "x" * 257}, "WEBHOOK_SECRET", "1-256"),
        ({"WEBHOOK_LISTEN": "8080"}, "WEBHOOK_LISTEN", "host:port"),
        ({"METRICS_LISTEN": "127.0.0.1:70000"}, "METRICS_LISTEN", "host:port"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT", "text"),
        ({"WEBHOOK_URL": "https://localhost/hook"}, "WEBHOOK_URL", "public host"),
        ({"WEBHOOK_URL": "https://192.168.1.5/hook"}, "WEBHOOK_URL", "public host"),
        ({"WEBHOOK_URL": "https://[2001:db8::1]/hook"}, "WEBHOOK_URL", "public host"),
        ({"WEBHOOK_URL": "https://me:pw@bot.example.com/hook"}, "WEBHOOK_URL", "password"),
        ({"BOT_TOKEN": "not-a-token"}, "BOT_TOKEN", "@BotFather"),
        ({"BOT_TOKEN": "123456:AA BB"}, "BOT_TOKEN", "@BotFather"),
        (
            {"METRICS_LISTEN": "127.0.0.1:8080"},
            "settings",
            "METRICS_LISTEN and WEBHOOK_LISTEN must differ",
        ),
    ],
)
def test_bad_production_settings_name_themselves(env: dict[str, str], named: str, why: str) -> None:
    full = {"WEBHOOK_URL": "https://bot.example.com/hook", "WEBHOOK_SECRET": "ok", **env}
    with pytest.raises(ValidationError) as caught:
        settings(**full)
    (line,) = describe(caught.value)
    assert named in line
    assert why in line


def test_a_webhook_without_a_secret_exits_2_with_one_line(tmp_path: Path) -> None:
    result = run_bot(
        tmp_path, BOT_TOKEN="1:x", SMSMAN_TOKEN="y", WEBHOOK_URL="https://bot.example.com/hook"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "WEBHOOK_SECRET is required when WEBHOOK_URL is set" in lines[0]


def test_setting_names_are_the_documented_ones() -> None:
    assert set(SETTING_NAMES) == {
        "BOT_TOKEN",
        "SMSMAN_TOKEN",
        "TELEGRAM_API_URL",
        "SMSMAN_API_URL",
        "DATABASE_PATH",
        "ADMIN_IDS",
        "ALLOWED_USER_IDS",
        "POLL_INTERVAL_SECONDS",
        "ORDER_TIMEOUT_SECONDS",
        "SMSMAN_MAX_RPS",
        "TELEGRAM_MAX_SENDS_PER_S",
        "TELEGRAM_CHAT_SENDS_PER_S",
        "CURRENCY",
        "DEFAULT_LOCALE",
        "LOG_LEVEL",
        "OPEN_TO_ALL",
        "MAX_ACTIVE_ORDERS",
        "DAILY_SPEND_LIMIT",
        "MAX_PRICE",
        "LOW_BALANCE_ALERT",
        "SALES_MODE",
        "MARKUP_PERCENT",
        "MARKUP_MIN",
        "STAR_PRICE",
        "TOPUP_STARS",
        "WEBHOOK_URL",
        "WEBHOOK_SECRET",
        "WEBHOOK_LISTEN",
        "METRICS_LISTEN",
        "LOG_FORMAT",
    }
    example = (ROOT / ".env.example").read_text()
    readme = (ROOT / "README.md").read_text()
    for name in SETTING_NAMES:
        assert f"{name}=" in example, f"{name} is missing from .env.example"
        assert f"`{name}`" in readme, f"{name} is missing from the README"
