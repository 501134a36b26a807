"""schemathesis over the API's own OpenAPI spec, against the running API and the real stack:
whatever a client sends, within the spec or just outside it, no answer is a 5xx and none is
outside the spec (status, content type, body, headers).

Driven through hypothesis directly: schemathesis's pytest loader for fixtures does not work
with pytest 9 (it reads ``Function._nodeid``)."""

from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.generation.case import Case

from api.keys import Scope
from tests.integration.api.conftest import Api
from tests.integration.api.test_publish import bearer

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
    response_headers_conformance,
]
EXAMPLES = 30  # per operation and mode


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_every_answer_is_in_the_spec_and_none_is_a_5xx(
    module_api: Api, mode: GenerationMode
) -> None:
    spec = schemathesis.openapi.from_url(f"{module_api.url}/openapi.json")
    headers = bearer(module_api.token(*Scope))
    failures: dict[str, str] = {}
    operations = [result.ok() for result in spec.get_all_operations()]
    assert len(operations) >= 19  # every route is in the spec

    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def conforms(case: Case) -> None:
            case.call_and_validate(
                base_url=module_api.url, headers=headers, checks=CHECKS, timeout=30
            )

        try:
            conforms()
        except Unsatisfiable:  # nothing outside the spec to send (no parameters, no body)
            assert mode is GenerationMode.NEGATIVE
        except (Exception, BaseExceptionGroup) as failure:  # each operation's, all reported
            failures[operation.label] = f"{type(failure).__name__}: {failure}"[:3000]
    assert failures == {}
