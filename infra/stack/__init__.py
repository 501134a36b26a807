"""The local stack: real Kafka, Cassandra, schema registry and Redis as local processes."""
