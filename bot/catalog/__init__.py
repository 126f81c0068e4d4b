"""SMS-man's catalog for people: cached countries, apps and prices, names, search."""
