"""The order lifecycle: its table, the service that follows it, purchases, polls, cards."""
