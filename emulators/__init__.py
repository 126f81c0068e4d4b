"""The worlds the bot is tested in: SMS-man and the Telegram Bot API, emulated over HTTP."""
