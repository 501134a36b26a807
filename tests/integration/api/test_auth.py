"""Every route against every kind of key: none, a wrong one, a revoked one, and each scope."""

from __future__ import annotations

import httpx
import pytest

from api.auth import UNAUTHORIZED
from api.keys import Scope
from tests.integration.api.conftest import Api
from tests.integration.api.test_publish import BODY, bearer

SEED = {"user_ids": ["u-1"], "template_id": "order_shipped"}
TEMPLATE = {
    "channels": ["sms"],
    "default_locale": "en",
    "locales": {"en": {"sms": {"body": "Hi {{ name }}"}}},
}
# (method, path, body, the scope it needs)
ROUTES = [
    ("POST", "/v1/notifications", BODY, Scope.PUBLISH),
    ("POST", "/api/v1/notifications/send", SEED, Scope.PUBLISH),
    ("GET", "/v1/notifications/some-notification", None, Scope.READ),
    ("GET", "/v1/notifications/0123456789abcdef0123456789abcdef", None, Scope.READ),
    ("GET", "/v1/users/u-1/notifications", None, Scope.READ),
    ("GET", "/v1/users/nobody-at-all/notifications", None, Scope.READ),
    ("GET", "/v1/requests/some-request", None, Scope.READ),
    ("GET", "/v1/users/u-1/preferences", None, Scope.ADMIN),
    ("PUT", "/v1/users/u-1/preferences", {"locale": "en"}, Scope.ADMIN),
    ("PATCH", "/v1/users/u-1/preferences", {"locale": "fr"}, Scope.ADMIN),
    ("GET", "/v1/users/u-1/contacts", None, Scope.ADMIN),
    ("PUT", "/v1/users/u-1/contacts", {"email": "u-1@example.com"}, Scope.ADMIN),
    ("PATCH", "/v1/users/u-1/contacts", {"phone": "+12015550123"}, Scope.ADMIN),
    ("GET", "/v1/templates", None, Scope.READ),
    ("GET", "/v1/templates/order_shipped", None, Scope.READ),
    ("GET", "/v1/templates/never-written", None, Scope.READ),
    ("PUT", "/v1/templates/auth_matrix", TEMPLATE, Scope.ADMIN),
    ("POST", "/v1/templates/order_shipped/preview", {"data": {"name": "A"}}, Scope.READ),
    ("POST", "/v1/templates/preview", {"template": TEMPLATE}, Scope.READ),
]


def call(api: Api, method: str, path: str, body: object, token: str | None) -> httpx.Response:
    headers = {} if token is None else bearer(token)
    return httpx.request(method, f"{api.url}{path}", json=body, headers=headers, timeout=30)


def test_each_scope_against_each_route(api: Api) -> None:
    tokens = {scope: api.token(scope) for scope in Scope}
    every = api.token(*Scope)
    revoked = api.token(*Scope)
    api.keys.revoke(revoked.split("_")[1])
    forged = every[:-4] + "AAAA"  # the right key id, a wrong secret
    refused = {"detail": UNAUTHORIZED}
    for method, path, body, needed in ROUTES:
        for token in (None, "not-a-key", "hk_000000000000_nope", forged, revoked):
            answer = call(api, method, path, body, token)
            assert (answer.status_code, answer.json()) == (401, refused), (path, token)
            assert answer.headers["WWW-Authenticate"] == "Bearer"
        for scope, token in tokens.items():
            answer = call(api, method, path, body, token)
            if scope == needed:
                assert answer.status_code in (200, 202, 404), (path, scope, answer.text)
            else:
                assert answer.status_code == 403, (path, scope)
                assert needed.value in answer.json()["detail"]
        assert call(api, method, path, body, every).status_code in (200, 202, 404)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics", "/openapi.json"])
def test_health_and_the_spec_need_no_key(api: Api, path: str) -> None:
    assert httpx.get(f"{api.url}{path}", timeout=30).status_code == 200
