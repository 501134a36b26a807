"""The default templates (a fresh install's seed), installed as ``herald.templates``."""
