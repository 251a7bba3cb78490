"""Delivery of the outbox with a fake transport (httpx.MockTransport) and a fake clock: outcomes per status,
backoff schedule with jitter and cap, Retry-After, pause after failures, headers, no head-of-line blocking."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from edgefakes import Clock

from laneface.edge.delivery import Deliverer, classify
from laneface.edge.outbox import Outbox
from laneface.errors import ConfigError
from laneface.retry import Backoff

URL = "http://central.test:8080"
KEY = "lane-key-0123456789abcdef"


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(tmp_path: Path, clock: Clock) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.db", clock=clock)
    yield box
    box.close()


def _deliverer(
    outbox: Outbox,
    clock: Clock,
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    rand: float = 0.0,
    backoff: Backoff | None = None,
) -> Deliverer:
    return Deliverer(
        outbox,
        URL,
        KEY,
        backoff=backoff or Backoff(initial_s=1.0, factor=2.0, max_s=8.0, jitter=0.5),
        transport=httpx.MockTransport(handler),
        clock=clock,
        rand=lambda: rand,
    )


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (201, "delivered"),
        (200, "delivered"),
        (409, "rejected"),
        (422, "rejected"),
        (413, "rejected"),
        (400, "rejected"),
        (500, "retry"),
        (502, "retry"),
        (503, "retry"),
        (429, "retry"),
        (408, "retry"),
        (401, "retry"),
        (403, "retry"),
        (404, "retry"),
        (204, "retry"),
        (302, "retry"),
    ],
)
def test_classify(status: int, outcome: str) -> None:
    assert classify(status) == outcome


def test_backoff_schedule_jitter_and_cap() -> None:
    b = Backoff(initial_s=1.0, factor=2.0, max_s=30.0, jitter=0.2)
    assert [b.base(n) for n in range(1, 8)] == [1, 2, 4, 8, 16, 30, 30]
    assert b.delay(3, 0.0) == 4.0
    assert b.delay(3, 0.999999) == pytest.approx(3.2, abs=1e-5)
    assert b.delay(10_000, 0.5) == pytest.approx(27.0)  # huge attempt counts do not overflow
    for bad in (
        {"initial_s": 0.0},
        {"initial_s": 5.0, "max_s": 1.0},
        {"factor": 0.5},
        {"jitter": 1.0},
    ):
        with pytest.raises(ConfigError):
            Backoff(**bad)  # type: ignore[arg-type]


def test_headers_body_and_delivered(outbox: Outbox, clock: Clock) -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(201, json={"crossing_id": 7})

    outbox.put("L1/P1", b'{"passage_id":"P1"}')
    d = _deliverer(outbox, clock, handler)
    attempts = d.run_once()
    assert [(a.key, a.outcome, a.status) for a in attempts] == [("L1/P1", "delivered", 201)]
    req = seen[0]
    assert str(req.url) == URL + "/v1/passages" and req.method == "POST"
    assert req.headers["X-API-Key"] == KEY
    assert req.headers["Idempotency-Key"] == "L1/P1"
    assert req.headers["Content-Type"] == "application/json"
    assert req.content == b'{"passage_id":"P1"}'
    record = outbox.get("L1/P1")
    assert record is not None and record.state == "delivered" and record.last_status == 201
    assert record.receipt is not None and json.loads(record.receipt) == {"crossing_id": 7}
    assert KEY not in repr(d)
    d.close()


def test_replay_200_is_delivered(outbox: Outbox, clock: Clock) -> None:
    outbox.put("k", b"{}")
    d = _deliverer(outbox, clock, lambda r: httpx.Response(200, json={"crossing_id": 1}))
    d.run_once()
    assert outbox.get("k").state == "delivered"  # type: ignore[union-attr]
    assert outbox.get("k").last_status == 200  # type: ignore[union-attr]


def test_conflict_is_rejected_and_kept_with_the_reason(outbox: Outbox, clock: Clock) -> None:
    outbox.put("k1", b"{}")
    outbox.put("k2", b"{}")

    def handler(request: httpx.Request) -> httpx.Response:
        if request.headers["Idempotency-Key"] == "k1":
            return httpx.Response(409, json={"error": "idempotency_conflict", "message": "different body"})
        return httpx.Response(201, json={})

    d = _deliverer(outbox, clock, handler)
    attempts = d.run_once()
    assert [a.outcome for a in attempts] == ["rejected", "delivered"]  # a rejection does not stop the batch
    k1 = outbox.get("k1")
    assert k1 is not None and k1.state == "rejected" and k1.last_status == 409
    assert k1.last_error == "409 idempotency_conflict: different body"
    assert outbox.counts() == {"pending": 0, "delivered": 1, "rejected": 1}


def test_server_errors_retry_with_exponential_backoff_and_cap(outbox: Outbox, clock: Clock) -> None:
    outbox.put("k", b"{}")
    d = _deliverer(outbox, clock, lambda r: httpx.Response(503, json={"error": "unavailable", "message": "down"}))
    waits = []
    for _ in range(6):
        record = outbox.due()[0]
        attempt = d.deliver(record)
        assert attempt.outcome == "retry" and attempt.status == 503
        waits.append(attempt.retry_in_s)
        clock.t = outbox.next_due_at()  # type: ignore[assignment]
    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]  # rand=0: no jitter taken off
    record = outbox.get("k")
    assert record is not None and record.state == "pending" and record.attempts == 6
    assert record.last_status == 503 and record.last_error == "503 unavailable: down"
    assert d.consecutive_failures == 6


def test_jitter_takes_off_at_most_its_share(outbox: Outbox, clock: Clock) -> None:
    outbox.put("k", b"{}")
    d = _deliverer(outbox, clock, lambda r: httpx.Response(500), rand=0.999)
    attempt = d.deliver(outbox.due()[0])
    assert attempt.retry_in_s == pytest.approx(0.5005)


def test_connection_errors_and_timeouts_retry(outbox: Outbox, clock: Clock) -> None:
    outbox.put("a", b"{}")
    outbox.put("b", b"{}")
    errors = iter([httpx.ConnectError("connection refused"), httpx.ReadTimeout("timed out")])

    def handler(request: httpx.Request) -> httpx.Response:
        raise next(errors)

    d = _deliverer(outbox, clock, handler)
    first = d.run_once()
    assert [(a.key, a.outcome, a.status) for a in first] == [("a", "retry", None)]  # stops at the failure
    assert "ConnectError" in (first[0].error or "")
    second = d.run_once()
    assert [(a.key, a.outcome) for a in second] == [("b", "retry")]
    assert "ReadTimeout" in (second[0].error or "")
    assert outbox.counts()["pending"] == 2
    assert d.pause_s() == 2.0  # two consecutive failures


def test_retry_after_is_honoured_up_to_the_cap(outbox: Outbox, clock: Clock) -> None:
    outbox.put("a", b"{}")
    outbox.put("b", b"{}")
    d = _deliverer(outbox, clock, lambda r: httpx.Response(429, headers={"Retry-After": "5"}))
    assert d.deliver(outbox.get("a")).retry_in_s == 5.0  # type: ignore[arg-type]
    d2 = _deliverer(outbox, clock, lambda r: httpx.Response(503, headers={"Retry-After": "3600"}))
    assert d2.deliver(outbox.get("b")).retry_in_s == 8.0  # type: ignore[arg-type]


def test_a_failing_record_does_not_block_the_others(outbox: Outbox, clock: Clock) -> None:
    outbox.put("poison", b"{}")
    outbox.put("ok1", b"{}")
    outbox.put("ok2", b"{}")

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(500 if request.headers["Idempotency-Key"] == "poison" else 201)

    d = _deliverer(outbox, clock, handler)
    assert [a.outcome for a in d.run_once()] == ["retry"]
    clock.t += 1.0
    # the poisoned record is due again, but the others were due earlier
    assert [(a.key, a.outcome) for a in d.run_once()] == [
        ("ok1", "delivered"),
        ("ok2", "delivered"),
        ("poison", "retry"),
    ]
    assert outbox.get("poison").attempts == 2  # type: ignore[union-attr]


def test_success_resets_the_pause(outbox: Outbox, clock: Clock) -> None:
    outbox.put("a", b"{}")
    answers = iter([500, 500, 201])
    d = _deliverer(outbox, clock, lambda r: httpx.Response(next(answers)))
    for _ in range(2):
        d.run_once()
        clock.t = outbox.next_due_at()  # type: ignore[assignment]
    assert d.consecutive_failures == 2 and d.pause_s() > 0
    d.run_once()
    assert d.consecutive_failures == 0 and d.pause_s() == 0.0
    assert outbox.get("a").state == "delivered"  # type: ignore[union-attr]


def test_run_thread_delivers_and_stops(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    received: list[str] = []
    answers = iter([503, 503])

    def handler(request: httpx.Request) -> httpx.Response:
        received.append(request.headers["Idempotency-Key"])
        return httpx.Response(next(answers, 201))

    d = Deliverer(box, URL, KEY, backoff=Backoff(0.01, 2.0, 0.05, 0.0), transport=httpx.MockTransport(handler))
    stop = threading.Event()
    thread = d.start(stop)
    for i in range(5):
        box.put(f"k{i}", b"{}")
        d.wake()
    deadline = threading.Event()
    for _ in range(200):
        if box.counts()["delivered"] == 5:
            break
        deadline.wait(0.02)
    stop.set()
    d.wake()
    thread.join(5)
    assert not thread.is_alive()
    assert box.counts() == {"pending": 0, "delivered": 5, "rejected": 0}
    assert sorted(set(received)) == [f"k{i}" for i in range(5)] and len(received) == 7  # two retries
    d.close()
    box.close()


def test_configuration_errors(outbox: Outbox) -> None:
    with pytest.raises(ConfigError):
        Deliverer(outbox, "ftp://x", KEY)
    with pytest.raises(ConfigError):
        Deliverer(outbox, URL, "")
    with pytest.raises(ConfigError):
        Deliverer(outbox, URL, KEY, timeout_s=0)


def test_each_post_reports_the_outbox_backlog(outbox: Outbox, clock: Clock) -> None:
    backlog: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        backlog.append(request.headers["X-Laneface-Outbox-Backlog"])
        return httpx.Response(201)

    for key in ("k1", "k2", "k3"):
        outbox.put(key, b"{}")
    _deliverer(outbox, clock, handler).run_once()
    assert backlog == ["3", "2", "1"]  # the record being sent is still pending


def test_a_replica_that_does_not_answer_is_skipped_and_the_one_that_answers_is_kept(
    outbox: Outbox, clock: Clock
) -> None:
    down = {"http://a.test"}
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        host = f"{request.url.scheme}://{request.url.host}"
        seen.append(host)
        if host in down:
            raise httpx.ConnectError("refused", request=request)
        if host == "http://c.test":
            return httpx.Response(503)
        return httpx.Response(201, json={"crossing_id": 1})

    d = Deliverer(
        outbox,
        ["http://a.test", "http://b.test/", "http://c.test"],
        KEY,
        transport=httpx.MockTransport(handler),
        clock=clock,
        rand=lambda: 0.0,
    )
    for k in range(3):
        outbox.put(f"L1/P{k}", b"{}")
    attempts = d.run_once()
    assert [a.outcome for a in attempts] == ["delivered"] * 3
    assert seen == ["http://a.test", "http://b.test", "http://b.test", "http://b.test"], "b answered: b it is"
    assert d.endpoint == "http://b.test/v1/passages" and "KEY" not in repr(d)
    # b goes down too, c answers 503 and a is back: a gets the record
    down.clear()
    down.add("http://b.test")
    outbox.put("L1/P9", b"{}")
    seen.clear()
    assert [a.outcome for a in d.run_once()] == ["delivered"]
    assert seen == ["http://b.test", "http://c.test", "http://a.test"] and d.endpoint == "http://a.test/v1/passages"
    # none answers: the record waits, as with one service
    down.update({"http://a.test", "http://c.test"})
    outbox.put("L1/P10", b"{}")
    (attempt,) = d.run_once()
    assert attempt.outcome == "retry" and attempt.status is None and "ConnectError" in (attempt.error or "")
    with pytest.raises(ConfigError):
        Deliverer(outbox, [], KEY)
    with pytest.raises(ConfigError):
        Deliverer(outbox, [URL, "ftp://x"], KEY)
