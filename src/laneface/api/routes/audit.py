"""Auditors: the audit log (who read which biometric record, who changed what)."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import StringConstraints

from laneface.api.deps import records_of, require
from laneface.api.errors import ERROR_RESPONSES
from laneface.api.roles import Caller
from laneface.api.schemas.admin import AuditEventPublic, AuditList
from laneface.api.schemas.common import Instant
from laneface.records.audit import AuditFilter
from laneface.records.service import RecordsService

__all__ = ["router"]

router = APIRouter(tags=["auditors"])
Name = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]


@router.get("/v1/audit-events", responses=ERROR_RESPONSES, summary="The audit log, oldest first")
def audit_events(
    _caller: Annotated[Caller, Depends(require("auditor"))],
    records: Annotated[RecordsService, Depends(records_of)],
    since: Annotated[Instant | None, Query()] = None,
    until: Annotated[Instant | None, Query()] = None,
    action: Annotated[Name | None, Query(description="e.g. biometric.read")] = None,
    actor: Annotated[Name | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> AuditList:
    events = records.audit_events(
        AuditFilter(since=since, until=until, action=action, actor=actor, limit=limit, offset=offset)
    )
    items = [
        AuditEventPublic(
            id=e.id,
            at=e.at,
            actor=e.actor,
            role=e.role,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            outcome=e.outcome,
            details=json.loads(e.details_json),
        )
        for e in events
    ]
    return AuditList(items=items, limit=limit, offset=offset)
