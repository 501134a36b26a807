"""`SandboxControl`: the sandboxes' control API from tests, the demo and benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from types import TracebackType
from typing import TypeVar

import httpx

from herald.errors import SandboxError
from herald.settings import DeliverySettings
from lab.sandboxes.models import Fault, Provider, ReceiptPlan, Received, Report

T = TypeVar("T")


def _until(
    fetch: Callable[[], list[T]], done: Callable[[list[T]], bool], timeout_s: float, what: str
) -> list[T]:
    deadline = time.monotonic() + timeout_s
    while True:
        found = fetch()
        if done(found):
            return found
        if time.monotonic() > deadline:
            raise SandboxError(f"{what}: still {len(found)} after {timeout_s}s")
        time.sleep(0.1)


class SandboxControl:
    """``SandboxControl(settings.delivery)``; a context manager, or call ``close()``."""

    def __init__(self, delivery: DeliverySettings, timeout_s: float = 10.0) -> None:
        self._client = httpx.Client(base_url=delivery.sandbox_control, timeout=timeout_s)

    def received(self, provider: Provider, include_rejected: bool = False) -> list[Received]:
        """What the provider took, oldest first (with ``include_rejected``, also the requests
        it refused or failed on purpose). Twilio dedupes are included with ``dedupe=True``."""
        params = {"all": "true"} if include_rejected else {}
        answer = self._call("GET", f"/received/{provider}", params=params)
        return [Received.model_validate(item) for item in answer.json()]

    def wait_received(
        self,
        provider: Provider,
        done: Callable[[list[Received]], bool],
        timeout_s: float = 30.0,
        include_rejected: bool = False,
    ) -> list[Received]:
        """Polls ``received`` until ``done(records)``; raises SandboxError after the timeout."""
        return _until(lambda: self.received(provider, include_rejected), done, timeout_s, provider)

    def fault(
        self,
        provider: Provider,
        *,
        latency_ms: int = 0,
        hang: bool = False,
        status: int | None = None,
        retry_after_s: float | None = None,
        count: int | None = None,
        refuse: Iterable[str] = (),
    ) -> Fault:
        """Replaces the provider's fault; see `Fault` for what each part does."""
        fault = Fault(
            latency_ms=latency_ms,
            hang=hang,
            status=status,
            retry_after_s=retry_after_s,
            count=count,
            refuse=frozenset(refuse),
        )
        self._call("POST", f"/faults/{provider}", content=fault.model_dump_json())
        return fault

    def plan_receipts(self, provider: Provider, plan: ReceiptPlan | None) -> None:
        """What the provider reports after each message from now on (None: nothing)."""
        if plan is None:
            self._call("DELETE", f"/receipts/{provider}")
        else:
            self._call("POST", f"/receipts/{provider}", content=plan.model_dump_json())

    def reports(self, provider: Provider) -> list[Report]:
        """The reports the provider sent, and how each was answered, oldest first."""
        answer = self._call("GET", f"/receipts/{provider}").json()
        return [Report.model_validate(item) for item in answer["reports"]]

    def wait_reports(
        self, provider: Provider, done: Callable[[list[Report]], bool], timeout_s: float = 30.0
    ) -> list[Report]:
        """Polls ``reports`` until ``done(reports)``; raises SandboxError after the timeout."""
        return _until(lambda: self.reports(provider), done, timeout_s, f"{provider} reports")

    def clear(self, provider: Provider) -> None:
        self._call("DELETE", f"/faults/{provider}")

    def reset(self) -> None:
        """Forgets every record, fault and idempotency key of every provider."""
        self._call("POST", "/reset")

    def _call(self, method: str, path: str, **options: object) -> httpx.Response:
        try:
            answer = self._client.request(method, path, **options)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise SandboxError(f"sandbox control API unreachable: {exc}") from exc
        if answer.is_error:
            raise SandboxError(f"sandbox control API: {answer.status_code} {answer.text[:500]}")
        return answer

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> SandboxControl:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()
