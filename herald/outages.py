"""Errors of the world around a worker (Redis, the schema registry, Kafka, the network), not of
the record it is processing: retried or fatal for the worker, never dead-lettered."""

from __future__ import annotations

import asyncio

import redis.asyncio as redis
from confluent_kafka import KafkaException

from herald.codec import RegistryError

INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    redis.RedisError,
    RegistryError,
    KafkaException,
    OSError,
    asyncio.TimeoutError,
)
