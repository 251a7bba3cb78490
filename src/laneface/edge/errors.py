"""Errors of the lane edge (they derive from :class:`laneface.errors.LanefaceError`).

::

    LanefaceError
    └── OutboxError                   the lane's outbox cannot be opened, locked or written
        └── OutboxConflictError       the same idempotency key was put with a different body

Invalid ``lane.toml`` files raise :class:`laneface.errors.ConfigError`, invalid trigger events
:class:`laneface.errors.InputError`.
"""

from __future__ import annotations

from laneface.errors import LanefaceError

__all__ = ["OutboxConflictError", "OutboxError"]


class OutboxError(LanefaceError):
    """The lane's outbox cannot be used: another lane process holds it, the file is not an outbox, the disk
    refuses a write."""


class OutboxConflictError(OutboxError):
    """A record with the same idempotency key (lane + passage_id) is already in the outbox with another body."""
