"""The lane outbox: durable put, idempotent keys, state transitions, restart, one process at a time."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from edgefakes import Clock

from laneface.edge.outbox import Outbox, passage_key, read_summary
from laneface.errors import LanefaceError, OutboxConflictError, OutboxError


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(tmp_path: Path, clock: Clock) -> Iterator[Outbox]:
    box = Outbox(tmp_path / "outbox.db", clock=clock)
    yield box
    box.close()


def test_passage_key() -> None:
    assert passage_key("P-1", "L3") == "L3/P-1"
    with pytest.raises(ValueError):
        passage_key("", "L3")
    with pytest.raises(ValueError):
        passage_key("P-1", "a/b")


def test_the_file_is_wal_with_full_sync(outbox: Outbox) -> None:
    conn = sqlite3.connect(outbox.path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert outbox._conn is not None
    assert outbox._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL


def test_put_is_idempotent_and_refuses_another_body(outbox: Outbox) -> None:
    assert outbox.put("L1/P1", b'{"a":1}') is True
    assert outbox.put("L1/P1", b'{"a":1}') is False
    with pytest.raises(OutboxConflictError) as err:
        outbox.put("L1/P1", b'{"a":2}')
    assert isinstance(err.value, OutboxError) and isinstance(err.value, LanefaceError)
    assert outbox.counts() == {"pending": 1, "delivered": 0, "rejected": 0}
    record = outbox.get("L1/P1")
    assert record is not None and record.body == b'{"a":1}' and record.state == "pending" and record.attempts == 0


def test_put_refuses_empty_key_or_body(outbox: Outbox) -> None:
    with pytest.raises(ValueError):
        outbox.put("", b"x")
    with pytest.raises(ValueError):
        outbox.put("k", b"")


def test_state_transitions(outbox: Outbox, clock: Clock) -> None:
    for k in ("a", "b", "c"):
        outbox.put(k, k.encode())
    assert [r.key for r in outbox.due()] == ["a", "b", "c"]
    assert outbox.mark_retry("a", next_attempt_at=clock.t + 10, error="ConnectError", status=None)
    assert [r.key for r in outbox.due()] == ["b", "c"]
    assert outbox.next_due_at() == clock.t
    assert outbox.mark_delivered("b", status=201, receipt='{"crossing_id": 1}')
    assert outbox.mark_rejected("c", status=409, reason="409 idempotency_conflict: different body")
    assert outbox.mark_delivered("c", status=201) is False  # only pending records move
    assert outbox.counts() == {"pending": 1, "delivered": 1, "rejected": 1}
    assert outbox.next_due_at() == clock.t + 10
    a = outbox.get("a")
    assert a is not None and a.attempts == 1 and a.last_error == "ConnectError" and a.last_status is None
    clock.t += 10
    assert [r.key for r in outbox.due()] == ["a"]
    b, c = outbox.get("b"), outbox.get("c")
    assert b is not None and b.state == "delivered" and b.last_status == 201 and b.delivered_at == clock.t - 10
    assert c is not None and c.state == "rejected" and c.last_error is not None and "conflict" in c.last_error
    # a rejected record is never dropped; an operator can send it again
    assert outbox.requeue("c") and outbox.get("c").state == "pending"  # type: ignore[union-attr]
    assert outbox.requeue("b") is False


def test_due_orders_by_due_time_then_put_order(outbox: Outbox, clock: Clock) -> None:
    for k in ("a", "b", "c"):
        outbox.put(k, k.encode())
    outbox.mark_retry("a", next_attempt_at=clock.t + 5, error="500")
    clock.t += 6
    assert [r.key for r in outbox.due()] == ["b", "c", "a"]
    assert [r.key for r in outbox.due(limit=1)] == ["b"]


def test_pending_records_survive_a_restart(tmp_path: Path, clock: Clock) -> None:
    box = Outbox(tmp_path / "o.db", clock=clock)
    box.put("k1", b"1")
    box.put("k2", b"2")
    box.mark_delivered("k1", status=201)
    box.close()
    again = Outbox(tmp_path / "o.db", clock=clock)
    assert [r.key for r in again.due()] == ["k2"]
    assert again.put("k1", b"1") is False  # still known after the restart
    again.close()


def test_a_put_is_on_disk_when_the_process_dies(tmp_path: Path) -> None:
    """put() returns only after the commit: a process killed right after it keeps the record."""
    path = tmp_path / "o.db"
    code = (
        "import os, signal, sys\n"
        "from laneface.edge.outbox import Outbox\n"
        f"box = Outbox({str(path)!r})\n"
        "for i in range(20):\n"
        "    box.put(f'k{i}', b'body')\n"
        "box.mark_delivered('k0', status=201)\n"
        "os.kill(os.getpid(), signal.SIGKILL)\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], check=False, timeout=60)
    assert proc.returncode == -9
    box = Outbox(path)  # the kernel released the lock of the killed process
    assert box.counts() == {"pending": 19, "delivered": 1, "rejected": 0}
    box.close()


def test_one_process_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "o.db"
    box = Outbox(path)
    code = f"from laneface.edge.outbox import Outbox\nOutbox({str(path)!r})\n"
    proc = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert proc.returncode != 0 and "in use by another lane process" in proc.stderr
    box.close()
    Outbox(path).close()


def test_not_an_outbox(tmp_path: Path) -> None:
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(OutboxError, match="not a usable outbox"):
        Outbox(bad)


def test_closed_outbox_raises(tmp_path: Path) -> None:
    box = Outbox(tmp_path / "o.db")
    box.close()
    with pytest.raises(OutboxError, match="closed"):
        box.put("k", b"b")


def test_prune_drops_bodies_of_delivered_records_only(outbox: Outbox, clock: Clock) -> None:
    outbox.put("old", b"image bytes")
    outbox.put("new", b"image bytes 2")
    outbox.put("pending", b"image bytes 3")
    outbox.mark_delivered("old", status=201)
    clock.t += 100
    outbox.mark_delivered("new", status=200)
    assert outbox.prune_delivered(clock.t - 50) == 1
    old = outbox.get("old")
    assert old is not None and old.body == b"" and old.state == "delivered"
    assert outbox.get("new").body == b"image bytes 2"  # type: ignore[union-attr]
    assert outbox.get("pending").body == b"image bytes 3"  # type: ignore[union-attr]
    assert outbox.put("old", b"image bytes") is False  # the hash is kept: still idempotent
    with pytest.raises(OutboxConflictError):
        outbox.put("old", b"other")


def test_summary_reads_a_locked_outbox(outbox: Outbox, clock: Clock) -> None:
    outbox.put("a", b"1")
    outbox.put("b", b"2")
    outbox.mark_rejected("b", status=422, reason="422 validation_error: bad")
    clock.t += 30
    summary = read_summary(outbox.path, now=clock.t)
    assert summary.counts == {"pending": 1, "delivered": 0, "rejected": 1}
    assert summary.oldest_pending_age_s == pytest.approx(30.0)
    assert summary.rejected == (("b", "422 validation_error: bad"),)
    assert summary.as_json()["rejected"] == [{"key": "b", "reason": "422 validation_error: bad"}]
    with pytest.raises(OutboxError):
        read_summary(outbox.path.parent / "missing.db")
