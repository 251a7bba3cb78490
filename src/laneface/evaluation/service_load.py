"""Simulated lanes posting passages to the records service (``POST /v1/passages``), the way a lane does.

Each lane is one thread with its own HTTP connection. It builds a realistic passage (1-7 occupants, a best-shot
JPEG of 5-15 KB per occupant, optionally a 512-d template) and posts it until the service acknowledges it
(201 created, or 200: the same body was already stored). An unacknowledged post (connection refused or cut,
timeout, 5xx, 429) is sent again with the **same body**, after an exponential backoff: ``(passage_id, lane)``
is the idempotency key, so a retry of a post that the service stored but could not answer is a 200, never a
second record. A 4xx other than 408/429 is a lane bug: the passage is given up and counted.

Lanes post at ``rate_per_lane_hz`` (fixed interval with +-20 % jitter, a random phase per lane; a lane that
falls behind posts at once) or, with ``rate_per_lane_hz=None``, as fast as the service acknowledges (closed
loop: the saturation point). After ``duration_s`` no new passage is started; passages in flight keep being
retried for up to ``drain_s``.

Latency is measured per request that got an acknowledgement (post round trip); ``ack`` latency is from the
first attempt to the acknowledgement, retries and backoff included. The first ``warmup_s`` seconds (the service
opening its database connections, compiling its queries) are left out of the figures, not of the store check.
"""

from __future__ import annotations

import base64
import io
import json
import random
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from laneface.errors import ConfigError
from laneface.retry import Backoff

if TYPE_CHECKING:
    import httpx

__all__ = [
    "Ack",
    "LaneLoad",
    "LatencySummary",
    "LoadResult",
    "PassageMaker",
    "run_lanes",
    "summarize_latencies",
]

PASSAGES_PATH = "/v1/passages"
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})
_SAMPLES_PER_KIND = 3


@dataclass(frozen=True)
class LaneLoad:
    """How the simulated lanes behave."""

    lanes: int = 20
    duration_s: float = 60.0
    rate_per_lane_hz: float | None = 0.1  # None: each lane posts again as soon as it is acknowledged
    warmup_s: float = 0.0  # acknowledgements before this are left out of the rate and latency figures
    max_occupants: int = 7
    templates: bool = False
    seed: int = 0
    timeout_s: float = 10.0  # per request
    backoff_initial_s: float = 0.05
    backoff_max_s: float = 2.0
    drain_s: float = 60.0  # after duration_s: how long passages in flight are still retried

    def __post_init__(self) -> None:
        if self.lanes < 1:
            raise ConfigError(f"lanes must be at least 1, got {self.lanes}")
        if not self.duration_s > 0:
            raise ConfigError(f"duration must be positive, got {self.duration_s}")
        if self.rate_per_lane_hz is not None and not self.rate_per_lane_hz > 0:
            raise ConfigError(f"the rate per lane must be positive, got {self.rate_per_lane_hz}")
        if not 1 <= self.max_occupants <= 64:
            raise ConfigError(f"max_occupants must be 1 to 64, got {self.max_occupants}")
        for name in ("timeout_s", "backoff_initial_s", "backoff_max_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"{name} must be positive")
        if self.backoff_initial_s > self.backoff_max_s:
            raise ConfigError("backoff_initial_s must not exceed backoff_max_s")
        if self.drain_s < 0:
            raise ConfigError("drain_s must not be negative")
        if not 0 <= self.warmup_s < self.duration_s:
            raise ConfigError(f"the warm-up must be shorter than the duration, got {self.warmup_s} s")


@dataclass(frozen=True)
class Ack:
    """A passage the service acknowledged."""

    passage_id: str
    lane: str
    occupants: int
    images: int
    status: int  # 201 created, 200 replay of a stored body
    attempts: int
    post_ms: float  # round trip of the acknowledged request
    ack_ms: float  # first attempt to acknowledgement
    acked_at_s: float  # since the lanes started


@dataclass(frozen=True)
class LatencySummary:
    count: int
    p50_ms: float | None
    p95_ms: float | None
    p99_ms: float | None
    max_ms: float | None
    mean_ms: float | None


def summarize_latencies(values_ms: list[float] | tuple[float, ...]) -> LatencySummary:
    """Percentiles (linear interpolation) of latencies in milliseconds; ``None`` when there are none."""
    if not values_ms:
        return LatencySummary(0, None, None, None, None, None)
    arr = np.asarray(values_ms, dtype=np.float64)
    p50, p95, p99 = (float(v) for v in np.percentile(arr, [50, 95, 99]))
    return LatencySummary(
        count=int(arr.size),
        p50_ms=round(p50, 2),
        p95_ms=round(p95, 2),
        p99_ms=round(p99, 2),
        max_ms=round(float(arr.max()), 2),
        mean_ms=round(float(arr.mean()), 2),
    )


@dataclass(frozen=True)
class LoadResult:
    """What the lanes saw. ``errors`` counts failed attempts by kind (``connect``, ``timeout``,
    ``disconnect``, ``http_503``, ...); ``error_samples`` keeps the first response bodies of each HTTP kind."""

    load: LaneLoad
    run_id: str
    driven_s: float  # from the first post to the end of duration_s
    finished_s: float  # until the last lane stopped (drain included)
    acks: tuple[Ack, ...] = field(repr=False)
    errors: dict[str, int]
    error_samples: dict[str, tuple[str, ...]]
    retries: int
    unacknowledged: int  # passages still not acknowledged when the drain ended
    given_up: int  # passages refused with a non-retryable 4xx
    late_starts: int  # passages started behind schedule (the lane was still retrying the previous one)

    @property
    def passages_acked(self) -> int:
        return len(self.acks)

    @property
    def occupants_acked(self) -> int:
        return sum(a.occupants for a in self.acks)

    @property
    def replays(self) -> int:
        return sum(1 for a in self.acks if a.status == 200)

    @property
    def measured(self) -> tuple[Ack, ...]:
        """The acknowledgements between the warm-up and the end of the duration."""
        return tuple(a for a in self.acks if self.load.warmup_s <= a.acked_at_s <= self.driven_s)

    @property
    def measured_s(self) -> float:
        return max(0.0, self.driven_s - self.load.warmup_s)


class PassageMaker:
    """Realistic passage bodies: seeded, each lane numbering its own passages."""

    def __init__(self, seed: int, *, max_occupants: int = 7, templates: bool = False, run_id: str = "") -> None:
        self.max_occupants = max_occupants
        self.templates = templates
        self.run_id = run_id or uuid.uuid4().hex[:8]
        rng = np.random.default_rng(seed)
        self.jpegs_b64 = tuple(base64.b64encode(j).decode("ascii") for j in make_jpegs(rng, 24))
        self.templates_b64 = tuple(
            base64.b64encode(_unit(rng.standard_normal(512)).astype("<f4").tobytes()).decode("ascii") for _ in range(24)
        )

    def body(self, lane: str, seq: int, rnd: random.Random) -> tuple[str, bytes, int, int]:
        """(passage_id, JSON body, occupants, images) of passage ``seq`` of ``lane``."""
        passage_id = f"B{self.run_id}-{lane}-{seq:07d}"
        n = rnd.randint(1, self.max_occupants)
        occupants = []
        images = 0
        for i in range(n):
            decision = rnd.choices(("match", "no_match", "not_captured"), weights=(8, 1, 1))[0]
            captured = decision != "not_captured"
            occupant: dict[str, object] = {
                "occupant_id": str(i + 1),
                "row": min(3, 1 + i // 2),
                "quality": round(rnd.uniform(55, 98) if captured else rnd.uniform(5, 40), 2),
                "quality_passed": captured,
                "match": {
                    "decision": decision,
                    "doc_id": f"DOC-{rnd.randrange(10**6):06d}" if decision == "match" else None,
                    "score": round(rnd.uniform(0.5, 0.9) if decision == "match" else rnd.uniform(0, 0.3), 4),
                },
                "model_version": "bench-embedder-1",
            }
            if captured:
                occupant["best_shot_jpeg_b64"] = rnd.choice(self.jpegs_b64)
                images += 1
                if self.templates:
                    occupant["template_b64"] = rnd.choice(self.templates_b64)
            occupants.append(occupant)
        doc = {
            "passage_id": passage_id,
            "lane": lane,
            "direction": rnd.choice(("inbound", "outbound")),
            "started_at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "occupant_count": n,
            "complete_capture": images == n,
            "occupants": occupants,
            "timing_s": round(rnd.uniform(1.5, 4.0), 3),
        }
        return passage_id, json.dumps(doc).encode("utf-8"), n, images


def _unit(v: np.ndarray) -> np.ndarray:
    return v / float(np.linalg.norm(v))


def make_jpegs(rng: np.random.Generator, count: int) -> list[bytes]:
    """``count`` face-sized JPEGs (112x112 to 200x200, quality 85-95) of 5-15 KB: a smooth shaded blob with
    sensor-like noise, which compresses like a real best-shot crop."""
    from PIL import Image

    out: list[bytes] = []
    while len(out) < count:
        side = int(rng.integers(112, 201))
        yy, xx = np.mgrid[0:side, 0:side].astype(np.float32) / side
        face = np.exp(-(((xx - 0.5) / 0.28) ** 2 + ((yy - 0.5) / 0.36) ** 2))
        base = 60 + 150 * face[..., None] * rng.uniform(0.6, 1.0, size=3)
        noisy = base + rng.normal(0.0, rng.uniform(2.0, 9.0), size=(side, side, 3))
        buf = io.BytesIO()
        image = Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8), "RGB")
        image.save(buf, format="JPEG", quality=int(rng.integers(85, 96)))
        data = buf.getvalue()
        if 5_000 <= len(data) <= 15_000:
            out.append(data)
    return out


class _Tally:
    """Counters shared by the lane threads."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.acks: list[Ack] = []
        self.errors: Counter[str] = Counter()
        self.samples: dict[str, list[str]] = {}
        self.retries = 0
        self.unacknowledged = 0
        self.given_up = 0
        self.late = 0

    def error(self, kind: str, text: str | None = None) -> None:
        with self.lock:
            self.errors[kind] += 1
            if text is not None:
                kept = self.samples.setdefault(kind, [])
                if len(kept) < _SAMPLES_PER_KIND:
                    kept.append(text[:500])


def _classify(exc: Exception) -> str:
    import httpx

    if isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout):
        return "connect"
    if isinstance(exc, httpx.TimeoutException):
        return "timeout"
    if isinstance(exc, httpx.RemoteProtocolError | httpx.ReadError | httpx.WriteError):
        return "disconnect"
    return f"transport_{type(exc).__name__}"


class _Lane:
    def __init__(
        self,
        index: int,
        load: LaneLoad,
        maker: PassageMaker,
        make_client: Callable[[int], httpx.Client],
        tally: _Tally,
        stop: threading.Event,
        abandon_at: list[float],
        start: float,
    ) -> None:
        self.name = f"BL{index:03d}"
        self.load = load
        self.maker = maker
        self.client = make_client(index)
        self.tally = tally
        self.stop = stop
        self.abandon_at = abandon_at  # [monotonic deadline] set when the drain starts
        self.start = start
        self.rnd = random.Random(f"{load.seed}-{index}")
        # the lane edge's schedule: doubling from backoff_initial_s up to backoff_max_s, 50-100 % of it
        self.backoff = Backoff(initial_s=load.backoff_initial_s, factor=2.0, max_s=load.backoff_max_s, jitter=0.5)

    def run(self) -> None:
        try:
            self._run()
        finally:
            self.client.close()

    def _run(self) -> None:
        load = self.load
        interval = None if load.rate_per_lane_hz is None else 1.0 / load.rate_per_lane_hz
        due = self.start + (self.rnd.uniform(0.0, interval) if interval else 0.0)
        seq = 0
        while not self.stop.is_set():
            if interval is not None:
                wait = due - time.monotonic()
                if wait > 0:
                    if self.stop.wait(wait):
                        break
                elif wait < -0.5 * interval:
                    with self.tally.lock:
                        self.tally.late += 1
                due = max(due, time.monotonic() - interval) + interval * self.rnd.uniform(0.8, 1.2)
            seq += 1
            self._deliver(*self.maker.body(self.name, seq, self.rnd))

    def _deliver(self, passage_id: str, body: bytes, occupants: int, images: int) -> None:
        import httpx

        first = time.monotonic()
        attempts = 0
        while True:
            attempts += 1
            t0 = time.perf_counter()
            try:
                response = self.client.post(PASSAGES_PATH, content=body)
            except httpx.TransportError as exc:
                self.tally.error(_classify(exc))
            else:
                elapsed_ms = (time.perf_counter() - t0) * 1000.0
                status = response.status_code
                if status in (200, 201):
                    now = time.monotonic()
                    ack = Ack(
                        passage_id,
                        self.name,
                        occupants,
                        images,
                        status,
                        attempts,
                        post_ms=round(elapsed_ms, 2),
                        ack_ms=round(1000 * (now - first), 2),
                        acked_at_s=round(now - self.start, 3),
                    )
                    with self.tally.lock:
                        self.tally.acks.append(ack)
                        self.tally.retries += attempts - 1
                    return
                self.tally.error(f"http_{status}", response.text)
                if status not in RETRYABLE_STATUS:
                    with self.tally.lock:
                        self.tally.given_up += 1
                        self.tally.retries += attempts - 1
                    return
            deadline = self.abandon_at[0]
            if time.monotonic() + self.backoff.base(attempts) > deadline:
                with self.tally.lock:
                    self.tally.unacknowledged += 1
                    self.tally.retries += attempts - 1
                return
            time.sleep(self.backoff.delay(attempts, self.rnd.random()))


def run_lanes(
    base_url: str,
    lane_keys: list[str] | tuple[str, ...],
    load: LaneLoad,
    *,
    maker: PassageMaker | None = None,
    stop: threading.Event | None = None,
    transport_factory: Callable[[], httpx.BaseTransport] | None = None,
) -> LoadResult:
    """Drive ``load.lanes`` lanes against ``base_url`` for ``load.duration_s`` (or until ``stop`` is set),
    then drain. Lane ``i`` uses ``lane_keys[i % len(lane_keys)]``."""
    import httpx

    if not lane_keys:
        raise ConfigError("at least one lane API key is needed")
    maker = maker or PassageMaker(load.seed, max_occupants=load.max_occupants, templates=load.templates)
    stop = stop or threading.Event()
    tally = _Tally()
    abandon_at = [float("inf")]

    def make_client(i: int) -> httpx.Client:
        return httpx.Client(
            base_url=base_url,
            timeout=load.timeout_s,
            headers={"X-API-Key": lane_keys[i % len(lane_keys)], "Content-Type": "application/json"},
            transport=transport_factory() if transport_factory is not None else None,
        )

    start = time.monotonic()
    lanes = [_Lane(i, load, maker, make_client, tally, stop, abandon_at, start) for i in range(load.lanes)]
    threads = [threading.Thread(target=lane.run, name=lane.name, daemon=True) for lane in lanes]
    for t in threads:
        t.start()
    stop.wait(load.duration_s)
    stop.set()
    driven = time.monotonic() - start
    abandon_at[0] = time.monotonic() + load.drain_s
    for t in threads:
        t.join(timeout=load.drain_s + 2 * load.timeout_s + load.backoff_max_s + 5)
    finished = time.monotonic() - start
    with tally.lock:
        return LoadResult(
            load=load,
            run_id=maker.run_id,
            driven_s=round(driven, 3),
            finished_s=round(finished, 3),
            acks=tuple(tally.acks),
            errors=dict(sorted(tally.errors.items())),
            error_samples={k: tuple(v) for k, v in sorted(tally.samples.items())},
            retries=tally.retries,
            unacknowledged=tally.unacknowledged + sum(1 for t in threads if t.is_alive()),
            given_up=tally.given_up,
            late_starts=tally.late,
        )
