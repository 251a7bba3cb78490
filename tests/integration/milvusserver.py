"""A throwaway Milvus standalone server that a test owns, so that it can stop and restart it on the same data.

The server is the ``milvus-server`` script of PyPI's ``milvus`` 2.3.5 wheel, installed in a virtual
environment of its own (``.ci/run`` makes one; its path comes from ``LANEFACE_TEST_MILVUS_SERVER``) so that
it cannot disturb the project's pymilvus and milvus-lite. ``milvus-server`` (Python) starts ``milvus run
standalone`` and waits on it; stopping the script alone leaves that child running, so the server runs in a
process group of its own and :meth:`MilvusServer.stop` signals the whole group: SIGTERM (Milvus shuts down
cleanly), then SIGKILL to whatever is left after ``grace_s``.

Every port is a free port chosen here (the script's defaults, 19530, 53100..., would collide with any other
Milvus on the machine). The script silently takes the next port up when the one given cannot be bound
(after a restart the old proxy port is often held by connections in TIME_WAIT), so :attr:`uri` is read
from the configuration the script wrote (``data/configs/milvus.yaml``) and may change across a restart.
Two limits of the 2.3.5 binary: its embedded etcd always listens on 127.0.0.1:2379/2380 and it locks
``/run/milvus/standalone.pid``, so one such server runs per machine at a time. The data, logs and
extracted binaries live in a fresh directory under /tmp, removed by :meth:`MilvusServer.remove`. Ready
means pymilvus answers ``list_collections``; after a restart on existing data, also that the previous run's
sessions have expired (until then the coordinators still call the old data node and a flush fails with
"node not match"): the session TTL is set to ``SESSION_TTL_S`` (Milvus's default 30 s) and a restart
waits that long twice over from the start, before it returns.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

MILVUS_ENV = "LANEFACE_TEST_MILVUS_SERVER"
SESSION_TTL_S = 10

# every listening port that milvus-server 2.3.5 lets one set (its --help); all are given a free port
_PORT_OPTIONS = (
    "proxy-port",
    "etcd-port",
    "root-coord-port",
    "proxy-internal-port",
    "query-coord-port",
    "query-node-port",
    "index-coord-port",
    "index-node-port",
    "data-coord-port",
    "data-node-port",
)


def _free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports (all held open together, so none is handed out twice)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", 0))
            socks.append(s)
        return [int(s.getsockname()[1]) for s in socks]
    finally:
        for s in socks:
            s.close()


def _group_members(pgid: int) -> list[int]:
    """PIDs of the live (not zombie) processes of process group ``pgid``, read from /proc."""
    out: list[int] = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path("/proc", entry, "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()  # after "pid (comm) ": state ppid pgrp ...
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(entry))
    return out


class MilvusServer:
    """``milvus-server`` on loopback with its own ports and data directory; :attr:`uri` for pymilvus."""

    def __init__(self, executable: Path, *, startup_timeout_s: float = 240.0) -> None:
        self.executable = executable
        self.startup_timeout_s = startup_timeout_s
        self.root = Path(tempfile.mkdtemp(prefix="laneface-milvus-", dir="/tmp"))
        self.data = self.root / "data"
        self.ports = dict(zip(_PORT_OPTIONS, _free_ports(len(_PORT_OPTIONS)), strict=True))
        self.proc: subprocess.Popen[bytes] | None = None
        self.start_seconds: list[float] = []  # how long each start took until ready

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.ports['proxy-port']}"

    def _written_proxy_port(self) -> int | None:
        """The proxy port of the configuration the script wrote for this start (None before it exists)."""
        try:
            lines = (self.data / "configs" / "milvus.yaml").read_text().splitlines()
        except OSError:
            return None
        in_proxy = False
        for line in lines:
            if line and not line[0].isspace():
                in_proxy = line.startswith("proxy:")
            elif in_proxy and line.startswith("  port:"):
                return int(line.split(":", 1)[1].split("#", 1)[0])
        return None

    def log_tail(self, chars: int = 4000) -> str:
        texts = []
        for path in [self.root / "server.log", *sorted((self.data / "logs").glob("milvus-std*.log"))]:
            if path.is_file():
                texts.append(f"--- {path.name}\n{path.read_text(errors='replace')[-chars:]}")
        return "\n".join(texts)

    def start(self) -> None:
        if self.proc is not None:
            raise RuntimeError("the Milvus server is already running")
        (self.data / "configs" / "milvus.yaml").unlink(missing_ok=True)  # rewritten by the script
        restart = (self.data / "data" / "etcd.data").is_dir()
        command = [
            str(self.executable),
            "--data",
            str(self.data),
            "--extra-config",
            f"common.session.ttl={SESSION_TTL_S}",
        ]
        for option, port in self.ports.items():
            command += [f"--{option}", str(port)]
        t = time.monotonic()
        with open(self.root / "server.log", "ab") as log:
            self.proc = subprocess.Popen(
                command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        try:
            self.wait_ready(self.startup_timeout_s)
            if restart:  # the old sessions expire SESSION_TTL_S after the embedded etcd is back
                time.sleep(max(0.0, t + 2 * SESSION_TTL_S - time.monotonic()))
        except BaseException:
            self.stop(grace_s=5)
            raise
        self.start_seconds.append(time.monotonic() - t)

    def wait_ready(self, timeout_s: float) -> None:
        from pymilvus import MilvusClient

        deadline = time.monotonic() + timeout_s
        last = ""
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                raise RuntimeError(f"milvus-server exited while starting\n{self.log_tail()}")
            port = self._written_proxy_port()
            with socket.socket() as s:
                listening = port is not None and s.connect_ex(("127.0.0.1", port)) == 0
            if port is not None and listening:
                self.ports["proxy-port"] = port
                try:
                    client = MilvusClient(uri=self.uri, timeout=5)
                    try:
                        client.list_collections()
                        return
                    finally:
                        client.close()
                except Exception as exc:
                    last = repr(exc)
            time.sleep(0.5)
        raise TimeoutError(f"Milvus did not answer within {timeout_s:.0f} s ({last})\n{self.log_tail()}")

    def stop(self, grace_s: float = 60.0) -> None:
        """SIGTERM to the whole process group, SIGKILL to what is left after ``grace_s``; waits for all."""
        if self.proc is None:
            return
        pgid = self.proc.pid  # start_new_session: the script leads its own group
        for sig, wait_s in ((signal.SIGTERM, grace_s), (signal.SIGKILL, 30.0)):
            try:
                os.killpg(pgid, sig)
            except ProcessLookupError:
                break
            deadline = time.monotonic() + wait_s
            while time.monotonic() < deadline:
                self.proc.poll()  # reap the script itself
                if not _group_members(pgid):
                    break
                time.sleep(0.2)
            else:
                continue
            break
        self.proc.wait(timeout=30)
        self.proc = None
        left = _group_members(pgid)
        if left:
            raise RuntimeError(f"Milvus processes {left} survived SIGKILL")

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop(grace_s=10)
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> MilvusServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()
