"""Faults in force and records: the sandboxes' memory, without servers."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lab.sandboxes.models import Fault
from lab.sandboxes.state import NO_FAULT, SandboxState


def test_no_fault_by_default() -> None:
    assert SandboxState().take("fcm") == NO_FAULT


def test_count_applies_to_the_next_n_requests_then_clears() -> None:
    state = SandboxState()
    state.set_fault("sns", Fault(status=503, count=2))
    assert [state.take("sns").status for _ in range(3)] == [503, 503, None]
    assert state.fault("sns") is None


def test_without_count_until_cleared_and_per_provider() -> None:
    state = SandboxState()
    state.set_fault("apns", Fault(latency_ms=250, hang=True, refuse=frozenset({"t1"})))
    for _ in range(5):
        action = state.take("apns")
        assert (action.latency_s, action.hang) == (0.25, True)
        assert action.refuses("t1")
        assert not action.refuses("t2")
        assert action.refuses("t2, t1")  # one call to several recipients
    assert state.take("fcm") == NO_FAULT
    state.clear("apns")
    assert state.take("apns") == NO_FAULT


def test_a_new_fault_replaces_the_old_one_and_its_count() -> None:
    state = SandboxState()
    state.set_fault("twilio", Fault(status=429, retry_after_s=2, count=1))
    state.set_fault("twilio", Fault(status=500, count=2))
    assert [state.take("twilio").status for _ in range(3)] == [500, 500, None]


def test_records_delivered_unless_asked_for_everything() -> None:
    state = SandboxState(clock=lambda: 42.0)
    state.record("smtp", "refused", "a@example.com")
    state.record("smtp", "failed", "b@example.com")
    state.record("smtp", "delivered", "c@example.com", notification_id="n1")
    state.record("smtp", "hung", "d@example.com")
    assert [r.address for r in state.received("smtp")] == ["c@example.com", "d@example.com"]
    everything = state.received("smtp", include_rejected=True)
    assert [r.outcome for r in everything] == ["refused", "failed", "delivered", "hung"]
    assert everything[2].notification_id == "n1"
    assert everything[2].received_at == 42.0
    assert state.received("ses") == []


def test_reset_forgets_records_faults_and_keys() -> None:
    state = SandboxState()
    state.set_fault("fcm", Fault(status=500))
    state.record("fcm", "delivered", "t")
    state.remember("twilio", "k1", {"sid": "SM1"})
    assert state.recall("twilio", "k1") == {"sid": "SM1"}
    assert state.recall("sns", "k1") is None
    state.reset()
    assert (state.fault("fcm"), state.received("fcm"), state.recall("twilio", "k1")) == (
        None,
        [],
        None,
    )


@pytest.mark.parametrize(
    "bad", [{"status": 200}, {"status": 600}, {"count": 0}, {"latency_ms": -1}, {"nope": 1}]
)
def test_fault_validation(bad: dict[str, int]) -> None:
    with pytest.raises(ValidationError):
        Fault.model_validate(bad)
