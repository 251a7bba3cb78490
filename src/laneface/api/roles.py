"""Roles and the authenticated caller.

Biometric data = face images and face templates. Comparison scores and decisions are not biometric data
(they are derived results an officer needs to adjudicate). Who may see what:

* ``lane``: posts passages; reads nothing back but the receipt of its own post;
* ``officer``: reads crossings (metadata, scores, decisions), reads best-shot images of occupants and the
  enrolled document photos for adjudication (each read is audited), records review decisions, reads ledgers,
  stays and statistics;
* ``auditor``: reads the audit log, statistics and retention rules; never images or templates;
* ``admin``: manages the gallery, travellers' opt-out and retention rules, runs the purge; never reads
  images or templates (enrolment photos are written to the gallery and the records, not read back);
* ``metrics``: reads ``/metrics`` (a Prometheus scraper's key), nothing else.

No endpoint returns templates to anyone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, get_args

from laneface.records.audit import Actor

__all__ = ["ROLES", "Caller", "Principal", "Role"]

Role = Literal["lane", "officer", "auditor", "admin", "metrics"]
ROLES: tuple[Role, ...] = get_args(Role)


@dataclass(frozen=True)
class Principal:
    """Who is calling: a name (API key fingerprint or token subject), the roles granted, how they proved it."""

    name: str
    roles: frozenset[Role]
    method: Literal["api_key", "bearer"]


@dataclass(frozen=True)
class Caller:
    """A principal acting in one role that the endpoint allows."""

    principal: Principal
    role: Role

    @property
    def actor(self) -> Actor:
        return Actor(name=self.principal.name, role=self.role)
