from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    ConnectTimeoutError,
    EndpointConnectionError,
    NoCredentialsError,
    ReadTimeoutError,
)

from connectors import aws
from connectors.base import PermanentDeliveryError, TransientDeliveryError, UnknownOutcomeError
from connectors.email import ses
from connectors.sms import sns
from herald.models import Priority
from tests.unit.connectors.conftest import message


def client_error(code: str, status: int = 400, text: str = "") -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": text, "Type": "Sender"},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "Publish")


@pytest.mark.parametrize(
    "exc",
    [
        client_error("Throttling"),
        client_error("ThrottledException"),
        client_error("Throttling", 400, "Maximum sending rate exceeded."),
        client_error("MaxSendingRateExceeded"),
        client_error("InternalError", 500),
        client_error("InternalFailure", 500),
        client_error("ServiceUnavailable", 503),
        client_error("Whatever", 502),
        EndpointConnectionError(endpoint_url="http://aws.test"),
        ConnectTimeoutError(endpoint_url="http://aws.test"),
    ],
)
def test_transient(exc: Exception) -> None:
    assert isinstance(aws.classify("sns", exc, sns.refine), TransientDeliveryError)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "exc",
    [
        ReadTimeoutError(endpoint_url="http://aws.test"),
        ConnectionClosedError(endpoint_url="http://aws.test"),
    ],
)
def test_no_answer_is_an_unknown_outcome(exc: Exception) -> None:
    assert isinstance(aws.classify("sns", exc), UnknownOutcomeError)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "exc",
    [
        client_error("AuthorizationError", 403),
        client_error("InvalidClientTokenId", 403),
        client_error("SignatureDoesNotMatch", 403),
        NoCredentialsError(),
    ],
)
def test_auth_errors_are_permanent(exc: Exception) -> None:
    error = aws.classify("sns", exc, sns.refine)  # type: ignore[arg-type]
    assert isinstance(error, PermanentDeliveryError)
    assert not error.address_invalid


def test_sns_invalid_phone_number_kills_the_address() -> None:
    text = "Invalid parameter: PhoneNumber Reason: +1555 is not valid to publish to"
    error = aws.classify("sns", client_error("InvalidParameter", 400, text), sns.refine)
    assert isinstance(error, PermanentDeliveryError)
    assert (error.code, error.address_invalid) == ("InvalidParameter", True)
    assert "+1555" not in str(error)


def test_sns_other_invalid_parameters_and_opt_outs_keep_the_address() -> None:
    other = aws.classify(
        "sns", client_error("InvalidParameter", 400, "Message too long"), sns.refine
    )
    assert isinstance(other, PermanentDeliveryError)
    assert not other.address_invalid
    opted = aws.classify("sns", client_error("OptedOut", 400, "phone opted out"), sns.refine)
    assert isinstance(opted, PermanentDeliveryError)
    assert not opted.address_invalid


@pytest.mark.parametrize("code", ["MessageRejected", "MailFromDomainNotVerifiedException"])
def test_ses_refusals_are_permanent(code: str) -> None:
    error = aws.classify(
        "ses", client_error(code, 400, "Email address is not verified"), ses.refine
    )
    assert isinstance(error, PermanentDeliveryError)
    assert error.code == code


def test_sns_publish_request() -> None:
    request = sns.publish_request(message(address="+15550002222"), frozenset({"marketing"}))
    assert request["PhoneNumber"] == "+15550002222"
    assert request["Message"] == "Your order shipped"
    attributes = request["MessageAttributes"]
    assert attributes["herald.notification_id"] == {"DataType": "String", "StringValue": "n-1"}
    assert attributes["AWS.SNS.SMS.SMSType"]["StringValue"] == "Transactional"


@pytest.mark.parametrize(
    ("category", "priority", "kind"),
    [
        ("marketing", Priority.HIGH, "Promotional"),
        ("transactional", Priority.LOW, "Promotional"),
        ("security", Priority.CRITICAL, "Transactional"),
        ("transactional", Priority.NORMAL, "Transactional"),
    ],
)
def test_sms_type(category: str, priority: Priority, kind: str) -> None:
    assert (
        sns.sms_type(message(category=category, priority=priority), frozenset({"marketing"}))
        == kind
    )


def test_boto_client_never_retries_by_itself() -> None:
    from herald.settings import ProviderLimits

    config = aws.client_config(ProviderLimits(timeout_s=2.5), 8)
    assert config.retries == {"total_max_attempts": 1, "mode": "standard"}
    assert (config.connect_timeout, config.read_timeout, config.max_pool_connections) == (
        2.5,
        2.5,
        8,
    )


@pytest.mark.parametrize("text", ["Address is on the suppression list", "Address blacklisted."])
def test_ses_suppressed_address_is_dead(text: str) -> None:
    error = aws.classify("ses", client_error("MessageRejected", 400, text), ses.refine)
    assert isinstance(error, PermanentDeliveryError)
    assert error.address_invalid
