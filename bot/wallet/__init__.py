"""Wallet mode: people pay for their numbers from a balance topped up with Telegram Stars."""
