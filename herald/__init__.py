"""Herald: a Kafka-native notification pipeline."""

__version__ = "0.1.0"
