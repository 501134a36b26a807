"""The floor under `herald bench api`: a bare ASGI app on uvicorn, served as `herald api` is
(the same options, the same worker counts), that reads each body and answers a constant 202.

Offered the same load in the same run, it shows what the HTTP server and the load generator
alone take of the machine, and so what is left for Herald's work on each request.

``python -m lab.bench.bare_asgi PORT WORKERS`` serves it until SIGTERM.
"""

from __future__ import annotations

import subprocess
import sys

from starlette.types import Receive, Scope, Send

from herald.cli.api import UVICORN_OPTIONS
from lab.workers import answering

ANSWER = b'{"request_id":"bare","recipients":10}'
HEADERS = [(b"content-type", b"application/json"), (b"content-length", str(len(ANSWER)).encode())]


async def app(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":  # lifespan: nothing to set up
        return
    while (await receive()).get("more_body", False):
        pass
    await send({"type": "http.response.start", "status": 202, "headers": HEADERS})
    await send({"type": "http.response.body", "body": ANSWER})


class BareServer:
    """The bare app in a child process on ``port`` with ``workers`` uvicorn processes."""

    def __init__(self, port: int, workers: int) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self._argv = [sys.executable, "-m", "lab.bench.bare_asgi", str(port), str(workers)]
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def start(self) -> BareServer:
        process = self._process = subprocess.Popen(self._argv)  # noqa: S603 - fixed argv
        if not answering(self.url, 30, alive=lambda: process.poll() is None):
            self.stop()
            raise RuntimeError(f"the bare ASGI app did not answer on {self.url}")
        return self

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(30)


if __name__ == "__main__":
    import uvicorn

    uvicorn.run(
        "lab.bench.bare_asgi:app",
        host="127.0.0.1",
        port=int(sys.argv[1]),
        workers=int(sys.argv[2]),
        lifespan="off",
        **UVICORN_OPTIONS,
    )
