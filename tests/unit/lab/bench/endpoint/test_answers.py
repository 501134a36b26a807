"""What the endpoint's HTTP/1.1 providers answer: the shapes Herald's senders read, each
provider's own refusal for missing credentials, and counts of both."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from herald.settings import DeliverySettings
from lab.bench.endpoint.aws import AwsAnswers, signed_by
from lab.bench.endpoint.control import ControlAnswers
from lab.bench.endpoint.fcm import FcmAnswers
from lab.bench.endpoint.http1 import Request
from lab.bench.endpoint.state import Counts, Ids
from lab.bench.endpoint.twilio import TwilioAnswers, basic_authorization, form_problem
from lab.sandboxes.config import SERVERS, on_ports

FORM = "application/x-www-form-urlencoded"


@pytest.fixture
def delivery(tmp_path: Path) -> DeliverySettings:
    return on_ports(DeliverySettings(), tmp_path, {n: 20000 + i for i, n in enumerate(SERVERS)})


def post(path: str, body: bytes, **headers: str) -> Request:
    return Request("POST", path, {k.replace("_", "-"): v for k, v in headers.items()}, body)


def sigv4(key: str, service: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host;x-amz-date, Signature=abc"
    )


def test_fcm_grants_a_token_and_sends_with_it(delivery: DeliverySettings) -> None:
    counts = Counts()
    fcm = FcmAnswers(delivery.fcm, "http://127.0.0.1:20000/token", counts, Ids())
    grant = b"grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer&assertion=a.b.c"
    token = fcm(post("/token", grant))
    assert token.status == 200
    access = json.loads(token.body)["access_token"]
    send = "/v1/projects/herald-sandbox/messages:send"
    sent = fcm(post(send, b'{"message":{"token":"t"}}', authorization=f"Bearer {access}"))
    assert sent.status == 200
    assert re.fullmatch(
        r"projects/herald-sandbox/messages/[0-9a-f]{32}", json.loads(sent.body)["name"]
    )
    assert counts.accepted["fcm"] == 1 and counts.refused["fcm"] == 0


@pytest.mark.parametrize(
    ("path", "body", "authorization", "status", "google"),
    [("/v1/projects/herald-sandbox/messages:send", b'{"message":{}}', "", 401, "UNAUTHENTICATED"),
     ("/v1/projects/herald-sandbox/messages:send", b'{"message":{}}', "Bearer made-up", 401,
      "UNAUTHENTICATED"),
     ("/v1/projects/other/messages:send", b'{"message":{}}', "", 404, "NOT_FOUND")],
)  # fmt: skip
def test_fcm_refuses_in_googles_shape(
    delivery: DeliverySettings, path: str, body: bytes, authorization: str, status: int, google: str
) -> None:
    fcm = FcmAnswers(delivery.fcm, "http://127.0.0.1:20000/token", Counts(), Ids())
    answer = fcm(post(path, body, authorization=authorization))
    assert answer.status == status
    assert json.loads(answer.body)["error"]["status"] == google


def test_fcm_refuses_a_grant_that_is_not_a_jwt_bearer_grant(delivery: DeliverySettings) -> None:
    counts = Counts()
    fcm = FcmAnswers(delivery.fcm, "http://127.0.0.1:20000/token", counts, Ids())
    assert json.loads(fcm(post("/token", b"grant_type=password")).body)["error"] == (
        "unsupported_grant_type"
    )
    assert counts.refused["fcm"] == 1


def test_twilio_creates_a_queued_message_for_the_account(delivery: DeliverySettings) -> None:
    counts = Counts()
    twilio = TwilioAnswers(delivery.twilio, counts, Ids())
    assert delivery.twilio.auth_token is not None
    auth = basic_authorization("ACsandbox", delivery.twilio.auth_token.get_secret_value())
    path = "/2010-04-01/Accounts/ACsandbox/Messages.json"
    answer = twilio(post(path, b"To=%2B15551230000&From=%2B1555&Body=hi", authorization=auth))
    assert answer.status == 201
    resource = json.loads(answer.body)
    assert re.fullmatch(r"SM[0-9a-f]{32}", resource["sid"]) and resource["status"] == "queued"
    assert counts.accepted["twilio"] == 1


@pytest.mark.parametrize(
    ("who", "account", "status", "code"),
    [(None, "ACsandbox", 401, 20003), ("nobody", "ACsandbox", 401, 20003),
     ("ACsandbox", "ACother", 404, 20404)],
)  # fmt: skip
def test_twilio_refuses_in_its_shape(
    delivery: DeliverySettings, who: str | None, account: str, status: int, code: int
) -> None:
    assert delivery.twilio.auth_token is not None
    token = delivery.twilio.auth_token.get_secret_value()
    headers = {} if who is None else {"authorization": basic_authorization(who, token)}
    path = f"/2010-04-01/Accounts/{account}/Messages.json"
    counts = Counts()
    answer = TwilioAnswers(delivery.twilio, counts, Ids())(post(path, b"To=1&Body=x", **headers))
    assert answer.status == status
    assert json.loads(answer.body)["code"] == code
    assert counts.refused["twilio"] == 1
    if status == 401:
        assert ("www-authenticate", 'Basic realm="Twilio API"') in answer.headers


def test_twilio_form_problems() -> None:
    assert form_problem(b"To=%2B1&From=x&Body=hi") is None
    assert form_problem(b"From=x&Body=hi") == 21604
    assert form_problem(b"To=%2B1&From=x") == 21602


def test_sigv4_names_the_key_and_the_service() -> None:
    assert signed_by(sigv4("AKIDEXAMPLE", "sns")) == ("AKIDEXAMPLE", "sns")
    assert signed_by("Bearer x") is None
    assert signed_by("") is None


@pytest.mark.parametrize(
    ("action", "service", "body"),
    [("Publish", "sns", b"Action=Publish&Version=2010-03-31&PhoneNumber=%2B1555&Message=hi"),
     ("SendRawEmail", "ses", b"Action=SendRawEmail&Version=2010-12-01&RawMessage.Data=eA%3D%3D")],
)  # fmt: skip
def test_aws_answers_its_query_xml(
    delivery: DeliverySettings, action: str, service: str, body: bytes
) -> None:
    counts = Counts()
    assert delivery.aws.access_key_id is not None
    key = delivery.aws.access_key_id.get_secret_value()
    answer = AwsAnswers(delivery.aws, counts, Ids())(
        post("/", body, authorization=sigv4(key, service), content_type=FORM)
    )
    assert answer.status == 200 and answer.content_type == "text/xml"
    text = answer.body.decode()
    assert text.startswith(f'<{action}Response xmlns="http://{service}.amazonaws.com/doc/')
    assert re.search(rf"<{action}Result><MessageId>[0-9a-f-]{{36}}</MessageId>", text)
    assert counts.accepted[service] == 1  # type: ignore[index]


@pytest.mark.parametrize(
    ("authorization", "body", "status", "code"),
    [("", b"Action=Publish&PhoneNumber=1", 403, "MissingAuthenticationToken"),
     (sigv4("SOMEONEELSE", "sns"), b"Action=Publish&PhoneNumber=1", 403, "InvalidClientTokenId"),
     ("ours", b"Action=Publish&Message=hi", 400, "InvalidParameter"),
     ("ours", b"Action=CreateTopic&Name=x", 400, "InvalidAction")],
)  # fmt: skip
def test_aws_refuses_in_its_xml(
    delivery: DeliverySettings, authorization: str, body: bytes, status: int, code: str
) -> None:
    assert delivery.aws.access_key_id is not None
    if authorization == "ours":
        authorization = sigv4(delivery.aws.access_key_id.get_secret_value(), "sns")
    answer = AwsAnswers(delivery.aws, Counts(), Ids())(post("/", body, authorization=authorization))
    assert answer.status == status
    assert f"<Code>{code}</Code>".encode() in answer.body


def test_the_control_port_counts_and_resets() -> None:
    counts = Counts()
    control = ControlAnswers(counts)
    counts.took("fcm")
    counts.took("fcm")
    counts.refuse("smtp")
    got = json.loads(control(Request("GET", "/counts", {}, b"")).body)
    assert got["accepted"]["fcm"] == 2 and got["refused"]["smtp"] == 1
    assert set(got["accepted"]) == {"fcm", "apns", "sns", "ses", "twilio", "smtp"}
    assert control(Request("GET", "/health", {}, b"")).status == 200
    assert control(Request("POST", "/reset", {}, b"")).status == 200
    assert counts.snapshot()["accepted"]["fcm"] == 0
    assert control(Request("GET", "/received/fcm", {}, b"")).status == 404


def test_ids_are_unique_and_shaped() -> None:
    ids = Ids()
    many = {ids.hex32() for _ in range(1000)} | {ids.uuid_like() for _ in range(1000)}
    assert len(many) == 2000
    assert re.fullmatch(r"[0-9a-f]{32}", ids.hex32())
    assert re.fullmatch(
        r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", ids.uuid_like()
    )
