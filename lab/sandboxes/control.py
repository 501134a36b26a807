"""The control API: what arrived at each sandbox, and the faults they inject.

- ``GET /received/{provider}``: the requests the provider took (``?all=true``: also those it
  refused or failed), oldest first, as `Received` JSON;
- ``POST /faults/{provider}`` with a `Fault` (replaces the provider's fault),
  ``GET`` it back, ``DELETE`` it;
- ``POST /reset``: forget every record, fault and idempotency key;
- ``GET /health``.
"""

from __future__ import annotations

import json
from typing import cast

from pydantic import ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from lab.sandboxes.models import PROVIDERS, Fault, Provider
from lab.sandboxes.state import SandboxState


def _provider(request: Request) -> Provider | None:
    name = request.path_params["provider"]
    return cast(Provider, name) if name in PROVIDERS else None


def _unknown(request: Request) -> JSONResponse:
    return JSONResponse(
        {"error": f"unknown provider {request.path_params['provider']!r}", "known": PROVIDERS},
        404,
    )


async def received(request: Request) -> Response:
    provider = _provider(request)
    if provider is None:
        return _unknown(request)
    state: SandboxState = request.app.state.sandbox
    everything = request.query_params.get("all", "").lower() in ("1", "true", "yes")
    records = state.received(provider, include_rejected=everything)
    return JSONResponse([r.model_dump(mode="json") for r in records])


async def faults(request: Request) -> Response:
    provider = _provider(request)
    if provider is None:
        return _unknown(request)
    state: SandboxState = request.app.state.sandbox
    if request.method == "DELETE":
        state.clear(provider)
        return Response(status_code=204)
    if request.method == "POST":
        try:
            state.set_fault(provider, Fault.model_validate_json(await request.body()))
        except ValidationError as exc:
            return JSONResponse({"error": json.loads(exc.json(include_url=False))}, 422)
    fault = state.fault(provider)
    return JSONResponse(None if fault is None else fault.model_dump(mode="json"))


async def reset(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    state.reset()
    return Response(status_code=204)


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


def control_app(state: SandboxState) -> Starlette:
    app = Starlette(
        routes=[
            Route("/received/{provider}", received, methods=["GET"]),
            Route("/faults/{provider}", faults, methods=["GET", "POST", "DELETE"]),
            Route("/reset", reset, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
    app.state.sandbox = state
    return app
