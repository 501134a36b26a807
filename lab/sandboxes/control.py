"""The control API: what arrived at each sandbox, and the faults they inject.

- ``GET /received/{provider}``: the requests the provider took (``?all=true``: also those it
  refused or failed), oldest first, as `Received` JSON;
- ``POST /faults/{provider}`` with a `Fault` (replaces the provider's fault),
  ``GET`` it back, ``DELETE`` it;
- ``POST /receipts/{provider}`` with a `ReceiptPlan` (what the provider reports after each
  message; for SES, the subscription is confirmed first), ``GET`` the plan and the reports
  sent, ``DELETE`` it;
- ``POST /reset``: forget every record, fault, idempotency key, plan and report;
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

from lab.sandboxes.models import PROVIDERS, Fault, Provider, ReceiptPlan
from lab.sandboxes.reporter import Reporter
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


async def receipts(request: Request) -> Response:
    provider = _provider(request)
    if provider is None:
        return _unknown(request)
    state: SandboxState = request.app.state.sandbox
    if request.method == "DELETE":
        state.set_plan(provider, None)
        return Response(status_code=204)
    if request.method == "POST":
        try:
            state.set_plan(provider, ReceiptPlan.model_validate_json(await request.body()))
        except ValidationError as exc:
            return JSONResponse({"error": json.loads(exc.json(include_url=False))}, 422)
        if provider == "ses":
            reporter: Reporter = request.app.state.reporter
            reporter.subscribe()
    plan = state.plan(provider)
    return JSONResponse(
        {
            "plan": None if plan is None else plan.model_dump(mode="json"),
            "reports": [r.model_dump(mode="json") for r in state.reports(provider)],
        }
    )


async def reset(request: Request) -> Response:
    state: SandboxState = request.app.state.sandbox
    state.reset()
    return Response(status_code=204)


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


def control_app(state: SandboxState, reporter: Reporter) -> Starlette:
    app = Starlette(
        routes=[
            Route("/received/{provider}", received, methods=["GET"]),
            Route("/faults/{provider}", faults, methods=["GET", "POST", "DELETE"]),
            Route("/receipts/{provider}", receipts, methods=["GET", "POST", "DELETE"]),
            Route("/reset", reset, methods=["POST"]),
            Route("/health", health, methods=["GET"]),
        ]
    )
    app.state.sandbox = state
    app.state.reporter = reporter
    return app
