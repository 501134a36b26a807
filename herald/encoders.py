"""Avro for records that repeat most of their fields: a campaign's channel messages and
statuses differ from one recipient to the next only in a few ids, an address and a time.

An Avro record is the concatenation of its fields' encodings, in schema order. So the runs of
fields that repeat are encoded once by fastavro (and kept), and only the fields named as
varying are encoded per record, by the few lines below: a string, an optional string, an
enum, an optional enum, a long or a timestamp. The bytes are exactly fastavro's (the tests
compare them), in the Confluent wire format.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from operator import attrgetter
from typing import Any

import fastavro

from herald.codec import frame
from herald.errors import CodecError

Encode = Callable[[Any], bytes]
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def _long(n: int) -> bytes:
    """Avro's zig-zag varint."""
    n = (n << 1) ^ (n >> 63)
    out = bytearray()
    while n & ~0x7F:
        out.append((n & 0x7F) | 0x80)
        n >>= 7
    out.append(n)
    return bytes(out)


_SMALL = tuple(_long(n) for n in range(4096))  # string lengths, mostly


def _string(value: str) -> bytes:
    data = value.encode()
    size = len(data)
    return (_SMALL[size] if size < 4096 else _long(size)) + data


def _millis(value: datetime) -> int:
    """fastavro's timestamp-millis of an aware datetime, to the same millisecond."""
    delta = value - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000


def _optional(encode: Encode) -> Encode:
    def optional(value: Any) -> bytes:
        return b"\x00" if value is None else b"\x02" + encode(value)

    return optional


def _enum(symbols: Sequence[str]) -> Encode:
    table = {symbol: _SMALL[i] for i, symbol in enumerate(symbols)}
    return lambda value: table[value]


def _encoder(schema: Any, named: Mapping[str, Any]) -> Encode:
    """The encoder of a varying field's type; ``ValueError`` for a type it does not handle."""
    if isinstance(schema, str) and schema in named:
        schema = named[schema]
    if isinstance(schema, list):
        if len(schema) == 2 and schema[0] == "null":
            return _optional(_encoder(schema[1], named))
        raise ValueError(f"only [null, T] unions may vary, not {schema}")
    kind = schema if isinstance(schema, str) else schema["type"]
    logical = None if isinstance(schema, str) else schema.get("logicalType")
    if kind == "string":
        return _string
    if kind == "enum":
        return _enum(schema["symbols"])
    if kind == "long" and logical == "timestamp-millis":
        return lambda value: _long(_millis(value) if isinstance(value, datetime) else value)
    if kind in ("long", "int") and logical is None:
        return _long
    raise ValueError(f"a field of type {kind} cannot vary")


def _repeats(schema: Any) -> bool:
    """Whether a field's values can be kept as a key (arrays and maps are not hashable)."""
    kinds = schema if isinstance(schema, list) else [schema]
    return all(not isinstance(k, dict) or k["type"] not in ("array", "map") for k in kinds)


class RepeatingEncoder:
    """Encodes records (objects with an attribute per field, such as Herald's models) of one
    parsed schema; ``varying`` names the fields encoded anew for every record."""

    def __init__(
        self,
        schema_id: int,
        parsed: Mapping[str, Any],
        varying: Sequence[str],
        kept: int = 1024,
    ) -> None:
        named = parsed.get("__named_schemas", {})
        fields = list(parsed["fields"])
        names = [f["name"] for f in fields]
        unknown = set(varying) - set(names)
        if unknown:
            raise ValueError(f"no fields {sorted(unknown)} in {parsed.get('name')}")
        self._header = frame(schema_id, b"")
        self._kept = kept
        self._cache: dict[tuple[Any, ...], list[bytes]] = {}
        # the record as runs of repeating fields around each varying one
        self._runs: list[list[Mapping[str, Any]]] = [[]]
        self._varying: list[Encode] = []
        for field in fields:
            if field["name"] in varying:
                self._varying.append(_encoder(field["type"], named))
                self._runs.append([])
            elif _repeats(field["type"]):
                self._runs[-1].append(field)
            else:
                raise ValueError(f"field {field['name']} holds an array or a map: it must vary")
        self._run_schemas = [
            {
                "type": "record",
                "name": f"_run{i}",
                "fields": run,
                "__fastavro_parsed": True,
                "__named_schemas": named,
            }
            for i, run in enumerate(self._runs)
        ]
        constant = [f["name"] for run in self._runs for f in run]
        ordered_varying = [n for n in names if n in varying]
        self._key = _getter(constant)
        self._values = _getter(ordered_varying)

    def encode(self, record: object) -> bytes:
        try:
            key = self._key(record)
            runs = self._cache.get(key)
            if runs is None:
                runs = self._encode_runs(key)
            parts = [self._header]
            for run, encode, value in zip(runs, self._varying, self._values(record), strict=False):
                parts.append(run)
                parts.append(encode(value))
            parts.append(runs[-1])
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            # the type of error only: the message would quote the record's values
            raise CodecError(f"record does not fit its schema: {type(exc).__name__}") from exc
        return b"".join(parts)

    def _encode_runs(self, key: tuple[Any, ...]) -> list[bytes]:
        values = iter(key)
        runs = []
        for run, schema in zip(self._runs, self._run_schemas, strict=True):
            record = {f["name"]: next(values) for f in run}
            buffer = io.BytesIO()
            fastavro.schemaless_writer(buffer, schema, record)
            runs.append(buffer.getvalue())
        if len(self._cache) >= self._kept:
            self._cache.clear()
        self._cache[key] = runs
        return runs


def _getter(names: Sequence[str]) -> Callable[[object], tuple[Any, ...]]:
    """The named attributes of an object, always as a tuple."""
    if not names:
        return lambda record: ()
    if len(names) == 1:
        get = attrgetter(names[0])
        return lambda record: (get(record),)
    return attrgetter(*names)
