"""The embedded sqlite store: its schema, its records, and the one connection that uses them."""
