"""How the bot talks to Telegram: paced sends, callback answers, commands, shutdown."""
