"""Settings, loaded only at entry points (CLI, service) and passed down as values.

Environment variables use the prefix ``LANEFACE_`` and ``__`` between sections, e.g.
``LANEFACE_MODELS__MODELS_DIR=/opt/laneface/models`` or ``LANEFACE_DETECTION__UPSCALE=2``.
``LANEFACE_MODELS_DIR`` is accepted as a short form of the models directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

__all__ = [
    "DetectionSettings",
    "EmbeddingSettings",
    "EnhanceSettings",
    "ImageSettings",
    "LaneSettings",
    "ModelSettings",
    "PrivacySettings",
    "RecordKind",
    "RecordsSettings",
    "RetentionRule",
    "ServiceSettings",
    "Settings",
    "default_data_dir",
    "default_retention_rules",
    "load_settings",
]


def default_data_dir() -> Path:
    """The per-user data directory (platform convention), used when no --data-dir is given."""
    from platformdirs import user_data_path

    return user_data_path("laneface", appauthor=False)


class ModelSettings(BaseModel):
    models_dir: Path | None = Field(
        default=None,
        description="Directory searched first for model files (then the user data dir, then PyPI packages).",
    )
    base_url: str | None = Field(
        default=None, description="Base URL that `laneface models pull` downloads from (http or https)."
    )
    specs_file: Path | None = Field(
        default=None, description="TOML file with extra [[model]] specs, e.g. an agency's ArcFace-class ONNX model."
    )
    verify_checksums: bool = True

    @field_validator("base_url")
    @classmethod
    def _http_only(cls, v: str | None) -> str | None:
        if v is not None and not v.startswith(("http://", "https://")):
            raise ValueError("models.base_url must start with http:// or https://")
        return v


class DetectionSettings(BaseModel):
    detector: str = Field(default="auto", description="Detector name, or 'auto' for the best one installed.")
    score_threshold: float | None = Field(default=None, ge=0.0, le=1.0)
    upscale: float = Field(default=1.0, ge=0.25, le=8.0, description="Resize factor applied before detection.")
    tile_size: int = Field(default=0, ge=0, description="Square tile side in (upscaled) pixels; 0 = no tiling.")
    tile_overlap: float = Field(default=0.25, ge=0.0, lt=0.9)
    num_threads: int = Field(default=1, ge=1, le=64)
    min_face_px: float = Field(
        default=16.0,
        ge=4.0,
        le=400.0,
        description="MTCNN: smallest face (box side, about 2x the inter-eye distance) searched; under 12 upsamples.",
    )


class EnhanceSettings(BaseModel):
    """Exposure and local-contrast correction of dark regions before detection
    (:func:`laneface.detection.enhance.enhance_dark`)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    # tinted and unlit windows are far below a lit scene's mean; brighter crops are left as they are
    below_mean: float = Field(
        default=80.0, ge=0.0, le=255.0, description="Only images (regions) whose mean luma is below this are corrected."
    )
    target_mean: float = Field(
        default=110.0, gt=0.0, lt=255.0, description="Mean luma the gamma curve brings a dark image towards."
    )
    # CLAHE's usual clip limit: stronger limits amplify sensor noise into face-like texture
    clip_limit: float = Field(default=2.0, ge=0.0, le=40.0, description="CLAHE clip limit (0: gamma only).")
    tile_px: int = Field(default=48, ge=8, le=1024, description="CLAHE tile side in pixels (about a large face).")


class EmbeddingSettings(BaseModel):
    embedder: str = Field(
        default="auto",
        description="Recognizer (face template) model name, or 'auto': SFace when its file is present, else dlib "
        "ResNet (PyPI). Templates record the resolved model's version.",
    )
    batch_size: int = Field(default=32, ge=1, le=1024)
    refine_landmarks: bool = Field(
        default=True, description="dlib ResNet: refine landmarks with dlib's 5-point model and use dlib's face chip."
    )
    num_threads: int = Field(default=1, ge=1, le=64)


class ImageSettings(BaseModel):
    max_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    max_pixels: int = Field(default=64_000_000, ge=1)


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


class GallerySettings(BaseModel):
    backend: Literal["faiss", "exact", "milvus"] | None = Field(
        default=None,
        description="Vector index of a new gallery (unset: FAISS); a gallery keeps the one it was made with.",
    )
    milvus_uri: str = Field(
        default="", description="Milvus server (http://host:19530) or Milvus Lite file; unset: the gallery's own."
    )
    milvus_token: SecretStr | None = Field(default=None, description="Token of the Milvus server, if it asks for one.")
    metadata_url: str = Field(
        default="",
        description=(
            "Database of the gallery's documents and templates, shared by service replicas and lanes: a SQLAlchemy "
            "URL, or 'records' for the records database. Unset: gallery.sqlite in the data directory."
        ),
    )


class ServiceSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8080, ge=1, le=65535)
    lane_keys: list[SecretStr] = Field(default_factory=list, description="API keys of lanes (or sha256:<hex>).")
    officer_keys: list[SecretStr] = Field(default_factory=list)
    auditor_keys: list[SecretStr] = Field(default_factory=list)
    admin_keys: list[SecretStr] = Field(default_factory=list)
    metrics_keys: list[SecretStr] = Field(
        default_factory=list, description="API keys of Prometheus scrapers: they read /metrics and nothing else."
    )
    docs: bool = Field(
        default=False, description="Serve /docs (an offline page of the OpenAPI schema); /openapi.json is always on."
    )
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
    # replicas on one database must show one booth whichever replica a lane posts to and an officer watches
    booth_shared: bool = Field(
        default=False,
        description="Keep the booth view in the records database (encrypted), not in this process: for a "
        "service run as several replicas.",
    )
    booth_poll_s: float = Field(
        default=0.5, gt=0.0, le=10.0, description="With booth_shared: how often an open booth stream looks again."
    )
    # the booth view holds face thumbnails: a lane closed for the night must not keep its last vehicle's
    booth_keep_s: float = Field(
        default=900.0,
        gt=0.0,
        le=86_400.0,
        description="A lane's booth view (its vehicle, seats and face thumbnails) is cleared once nothing has "
        "changed it for this long.",
    )

    @field_validator("oauth2_public_key_pem")
    @classmethod
    def _pem(cls, v: str | None) -> str | None:
        if v is not None and "BEGIN PUBLIC KEY" not in v:
            raise ValueError("service.oauth2_public_key_pem must be a PEM 'PUBLIC KEY'")
        return v


class LaneSettings(BaseModel):
    """The lane pipeline: ``laneface run`` / ``bench lane`` options, lane.toml's ``[pipeline]`` table and
    ``LANEFACE_LANE__*`` all set these fields (one source of the defaults). ``detector`` and ``embedder``
    default to the detection and embedding sections."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    detector: str | None = None
    embedder: str | None = None
    profile: str = Field(default="vehicle", min_length=1, description="Quality profile of a capture.")
    detect_fps: float = Field(
        default=5.0, gt=0.0, le=120.0, description="Frames per second of a front camera that go through detection."
    )
    side_detect_fps: float = Field(
        default=10.0, gt=0.0, le=120.0, description="The same for side cameras (views left, right)."
    )
    # whole-frame searches cost most of the CPU; tracks carry the faces between them
    full_frame_fps: float = Field(
        default=1.25, gt=0.0, le=120.0, description="Frames per second searched whole; the others only around tracks."
    )
    # a base passage (3-4.5 s) gets about 4 at full_frame_fps; a fast vehicle seen for 1-1.5 s needs as many
    min_full_frames: int = Field(
        default=4,
        ge=0,
        le=64,
        description="Whole-frame searches per camera and passage at least, spread over its duration "
        "(short passages; when the video declares its frame count).",
    )
    # rear-row faces of 10-15 px between the eyes are below what detectors find at the frame's own scale
    region_upscale: float = Field(
        default=1.0,
        ge=1.0,
        le=4.0,
        description="Resize factor of the regions searched around tracks (separate from detection.upscale).",
    )
    # rear-row faces too small for the whole-frame search sit beside and behind the faces it finds
    cabin_upscale: float = Field(
        default=1.0,
        ge=1.0,
        le=4.0,
        description="Resize factor of a second search, at whole-frame searches, of the regions around the faces "
        "found (1: none).",
    )
    cabin_margin: float = Field(
        default=2.0, ge=0.0, le=10.0, description="Face sizes around each found face that the cabin search covers."
    )
    # the unified score already counts size; a larger face may still carry more identity: measured, off by default
    template_size_power: float = Field(
        default=0.0,
        ge=0.0,
        le=4.0,
        description="Templates aggregated with weight quality x min(1, inter-eye distance / 40 px) ** this "
        "(0: quality only).",
    )
    # dark windows hold faces below the contrast detectors were trained on; the correction feeds detection only
    enhance_dark: bool = Field(
        default=False, description="Correct exposure and local contrast of dark regions before detection."
    )
    enhance: EnhanceSettings = Field(default_factory=EnhanceSettings, description="How dark regions are corrected.")
    roi_margin: float = Field(default=1.0, ge=0.0, le=10.0, description="Face sizes added around a predicted box.")
    roi_min_side: int = Field(default=128, ge=8, le=4096, description="Smallest side of a search region, px.")
    candidates_per_track: int = Field(default=4, ge=1, le=64, description="Faces per track assessed for quality.")
    shots_per_track: int = Field(
        default=2, ge=1, le=16, description="Best shots of each track that are embedded (1 saves CPU)."
    )
    shots_per_occupant: int = Field(default=3, ge=1, le=64, description="Best shots aggregated per occupant.")
    # lane shots of one person in two cameras score low, so links are looser than 1:1 decisions
    link_fmr: float = Field(default=2e-2, gt=0.0, lt=1.0, description="FMR of the threshold that links two tracks.")
    consistent_link_fmr: float = Field(
        default=5e-2, gt=0.0, lt=1.0, description="The same where seat geometry (side, row) agrees."
    )
    one_to_n_k: int = Field(default=10, ge=1, le=1000, description="Candidates a 1:N search returns.")
    # the officer's view of who is still missing refreshes about as fast as a person reads it
    checkpoint_s: float = Field(
        default=1.0,
        gt=0.0,
        le=60.0,
        description="Seconds of passage time between two looks at the occupants so far, when events are wanted.",
    )
    # the agency asks that faces on shirts, photos, screens and stickers are not taken for travellers
    reject_printed: bool = Field(
        default=True,
        description="Leave out faces no head can make: straight below another face (a print on a chest, a "
        "phone or photo held in front) or far smaller beside one (a photo or screen held up).",
    )
    auto_prompt: bool = Field(
        default=False,
        description="Prompt the occupants (sign, light, voice) when a seat is still missing at the booth.",
    )
    prompt_after_s: float = Field(
        default=5.0, ge=0.0, le=600.0, description="Seconds after the booth stop before the first automatic prompt."
    )
    prompt_every_s: float = Field(
        default=15.0, gt=0.0, le=600.0, description="Seconds between automatic prompts while a seat is missing."
    )
    # big enough for an officer to tell faces apart on the booth view, a few kB each
    event_thumbnail_px: int = Field(
        default=0,
        ge=0,
        le=256,
        description="Height of the face thumbnail an occupant_captured event carries (JPEG, base64); 0: none. "
        "`laneface lane` sends them to the service's booth view only, never to stdout.",
    )
    # outbound lanes read few documents: the ledger's short lists decide before the whole gallery does
    candidate_lists: tuple[Literal["vehicle", "open_stays"], ...] = Field(
        default=("vehicle", "open_stays"),
        description="Ledger candidate lists searched, in order, after the documents read and before the whole "
        "gallery, when the lane has a ledger: people seen in this vehicle before (by plate), travellers "
        "with an open stay.",
    )
    # one list's false matches per occupant searched, whatever its size: as the whole gallery's 1:N target
    list_fpir: float = Field(
        default=1e-3, ge=1e-7, le=0.1, description="FPIR target of each ledger list, at that list's size."
    )
    gallery_last: bool = Field(
        default=True, description="Search the whole gallery (1:N) for occupants no list matched."
    )
    vehicle_days: int = Field(
        default=365, ge=1, le=3660, description="How far back the people seen in the same vehicle are looked up."
    )
    # a misread plate would hand the vehicle another vehicle's people: low-confidence reads look nothing up
    plate_min_confidence: float = Field(
        default=0.5, ge=0.0, le=1.0, description="Plate reads below this confidence look no vehicle up."
    )
    open_stays_lanes: tuple[str, ...] = Field(
        default=(),
        description="Open stays counted only for arrivals at lanes matching one of these patterns "
        "(fnmatch, e.g. 'PAC-*' for one port region); empty: every lane.",
    )
    # the open stays change slowly and their query reads the whole ledger: not once per vehicle
    open_stays_refresh_s: float = Field(
        default=60.0,
        ge=0.0,
        le=3600.0,
        description="Seconds of passage time one open-stays list serves before it is asked again (0: every passage).",
    )
    # association leaves a person's stray tracks apart; the document their companion tracks matched joins them
    absorb_fmr: float = Field(
        default=1e-2,
        ge=0.0,
        le=0.5,
        description="An occupant no document matched joins a matched occupant of the vehicle whose document it "
        "matches at this FMR, when no camera saw them as two faces at once (0: never).",
    )
    # the lane's false matches are about few_fmr x the share of occupants whose document is not read
    few_fmr: float = Field(
        default=1e-2,
        ge=1e-6,
        le=0.5,
        description="1:few target: false-match probability of an occupant whose document was not read "
        "(the lane's false matches are about this times the share of documents not read).",
    )


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LANEFACE_", env_nested_delimiter="__", extra="ignore")

    data_dir: Path = Field(default_factory=default_data_dir)
    models: ModelSettings = Field(default_factory=ModelSettings)
    detection: DetectionSettings = Field(default_factory=DetectionSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    images: ImageSettings = Field(default_factory=ImageSettings)
    records: RecordsSettings = Field(default_factory=RecordsSettings)
    privacy: PrivacySettings = Field(default_factory=PrivacySettings)
    gallery: GallerySettings = Field(default_factory=GallerySettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    lane: LaneSettings = Field(default_factory=LaneSettings)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"
    log_format: Literal["text", "json"] = Field(default="text", description="Log lines as text or JSON objects.")

    @property
    def database_url(self) -> str:
        """``records.database_url``, or by default the SQLite file ``<data dir>/records.db``."""
        if self.records.database_url:
            return self.records.database_url
        return f"sqlite:///{self.data_dir / 'records.db'}"


def load_settings(**overrides: object) -> Settings:
    """Read settings from the environment, then apply non-None keyword overrides (from CLI options)."""
    from pydantic import ValidationError

    from laneface.errors import ConfigError

    try:
        settings = Settings()
        short = os.environ.get("LANEFACE_MODELS_DIR")
        if short and settings.models.models_dir is None:
            settings = settings.model_copy(
                update={"models": settings.models.model_copy(update={"models_dir": Path(short)})}
            )
        data = settings.model_dump()
        for dotted, value in overrides.items():
            if value is None:
                continue
            node = data
            *parents, leaf = dotted.split("__")
            for p in parents:
                node = node[p]
            node[leaf] = value
        return Settings(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ConfigError(f"invalid setting {where}: {first.get('msg')}") from None
