from __future__ import annotations

import dataclasses
from datetime import timedelta
from email import message_from_bytes
from email import policy as email_policy
from urllib.parse import parse_qs, urlsplit

import pytest

from connectors.base import PermanentDeliveryError
from connectors.email.mime import (
    FOOTER,
    NOTIFICATION_ID_HEADER,
    EmailPolicy,
    build_email,
    message_id,
)
from herald.links import LinkSigner
from herald.settings import HeraldSettings
from tests.unit.connectors.conftest import NOW, message

SIGNER = LinkSigner("a key of thirty-two bytes or more!", "https://n.example", timedelta(days=9))
POLICY = EmailPolicy(
    from_address="notifications@herald.example",
    mandatory_categories=frozenset({"security"}),
    links=SIGNER,
    unsubscribe_mailto="unsubscribe@herald.example",
)
UNSIGNED = dataclasses.replace(POLICY, links=None)  # no signed links: no footer


def parsed(raw: bytes):  # type: ignore[no-untyped-def]
    return message_from_bytes(raw, policy=email_policy.default)


def test_headers_and_plain_body() -> None:
    mail = parsed(build_email("smtp", message(), UNSIGNED, NOW).as_bytes())
    assert mail["From"] == "notifications@herald.example"
    assert mail["To"] == "ann@example.com"
    assert mail["Subject"] == "Order 42"
    assert mail["Message-ID"] == "<n-1.email@herald.example>"
    assert mail[NOTIFICATION_ID_HEADER] == "n-1"
    assert mail.get_content_type() == "text/plain"
    assert mail.get_content().strip() == "Your order shipped"


def test_html_goes_as_an_alternative_to_the_text() -> None:
    mail = parsed(build_email("smtp", message(html="<p>Shipped</p>"), UNSIGNED, NOW).as_bytes())
    assert mail.get_content_type() == "multipart/alternative"
    parts = {part.get_content_type(): part.get_content().strip() for part in mail.iter_parts()}
    assert parts == {"text/plain": "Your order shipped", "text/html": "<p>Shipped</p>"}


def test_signed_links_add_a_preference_centre_footer_to_text_and_html() -> None:
    page = "<html><body><p>Shipped</p></body></html>"
    mail = parsed(build_email("smtp", message(html=page, user_id="ann"), POLICY, NOW).as_bytes())
    parts = {part.get_content_type(): part.get_content().strip() for part in mail.iter_parts()}
    text, rest = parts["text/plain"].replace("\r\n", "\n").split("\n\n--\n")
    assert text == "Your order shipped" and rest.startswith(f"{FOOTER}: https://n.example/")
    url = urlsplit(rest.removeprefix(f"{FOOTER}: "))
    assert url.path == "/v1/preference-centre"
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert SIGNER.check_preferences(query["token"], "ann", NOW) == "ann"
    html = parts["text/html"]
    assert html.startswith("<html><body><p>Shipped</p><p") and html.endswith("</p></body></html>")
    assert f">{FOOTER}</a>" in html and html.count("&amp;token=") == 1


def test_list_unsubscribe_on_categories_one_may_leave() -> None:
    mail = build_email("smtp", message(category="marketing", user_id="u 1/2"), POLICY, NOW)
    link, mailto = mail["List-Unsubscribe"].split(", ")
    assert (
        mailto == "<mailto:unsubscribe@herald.example?subject=unsubscribe%20marketing%20u%201%2F2>"
    )
    url = urlsplit(link.strip("<>"))
    assert (url.scheme, url.netloc, url.path) == ("https", "n.example", "/v1/unsubscribe")
    query = {k: v[0] for k, v in parse_qs(url.query).items()}
    assert (query["user"], query["category"]) == ("u 1/2", "marketing")
    SIGNER.check_unsubscribe(query["token"], "u 1/2", "marketing", NOW)  # signed for them
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"


def test_no_list_unsubscribe_on_mandatory_categories() -> None:
    mail = build_email("smtp", message(category="security"), POLICY, NOW)
    assert mail["List-Unsubscribe"] is None
    assert mail["List-Unsubscribe-Post"] is None


def test_mailto_alone_has_no_one_click_post() -> None:
    only_mail = EmailPolicy("a@b.example", frozenset(), None, "u@b.example")
    mail = build_email("smtp", message(category="marketing"), only_mail, NOW)
    assert mail["List-Unsubscribe"].startswith("<mailto:u@b.example?")
    assert mail["List-Unsubscribe-Post"] is None
    nothing = EmailPolicy("a@b.example", frozenset(), None, None)
    assert (
        build_email("smtp", message(category="marketing"), nothing, NOW)["List-Unsubscribe"] is None
    )


def test_a_title_with_cr_lf_cannot_add_headers() -> None:
    evil = message(title="Hello\r\nBcc: victim@example.com\r\n\r\nspoofed body")
    raw = build_email("smtp", evil, POLICY, NOW).as_bytes()
    mail = parsed(raw)
    assert mail["Bcc"] is None
    assert mail["Subject"] == "Hello Bcc: victim@example.com spoofed body"
    assert b"\r\nBcc:" not in raw


@pytest.mark.parametrize(
    ("title", "body", "html"),
    [
        ("Café déjà vu", "Plain ascii", None),  # a header to encode: the header registry
        ("Order 42", "Voilà, c'est expédié", "<p>Expédié</p>"),  # UTF-8 bodies, ascii headers
        ("Order 42", "x" * 1200 + "\nend", None),  # a line too long for 7bit
    ],
)
def test_any_text_comes_back_as_it_was(title: str, body: str, html: str | None) -> None:
    mail_in = message(title=title, body=body, html=html, category="marketing")
    raw = build_email("smtp", mail_in, POLICY, NOW).as_bytes()
    assert raw.isascii() and all(len(line) <= 998 for line in raw.split(b"\r\n"))
    mail = parsed(raw)
    assert mail["Subject"] == title
    assert str(mail["List-Unsubscribe"]).strip().startswith("<https://n.example/v1/unsubscribe?")
    text = mail if html is None else mail.get_body(("plain",))
    content = text.get_content().replace("\r\n", "\n")
    assert content.split(f"\n\n--\n{FOOTER}: ")[0] == body  # and the footer after it
    if html is not None:
        assert mail.get_body(("html",)).get_content().startswith(html + "<p")


@pytest.mark.parametrize(
    "address",
    ["no-at-sign", "a@b@c", "ann@example.com\r\nBcc: x@y.example", "Ann <ann@example.com>", ""],
)
def test_unparsable_address_is_refused_as_invalid(address: str) -> None:
    with pytest.raises(PermanentDeliveryError) as refused:
        build_email("ses", message(address=address), POLICY, NOW)
    assert refused.value.address_invalid
    assert refused.value.provider == "ses"
    assert address not in str(refused.value) or not address


def test_policy_from_settings() -> None:
    policy = EmailPolicy.from_settings(HeraldSettings(), "x@herald.example")
    assert policy.mandatory_categories == frozenset({"security"})
    assert policy.links is None  # no links.secret: no one-click link, never an unsigned one
    signed = HeraldSettings().updated(links={"secret": "s" * 32})
    assert EmailPolicy.from_settings(signed, "x@herald.example").links is not None
    assert message_id("n", "no-domain") == "<n.email@herald.invalid>"
