"""Signed links: what an unsubscribe link or an event token opens, and forgeries that open
nothing."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import jwt
import pytest

from herald.errors import ConfigurationError, HeraldError
from herald.links import EVENT, UNSUBSCRIBE, InvalidLink, LinkSigner, Tracked, Unsubscribe
from herald.models import Channel
from herald.receipts import MessageRef
from herald.settings import LinkSettings

SECRET = "k" * 64  # long enough for the HS512 forgery too
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
SIGNER = LinkSigner(SECRET, "https://n.example/", timedelta(days=30))


def test_a_link_opens_its_user_and_category_until_it_expires() -> None:
    url = SIGNER.unsubscribe_url("ann", "marketing", NOW)
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "n.example", "/v1/unsubscribe")
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert query["user"] == "ann" and query["category"] == "marketing"
    later = NOW + timedelta(days=29)
    found = SIGNER.check_unsubscribe(query["token"], "ann", "marketing", later)
    assert found == Unsubscribe("ann", "marketing")
    with pytest.raises(InvalidLink, match="expired"):
        SIGNER.check_unsubscribe(query["token"], "ann", "marketing", NOW + timedelta(days=31))


def test_ids_with_separators_survive_the_url() -> None:
    url = SIGNER.unsubscribe_url("a&b=c d/é", "news & offers", NOW)
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    assert (query["user"], query["category"]) == ("a&b=c d/é", "news & offers")
    SIGNER.check_unsubscribe(query["token"], query["user"], query["category"], NOW)


def forgeries() -> list[tuple[str, str, str]]:
    """(token, user, category) triples that must all be refused."""
    good = SIGNER.unsubscribe_token("ann", "marketing", NOW)
    found = [
        (SIGNER.unsubscribe_token("bob", "marketing", NOW), "ann", "marketing"),  # other user
        (SIGNER.unsubscribe_token("ann", "digest", NOW), "ann", "marketing"),  # other category
        (good, "ann", "digest"),
        (good, "bob", "marketing"),
        (
            SIGNER.unsubscribe_token("ann", "marketing", NOW - timedelta(days=31)),
            "ann",
            "marketing",
        ),
        (
            LinkSigner("x" * 32, "https://n", timedelta(days=30)).unsubscribe_token(
                "ann", "marketing", NOW
            ),
            "ann",
            "marketing",
        ),  # another key
        (
            jwt.encode(
                {
                    "aud": "herald:preferences",
                    "sub": "ann",
                    "cat": "marketing",
                    "exp": NOW + timedelta(days=1),
                },
                SECRET,
                "HS256",
            ),
            "ann",
            "marketing",
        ),
        (
            jwt.encode({"aud": UNSUBSCRIBE, "sub": "ann", "cat": "marketing"}, SECRET, "HS256"),
            "ann",
            "marketing",
        ),  # no expiry
        (
            jwt.encode(
                {
                    "aud": UNSUBSCRIBE,
                    "sub": "ann",
                    "cat": "marketing",
                    "exp": NOW + timedelta(days=1),
                },
                SECRET,
                "HS512",
            ),
            "ann",
            "marketing",
        ),
        ("", "ann", "marketing"),
        ("not.a.token", "ann", "marketing"),
    ]
    # alg "none": the claims of a good token, no signature
    header = base64.urlsafe_b64encode(json.dumps({"alg": "none"}).encode()).rstrip(b"=").decode()
    found.append((f"{header}.{good.split('.')[1]}.", "ann", "marketing"))
    # every single character changed, and every truncation
    alphabet = "ABCabc0123-_"
    for i, char in enumerate(good):
        other = alphabet[(alphabet.find(char) + 1) % len(alphabet)] if char in alphabet else "A"
        flipped = good[:i] + other + good[i + 1 :]
        if flipped != good:
            found.append((flipped, "ann", "marketing"))
    found += [(good[:n], "ann", "marketing") for n in range(len(good))]
    return found


def test_a_forgery_corpus_is_refused_in_full() -> None:
    corpus = forgeries()
    assert len(corpus) > 300
    accepted = []
    for token, user, category in corpus:
        try:
            SIGNER.check_unsubscribe(token, user, category, NOW)
        except InvalidLink:
            continue
        accepted.append(token)
    # base64url's last character carries spare bits: a change there can decode to the same
    # signature bytes, which is the same token, not a forgery
    assert all(_same_signature(token) for token in accepted), accepted


def _same_signature(token: str) -> bool:
    good = SIGNER.unsubscribe_token("ann", "marketing", NOW)
    head, body, signature = token.split(".")
    good_head, good_body, good_signature = good.split(".")
    decode = lambda s: base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))  # noqa: E731
    return (head, body) == (good_head, good_body) and decode(signature) == decode(good_signature)


def test_the_secret_comes_from_settings_and_is_long_enough() -> None:
    with pytest.raises(ConfigurationError, match="HERALD_LINKS__SECRET"):
        LinkSigner.from_settings(LinkSettings())
    with pytest.raises(HeraldError, match="32 bytes"):
        LinkSigner.from_settings(LinkSettings(secret="short"))
    assert LinkSigner.from_settings(LinkSettings(secret=SECRET)).unsubscribe_token("a", "b", NOW)


REF = MessageRef("n-1", "r-1", "ann", Channel.PUSH, tenant="acme")


def test_an_event_token_names_its_message_and_provider_until_it_expires() -> None:
    token = SIGNER.event_token(REF, NOW, provider="fcm")
    assert SIGNER.check_event(token, NOW + timedelta(days=89)) == Tracked(REF, "fcm")
    untenanted = MessageRef("n-2", "r-1", "bob", Channel.EMAIL)
    assert SIGNER.check_event(SIGNER.event_token(untenanted, NOW), NOW) == Tracked(untenanted, None)
    with pytest.raises(InvalidLink, match="expired"):
        SIGNER.check_event(token, NOW + timedelta(days=91))


def test_tokens_of_one_audience_open_nothing_of_the_other() -> None:
    event = SIGNER.event_token(REF, NOW)
    with pytest.raises(InvalidLink):
        SIGNER.check_unsubscribe(event, "ann", "marketing", NOW)
    with pytest.raises(InvalidLink):
        SIGNER.check_event(SIGNER.unsubscribe_token("ann", "marketing", NOW), NOW)


def test_an_altered_event_token_is_refused() -> None:
    good = SIGNER.event_token(REF, NOW, provider="fcm")
    bad_channel = jwt.encode(
        {
            "aud": EVENT,
            "sub": "ann",
            "nid": "n",
            "rid": "r",
            "ch": "fax",
            "exp": NOW + timedelta(1),
        },
        SECRET,
        "HS256",
    )
    other_key = LinkSigner("x" * 32, "https://n", timedelta(days=1)).event_token(REF, NOW)
    corpus = [bad_channel, other_key, good[:-3], good[: len(good) // 2]]
    head, body, signature = good.split(".")
    corpus += [
        f"{head}.{body[:i]}{'B' if c == 'A' else 'A'}{body[i + 1 :]}.{signature}"
        for i, c in enumerate(body)
    ]
    for token in corpus:
        with pytest.raises(InvalidLink):
            SIGNER.check_event(token, NOW)
