"""Settings, loaded only at entry points (CLI, service) and passed down as values.

Environment variables use the prefix ``LANEFACE_`` and ``__`` between sections, e.g.
``LANEFACE_MODELS__MODELS_DIR=/opt/laneface/models`` or ``LANEFACE_DETECTION__UPSCALE=2``.
``LANEFACE_MODELS_DIR`` is accepted as a short form of the models directory.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from laneface.records.settings import PrivacySettings, RecordsSettings, ServiceSettings

__all__ = [
    "DetectionSettings",
    "EmbeddingSettings",
    "ImageSettings",
    "LaneSettings",
    "ModelSettings",
    "Settings",
    "default_data_dir",
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


class EmbeddingSettings(BaseModel):
    embedder: str = Field(default="dlib-resnet", description="Recognizer (face template) model name.")
    batch_size: int = Field(default=32, ge=1, le=1024)
    refine_landmarks: bool = Field(
        default=True, description="dlib ResNet: refine landmarks with dlib's 5-point model and use dlib's face chip."
    )
    num_threads: int = Field(default=1, ge=1, le=64)


class ImageSettings(BaseModel):
    max_bytes: int = Field(default=50 * 1024 * 1024, ge=1)
    max_pixels: int = Field(default=64_000_000, ge=1)


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
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    lane: LaneSettings = Field(default_factory=LaneSettings)
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "WARNING"


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
