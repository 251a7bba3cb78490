"""The audit log: who did what to which record, when. Every read of biometric data writes one event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from laneface.records.tables import AuditEvent

__all__ = ["SYSTEM", "Actions", "Actor", "AuditFilter", "list_events", "record_event"]


@dataclass(frozen=True)
class Actor:
    """Who acts: an API principal (name + role used) or a command/job (role ``system``)."""

    name: str
    role: str


SYSTEM = Actor("system", "system")


class Actions:
    BIOMETRIC_READ = "biometric.read"
    ACCESS_DENIED = "access.denied"
    PASSAGE_CREATE = "passage.create"
    REVIEW_CREATE = "review.create"
    GALLERY_ENROLL = "gallery.enroll"
    GALLERY_REMOVE = "gallery.remove"
    TRAVELLER_OPT_OUT = "traveller.opt_out"
    RETENTION_UPDATE = "retention.update"
    RETENTION_PURGE = "retention.purge"
    KEY_ROTATE = "key.rotate"
    BOOTH_PROMPT = "booth.prompt"


def record_event(
    session: Session,
    *,
    at: datetime,
    actor: Actor,
    action: str,
    outcome: str = "ok",
    object_type: str | None = None,
    object_id: str | None = None,
    details: dict[str, object] | None = None,
) -> AuditEvent:
    event = AuditEvent(
        at=at,
        actor=actor.name[:128],
        role=actor.role[:16],
        action=action,
        object_type=object_type,
        object_id=object_id,
        outcome=outcome,
        details_json=json.dumps(details or {}, sort_keys=True, default=str),
    )
    session.add(event)
    return event


@dataclass(frozen=True)
class AuditFilter:
    since: datetime | None = None
    until: datetime | None = None
    action: str | None = None
    actor: str | None = None
    limit: int = 100
    offset: int = 0


def list_events(session: Session, flt: AuditFilter) -> list[AuditEvent]:
    query = select(AuditEvent)
    if flt.since is not None:
        query = query.where(AuditEvent.at >= flt.since)
    if flt.until is not None:
        query = query.where(AuditEvent.at < flt.until)
    if flt.action is not None:
        query = query.where(AuditEvent.action == flt.action)
    if flt.actor is not None:
        query = query.where(AuditEvent.actor == flt.actor)
    query = query.order_by(AuditEvent.id).limit(flt.limit).offset(flt.offset)
    return list(session.scalars(query))
