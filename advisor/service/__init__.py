"""The entry points the CLI calls (recommend, run, compare): no terminal, result objects out."""
