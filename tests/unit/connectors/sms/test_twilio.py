from __future__ import annotations

import httpx
import pytest

from connectors.base import PermanentDeliveryError, TransientDeliveryError
from connectors.sms.twilio import classify
from tests.unit.connectors.conftest import NOW


@pytest.mark.parametrize("code", [21211, 21614])
def test_invalid_or_non_mobile_number_kills_the_address(code: int) -> None:
    error = classify(400, {}, {"code": code, "message": "x", "status": 400}, NOW)
    assert isinstance(error, PermanentDeliveryError)
    assert (error.code, error.address_invalid) == (str(code), True)


@pytest.mark.parametrize(
    ("status", "code"), [(400, 21610), (400, 21602), (401, 20003), (404, None)]
)
def test_other_client_errors_are_permanent_and_keep_the_address(
    status: int, code: int | None
) -> None:
    error = classify(status, {}, {"code": code} if code else {}, NOW)
    assert isinstance(error, PermanentDeliveryError)
    assert not error.address_invalid


@pytest.mark.parametrize(("status", "retry_after"), [(429, 3.0), (500, None), (503, None)])
def test_throttling_and_outages_are_transient(status: int, retry_after: float | None) -> None:
    headers = httpx.Headers({"Retry-After": "3"} if retry_after else {})
    error = classify(status, headers, {"code": 20429}, NOW)
    assert isinstance(error, TransientDeliveryError)
    assert error.retry_after_s == retry_after
