"""``laneface serve`` as a real process for the fault tests (store-and-forward, replicas): a free port, its own
data directory, the test's API keys and database, started and killed like a service on a host."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

import httpx

__all__ = ["ServeProcess", "clean_env", "free_port", "record_figures", "wait_for"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(predicate: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.05) -> float:
    """Wait for ``predicate``; returns the seconds waited."""
    start = time.monotonic()
    while not predicate():
        if time.monotonic() - start > timeout_s:
            raise AssertionError(f"timed out after {timeout_s:.0f} s waiting for {what}")
        time.sleep(poll_s)
    return time.monotonic() - start


def record_figures(node_name: str, properties: list[tuple[str, object]], figures: Mapping[str, object]) -> None:
    """A test's figures into its report (``properties``: the node's ``user_properties``) and, as a JSON line,
    into ``$LANEFACE_EDGE_FIGURES`` when it is set."""
    properties.extend(figures.items())
    target = os.environ.get("LANEFACE_EDGE_FIGURES")
    if target:
        with open(target, "a", encoding="utf-8") as fh:
            fh.write(json.dumps({"test": node_name, **figures}) + "\n")


def clean_env() -> dict[str, str]:
    """This process's environment without any LANEFACE_ setting (the service gets only the test's)."""
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("LANEFACE_")}


class ServeProcess:
    """``laneface serve`` in a subprocess; killing it is an outage, starting it again reuses port and data."""

    def __init__(
        self, directory: Path, keys: Mapping[str, str], env: Mapping[str, str], *, port: int | None = None
    ) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.directory = directory
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.env = (
            clean_env()
            | {f"LANEFACE_SERVICE__{role.upper()}_KEYS": json.dumps([key]) for role, key in keys.items()}
            | dict(env)
        )

    def start(self) -> float:
        """Start the service and wait until it answers; returns the start-up seconds."""
        self._log = (self.directory / "serve.log").open("ab")
        code = "from laneface.cli.app import main; main()"
        cmd = [sys.executable, "-c", code, "--data-dir", str(self.directory), "serve", "--port", str(self.port)]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self._log, stderr=subprocess.STDOUT)

        def up() -> bool:
            if self.proc is not None and self.proc.poll() is not None:
                raise AssertionError(f"the service exited: {(self.directory / 'serve.log').read_text()[-2000:]}")
            try:
                return httpx.get(self.url + "/healthz", timeout=2.0).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(up, 120, "the service to start", poll_s=0.1)
        return time.monotonic() - t0

    def kill(self) -> None:
        """``kill -9``."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(30)
        self.stop()

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(30)
        self.proc = None
        if self._log is not None:
            self._log.close()
            self._log = None
