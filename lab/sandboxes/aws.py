"""AWS SNS and SES: moto's server in a thread, behind a front on the configured endpoint.

The front reads each query-protocol request (what boto3 sends), records SNS ``Publish`` and
SES ``SendEmail``/``SendRawEmail``, injects faults in AWS's XML error format (``Throttling``,
``InternalFailure``, ``ServiceUnavailable``, SNS ``InvalidParameter`` for a refused phone
number, SES ``MessageRejected`` for a refused address) and passes everything else to moto. It
also serves the SNS signing certificate and subscription confirmations of SES's events.
"""

from __future__ import annotations

import base64
import binascii
import re
from types import TracebackType
from urllib.parse import parse_qsl

import boto3
import httpx
from moto.server import ThreadedMotoServer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from connectors.aws import client_kwargs
from herald.settings import AwsSettings
from lab.sandboxes.config import free_port
from lab.sandboxes.formats import aws_error_xml
from lab.sandboxes.http import ErrorReplies, accepted, faulted
from lab.sandboxes.mail import email_fields
from lab.sandboxes.models import Provider
from lab.sandboxes.reporter import CERTIFICATE_PATH, CONFIRM_PATH, Reporter
from lab.sandboxes.state import SandboxState

DELIVERIES = {"Publish": "sns", "SendEmail": "ses", "SendRawEmail": "ses"}
NOTIFICATION_ATTRIBUTE = "herald.notification_id"
SCOPE = re.compile(r"Credential=[^/]+/[^/]+/[^/]+/([a-z0-9-]+)/aws4_request")
FORWARDED = ("content-type", "x-amzn-requestid")


def aws_error(service: str, status: int, code: str, message: str) -> Response:
    return Response(aws_error_xml(service, status, code, message), status, media_type="text/xml")


def injected(service: str, status: int) -> Response:
    """An injected HTTP status as the AWS error a client would get for it."""
    if status in (400, 429):
        return aws_error(service, 400, "Throttling", "Rate exceeded")
    if status == 503:
        return aws_error(service, 503, "ServiceUnavailable", "Service is unavailable")
    if status >= 500:
        return aws_error(service, status, "InternalFailure", "Internal failure")
    code = "InvalidParameter" if service == "sns" else "MessageRejected"
    return aws_error(service, status, code, "Injected by the sandbox")


REFUSALS = {
    "sns": lambda: aws_error(
        "sns", 400, "InvalidParameter", "Invalid parameter: PhoneNumber Reason: refused"
    ),
    "ses": lambda: aws_error("ses", 400, "MessageRejected", "Address is on the suppression list"),
}


def _members(form: dict[str, str], prefix: str) -> list[str]:
    return [v for k, v in sorted(form.items()) if k.startswith(prefix)]


def sns_fields(form: dict[str, str]) -> tuple[str, dict[str, object]]:
    attributes: dict[str, str] = {}
    for key, name in form.items():
        if key.startswith("MessageAttributes.entry.") and key.endswith(".Name"):
            value = form.get(key.removesuffix(".Name") + ".Value.StringValue")
            if value is not None:
                attributes[name] = value
    address = form.get("PhoneNumber") or form.get("TargetArn") or form.get("TopicArn") or ""
    return address, {
        "notification_id": attributes.get(NOTIFICATION_ATTRIBUTE),
        "body": form.get("Message"),
        "subject": form.get("Subject"),
        "data": attributes,
    }


def ses_fields(form: dict[str, str]) -> tuple[str, dict[str, object]]:
    if form.get("Action") == "SendRawEmail":
        try:
            raw = base64.b64decode(form.get("RawMessage.Data", ""), validate=True)
        except binascii.Error:
            raw = b""
        fields = email_fields(raw)
        headers: dict[str, str] = fields["headers"]  # type: ignore[assignment]
        recipients = _members(form, "Destinations.member.") or [headers.get("to", "")]
        return ",".join(recipients), {**fields, "message_id": None}
    tags = {
        form[k]: form.get(k.removesuffix(".Name") + ".Value", "")
        for k in form
        if k.startswith("Tags.member.") and k.endswith(".Name")
    }
    recipients = [
        address
        for kind in ("To", "Cc", "Bcc")
        for address in _members(form, f"Destination.{kind}Addresses.member.")
    ]
    return ",".join(recipients), {
        "notification_id": tags.get("notification_id"),
        "subject": form.get("Message.Subject.Data"),
        "body": form.get("Message.Body.Text.Data") or form.get("Message.Body.Html.Data"),
        "data": tags,
    }


def service_of(request: Request, form: dict[str, str]) -> str:
    found = SCOPE.search(request.headers.get("authorization", ""))
    if found:
        return found.group(1)
    return DELIVERIES.get(form.get("Action", ""), "")


async def forward(request: Request, body: bytes) -> Response:
    client: httpx.AsyncClient = request.app.state.moto
    headers = {k: v for k, v in request.headers.items() if k not in ("host", "content-length")}
    answer = await client.request(
        request.method, request.url.path, params=request.url.query, headers=headers, content=body
    )
    kept = {k: v for k, v in answer.headers.items() if k in FORWARDED}
    return Response(answer.content, answer.status_code, headers=kept)


async def front(request: Request) -> Response:
    body = await request.body()
    form = dict(parse_qsl(body.decode(errors="replace")))
    service = service_of(request, form)
    if DELIVERIES.get(form.get("Action", "")) != service:
        return await forward(request, body)
    provider: Provider = "sns" if service == "sns" else "ses"
    address, fields = sns_fields(form) if provider == "sns" else ses_fields(form)
    state: SandboxState = request.app.state.sandbox
    replies = ErrorReplies(
        status=lambda status, _: injected(service, status), refused=REFUSALS[provider]
    )
    action, refusal = await faulted(state, provider, address, fields, replies)
    if refusal is not None:
        return refusal
    answer = await forward(request, body)
    if answer.status_code != 200:
        state.record(provider, "failed", address, **fields)
        return answer
    found = re.search(rb"<MessageId>([^<]+)</MessageId>", answer.body)
    message_id = found.group(1).decode() if found else None
    fields["message_id"] = message_id
    if provider == "ses":
        reporter: Reporter = request.app.state.reporter
        for recipient in address.split(","):
            reporter.ses(message_id, recipient.strip())
    return await accepted(request, state, provider, action, address, fields, answer)


class MotoBackend:
    """moto's server on a free local port, in its own thread, with the senders' identities
    verified in SES so it accepts their mail."""

    def __init__(self, settings: AwsSettings, senders: list[str]) -> None:
        self.settings = settings
        self.senders = senders
        self.port = free_port()
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> MotoBackend:
        self.server.start()
        ses = boto3.client("ses", **(client_kwargs(self.settings) | {"endpoint_url": self.url}))
        for sender in self.senders:
            ses.verify_email_identity(EmailAddress=sender)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.server.stop()


async def certificate(request: Request) -> Response:
    """SNS's signing certificate (SigningCertURL)."""
    reporter: Reporter = request.app.state.reporter
    return Response(reporter.certificate, media_type="application/x-pem-file")


async def confirm(request: Request) -> Response:
    """A subscription's SubscribeURL."""
    reporter: Reporter = request.app.state.reporter
    if not reporter.confirm(request.query_params.get("Token")):
        return aws_error("sns", 400, "InvalidParameter", "Invalid token")
    body = "<ConfirmSubscriptionResponse><ConfirmSubscriptionResult><SubscriptionArn>"
    body += "arn:aws:sns:us-east-1:000000000000:herald-ses-events:sandbox"
    body += "</SubscriptionArn></ConfirmSubscriptionResult></ConfirmSubscriptionResponse>"
    return Response(body, media_type="text/xml")


def aws_app(moto: httpx.AsyncClient, state: SandboxState, reporter: Reporter) -> Starlette:
    app = Starlette(
        routes=[
            Route(CERTIFICATE_PATH, certificate, methods=["GET"]),
            Route(CONFIRM_PATH, confirm, methods=["GET"]),
            Route("/{path:path}", front, methods=["GET", "POST", "PUT", "DELETE", "HEAD"]),
        ]
    )
    app.state.moto = moto
    app.state.sandbox = state
    app.state.reporter = reporter
    return app
