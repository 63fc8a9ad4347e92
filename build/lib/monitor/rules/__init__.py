"""Watch rules: parse queries, expand concepts, match documents (pure, no I/O)."""
