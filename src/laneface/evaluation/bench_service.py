"""``laneface bench service``: the records service under load from simulated lanes, on loopback.

The service runs as it does in production: ``laneface serve`` (uvicorn) in its own process, with generated API
keys and encryption key, on SQLite in a temporary data directory or on the PostgreSQL database given. The lanes
(:mod:`laneface.evaluation.service_load`) post passages; afterwards the service is stopped and the database is
read directly: every acknowledged passage must be there exactly once with its occupants and images (lost 0,
duplicates 0).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from laneface.errors import ConfigError, ServiceStartError
from laneface.evaluation.service_load import LaneLoad, LatencySummary, LoadResult, run_lanes, summarize_latencies

__all__ = [
    "P99_TARGET_MS",
    "ServiceBenchReport",
    "ServiceCredentials",
    "ServiceProcess",
    "StoreCheck",
    "check_store",
    "free_port",
    "run_service_bench",
]

P99_TARGET_MS = 200.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass(frozen=True)
class ServiceCredentials:
    """Keys the service is started with: one API key per lane, one per other role, the encryption key."""

    lane_keys: tuple[str, ...]
    officer_key: str
    auditor_key: str
    admin_key: str
    encryption_key: str = dataclasses.field(repr=False)

    @classmethod
    def generate(cls, lanes: int) -> ServiceCredentials:
        from laneface.records.crypto import generate_key

        return cls(
            lane_keys=tuple(secrets.token_urlsafe(32) for _ in range(max(1, lanes))),
            officer_key=secrets.token_urlsafe(32),
            auditor_key=secrets.token_urlsafe(32),
            admin_key=secrets.token_urlsafe(32),
            encryption_key=generate_key(),
        )

    def environment(self) -> dict[str, str]:
        return {
            "LANEFACE_PRIVACY__ENCRYPTION_KEY": self.encryption_key,
            "LANEFACE_SERVICE__LANE_KEYS": json.dumps(list(self.lane_keys)),
            "LANEFACE_SERVICE__OFFICER_KEYS": json.dumps([self.officer_key]),
            "LANEFACE_SERVICE__AUDITOR_KEYS": json.dumps([self.auditor_key]),
            "LANEFACE_SERVICE__ADMIN_KEYS": json.dumps([self.admin_key]),
        }


class ServiceProcess:
    """``laneface serve`` in a child process on ``127.0.0.1:port``; start, kill (SIGKILL, as a crash), stop
    (SIGTERM, graceful) and start again on the same port. Its output goes to ``log_path``."""

    def __init__(
        self,
        data_dir: Path,
        credentials: ServiceCredentials,
        *,
        port: int | None = None,
        database_url: str | None = None,
        log_path: Path | None = None,
    ) -> None:
        self.data_dir = data_dir
        self.credentials = credentials
        self.port = port or free_port()
        self.database_url = database_url
        self.log_path = log_path or data_dir / "service.log"
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LANEFACE_")}
        env.update(self.credentials.environment())
        env["LANEFACE_DATA_DIR"] = str(self.data_dir)
        if self.database_url:
            env["LANEFACE_RECORDS__DATABASE_URL"] = self.database_url
        return env

    def start(self, timeout_s: float = 60.0) -> None:
        """Start the process and wait until ``/healthz`` answers; :class:`ServiceStartError` otherwise."""
        if self.running:
            raise ServiceStartError("the service is already running")
        self.data_dir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "laneface", "--data-dir", str(self.data_dir)]
        command += ["serve", "--host", "127.0.0.1", "--port", str(self.port)]
        with open(self.log_path, "ab") as log:
            self._proc = subprocess.Popen(  # noqa: S603 - our own interpreter and arguments
                command, env=self.environment(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + timeout_s
        while not self.healthy():
            if self._proc.poll() is not None:
                raise ServiceStartError(f"the service exited with status {self._proc.returncode}: {self._log_tail()}")
            if time.monotonic() > deadline:
                self.kill()
                raise ServiceStartError(f"the service did not answer within {timeout_s:.0f} s: {self._log_tail()}")
            time.sleep(0.1)

    def healthy(self, timeout_s: float = 2.0) -> bool:
        import httpx

        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=timeout_s).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the process dies as in a crash or a power cut of its host."""
        self._signal(signal.SIGKILL)
        self._wait(10.0)

    def stop(self, timeout_s: float = 20.0) -> None:
        """SIGTERM (uvicorn finishes requests in flight), SIGKILL after ``timeout_s``."""
        self._signal(signal.SIGTERM)
        if not self._wait(timeout_s):
            self.kill()

    def cpu_s(self) -> float | None:
        """User + system CPU seconds of the service process so far (Linux), ``None`` elsewhere."""
        if not self.running or self.pid is None:
            return None
        try:
            fields = Path(f"/proc/{self.pid}/stat").read_text(encoding="ascii").rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def _signal(self, sig: signal.Signals) -> None:
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, sig)

    def _wait(self, timeout_s: float) -> bool:
        if self._proc is None:
            return True
        try:
            self._proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            return False
        return True

    def _log_tail(self) -> str:
        try:
            lines = self.log_path.read_text(encoding="utf-8", errors="replace").strip().splitlines()
        except OSError:
            return "(no log)"
        return " | ".join(lines[-5:]) or "(empty log)"

    def __enter__(self) -> ServiceProcess:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()


@dataclass(frozen=True)
class StoreCheck:
    """The acknowledged passages compared with what the database holds."""

    acknowledged: int
    found: int  # acknowledged and stored
    lost: int  # acknowledged, not stored: must be 0
    duplicates: int  # rows beyond the first for one (passage_id, lane): must be 0
    mismatched: int  # stored with another number of occupants or images than the body had: must be 0
    stored_unacknowledged: int  # stored, but the lane never got the answer (and gave up): allowed

    @property
    def ok(self) -> bool:
        return self.lost == 0 and self.duplicates == 0 and self.mismatched == 0


def check_store(database_url: str, result: LoadResult) -> StoreCheck:
    """Read the database (the service may be stopped) and compare it with the lanes' acknowledgements."""
    from sqlalchemy import func, select

    from laneface.records.database import make_engine
    from laneface.records.tables import BiometricBlob, Crossing, Occupant

    prefix = f"B{result.run_id}-"
    engine = make_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(Crossing.id, Crossing.passage_id, Crossing.lane).where(Crossing.passage_id.startswith(prefix))
            ).all()
            occupants = dict(
                conn.execute(
                    select(Occupant.crossing_id, func.count(Occupant.id))
                    .join(Crossing, Occupant.crossing_id == Crossing.id)
                    .where(Crossing.passage_id.startswith(prefix))
                    .group_by(Occupant.crossing_id)
                ).all()
            )
            images = dict(
                conn.execute(
                    select(Occupant.crossing_id, func.count(BiometricBlob.id))
                    .join(Occupant, BiometricBlob.occupant_pk == Occupant.id)
                    .join(Crossing, Occupant.crossing_id == Crossing.id)
                    .where(Crossing.passage_id.startswith(prefix), BiometricBlob.kind == "face_image")
                    .group_by(Occupant.crossing_id)
                ).all()
            )
    finally:
        engine.dispose()
    stored: dict[tuple[str, str], list[int]] = {}
    for crossing_id, passage_id, lane in rows:
        stored.setdefault((passage_id, lane), []).append(crossing_id)
    acked = {(a.passage_id, a.lane): a for a in result.acks}
    found = lost = mismatched = 0
    for key, ack in acked.items():
        ids = stored.get(key)
        if not ids:
            lost += 1
            continue
        found += 1
        if occupants.get(ids[0], 0) != ack.occupants or images.get(ids[0], 0) != ack.images:
            mismatched += 1
    return StoreCheck(
        acknowledged=len(result.acks),
        found=found,
        lost=lost,
        duplicates=sum(len(ids) - 1 for ids in stored.values()) + (len(result.acks) - len(acked)),
        mismatched=mismatched,
        stored_unacknowledged=sum(1 for key in stored if key not in acked),
    )


@dataclass(frozen=True)
class ServiceBenchReport:
    lanes: int
    rate_per_lane_hz: float | None  # None: max rate (closed loop)
    duration_s: float
    warmup_s: float  # left out of the rate and latency figures (not of the records check)
    database: str  # "sqlite" or "postgresql"
    offered_passages_per_s: float | None
    passages_acked: int
    passages_per_s: float  # acknowledged after the warm-up and before the end of duration_s, per second
    occupants_per_s: float
    post_latency: LatencySummary  # per acknowledged request, after the warm-up
    ack_latency: LatencySummary  # first attempt to acknowledgement (retries included), after the warm-up
    errors: dict[str, int]
    error_samples: dict[str, tuple[str, ...]]
    retries: int
    replays: int  # 200 answers: a retry of a stored post
    unacknowledged: int
    given_up: int
    late_starts: int
    records: StoreCheck
    service_cpu_s: float | None
    service_cpu_ms_per_passage: float | None
    load_average_1m_before: float | None
    load_average_1m_after: float | None
    cpu_count: int | None
    p99_target_ms: float
    sustained: bool | None  # rate mode: offered rate reached (>= 95 %), p99 within target, nothing lost

    def as_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _load_average() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def summarize(
    result: LoadResult,
    records: StoreCheck,
    *,
    database: str,
    service_cpu_s: float | None,
    load_before: float | None,
    load_after: float | None,
    p99_target_ms: float = P99_TARGET_MS,
) -> ServiceBenchReport:
    load = result.load
    measured = result.measured
    seconds = result.measured_s
    rate = len(measured) / seconds if seconds > 0 else 0.0
    offered = None if load.rate_per_lane_hz is None else load.lanes * load.rate_per_lane_hz
    post = summarize_latencies([a.post_ms for a in measured])
    sustained = None
    if offered is not None:
        sustained = (
            rate >= 0.95 * offered
            and post.p99_ms is not None
            and post.p99_ms <= p99_target_ms
            and records.ok
            and result.unacknowledged == 0
            and result.given_up == 0
        )
    acked = result.passages_acked
    return ServiceBenchReport(
        lanes=load.lanes,
        rate_per_lane_hz=load.rate_per_lane_hz,
        duration_s=result.driven_s,
        warmup_s=load.warmup_s,
        database=database,
        offered_passages_per_s=None if offered is None else round(offered, 3),
        passages_acked=acked,
        passages_per_s=round(rate, 2),
        occupants_per_s=round(sum(a.occupants for a in measured) / seconds, 2) if seconds > 0 else 0.0,
        post_latency=post,
        ack_latency=summarize_latencies([a.ack_ms for a in measured]),
        errors=result.errors,
        error_samples=result.error_samples,
        retries=result.retries,
        replays=result.replays,
        unacknowledged=result.unacknowledged,
        given_up=result.given_up,
        late_starts=result.late_starts,
        records=records,
        service_cpu_s=None if service_cpu_s is None else round(service_cpu_s, 2),
        service_cpu_ms_per_passage=None
        if service_cpu_s is None or not acked
        else round(1000 * service_cpu_s / acked, 2),
        load_average_1m_before=load_before,
        load_average_1m_after=load_after,
        cpu_count=os.cpu_count(),
        p99_target_ms=p99_target_ms,
        sustained=sustained,
    )


def run_service_bench(
    load: LaneLoad,
    *,
    work_dir: Path,
    database_url: str | None = None,
    p99_target_ms: float = P99_TARGET_MS,
    progress: Any = None,
) -> ServiceBenchReport:
    """Start the service in ``work_dir`` (SQLite there unless ``database_url``), drive the lanes, stop the
    service and check the database."""
    from laneface.records.database import safe_url

    try:
        import httpx  # noqa: F401 - the lanes' HTTP client, a development dependency
    except ImportError:
        raise ConfigError("bench service needs httpx: pip install httpx (or laneface[dev])") from None
    credentials = ServiceCredentials.generate(load.lanes)
    url = database_url or f"sqlite:///{work_dir / 'records.db'}"
    backend = url.split(":", 1)[0].split("+", 1)[0]
    if backend not in ("sqlite", "postgresql"):
        raise ConfigError(f"--database-url: unsupported database {safe_url(url)} (use sqlite or postgresql)")
    service = ServiceProcess(work_dir, credentials, database_url=database_url)
    load_before = _load_average()
    service.start()
    try:
        if progress is not None:
            progress(f"service on {service.base_url} ({backend}); {load.lanes} lanes for {load.duration_s:g} s")
        cpu0 = service.cpu_s()
        result = run_lanes(service.base_url, credentials.lane_keys, load)
        cpu1 = service.cpu_s()
    finally:
        service.stop()
    load_after = _load_average()
    records = check_store(url, result)
    return summarize(
        result,
        records,
        database=backend,
        service_cpu_s=None if cpu0 is None or cpu1 is None else cpu1 - cpu0,
        load_before=load_before,
        load_after=load_after,
        p99_target_ms=p99_target_ms,
    )
