"""Benchmarks: figures written to a JSON file, never timing assertions in tests."""
