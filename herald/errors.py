"""Herald's error tree: one root, and subclasses that say what happens next."""

import traceback
from pathlib import Path


class HeraldError(Exception):
    """Root of every error Herald raises on purpose."""


class ConfigurationError(HeraldError):
    """Settings that cannot work, found before any I/O is attempted."""


class StackError(HeraldError):
    """The local stack could not be fetched, started, checked or stopped."""


class CodecError(HeraldError):
    """Bytes that are not a valid Confluent-framed Avro record, or a record that does not fit."""


def where(error: BaseException) -> str:
    """file:line where ``error`` was raised (logged instead of its text, which may quote a
    record's addresses)."""
    frames = traceback.extract_tb(error.__traceback__)
    return f"{Path(frames[-1].filename).name}:{frames[-1].lineno}" if frames else "?"


class SandboxError(HeraldError):
    """The provider sandboxes could not start, or their control API refused a request."""
