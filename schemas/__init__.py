"""Herald's Avro contracts, installed as the package data of ``herald.schemas``."""
