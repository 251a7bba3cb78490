"""Administration (gallery, opt-out, retention, purge) and the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from laneface.config import RetentionRule

__all__ = [
    "AuditEventPublic",
    "AuditList",
    "DocumentEnrolled",
    "GalleryInfoPublic",
    "OptOutResult",
    "OptOutUpdate",
    "PurgeReportPublic",
    "RetentionPublic",
    "RetentionRuleIn",
    "RetentionUpdate",
]


class GalleryInfoPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    backend: str
    documents: int
    model_version: str | None


class DocumentEnrolled(BaseModel):
    doc_id: str
    doc_type: str
    traveller_ref: str
    citizenship: str
    biometric_opt_out: bool
    quality_flags: list[str] = Field(default_factory=list, description="Quality requirements the photo missed.")
    has_photo: bool = Field(default=False, description="The photo is stored (encrypted) for adjudication.")


class OptOutUpdate(BaseModel):
    model_config = ConfigDict(strict=True)  # a JSON boolean, not 0/1 or "yes"

    opt_out: bool


class OptOutResult(BaseModel):
    traveller_ref: str
    opt_out: bool
    biometrics_deleted: int


class RetentionRuleIn(BaseModel):
    model_config = ConfigDict(strict=True)  # JSON types as declared: no booleans or strings for numbers

    kind: Literal["face_image", "template"]
    citizenship: str = Field(default="*", pattern=r"^(\*|citizen|[A-Z]{3})$")
    max_age_hours: float | None = Field(default=None, ge=0.0, le=24.0 * 365 * 10, allow_inf_nan=False)

    def to_rule(self) -> RetentionRule:
        return RetentionRule(kind=self.kind, citizenship=self.citizenship, max_age_hours=self.max_age_hours)


class RetentionUpdate(BaseModel):
    model_config = ConfigDict(strict=True)

    rules: list[RetentionRuleIn] = Field(max_length=200)

    @model_validator(mode="after")
    def _one_rule_per_key(self) -> RetentionUpdate:
        keys = [(r.kind, r.citizenship) for r in self.rules]
        if len(keys) != len(set(keys)):
            raise ValueError("at most one rule per (kind, citizenship)")
        return self


class RetentionPublic(BaseModel):
    source: Literal["configuration", "administrator"]
    home_country: str
    opted_out_images_kept: Literal[False] = False
    rules: list[RetentionRuleIn]


class PurgeReportPublic(BaseModel):
    now: datetime
    opted_out: int
    expired: dict[str, int]
    total: int


class AuditEventPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    at: datetime
    actor: str
    role: str
    action: str
    object_type: str | None
    object_id: str | None
    outcome: str
    details: dict[str, object]


class AuditList(BaseModel):
    items: list[AuditEventPublic]
    limit: int
    offset: int
