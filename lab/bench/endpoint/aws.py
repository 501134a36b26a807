"""SNS and SES at benchmark cost: AWS's query protocol, which boto3 speaks to both.

``POST /`` with a form body (``Action=...&Version=...``) and a SigV4 ``authorization`` whose
credential scope names the service. SNS ``Publish`` (to a ``PhoneNumber``) and SES
``SendRawEmail`` / ``SendEmail`` answer their ``...Response`` XML with a ``MessageId``.
No signature, or one by another access key: 403 ``MissingAuthenticationToken`` /
``InvalidClientTokenId`` (the signature itself is not checked); any other action: 400
``InvalidAction``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from herald.settings import AwsSettings, required
from lab.bench.endpoint.http1 import Request, Response
from lab.bench.endpoint.state import Counts, Ids
from lab.sandboxes.formats import AWS_NAMESPACES, aws_error_xml
from lab.sandboxes.models import Provider

SIGV4 = "AWS4-HMAC-SHA256 "
SCOPE = re.compile(r"Credential=([^/,\s]+)/[^/]+/[^/]+/([a-z0-9-]+)/aws4_request")
ACTION = re.compile(rb"(?:^|&)Action=(\w+)")
# action -> (service, the provider counted, a form field it cannot do without)
DELIVERIES: Mapping[str, tuple[str, Provider, bytes]] = {
    "Publish": ("sns", "sns", b"PhoneNumber="),
    "SendRawEmail": ("ses", "ses", b"RawMessage.Data="),
    "SendEmail": ("ses", "ses", b"Destination."),
}


def aws_error(service: str, status: int, code: str, message: str) -> Response:
    return Response(status, aws_error_xml(service, status, code, message).encode(), "text/xml")


def answer_xml(service: str, action: str, message_id: str, request_id: str) -> bytes:
    """``<{Action}Response>`` with its ``<{Action}Result><MessageId>``, as botocore reads it."""
    return (
        f'<{action}Response xmlns="{AWS_NAMESPACES[service]}">'
        f"<{action}Result><MessageId>{message_id}</MessageId></{action}Result>"
        f"<ResponseMetadata><RequestId>{request_id}</RequestId></ResponseMetadata>"
        f"</{action}Response>"
    ).encode()


def signed_by(authorization: str) -> tuple[str, str] | None:
    """(access key id, service) from a SigV4 header, or None when there is none."""
    if not authorization.startswith(SIGV4):
        return None
    found = SCOPE.search(authorization)
    return (found.group(1), found.group(2)) if found else None


class AwsAnswers:
    def __init__(self, settings: AwsSettings, counts: Counts, ids: Ids) -> None:
        key = required(settings.access_key_id, "HERALD_DELIVERY__AWS__ACCESS_KEY_ID")
        self._access_key = key.get_secret_value()
        self._counts = counts
        self._ids = ids

    def __call__(self, request: Request) -> Response:
        found = ACTION.search(request.body)
        action = found.group(1).decode() if found else ""
        if action not in DELIVERIES:
            return self._refusal(request, "sns") or aws_error(
                "sns", 400, "InvalidAction", f"{action or 'no action'} is not served here"
            )
        service, provider, needed = DELIVERIES[action]
        refusal = self._refusal(request, service)
        if refusal is None and needed not in request.body:
            refusal = aws_error(
                service, 400, "InvalidParameter", f"{action} lacks {needed.decode().rstrip('=.')}"
            )
        if refusal is not None:
            self._counts.refuse(provider)
            return refusal
        self._counts.took(provider)
        message_id = self._ids.uuid_like()
        return Response(200, answer_xml(service, action, message_id, message_id), "text/xml")

    def _refusal(self, request: Request, service: str) -> Response | None:
        """AWS's answer to a request without a signature or by another key, else None."""
        signer = signed_by(request.headers.get("authorization", ""))
        if signer is None:
            return aws_error(
                service,
                403,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token",
            )
        if signer[0] != self._access_key:
            return aws_error(
                service,
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.",
            )
        return None
