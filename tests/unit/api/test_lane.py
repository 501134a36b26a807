from __future__ import annotations

from api.lane import PlainHeaders, plain_headers
from api.notifications import IDEMPOTENCY_KEY_MAX

JSON = (b"content-type", b"application/json")
BEARER = (b"authorization", b"Bearer hk_a_b")


def test_the_plain_case_gives_the_token_and_the_key() -> None:
    headers = [JSON, BEARER, (b"idempotency-key", b"order-1")]
    assert plain_headers(headers) == PlainHeaders("hk_a_b", "order-1")
    assert plain_headers([(b"content-type", b"Application/JSON; charset=utf-8"), BEARER]) == (
        PlainHeaders("hk_a_b", None)
    )
    assert plain_headers([JSON, (b"authorization", b"bearer hk_x")]) == PlainHeaders("hk_x", None)


def test_anything_else_goes_on_to_fastapi() -> None:
    cases = [
        [BEARER],  # no content type
        [(b"content-type", b"text/plain"), BEARER],
        [(b"content-type", b"application/json-patch+json"), BEARER],
        [JSON],  # no key
        [JSON, (b"authorization", b"Basic dXNlcjpwdw==")],
        [JSON, BEARER, (b"idempotency-key", b"a"), (b"idempotency-key", b"b")],
        [JSON, BEARER, (b"idempotency-key", b"")],
        [JSON, BEARER, (b"idempotency-key", b"k" * (IDEMPOTENCY_KEY_MAX + 1))],
    ]
    for headers in cases:
        assert plain_headers(headers) is None, headers


def test_the_longest_idempotency_key_is_taken() -> None:
    key = "k" * IDEMPOTENCY_KEY_MAX
    assert plain_headers([JSON, BEARER, (b"idempotency-key", key.encode())]) == PlainHeaders(
        "hk_a_b", key
    )
