"""The endpoint's control port: ``GET /health``, ``GET /counts`` (what each provider accepted
and refused, as JSON) and ``POST /reset`` (counts back to zero)."""

from __future__ import annotations

import json

from lab.bench.endpoint.http1 import Request, Response
from lab.bench.endpoint.state import Counts


class ControlAnswers:
    def __init__(self, counts: Counts) -> None:
        self._counts = counts

    def __call__(self, request: Request) -> Response:
        route = (request.method, request.path)
        if route == ("GET", "/health"):
            return Response(200, b'{"ok":true}')
        if route == ("GET", "/counts"):
            return Response(200, json.dumps(self._counts.snapshot()).encode())
        if route == ("POST", "/reset"):
            self._counts.reset()
            return Response(200, b'{"ok":true}')
        return Response(404, b'{"error":"GET /health, GET /counts or POST /reset"}')
