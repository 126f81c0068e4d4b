"""The bot's core; whatever imports it first gets aiogram's models built to share memory."""

from bot.model_build_order import install

# Here rather than in `python -m bot` alone: every entry point (the bot, the benchmarks' child
# processes, the tests) imports this package before aiogram.
install()
