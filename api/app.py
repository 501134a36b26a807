"""The app factory: ``create_app(settings)``; ``from_environment`` is what uvicorn's workers
call (each reads the settings itself, from ``HERALD_*`` or ``HERALD_SETTINGS_FILE``), with the
publish lane (api/lane.py) in front."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from api import (
    lookups,
    notifications,
    preference_centre,
    profiles,
    receipts,
    templates,
    tracking,
    unsubscribe,
)
from api.bodies import Checks, Problem
from api.errors import outage_answer
from api.lane import PublishLane
from api.metrics import Measured
from api.services import Services, services_of
from herald import __version__
from herald.errors import OutageError
from herald.settings import HeraldSettings, read_settings

DESCRIPTION = (
    "Herald's HTTP front door: publish notification requests and look up what happened to "
    "them. Every route but health takes an API key as a bearer token."
)


def create_app(settings: HeraldSettings) -> FastAPI:
    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.services = Services.connect(settings)
        ready = settings.lifecycle.ready_file
        if ready is not None:
            ready.touch()
        try:
            yield
        finally:
            await app.state.services.close()

    app = FastAPI(
        title="Herald",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        responses={400: {"model": Problem, "description": "The request could not be parsed."}},
    )
    app.include_router(notifications.router)
    app.include_router(lookups.router)
    app.include_router(profiles.router)
    app.include_router(templates.router)
    app.include_router(unsubscribe.router)
    app.include_router(receipts.router)
    app.include_router(preference_centre.router)
    app.include_router(tracking.router)
    _health(app)
    _handlers(app)
    app.add_middleware(Measured)
    return app


def from_environment() -> PublishLane:
    return PublishLane(create_app(read_settings()))


def _health(app: FastAPI) -> None:
    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, str]:
        """The process serves."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"], response_model=Checks, responses={503: {"model": Checks}})
    async def readyz(request: Request) -> JSONResponse:
        """Kafka, the registry, Cassandra and Redis answer."""
        checks = await services_of(request).checks()
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, 200 if ready else 503)

    @app.get("/metrics", tags=["health"], response_class=Response)
    def metrics(request: Request) -> Response:
        """Prometheus metrics of this process."""
        registry = services_of(request).metrics.registry
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)


def _handlers(app: FastAPI) -> None:
    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: RequestValidationError) -> JSONResponse:
        # FastAPI's answer quotes each bad value back (``input``): a phone or an email here
        problems = [{k: e[k] for k in ("loc", "msg", "type") if k in e} for e in error.errors()]
        return JSONResponse({"detail": problems}, 422)

    @app.exception_handler(OutageError)
    async def outage(request: Request, error: OutageError) -> JSONResponse:
        return outage_answer(error)
