"""Bearer API keys on every route but health: 401 for a missing or wrong key (one body,
whatever the route would have found), 403 for a key without the route's scope."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from api.keys import ApiKey, Scope, Verifier

UNAUTHORIZED = "a valid API key is required (Authorization: Bearer hk_...)"
_bearer = HTTPBearer(auto_error=False, description="An API key from `herald api-keys create`.")


def require(scope: Scope) -> Callable[..., Awaitable[ApiKey]]:
    async def check(
        request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
    ) -> ApiKey:
        # async: a sync dependency would cost a thread hop on every request
        verifier: Verifier = request.app.state.services.verifier
        key = None if credentials is None else await verifier.key_for(credentials.credentials)
        if key is None:
            raise HTTPException(401, UNAUTHORIZED, headers={"WWW-Authenticate": "Bearer"})
        if scope not in key.scopes:
            raise HTTPException(403, f"this API key lacks the {scope.value} scope")
        return key

    return check
