"""People in Russian and Chinese walk the whole purchase in their language."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from bot.factory import Application
from bot.i18n import create_i18n
from emulators.smsman import SmsManEmulator
from emulators.telegram import TelegramEmulator
from tests.conftest import ALLOWED_ID
from tests.flows import labels, wait_for_button

USA, TELEGRAM = 5, 3


@pytest.fixture(autouse=True)
def stock(smsman: SmsManEmulator) -> None:
    smsman.set_stock(USA, TELEGRAM, count=40, cost=Decimal("12.50"))


async def test_russian_purchase(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, first_name="Иван", language_code="ru")
    await user.send("/start")
    menu = await user.wait_for_text("Привет, Иван!")
    assert "🛒 Купить номер" in labels(menu)
    await (await user.tap("Купить номер")).answered()
    countries = await user.wait_for_text("Выберите страну")
    assert "Страница 1 из" in countries.text
    await user.send("США")
    await user.wait_for_text("Соединенные Штаты: выберите приложение")
    await user.send("телеграм")
    price = await wait_for_button(user, "Купить за 12.50 ₽")
    assert "Цена: 12.50 ₽" in price.text
    assert "Доступно 40 номеров" in price.text
    await (await user.tap("Купить за")).answered()
    card = await user.wait_for_text("Ждём SMS")
    assert "Ждём SMS до 08:15 UTC (через 15 мин)." in card.text
    assert "❌ Отменить" in labels(card)
    smsman.deliver_sms(smsman.requests[0].request_id, "123456")
    push = await user.wait_for_text("Код Telegram: 123456")
    assert "+1" in push.text


async def test_chinese_purchase(
    telegram: TelegramEmulator, smsman: SmsManEmulator, bot_app: Application
) -> None:
    user = telegram.user(ALLOWED_ID, first_name="李", language_code="zh-hans")
    await user.send("/start")
    menu = await user.wait_for_text("你好,李!")
    assert "🛒 购买号码" in labels(menu)
    await (await user.tap("购买号码")).answered()
    await user.wait_for_text("请选择国家")
    await user.send("美国")
    await user.wait_for_text("美国:请选择应用")
    await user.send("tg")
    price = await wait_for_button(user, "以 12.50 ₽ 购买")
    assert "价格:12.50 ₽" in price.text
    assert "可用号码 40 个" in price.text
    await (await user.tap("购买")).answered()
    card = await user.wait_for_text("等待短信中")
    assert "等待短信中，截止 08:15 UTC（15 分钟后）。" in card.text


async def test_traditional_chinese_and_unknown_languages(
    telegram: TelegramEmulator, bot_app: Application
) -> None:
    taiwan = telegram.user(ALLOWED_ID, first_name="Wen", language_code="zh-tw")
    await taiwan.send("/start")
    await taiwan.wait_for_text("你好,Wen!")
    german = telegram.user(ALLOWED_ID + 1, first_name="Jonas", language_code="de")
    await german.send("/start")
    await german.wait_for_text("Hi, Jonas!")


@pytest.mark.parametrize(
    ("count", "russian"),
    [
        (1, "📦 Доступен 1 номер"),
        (3, "📦 Доступно 3 номера"),
        (5, "📦 Доступно 5 номеров"),
        (11, "📦 Доступно 11 номеров"),
        (21, "📦 Доступен 21 номер"),
        (22, "📦 Доступно 22 номера"),
    ],
)
def test_plural_forms(locales: Path, count: int, russian: str) -> None:
    i18n = create_i18n("en", locales)
    singular, plural = "📦 {count} number available", "📦 {count} numbers available"
    assert i18n.gettext(singular, plural, count, locale="ru").format(count=count) == russian
    english = i18n.gettext(singular, plural, count, locale="en").format(count=count)
    assert english == (
        f"📦 {count} number available" if count == 1 else f"📦 {count} numbers available"
    )
    chinese = i18n.gettext(singular, plural, count, locale="zh").format(count=count)
    assert chinese == f"📦 可用号码 {count} 个"
