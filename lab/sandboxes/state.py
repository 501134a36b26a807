"""The sandboxes' memory: faults in force, what arrived, idempotency keys seen (pure, no I/O).

One `SandboxState` is shared by every server of a `herald sandbox run` process; all of them run
on one asyncio loop, so no locking is needed.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from lab.sandboxes.models import PROVIDERS, Fault, Outcome, Provider, ReceiptPlan, Received, Report


@dataclass(frozen=True, slots=True)
class Action:
    """What to do to one request, taken from the fault in force when it arrived."""

    latency_s: float = 0.0
    hang: bool = False
    status: int | None = None
    retry_after_s: float | None = None
    refuse: frozenset[str] = frozenset()

    def refuses(self, address: str) -> bool:
        """``address`` may list several recipients separated by commas (one SES call)."""
        return any(part.strip() in self.refuse for part in address.split(","))


NO_FAULT = Action()


class SandboxState:
    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._faults: dict[Provider, Fault] = {}
        self._remaining: dict[Provider, int | None] = {}
        self._records: dict[Provider, list[Received]] = {p: [] for p in PROVIDERS}
        self._keys: dict[tuple[Provider, str], dict[str, Any]] = {}
        self._plans: dict[Provider, ReceiptPlan] = {}
        self._reports: dict[Provider, list[Report]] = {p: [] for p in PROVIDERS}

    def set_fault(self, provider: Provider, fault: Fault) -> None:
        """Replaces the provider's fault."""
        self._faults[provider] = fault
        self._remaining[provider] = fault.count

    def clear(self, provider: Provider) -> None:
        self._faults.pop(provider, None)
        self._remaining.pop(provider, None)

    def fault(self, provider: Provider) -> Fault | None:
        return self._faults.get(provider)

    def take(self, provider: Provider) -> Action:
        """The action for the provider's next request; counts it against the fault."""
        fault = self._faults.get(provider)
        if fault is None:
            return NO_FAULT
        remaining = self._remaining.get(provider)
        if remaining is not None:
            if remaining <= 1:
                self.clear(provider)
            else:
                self._remaining[provider] = remaining - 1
        return Action(
            latency_s=fault.latency_ms / 1000,
            hang=fault.hang,
            status=fault.status,
            retry_after_s=fault.retry_after_s,
            refuse=fault.refuse,
        )

    def record(
        self, provider: Provider, outcome: Outcome, address: str, **fields: object
    ) -> Received:
        received = Received.model_validate(
            {
                "provider": provider,
                "outcome": outcome,
                "address": address,
                "received_at": self._clock(),
                **fields,
            }
        )
        self._records[provider].append(received)
        return received

    def received(self, provider: Provider, include_rejected: bool = False) -> list[Received]:
        records = self._records[provider]
        return list(records) if include_rejected else [r for r in records if r.delivered]

    def remember(self, provider: Provider, key: str, answer: dict[str, Any]) -> None:
        """The answer an idempotency key's first request got, for the key's next use."""
        self._keys[(provider, key)] = answer

    def recall(self, provider: Provider, key: str) -> dict[str, Any] | None:
        return self._keys.get((provider, key))

    def plan(self, provider: Provider) -> ReceiptPlan | None:
        """What the provider reports after a message (None: nothing)."""
        return self._plans.get(provider)

    def set_plan(self, provider: Provider, plan: ReceiptPlan | None) -> None:
        if plan is None:
            self._plans.pop(provider, None)
        else:
            self._plans[provider] = plan

    def reported(self, report: Report) -> None:
        self._reports[report.provider].append(report)

    def reports(self, provider: Provider) -> list[Report]:
        return list(self._reports[provider])

    def reset(self) -> None:
        """Forget every record, fault, idempotency key, plan and report."""
        self._faults.clear()
        self._remaining.clear()
        self._keys.clear()
        self._plans.clear()
        for records in self._records.values():
            records.clear()
        for reports in self._reports.values():
            reports.clear()
