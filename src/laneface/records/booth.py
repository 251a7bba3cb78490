"""The booth view's state in the records database, for a service run as several replicas.

The records do not read it: each lane's state is the booth hub's JSON (:mod:`laneface.api.booth`), sealed with
the records' cipher (it holds face thumbnails and doc_ids). An edit reads, changes and writes one lane's
row in one transaction with the row locked (``SELECT ... FOR UPDATE`` on PostgreSQL; on SQLite a write to
the row before reading it takes the database's write lock), so two replicas editing one lane apply both
edits (two creating a lane at once: one fails on the key and edits again). A state sealed with a key the
cipher no longer holds (after a key rotation) reads as no state: it is live feedback, not a record.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from laneface.errors import UnknownKeyError
from laneface.records.crypto import BlobCipher
from laneface.records.tables import BoothLane

__all__ = ["booth_states", "edit_booth_state", "read_booth_state"]


def _context(lane: str) -> str:
    return f"booth-state:{lane}"


def _open(cipher: BlobCipher, row: BoothLane) -> bytes | None:
    try:
        return cipher.decrypt(row.key_id, row.state, _context(row.lane))
    except UnknownKeyError:
        return None


def read_booth_state(session: Session, cipher: BlobCipher, lane: str) -> bytes | None:
    row = session.get(BoothLane, lane)
    return None if row is None else _open(cipher, row)


def booth_states(session: Session, cipher: BlobCipher, limit: int) -> list[bytes]:
    """The lanes' states, most recently updated first."""
    rows = session.scalars(select(BoothLane).order_by(BoothLane.updated_at.desc(), BoothLane.lane).limit(limit))
    return [state for row in rows if (state := _open(cipher, row)) is not None]


def edit_booth_state(
    session: Session,
    cipher: BlobCipher,
    lane: str,
    edit: Callable[[bytes | None], tuple[bytes, int]],
    now: datetime,
) -> None:
    """``edit(old state or None) -> (new state, its seq)``, with the lane's row locked until the caller commits."""
    if session.get_bind().dialect.name == "sqlite":  # take SQLite's write lock before reading: no lost update
        session.execute(update(BoothLane).where(BoothLane.lane == lane).values(seq=BoothLane.seq))
    row = session.get(BoothLane, lane, with_for_update=True)
    state, seq = edit(None if row is None else _open(cipher, row))
    key_id, sealed = cipher.encrypt(state, _context(lane))
    if row is None:
        session.add(BoothLane(lane=lane, seq=seq, updated_at=now, key_id=key_id, state=sealed))
    else:
        row.seq, row.updated_at, row.key_id, row.state = seq, now, key_id, sealed
    session.flush()
