"""The providers' error formats, as data (pure): what the sandboxes and the benchmark endpoint
(lab/bench/endpoint) both answer with, so a client sees one shape from either.

- FCM: Google's error JSON with an ``FcmError`` detail;
- Twilio: ``{"code", "message", "more_info", "status"}``;
- AWS's query protocol (SNS, SES): an ``ErrorResponse`` XML document.
"""

from __future__ import annotations

import uuid
from typing import Any

# Google's OAuth2 JWT-bearer grant (RFC 7523), and how long an access token lasts.
GRANT_TYPE = "urn:ietf:params:oauth:grant-type:jwt-bearer"
TOKEN_LIFETIME_S = 3600
FCM_ERROR = "type.googleapis.com/google.firebase.fcm.v1.FcmError"
# HTTP status -> (Google status, FCM error code)
FCM_ERRORS: dict[int, tuple[str, str]] = {
    400: ("INVALID_ARGUMENT", "INVALID_ARGUMENT"),
    401: ("UNAUTHENTICATED", "THIRD_PARTY_AUTH_ERROR"),
    403: ("PERMISSION_DENIED", "SENDER_ID_MISMATCH"),
    404: ("NOT_FOUND", "UNREGISTERED"),
    429: ("RESOURCE_EXHAUSTED", "QUOTA_EXCEEDED"),
    500: ("INTERNAL", "INTERNAL"),
    503: ("UNAVAILABLE", "UNAVAILABLE"),
}
FCM_UNAUTHENTICATED = (
    "Request had invalid authentication credentials. Expected OAuth 2 access token, "
    "login cookie or other valid authentication credential."
)

TWILIO_MESSAGES = {
    20003: "Authenticate",
    20404: "The requested resource was not found",
    20429: "Too Many Requests",
    20500: "Internal Server Error",
    20503: "Service Unavailable",
    21211: "Invalid 'To' Phone Number",
    21602: "Message body is required.",
    21603: "A 'From' phone number is required.",
    21604: "A 'To' phone number is required.",
}
TWILIO_REALM = 'Basic realm="Twilio API"'  # the www-authenticate header of a 401

AWS_NAMESPACES = {
    "sns": "http://sns.amazonaws.com/doc/2010-03-31/",
    "ses": "http://ses.amazonaws.com/doc/2010-12-01/",
}


def fcm_error_body(code: int, message: str, fcm_code: str | None = None) -> dict[str, Any]:
    status, default_fcm_code = FCM_ERRORS.get(
        code, ("INTERNAL" if code >= 500 else "INVALID_ARGUMENT", "")
    )
    fcm_code = fcm_code or default_fcm_code or status
    return {
        "error": {
            "code": code,
            "message": message,
            "status": status,
            "details": [{"@type": FCM_ERROR, "errorCode": fcm_code}],
        }
    }


def twilio_error_body(status: int, code: int) -> dict[str, Any]:
    return {
        "code": code,
        "message": TWILIO_MESSAGES.get(code, "Injected by the sandbox"),
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }


def aws_error_xml(service: str, status: int, code: str, message: str) -> str:
    """The query protocol's error document; botocore reads ``Code`` and ``Message``."""
    kind = "Receiver" if status >= 500 else "Sender"
    return (
        f'<ErrorResponse xmlns="{AWS_NAMESPACES.get(service, AWS_NAMESPACES["sns"])}">'
        f"<Error><Type>{kind}</Type><Code>{code}</Code><Message>{message}</Message></Error>"
        f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
    )
