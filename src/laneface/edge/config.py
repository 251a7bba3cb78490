"""``lane.toml``: the configuration of one lane process (``laneface lane --config lane.toml``).

Validated with pydantic (unknown keys are errors, so a typo is not silently ignored); every problem becomes
one :class:`~laneface.errors.ConfigError` naming the file and the field. Relative paths (outbox, spool,
camera video files, API key file) are relative to the directory of ``lane.toml``. The API key is never in
the file: it is read from the environment variable ``service.api_key_env`` or the file
``service.api_key_file``. See README.md "Lane edge" for an example.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, model_validator

from laneface.config import LaneSettings
from laneface.errors import ConfigError
from laneface.types import Direction

__all__ = [
    "CameraConfig",
    "DeliveryConfig",
    "LaneFileConfig",
    "PassageConfig",
    "ServiceConfig",
    "TriggerConfig",
    "load_lane_config",
    "redact_url",
]

Ident = Annotated[str, StringConstraints(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")]
CameraName = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")]
EnvName = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$")]
STREAM_SCHEMES = frozenset({"rtsp", "rtsps", "rtmp", "http", "https", "udp", "tcp", "srt"})
MIN_API_KEY_CHARS = 16


def redact_url(url: str) -> str:
    """``url`` without a password (camera URLs often carry credentials): safe to log."""
    parts = urlsplit(url)
    if parts.password is None and parts.username is None:
        return url
    host = parts.hostname or ""
    netloc = f"***@{host}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, ""))


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


ServiceUrl = Annotated[str, StringConstraints(pattern=r"^https?://[^\s/]+(/\S*)?$", max_length=500)]


class ServiceConfig(_Model):
    """The central records service: ``url``, and ``fallback_urls`` of its other replicas (the outbox fails over
    to them in turn; booth events go to ``url``)."""

    url: ServiceUrl
    fallback_urls: tuple[ServiceUrl, ...] = Field(default=(), max_length=8)
    api_key_env: EnvName = "LANEFACE_LANE_API_KEY"
    api_key_file: Path | None = None
    timeout_s: float = Field(default=10.0, gt=0.0, le=300.0)

    @property
    def urls(self) -> tuple[str, ...]:
        """Every replica, ``url`` first."""
        return (self.url, *self.fallback_urls)

    def api_key(self, environ: Mapping[str, str] | None = None) -> str:
        """The lane's API key: ``api_key_file`` when set, else the variable ``api_key_env``."""
        if self.api_key_file is not None:
            try:
                key = self.api_key_file.read_text(encoding="utf-8").strip()
            except (OSError, UnicodeDecodeError) as exc:
                raise ConfigError(
                    f"service.api_key_file {self.api_key_file}: cannot be read ({exc.__class__.__name__})"
                ) from None
            where = f"file {self.api_key_file}"
        else:
            key = (os.environ if environ is None else environ).get(self.api_key_env, "").strip()
            where = f"environment variable {self.api_key_env}"
        if len(key) < MIN_API_KEY_CHARS:
            raise ConfigError(
                f"no lane API key: {where} must hold the key of role 'lane' (at least {MIN_API_KEY_CHARS} characters)"
            )
        return key


class DeliveryConfig(_Model):
    """Retries towards the service. ``drain_s``: on a clean stop (stdin closed) how long to keep delivering;
    ``keep_delivered_s``: how long the bodies (face images) of delivered records stay in the outbox."""

    backoff_initial_s: float = Field(default=1.0, gt=0.0, le=3600.0)
    backoff_factor: float = Field(default=2.0, ge=1.0, le=10.0)
    backoff_max_s: float = Field(default=30.0, gt=0.0, le=3600.0)
    jitter: float = Field(default=0.2, ge=0.0, lt=1.0)
    drain_s: float = Field(default=10.0, ge=0.0, le=3600.0)
    keep_delivered_s: float = Field(default=3600.0, ge=0.0)
    send_images: bool = True

    @model_validator(mode="after")
    def _initial_below_max(self) -> DeliveryConfig:
        if self.backoff_initial_s > self.backoff_max_s:
            raise ValueError("backoff_initial_s must not exceed backoff_max_s")
        return self


class CameraConfig(_Model):
    """One camera: ``url`` is a stream (``rtsp://...``) or a video file (played in real time, like a live
    camera; ``loop`` starts it again at its end). ``fps`` is the frame rate kept in passages."""

    name: CameraName
    view: Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")] = "front"
    url: Annotated[str, StringConstraints(min_length=1, max_length=2000)]
    fps: float = Field(default=10.0, gt=0.0, le=120.0)
    zone: Ident | None = None  # the capture zone it films ("approach", "booth", ...): lanes with a booth
    loop: bool = False
    jpeg_quality: int = Field(default=90, ge=50, le=100)

    @property
    def is_stream(self) -> bool:
        return urlsplit(self.url).scheme.lower() in STREAM_SCHEMES

    @property
    def safe_url(self) -> str:
        return redact_url(self.url)


class TriggerConfig(_Model):
    """What cuts passages: ``stdin`` (JSON lines), ``http`` (POST /trigger on a loopback port; the trigger has
    no authentication, so only loopback addresses are accepted) or ``auto`` (faces appear and disappear on
    ``camera``, checked ``check_fps`` times per second with ``detector``)."""

    kind: Literal["stdin", "http", "auto"] = "stdin"
    host: str = "127.0.0.1"
    port: int = Field(default=8765, ge=0, le=65535)
    camera: CameraName | None = None
    detector: str | None = None
    check_fps: float = Field(default=2.0, gt=0.0, le=30.0)
    min_hits: int = Field(default=2, ge=1, le=100)
    gap_s: float = Field(default=2.0, gt=0.0, le=60.0)
    pre_s: float = Field(default=1.0, ge=0.0, le=30.0)
    post_s: float = Field(default=1.0, ge=0.0, le=30.0)

    @model_validator(mode="after")
    def _consistent(self) -> TriggerConfig:
        if self.host not in ("127.0.0.1", "::1", "localhost"):
            raise ValueError("trigger.host must be a loopback address (127.0.0.1, ::1, localhost)")
        if self.post_s > self.gap_s:
            raise ValueError("trigger.post_s must not exceed trigger.gap_s")
        return self


class PassageConfig(_Model):
    """``max_s``: longest passage cut; ``buffer_s``: seconds of frames kept per camera; ``cut_wait_s``: how
    long a cut waits for a camera to deliver frames up to the trigger time."""

    max_s: float = Field(default=20.0, gt=0.0, le=600.0)
    buffer_s: float = Field(default=30.0, gt=0.0, le=600.0)
    cut_wait_s: float = Field(default=2.0, ge=0.0, le=60.0)

    @model_validator(mode="after")
    def _buffer_holds_a_passage(self) -> PassageConfig:
        if self.buffer_s < self.max_s:
            raise ValueError("passage.buffer_s must be at least passage.max_s")
        return self


class BoothConfig(_Model):
    """The service's booth view: ``post_events`` sends the pipeline's events to it (``/v1/lanes/{lane}/events``)
    and takes the officers' prompts from its answers, asking every ``poll_s`` when there is nothing to send.
    Thumbnails on the view need ``[pipeline] event_thumbnail_px`` (96 is enough). ``live`` processes each
    passage while it happens, from its ``start`` trigger to its ``end`` trigger (the events come as the
    vehicle approaches and waits at the booth; the spooled copy is processed again only if the live result
    is lost), instead of after the ``end`` trigger."""

    post_events: bool = False
    poll_s: float = Field(default=2.0, gt=0.0, le=60.0)
    live: bool = False


class LaneFileConfig(_Model):
    """The whole ``lane.toml``."""

    lane: Ident
    direction: Direction
    outbox: Path
    spool_dir: Path
    service: ServiceConfig
    camera: list[CameraConfig] = Field(min_length=1, max_length=16)
    trigger: TriggerConfig = Field(default_factory=TriggerConfig)
    passage: PassageConfig = Field(default_factory=PassageConfig)
    delivery: DeliveryConfig = Field(default_factory=DeliveryConfig)
    booth: BoothConfig = Field(default_factory=BoothConfig)
    pipeline: LaneSettings = Field(default_factory=LaneSettings)  # the lane pipeline, as `laneface run`'s options

    @model_validator(mode="after")
    def _cameras(self) -> LaneFileConfig:
        names = [c.name for c in self.camera]
        if len(names) != len(set(names)):
            raise ValueError("camera names must be unique")
        if self.trigger.camera is not None and self.trigger.camera not in names:
            raise ValueError(f"trigger.camera {self.trigger.camera!r} is not a camera of the lane")
        return self

    @property
    def trigger_camera(self) -> str:
        """The camera ``auto`` segmentation watches: ``trigger.camera``, else the first front view, else the first."""
        if self.trigger.camera is not None:
            return self.trigger.camera
        return next((c.name for c in self.camera if c.view == "front"), self.camera[0].name)


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _resolve(cfg: LaneFileConfig, base: Path, source: Path) -> LaneFileConfig:
    def rel(p: Path) -> Path:
        return p if p.is_absolute() else (base / p)

    cameras = []
    for cam in cfg.camera:
        if cam.is_stream:
            cameras.append(cam)
            continue
        path = rel(Path(cam.url.removeprefix("file://")))
        if not path.is_file():
            raise ConfigError(f"{source}: camera {cam.name!r}: video file {path} not found")
        cameras.append(cam.model_copy(update={"url": str(path)}))
    service = cfg.service
    if service.api_key_file is not None:
        service = service.model_copy(update={"api_key_file": rel(service.api_key_file)})
    return cfg.model_copy(
        update={"outbox": rel(cfg.outbox), "spool_dir": rel(cfg.spool_dir), "camera": cameras, "service": service}
    )


def load_lane_config(path: Path | str) -> LaneFileConfig:
    """Read and validate ``lane.toml``; relative paths are resolved against its directory."""
    source = Path(path)
    try:
        raw = tomllib.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{source}: lane configuration not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{source}: cannot be read ({exc.__class__.__name__})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None
    try:
        cfg = LaneFileConfig.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(f"{_where(e['loc'])}: {e['msg']}" for e in exc.errors(include_input=False))
        raise ConfigError(f"{source}: {problems}") from None
    return _resolve(cfg, source.resolve().parent, source)
