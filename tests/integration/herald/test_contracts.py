"""Contracts in the registry: BACKWARD compatibility is enforced and checked over git history."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest
from typer.testing import CliRunner

from herald.cli import app
from herald.codec import AvroCodec, RegistryError
from herald.settings import HeraldSettings
from lab.compat import incompatible_step
from tests.integration.infra.test_smoke import GREETING


@pytest.fixture
def codec(stack: HeraldSettings) -> Iterator[AvroCodec]:
    with AvroCodec.from_settings(stack.registry) as codec:
        yield codec


def _with_field(field: dict[str, object]) -> dict[str, object]:
    schema = copy.deepcopy(GREETING)
    schema["fields"].append(field)  # type: ignore[attr-defined]
    return schema


def test_the_committed_contracts_evolved_compatibly(stack: HeraldSettings) -> None:
    result = CliRunner().invoke(app, ["schemas", "check"])
    assert result.exit_code == 0, result.output
    assert "BACKWARD" in result.output


def test_a_new_required_field_is_refused_and_an_optional_one_accepted(codec: AvroCodec) -> None:
    required = _with_field({"name": "added", "type": "string"})
    optional = _with_field({"name": "added", "type": ["null", "string"], "default": None})
    assert incompatible_step(codec, "greeting", [GREETING, required]) == 1
    assert incompatible_step(codec, "greeting", [GREETING, optional]) is None


def test_the_registry_enforces_backward_on_pipeline_subjects(codec: AvroCodec) -> None:
    subject = "herald-test-enforced-value"
    codec.set_compatibility(subject, "BACKWARD")
    try:
        codec.register(subject, GREETING)
        with pytest.raises(RegistryError):
            codec.register(subject, _with_field({"name": "added", "type": "int"}))
    finally:
        codec.delete_subject(subject)


def test_records_written_with_an_older_version_read_with_the_new_fields_defaults(
    codec: AvroCodec,
) -> None:
    subject = "herald-test-evolve-value"
    codec.set_compatibility(subject, "BACKWARD")
    try:
        v1 = codec.register(subject, GREETING)
        old = codec.encode(v1, {"id": "a", "count": 1, "note": None})
        v2 = codec.register(
            subject, _with_field({"name": "lang", "type": "string", "default": "en"})
        )
        assert codec.decode(old, v2) == {"id": "a", "count": 1, "note": None, "lang": "en"}
        assert "lang" not in codec.decode(old)  # without a reader schema: the writer's fields
    finally:
        codec.delete_subject(subject)
