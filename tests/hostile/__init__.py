"""Hostile and careless inputs: a generator of small files, and a way to run the CLI on them."""
