"""Retention rules and the purge job that deletes expired face images and templates.

A blob expires at ``created_at + max_age_hours`` of the most specific rule for its kind and the
occupant's citizenship (see :class:`laneface.config.RetentionRule`); it is deleted by the first
purge run at or after that instant (``now + horizon >= expiry``: the service's scheduler passes its own
interval as the horizon, so nothing outlives its deadline between two runs). Blobs of opted-out
travellers are deleted whatever their age. Audit events and crossing metadata are never purged here.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session, aliased

from laneface.config import RetentionRule
from laneface.records.audit import Actions, Actor, record_event
from laneface.records.tables import BiometricBlob, Document, LedgerEntry, Occupant, StoredRetentionRule, Traveller

__all__ = ["PurgeReport", "effective_rules", "purge", "replace_rules", "resolve_rule"]

_BATCH = 500


def effective_rules(session: Session, configured: Sequence[RetentionRule]) -> tuple[list[RetentionRule], str]:
    """(rules, source): the administrator's rules when any are stored, else the configured ones."""
    stored = session.scalars(select(StoredRetentionRule).order_by(StoredRetentionRule.id)).all()
    if stored:
        rules = [
            RetentionRule.model_validate(
                {"kind": r.kind, "citizenship": r.citizenship, "max_age_hours": r.max_age_hours}
            )
            for r in stored
        ]
        return rules, "administrator"
    return list(configured), "configuration"


def replace_rules(session: Session, rules: Sequence[RetentionRule] | None, *, actor: Actor, now: datetime) -> None:
    """Store the administrator's rules (``None``: go back to the configured rules)."""
    session.execute(delete(StoredRetentionRule))
    for r in rules or ():
        session.add(
            StoredRetentionRule(
                kind=r.kind,
                citizenship=r.citizenship,
                max_age_hours=r.max_age_hours,
                updated_at=now,
                updated_by=actor.name,
            )
        )
    record_event(
        session,
        at=now,
        actor=actor,
        action=Actions.RETENTION_UPDATE,
        object_type="retention",
        details={"rules": None if rules is None else [r.model_dump() for r in rules]},
    )


def resolve_rule(
    rules: Sequence[RetentionRule], kind: str, citizenship: str | None, home_country: str
) -> RetentionRule | None:
    """The most specific rule: exact citizenship, then ``citizen`` (home country), then ``*``."""
    by_key: dict[tuple[str, str], RetentionRule] = {(r.kind, r.citizenship): r for r in rules}
    candidates = []
    if citizenship is not None:
        candidates.append(citizenship)
        if citizenship == home_country:
            candidates.append("citizen")
    candidates.append("*")
    for c in candidates:
        rule = by_key.get((kind, c))
        if rule is not None:
            return rule
    return None


@dataclass(frozen=True)
class PurgeReport:
    now: datetime
    horizon_s: float
    opted_out: int
    expired: dict[str, int] = field(default_factory=dict)  # "kind/citizenship-rule" -> count

    @property
    def total(self) -> int:
        return self.opted_out + sum(self.expired.values())


def _delete(session: Session, ids: Sequence[str]) -> None:
    for start in range(0, len(ids), _BATCH):
        session.execute(delete(BiometricBlob).where(BiometricBlob.id.in_(ids[start : start + _BATCH])))


def _opted_out_ids(session: Session) -> list[str]:
    ledger_trav = aliased(Traveller)
    doc_trav = aliased(Traveller)
    query = (
        select(BiometricBlob.id)
        .join(Occupant, BiometricBlob.occupant_pk == Occupant.id)
        .outerjoin(LedgerEntry, LedgerEntry.occupant_pk == Occupant.id)
        .outerjoin(ledger_trav, LedgerEntry.traveller_id == ledger_trav.id)
        .outerjoin(Document, Document.doc_id == Occupant.doc_id)
        .outerjoin(doc_trav, Document.traveller_id == doc_trav.id)
        .where(or_(ledger_trav.biometric_opt_out.is_(True), doc_trav.biometric_opt_out.is_(True)))
        .distinct()
    )
    return list(session.scalars(query))


def purge(
    session: Session,
    *,
    now: datetime,
    rules: Sequence[RetentionRule],
    home_country: str,
    actor: Actor,
    horizon: timedelta = timedelta(0),
    audit_when_empty: bool = True,
) -> PurgeReport:
    """Delete what has expired by ``now + horizon`` and what belongs to opted-out travellers."""
    opted = _opted_out_ids(session)
    _delete(session, opted)
    deadline = now + horizon
    ages = [r.max_age_hours for r in rules if r.max_age_hours is not None]
    expired: Counter[str] = Counter()
    if ages:
        newest_candidate = deadline - timedelta(hours=min(ages))
        ledger_trav = aliased(Traveller)
        match_trav = aliased(Traveller)
        query = (
            select(
                BiometricBlob.id,
                BiometricBlob.kind,
                BiometricBlob.created_at,
                ledger_trav.citizenship,
                match_trav.citizenship,
            )
            .join(Occupant, BiometricBlob.occupant_pk == Occupant.id)
            .outerjoin(LedgerEntry, LedgerEntry.occupant_pk == Occupant.id)
            .outerjoin(ledger_trav, LedgerEntry.traveller_id == ledger_trav.id)
            .outerjoin(Document, (Document.doc_id == Occupant.doc_id) & (Occupant.decision == "match"))
            .outerjoin(match_trav, Document.traveller_id == match_trav.id)
            .where(BiometricBlob.created_at <= newest_candidate)
        )
        doomed: list[str] = []
        for blob_id, kind, created, ledger_cit, match_cit in session.execute(query):
            rule = resolve_rule(rules, kind, ledger_cit or match_cit, home_country)
            if rule is None or rule.max_age_hours is None:
                continue
            if created + timedelta(hours=rule.max_age_hours) <= deadline:
                doomed.append(blob_id)
                expired[f"{kind}/{rule.citizenship}"] += 1
        _delete(session, doomed)
    report = PurgeReport(now=now, horizon_s=horizon.total_seconds(), opted_out=len(opted), expired=dict(expired))
    if report.total or audit_when_empty:
        record_event(
            session,
            at=now,
            actor=actor,
            action=Actions.RETENTION_PURGE,
            object_type="biometric_blobs",
            details={"opted_out": report.opted_out, "expired": report.expired, "horizon_s": report.horizon_s},
        )
    return report
