"""A deterministic simulation of the bot: virtual time, in-process emulators, crashes at will."""
