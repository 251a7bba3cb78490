"""A FastAPI app served by a real uvicorn server on a free loopback port, in a thread (one event loop for the
app and its lifespan), for tests that need a real HTTP peer (schemathesis, browsers, lane processes)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

__all__ = ["serve"]


@contextmanager
def serve(app: FastAPI, *, start_timeout_s: float = 60.0) -> Iterator[str]:
    """Runs ``app`` until the block ends; yields its base URL (``http://127.0.0.1:PORT``)."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout_s
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
