"""Avro in the Confluent wire format: magic byte 0, a 4-byte big-endian schema id, the Avro body.

Any Kafka tool that speaks the Confluent format (kcat, Kafka Connect, ksqlDB, Spark with
ABRiS, ...) can read what Herald writes. Schemas live in the registry; the codec caches
parsed schemas by id so the hot path never calls the registry twice for one schema.
"""

from __future__ import annotations

import importlib
import io
import json
import struct
from collections.abc import Mapping
from typing import Any

import fastavro
from confluent_kafka.schema_registry import Schema, SchemaRegistryClient
from confluent_kafka.schema_registry.error import SchemaRegistryError

from herald.errors import Boundary, CodecError, HeraldError, RegistryOutage
from herald.settings import RegistrySettings

MAGIC = 0
_HEADER = struct.Struct(">bI")


class RegistryError(HeraldError):
    """The schema registry refused a request: an incompatible schema, a bad subject."""


def _http_errors() -> tuple[type[BaseException], ...]:
    """What the registry client's HTTP library raises when it cannot reach the registry:
    confluent-kafka uses httpx2 where it is installed, httpx otherwise."""
    found = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name).HTTPError)
        except ImportError:
            continue
    return tuple(found)


# The registry unreachable, or timing out: an outage, whatever the record.
REGISTRY = Boundary(RegistryOutage, (*_http_errors(), OSError, TimeoutError))


def _refused(what: str, error: SchemaRegistryError) -> HeraldError:
    """An answer of the registry's: its own failure (5xx) is an outage, a refusal is not."""
    status = error.http_status_code
    if status is None or status < 0 or status >= 500:
        return RegistryOutage(f"{what}: the schema registry answered {status}: {error}")
    return RegistryError(f"{what}: {error}")


def frame(schema_id: int, body: bytes) -> bytes:
    return _HEADER.pack(MAGIC, schema_id) + body


def unframe(data: bytes) -> tuple[int, memoryview]:
    """Split a Confluent-framed message into (schema id, Avro body)."""
    if len(data) < _HEADER.size:
        raise CodecError(f"{len(data)} bytes is too short for the Confluent wire format")
    magic, schema_id = _HEADER.unpack_from(data)
    if magic != MAGIC:
        raise CodecError(f"magic byte {magic} is not the Confluent wire format's 0")
    return schema_id, memoryview(data)[_HEADER.size :]


class AvroCodec:
    """Encodes and decodes records of registered schemas; close it (or use ``with``)."""

    def __init__(self, registry: SchemaRegistryClient) -> None:
        self._registry = registry
        self._parsed: dict[int, Any] = {}

    @classmethod
    def from_settings(cls, settings: RegistrySettings) -> AvroCodec:
        return cls(SchemaRegistryClient(settings.client_config()))

    def __enter__(self) -> AvroCodec:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._registry.close()

    @REGISTRY
    def set_compatibility(self, subject: str, level: str) -> None:
        try:
            self._registry.set_compatibility(subject, level)
        except SchemaRegistryError as exc:
            raise _refused(f"setting {level} on {subject}", exc) from exc

    @REGISTRY
    def compatible(self, subject: str, schema: Mapping[str, Any]) -> bool:
        """Whether ``schema`` may be registered next under ``subject``."""
        try:
            return bool(
                self._registry.test_compatibility(
                    subject, Schema(json.dumps(schema), schema_type="AVRO")
                )
            )
        except SchemaRegistryError as exc:
            raise _refused(f"testing compatibility on {subject}", exc) from exc

    @REGISTRY
    def delete_subject(self, subject: str) -> None:
        """Remove a subject and its versions for good (used for scratch subjects)."""
        try:
            self._registry.delete_subject(subject)
            self._registry.delete_subject(subject, permanent=True)
        except SchemaRegistryError as exc:
            raise _refused(f"deleting {subject}", exc) from exc

    @REGISTRY
    def latest_id(self, subject: str) -> int:
        try:
            schema_id = self._registry.get_latest_version(subject).schema_id
        except SchemaRegistryError as exc:
            raise _refused(f"no schema under {subject}", exc) from exc
        if schema_id is None:
            raise RegistryError(f"the registry gave no id for {subject}")
        return schema_id

    @REGISTRY
    def register(self, subject: str, schema: Mapping[str, Any]) -> int:
        """Register ``schema`` under ``subject`` (idempotent) and return its id."""
        try:
            schema_id = self._registry.register_schema(
                subject, Schema(json.dumps(schema), schema_type="AVRO")
            )
        except SchemaRegistryError as exc:
            raise _refused(f"registering {subject}", exc) from exc
        self._parsed.setdefault(schema_id, fastavro.parse_schema(dict(schema)))
        return schema_id

    def schema(self, schema_id: int) -> Any:
        """The parsed schema of ``schema_id``, fetched from the registry once."""
        parsed = self._parsed.get(schema_id)
        if parsed is None:
            try:
                with REGISTRY:  # unreachable: not the data's fault
                    schema = self._registry.get_schema(schema_id)
            except SchemaRegistryError as exc:
                if exc.http_status_code == 404:  # data naming a schema that does not exist
                    raise CodecError(f"schema id {schema_id} is unknown to the registry") from exc
                # Any other answer (bad credentials, throttling, its own failure) is not the
                # record's fault: retried, never dead-lettered.
                raise RegistryOutage(f"fetching schema {schema_id}: {exc}") from exc
            if schema.schema_str is None:
                raise CodecError(f"schema id {schema_id} has no schema text")
            parsed = fastavro.parse_schema(json.loads(schema.schema_str))
            self._parsed[schema_id] = parsed
        return parsed

    def encode(self, schema_id: int, record: Mapping[str, Any]) -> bytes:
        buffer = io.BytesIO()
        try:
            fastavro.schemaless_writer(buffer, self.schema(schema_id), record)
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # the type of error only: the message would quote the record's values
            raise CodecError(
                f"record does not fit schema {schema_id}: {type(exc).__name__}"
            ) from exc
        return frame(schema_id, buffer.getvalue())

    def decode(self, data: bytes, reader_id: int | None = None) -> dict[str, Any]:
        """The record, resolved to the reader schema ``reader_id`` when given (so records
        written with an older version get the newer fields' defaults)."""
        schema_id, body = unframe(data)
        writer = self.schema(schema_id)
        reader = None if reader_id in (None, schema_id) else self.schema(reader_id)
        try:
            record = fastavro.schemaless_reader(io.BytesIO(body), writer, reader)
        except (ValueError, TypeError, EOFError, IndexError, UnicodeDecodeError) as exc:
            raise CodecError(
                f"body does not decode with schema {schema_id}: {type(exc).__name__}"
            ) from exc
        except fastavro.read.SchemaResolutionError as exc:
            raise CodecError(f"schema {schema_id} cannot be read as schema {reader_id}") from exc
        if not isinstance(record, dict):
            raise CodecError(f"schema {schema_id} is not a record schema")
        return record
