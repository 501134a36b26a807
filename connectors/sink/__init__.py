"""The status sink: ``herald.status`` into Cassandra's history tables."""
