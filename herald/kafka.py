"""confluent-kafka for the workers that use it directly (senders, the sink, the SDK): the
boundary that turns its errors into ``KafkaOutage``."""

from __future__ import annotations

from confluent_kafka import KafkaException

from herald.errors import Boundary, KafkaOutage

KAFKA = Boundary(KafkaOutage, (KafkaException, OSError))
