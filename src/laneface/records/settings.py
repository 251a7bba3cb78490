"""Settings sections of the records database, privacy rules and the HTTP service.

Three nested sections, meant to become fields of :class:`laneface.config.Settings` (``records``,
``privacy``, ``service``). Until they are, :func:`sections_of` reads them from the environment with the
same convention (prefix ``LANEFACE_``, ``__`` between levels), e.g. ``LANEFACE_RECORDS__DATABASE_URL``,
``LANEFACE_PRIVACY__ENCRYPTION_KEY``, ``LANEFACE_SERVICE__OFFICER_KEYS='["..."]'``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

if TYPE_CHECKING:  # laneface.config will import this module for its records/privacy/service fields
    from laneface.config import Settings

__all__ = [
    "PrivacySettings",
    "RecordKind",
    "RecordsSettings",
    "RetentionRule",
    "Sections",
    "ServiceSettings",
    "default_retention_rules",
    "sections_of",
]

RecordKind = Literal["face_image", "template"]


class RetentionRule(BaseModel):
    """How long one kind of biometric record is kept for travellers of one citizenship.

    ``citizenship`` is an ISO 3166-1 alpha-3 code, ``"citizen"`` (the operating state's own citizens,
    ``privacy.home_country``) or ``"*"`` (anyone, including occupants whose identity is unknown). The most
    specific rule wins: exact code, then ``"citizen"``, then ``"*"``. ``max_age_hours = None`` keeps the
    record until an administrator removes it.
    """

    kind: RecordKind
    citizenship: str = Field(default="*", pattern=r"^(\*|citizen|[A-Z]{3})$")
    max_age_hours: float | None = Field(default=None, ge=0.0, le=24.0 * 365 * 10)


def default_retention_rules() -> list[RetentionRule]:
    """Citizens' face images and templates: 12 hours. Everyone else: 30 days."""
    return [
        RetentionRule(kind="face_image", citizenship="citizen", max_age_hours=12.0),
        RetentionRule(kind="template", citizenship="citizen", max_age_hours=12.0),
        RetentionRule(kind="face_image", citizenship="*", max_age_hours=720.0),
        RetentionRule(kind="template", citizenship="*", max_age_hours=720.0),
    ]


class RecordsSettings(BaseModel):
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the records database; default sqlite:///<data dir>/records.db. "
        "PostgreSQL: postgresql+psycopg://user:password@host/db.",
    )
    auto_migrate: bool = Field(default=True, description="`serve` upgrades the schema to the newest revision.")
    admission_days: dict[str, int] = Field(
        default_factory=lambda: {"passport": 90, "id_card": 90, "visa": 90, "residence_permit": 3650},
        description="Admission period in days per document type (stay and overstay computation).",
    )
    default_admission_days: int = Field(default=90, ge=0, description="For document types not listed.")
    auto_confirm_matches: bool = Field(
        default=True, description="A lane 'match' on an enrolled document is a confirmed arrival/departure."
    )


class PrivacySettings(BaseModel):
    home_country: str = Field(
        default="UTO",
        pattern=r"^[A-Z]{3}$",
        description="ISO 3166-1 alpha-3 code of the operating state: its citizens match the 'citizen' rules.",
    )
    retention: list[RetentionRule] = Field(default_factory=default_retention_rules)
    encryption_key: SecretStr | None = Field(
        default=None, description="Base64 of 32 random bytes: AES-256-GCM key for face images and templates."
    )
    previous_encryption_keys: list[SecretStr] = Field(
        default_factory=list, description="Older keys still accepted for reading (during a key rotation)."
    )
    purge_interval_s: float = Field(default=300.0, gt=0.0, description="How often `serve` runs the purge job.")


class ServiceSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    lane_keys: list[SecretStr] = Field(default_factory=list, description="API keys of lanes (or sha256:<hex>).")
    officer_keys: list[SecretStr] = Field(default_factory=list)
    auditor_keys: list[SecretStr] = Field(default_factory=list)
    admin_keys: list[SecretStr] = Field(default_factory=list)
    oauth2_hs256_secret: SecretStr | None = Field(
        default=None, description="Shared secret of the authorization server (HS256 bearer tokens)."
    )
    oauth2_public_key_pem: str | None = Field(
        default=None, description="PEM public key of the authorization server (RS256 bearer tokens)."
    )
    oauth2_issuer: str | None = None
    oauth2_audience: str = "laneface"
    oauth2_roles_claim: str = "roles"
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024, description="Larger request bodies get 413.")
    max_image_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    max_image_pixels: int = Field(default=16_000_000, ge=1)

    @field_validator("oauth2_public_key_pem")
    @classmethod
    def _pem(cls, v: str | None) -> str | None:
        if v is not None and "BEGIN PUBLIC KEY" not in v:
            raise ValueError("service.oauth2_public_key_pem must be a PEM 'PUBLIC KEY'")
        return v


class _EnvSections(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LANEFACE_", env_nested_delimiter="__", extra="ignore")

    records: RecordsSettings = Field(default_factory=RecordsSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)


@dataclass(frozen=True)
class Sections:
    """The three sections and the data directory, resolved once by an entry point."""

    data_dir: Path
    records: RecordsSettings
    privacy: PrivacySettings
    service: ServiceSettings

    @property
    def database_url(self) -> str:
        if self.records.database_url:
            return self.records.database_url
        return f"sqlite:///{self.data_dir / 'records.db'}"


def sections_of(settings: Settings) -> Sections:
    """The sections from ``settings`` when it has them, else from the environment (same names)."""
    from pydantic import ValidationError

    from laneface.errors import ConfigError

    records = getattr(settings, "records", None)
    privacy = getattr(settings, "privacy", None)
    service = getattr(settings, "service", None)
    if not (
        isinstance(records, RecordsSettings)
        and isinstance(privacy, PrivacySettings)
        and isinstance(service, ServiceSettings)
    ):
        try:
            env = _EnvSections()
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise ConfigError(f"invalid setting {where}: {first.get('msg')}") from None
        records = records if isinstance(records, RecordsSettings) else env.records
        privacy = privacy if isinstance(privacy, PrivacySettings) else env.privacy
        service = service if isinstance(service, ServiceSettings) else env.service
    return Sections(data_dir=settings.data_dir, records=records, privacy=privacy, service=service)
