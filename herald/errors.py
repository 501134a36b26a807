"""Herald's error tree: one root, and branches that say what happens next.

- ``OutageError``: the world is down (Kafka, the schema registry, Redis, Cassandra, the
  network). Retry the same work, or stop the worker so that it is done again after a restart;
  never dead-letter a record because of one.
- ``RecordError``: this record is bad, and no retry will make it good. Dead-letter it with
  its reason and go on.
- Everything else (``ConfigurationError``, ``StackError``, ...) is an operator's to fix; the
  CLI prints it as one line.

Library errors are converted where each client is wrapped, as httpx maps httpcore's errors:
a ``Boundary`` next to the wrapper turns a library's errors into one outage class, so nothing
else in Herald names a library's exception.
"""

from __future__ import annotations

import functools
import inspect
import traceback
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import Any, ParamSpec, TypeVar, cast


class HeraldError(Exception):
    """Root of every error Herald raises on purpose."""


# -- the world is down ----------------------------------------------------------------------
class OutageError(HeraldError):
    """A server Herald needs did not answer or could not take the work: retry, or stop."""

    service = "a server"


class KafkaOutage(OutageError):
    service = "Kafka"


class RegistryOutage(OutageError):
    service = "the schema registry"


class RedisOutage(OutageError):
    service = "Redis"


class CassandraOutage(OutageError):
    service = "Cassandra"


# -- this record is bad ---------------------------------------------------------------------
class RecordError(HeraldError):
    """A record that cannot be processed as it is: dead-letter it with this reason."""


class CodecError(RecordError):
    """Bytes that are not a valid Confluent-framed Avro record, or a record that does not fit."""


class ValidationError(RecordError):
    """A request that cannot be accepted; ``field`` names the culprit."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


# -- for the operator -----------------------------------------------------------------------
class ConfigurationError(HeraldError):
    """Settings that cannot work, found before any I/O is attempted."""


class StackError(HeraldError):
    """The local stack could not be fetched, started, checked or stopped."""


class SandboxError(HeraldError):
    """The provider sandboxes could not start, or their control API refused a request."""


def where(error: BaseException) -> str:
    """file:line where ``error`` was raised (logged instead of its text, which may quote a
    record's addresses)."""
    frames = traceback.extract_tb(error.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


P = ParamSpec("P")
T = TypeVar("T")


class Boundary:
    """Converts the errors one client library raises into ``outage``: as a context manager
    (``with REDIS: ...``) or as a decorator of functions and coroutine functions. Herald's
    own errors pass through unchanged."""

    def __init__(self, outage: type[OutageError], raised: tuple[type[BaseException], ...]):
        self.outage = outage
        self.raised = raised

    def __enter__(self) -> None:
        return None

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if error is None or isinstance(error, HeraldError) or not isinstance(error, self.raised):
            return
        # The type and text of the library's error: these name servers, never records.
        raise self.outage(f"{self.outage.service}: {type(error).__name__}: {error}") from error

    def __call__(self, function: Callable[P, T]) -> Callable[P, T]:
        if inspect.iscoroutinefunction(function):
            coroutine = cast(Callable[P, Awaitable[Any]], function)

            @functools.wraps(function)
            async def awaiting(*args: P.args, **kwargs: P.kwargs) -> Any:
                with self:
                    return await coroutine(*args, **kwargs)

            return cast(Callable[P, T], awaiting)

        @functools.wraps(function)
        def calling(*args: P.args, **kwargs: P.kwargs) -> T:
            with self:
                return function(*args, **kwargs)

        return calling
