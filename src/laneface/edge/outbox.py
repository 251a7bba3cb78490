"""The lane's outbox: every crossing record is committed here (SQLite, WAL, ``synchronous=FULL``) before the
lane acknowledges it, and stays until the central service has confirmed it.

A record is a request body (JSON bytes) under an idempotency key (:func:`passage_key`: lane + passage_id).
States::

    pending ──201/200──> delivered        (body dropped after the retention of delivered records)
       │  └──5xx, timeout, connection error, 401/403/404/408/425/429──> pending (attempts+1, next_attempt_at)
       └──409 / 400 / 413 / 415 / 422──> rejected (kept with the reason, never dropped; ``requeue`` re-sends)

There is no "in flight" state: a record being sent is still ``pending`` in the file, so a lane process that
dies mid-delivery sends it again after a restart, and the service answers the replay with 200 (same key,
same body). Putting the same key with the same body again is a no-op; with another body it raises
:class:`~laneface.errors.OutboxConflictError`.

One process at a time: the outbox takes an exclusive ``flock`` on ``<path>.lock`` (released by the kernel
when the process dies, even by SIGKILL). :func:`read_summary` reads a running lane's outbox without the lock.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

from laneface.errors import OutboxConflictError, OutboxError

__all__ = ["STATES", "Outbox", "OutboxRecord", "OutboxSummary", "State", "passage_key", "read_summary"]

State = Literal["pending", "delivered", "rejected"]
STATES: tuple[State, ...] = ("pending", "delivered", "rejected")
SCHEMA_VERSION = 1
MAX_KEY_CHARS = 256
MAX_TEXT_CHARS = 2000

_SCHEMA = """
CREATE TABLE IF NOT EXISTS outbox (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    body BLOB NOT NULL,
    body_sha256 TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'rejected')),
    attempts INTEGER NOT NULL DEFAULT 0,
    created_at REAL NOT NULL,
    next_attempt_at REAL NOT NULL,
    last_attempt_at REAL,
    last_status INTEGER,
    last_error TEXT,
    delivered_at REAL,
    receipt TEXT
);
CREATE INDEX IF NOT EXISTS outbox_due ON outbox (state, next_attempt_at, seq);
"""
_COLUMNS = (
    "seq, key, body, body_sha256, state, attempts, created_at, next_attempt_at, last_attempt_at, last_status, "
    "last_error, delivered_at, receipt"
)


def passage_key(passage_id: str, lane: str) -> str:
    """The idempotency key of a passage: ``<lane>/<passage_id>`` (the service's key is the same pair)."""
    if not passage_id or not lane or "/" in lane:
        raise ValueError(f"a passage key needs a passage_id and a lane without '/', got {passage_id!r}, {lane!r}")
    return f"{lane}/{passage_id}"


@dataclass(frozen=True)
class OutboxRecord:
    """One record. ``body`` is empty once a delivered record's body was pruned; times are Unix seconds."""

    seq: int
    key: str
    body: bytes
    body_sha256: str
    state: State
    attempts: int
    created_at: float
    next_attempt_at: float
    last_attempt_at: float | None
    last_status: int | None
    last_error: str | None
    delivered_at: float | None
    receipt: str | None


@dataclass(frozen=True)
class OutboxSummary:
    """Counts by state, the oldest pending record's age (s) and the rejected records (key, reason)."""

    counts: dict[str, int]
    oldest_pending_age_s: float | None
    rejected: tuple[tuple[str, str], ...]

    def as_json(self) -> dict[str, object]:
        return {
            "counts": dict(self.counts),
            "oldest_pending_age_s": None if self.oldest_pending_age_s is None else round(self.oldest_pending_age_s, 1),
            "rejected": [{"key": k, "reason": r} for k, r in self.rejected],
        }


def _record(row: Any) -> OutboxRecord:
    (seq, key, body, sha, state, attempts, created, next_at, last_at, status, error, delivered, receipt) = row
    return OutboxRecord(
        seq=int(seq),
        key=str(key),
        body=bytes(body),
        body_sha256=str(sha),
        state=_state(state),
        attempts=int(attempts),
        created_at=float(created),
        next_attempt_at=float(next_at),
        last_attempt_at=None if last_at is None else float(last_at),
        last_status=None if status is None else int(status),
        last_error=None if error is None else str(error),
        delivered_at=None if delivered is None else float(delivered),
        receipt=None if receipt is None else str(receipt),
    )


def _state(value: object) -> State:
    for state in STATES:
        if value == state:
            return state
    raise OutboxError(f"unknown outbox state {value!r}")


def _clip(text: str | None) -> str | None:
    return None if text is None else text[:MAX_TEXT_CHARS]


class Outbox:
    """A durable queue of request bodies keyed by idempotency key (see the module docstring).

    Thread-safe (one connection behind a lock). ``clock`` gives Unix seconds (it is persisted, so it must be
    wall-clock time, not a monotonic clock). Every method raises :class:`OutboxError` when SQLite fails.
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._lock = threading.Lock()
        self._lock_fd: int | None = None
        self._conn: sqlite3.Connection | None = None
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._take_file_lock()
            self._conn = self._connect()
        except BaseException:
            self.close()
            raise

    # ------------------------------------------------------------------ lifecycle
    def _take_file_lock(self) -> None:
        lock_path = self.path.with_name(self.path.name + ".lock")
        fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise OutboxError(f"{self.path}: the outbox is in use by another lane process") from None
        self._lock_fd = fd

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=30.0)
        except sqlite3.Error as exc:
            raise OutboxError(f"{self.path}: cannot open the outbox ({exc})") from None
        try:
            mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise OutboxError(f"{self.path}: the outbox needs WAL journaling, SQLite gave {mode!r}")
            conn.execute("PRAGMA synchronous=FULL")
            version = int(conn.execute("PRAGMA user_version").fetchone()[0])
            if version not in (0, SCHEMA_VERSION):
                raise OutboxError(f"{self.path}: outbox schema version {version}, this laneface reads {SCHEMA_VERSION}")
            conn.executescript(_SCHEMA)
            conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise OutboxError(f"{self.path}: not a usable outbox database ({exc})") from None
        except BaseException:
            conn.close()
            raise
        return conn

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.close()
                self._conn = None
            if self._lock_fd is not None:
                os.close(self._lock_fd)  # releases the flock
                self._lock_fd = None

    def __enter__(self) -> Outbox:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @contextlib.contextmanager
    def _tx(self, *, write: bool) -> Iterator[sqlite3.Connection]:
        with self._lock:
            conn = self._conn
            if conn is None:
                raise OutboxError(f"{self.path}: the outbox is closed")
            try:
                conn.execute("BEGIN IMMEDIATE" if write else "BEGIN")
                try:
                    yield conn
                except BaseException:
                    with contextlib.suppress(sqlite3.Error):
                        conn.execute("ROLLBACK")
                    raise
                conn.execute("COMMIT")
            except sqlite3.Error as exc:
                raise OutboxError(f"{self.path}: outbox {'write' if write else 'read'} failed ({exc})") from exc

    # ------------------------------------------------------------------ writes
    def put(self, key: str, body: bytes) -> bool:
        """Store ``body`` under ``key`` as pending; committed to disk when this returns (the acknowledgement).

        Returns True for a new record, False when the same key and body are already there (in any state).
        Raises :class:`OutboxConflictError` when the key holds another body."""
        if not isinstance(key, str) or not key or len(key) > MAX_KEY_CHARS:
            raise ValueError(f"key must be a non-empty string of at most {MAX_KEY_CHARS} characters")
        if not isinstance(body, bytes) or not body:
            raise ValueError("body must be non-empty bytes")
        sha = hashlib.sha256(body).hexdigest()
        now = self._clock()
        with self._tx(write=True) as conn:
            row = conn.execute("SELECT body_sha256 FROM outbox WHERE key = ?", (key,)).fetchone()
            if row is not None:
                if row[0] != sha:
                    raise OutboxConflictError(f"outbox record {key!r} already holds a different body")
                return False
            conn.execute(
                "INSERT INTO outbox (key, body, body_sha256, state, attempts, created_at, next_attempt_at) "
                "VALUES (?, ?, ?, 'pending', 0, ?, ?)",
                (key, body, sha, now, now),
            )
        return True

    def mark_delivered(self, key: str, *, status: int, receipt: str | None = None) -> bool:
        """A pending record was accepted (201) or found already stored (200). False if it was not pending."""
        now = self._clock()
        with self._tx(write=True) as conn:
            cur = conn.execute(
                "UPDATE outbox SET state = 'delivered', attempts = attempts + 1, last_attempt_at = ?, "
                "last_status = ?, last_error = NULL, delivered_at = ?, receipt = ? "
                "WHERE key = ? AND state = 'pending'",
                (now, status, now, _clip(receipt), key),
            )
            return cur.rowcount == 1

    def mark_retry(self, key: str, *, next_attempt_at: float, error: str, status: int | None = None) -> bool:
        """A pending record's attempt failed transiently: try again at ``next_attempt_at``."""
        now = self._clock()
        with self._tx(write=True) as conn:
            cur = conn.execute(
                "UPDATE outbox SET attempts = attempts + 1, last_attempt_at = ?, last_status = ?, last_error = ?, "
                "next_attempt_at = ? WHERE key = ? AND state = 'pending'",
                (now, status, _clip(error), next_attempt_at, key),
            )
            return cur.rowcount == 1

    def mark_rejected(self, key: str, *, status: int, reason: str) -> bool:
        """The service refused a pending record for good (409 conflict, 422 invalid...): kept with the reason."""
        now = self._clock()
        with self._tx(write=True) as conn:
            cur = conn.execute(
                "UPDATE outbox SET state = 'rejected', attempts = attempts + 1, last_attempt_at = ?, "
                "last_status = ?, last_error = ? WHERE key = ? AND state = 'pending'",
                (now, status, _clip(reason), key),
            )
            return cur.rowcount == 1

    def requeue(self, key: str) -> bool:
        """Send a rejected record again (after the cause was fixed): pending, due now, attempts reset."""
        now = self._clock()
        with self._tx(write=True) as conn:
            cur = conn.execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_attempt_at = ? "
                "WHERE key = ? AND state = 'rejected'",
                (now, key),
            )
            return cur.rowcount == 1

    def prune_delivered(self, delivered_before: float) -> int:
        """Drop the bodies (face images) of records delivered before ``delivered_before``; the key, state and
        hash stay, so a passage processed again is still recognised. Returns the number of bodies dropped."""
        with self._tx(write=True) as conn:
            cur = conn.execute(
                "UPDATE outbox SET body = x'' WHERE state = 'delivered' AND delivered_at < ? AND length(body) > 0",
                (delivered_before,),
            )
            return int(cur.rowcount)

    # ------------------------------------------------------------------ reads
    def get(self, key: str) -> OutboxRecord | None:
        with self._tx(write=False) as conn:
            row = conn.execute(f"SELECT {_COLUMNS} FROM outbox WHERE key = ?", (key,)).fetchone()  # noqa: S608
        return None if row is None else _record(row)

    def has(self, key: str) -> bool:
        with self._tx(write=False) as conn:
            return conn.execute("SELECT 1 FROM outbox WHERE key = ?", (key,)).fetchone() is not None

    def due(self, limit: int = 16, *, now: float | None = None) -> list[OutboxRecord]:
        """Pending records whose next attempt is due, earliest due first, then in the order they were put."""
        at = self._clock() if now is None else now
        with self._tx(write=False) as conn:
            rows = conn.execute(
                f"SELECT {_COLUMNS} FROM outbox WHERE state = 'pending' AND next_attempt_at <= ? "  # noqa: S608
                "ORDER BY next_attempt_at, seq LIMIT ?",
                (at, limit),
            ).fetchall()
        return [_record(r) for r in rows]

    def next_due_at(self) -> float | None:
        """When the earliest pending record is due (``None`` when nothing is pending)."""
        with self._tx(write=False) as conn:
            row = conn.execute("SELECT MIN(next_attempt_at) FROM outbox WHERE state = 'pending'").fetchone()
        return None if row is None or row[0] is None else float(row[0])

    def records(self, state: State | None = None) -> list[OutboxRecord]:
        """Every record (or those in ``state``) in the order they were put."""
        with self._tx(write=False) as conn:
            if state is None:
                rows = conn.execute(f"SELECT {_COLUMNS} FROM outbox ORDER BY seq").fetchall()  # noqa: S608
            else:
                rows = conn.execute(
                    f"SELECT {_COLUMNS} FROM outbox WHERE state = ? ORDER BY seq",  # noqa: S608
                    (state,),
                ).fetchall()
        return [_record(r) for r in rows]

    def counts(self) -> dict[str, int]:
        with self._tx(write=False) as conn:
            return _counts(conn)

    def summary(self) -> OutboxSummary:
        with self._tx(write=False) as conn:
            return _summary(conn, self._clock())


def _counts(conn: sqlite3.Connection) -> dict[str, int]:
    out: dict[str, int] = dict.fromkeys(STATES, 0)
    for state, n in conn.execute("SELECT state, COUNT(*) FROM outbox GROUP BY state"):
        out[str(state)] = int(n)
    return out


def _summary(conn: sqlite3.Connection, now: float, max_rejected: int = 100) -> OutboxSummary:
    oldest = conn.execute("SELECT MIN(created_at) FROM outbox WHERE state = 'pending'").fetchone()[0]
    rejected = conn.execute(
        "SELECT key, COALESCE(last_error, '') FROM outbox WHERE state = 'rejected' ORDER BY seq LIMIT ?",
        (max_rejected,),
    ).fetchall()
    return OutboxSummary(
        counts=_counts(conn),
        oldest_pending_age_s=None if oldest is None else max(0.0, now - float(oldest)),
        rejected=tuple((str(k), str(r)) for k, r in rejected),
    )


def read_summary(path: Path | str, *, now: float | None = None) -> OutboxSummary:
    """Counts of an outbox file, read-only and without the process lock (works while a lane runs)."""
    p = Path(path)
    if not p.is_file():
        raise OutboxError(f"{p}: no outbox file")
    try:
        conn = sqlite3.connect(f"{p.resolve().as_uri()}?mode=ro", uri=True, timeout=10.0)
    except sqlite3.Error as exc:
        raise OutboxError(f"{p}: cannot open the outbox ({exc})") from None
    try:
        return _summary(conn, time.time() if now is None else now)
    except sqlite3.Error as exc:
        raise OutboxError(f"{p}: not a readable outbox ({exc})") from None
    finally:
        conn.close()
