"""The passage reader: one vehicle going through the capture zone of one lane.

Format (a contract)::

    <passage_dir>/passage.json
    <passage_dir>/cam_<name>.mp4      one video per camera (any OpenCV-readable video),
    <passage_dir>/cam_<name>/         or a folder of frame images (sorted by file name)

``passage.json``::

    {"passage_id": "P-000123", "lane": "L3", "direction": "inbound" | "outbound",
     "started_at": "2026-11-22T15:04:05Z",
     "documents": ["DOC-1", ...],        # read in the lane (RFID, ...): may be empty or incomplete
     "plate": {"text": "ABC 123", "region": "ON", "confidence": 0.93},   # optional: the plate reader's read
     "cameras": {"front": {"file": "cam_front.mp4", "view": "front", "fps": 10}, ...}}

``view`` is ``"front"``, ``"left"``, ``"right"`` or any other label; ``file`` is relative to the passage
directory and must stay inside it (when it is left out, ``cam_<name>.mp4`` or the folder ``cam_<name>/``
is used). Optional, for lanes with more than one capture zone: ``zone`` (a label: ``"approach"``,
``"booth"``, ``"drive-through"``, ...) and ``start_s`` (seconds from the passage's start to the camera's
first frame, default 0). ``documents`` are those read in the lane in either direction (outbound: RFID
passport cards and enhanced licences read at the drive-through). ``plate`` (optional; ``region`` and
``confidence`` may be left out: unknown, 1.0) lets an outbound lane look up the people seen in the same
vehicle before (:mod:`laneface.plates`). Extra keys are ignored.

:func:`read_passage` validates everything it can without decoding video and raises
:class:`~laneface.errors.InvalidPassageError` (format) or :class:`~laneface.errors.InvalidVideoError`
(a camera file that is missing or empty); decoding errors surface when the frames are read.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from laneface.capture.frames import FrameSource, open_frame_source
from laneface.errors import InvalidPassageError, InvalidVideoError
from laneface.plates import PlateRead
from laneface.types import Direction

__all__ = ["PASSAGE_FILE", "CameraSpec", "Passage", "passage_id_of", "read_passage"]

PASSAGE_FILE = "passage.json"
MAX_PASSAGE_JSON_BYTES = 1 << 20
_DIRECTIONS: tuple[Direction, ...] = ("inbound", "outbound")
_CAMERA_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.")


@dataclass(frozen=True)
class CameraSpec:
    """One camera of a passage: its name, where its frames are, its view and frame rate."""

    name: str
    path: Path  # resolved, inside the passage directory
    view: str
    fps: float
    zone: str | None = None  # the capture zone this camera films (None: the passage has one zone)
    start_s: float = 0.0  # its first frame, seconds after the passage's start

    def source(self) -> FrameSource:
        """A reader of this camera's frames (video file or frame folder)."""
        return open_frame_source(self.path, self.name, self.fps)


@dataclass(frozen=True)
class Passage:
    """A validated passage (``passage.json`` plus the located camera files)."""

    directory: Path
    passage_id: str
    lane: str
    direction: Direction
    started_at: datetime
    documents: tuple[str, ...]
    cameras: tuple[CameraSpec, ...]
    plate: PlateRead | None = None  # the plate reader's read, when the lane has one

    @property
    def stop_s(self) -> float | None:
        """When the vehicle stops at the booth: the first frame of a ``booth`` camera (``None``: no booth)."""
        return min((c.start_s for c in self.cameras if c.zone == "booth"), default=None)

    def zone_at(self, t: float) -> str | None:
        """The zone the vehicle is in at passage time ``t``: that of the camera started last by then."""
        started = [c for c in self.cameras if c.zone is not None and c.start_s <= t]
        return max(started, key=lambda c: c.start_s).zone if started else None

    def camera(self, name: str) -> CameraSpec:
        for c in self.cameras:
            if c.name == name:
                return c
        raise KeyError(name)


def _fail(where: Path, message: str) -> InvalidPassageError:
    return InvalidPassageError(f"{where}: {message}")


def _load_json(directory: Path) -> dict[str, Any]:
    path = directory / PASSAGE_FILE
    if not directory.is_dir():
        raise InvalidPassageError(f"{directory}: passage directory not found")
    if not path.is_file():
        raise _fail(directory, f"no {PASSAGE_FILE} in the passage directory")
    size = path.stat().st_size
    if size > MAX_PASSAGE_JSON_BYTES:
        raise _fail(path, f"{size} bytes, over the limit of {MAX_PASSAGE_JSON_BYTES}")
    try:
        obj = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError:
        raise _fail(path, "not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise _fail(path, f"not valid JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    except (RecursionError, ValueError):  # arrays/objects nested too deeply; an integer over Python's digit limit
        raise _fail(path, "not usable JSON: nested too deeply or a number with too many digits") from None
    except OSError as exc:
        raise _fail(path, f"cannot be read ({exc.strerror or exc})") from None
    if not isinstance(obj, dict):
        raise _fail(path, f"must hold a JSON object, got {type(obj).__name__}")
    return obj


def _str_field(obj: Mapping[str, Any], key: str, path: Path, *, required: bool = True) -> str:
    if key not in obj:
        if required:
            raise _fail(path, f"missing field {key!r}")
        return ""
    value = obj[key]
    if not isinstance(value, str) or not value.strip():
        raise _fail(path, f"field {key!r} must be a non-empty string, got {value!r}")
    return value


def _started_at(obj: Mapping[str, Any], path: Path) -> datetime:
    text = _str_field(obj, "started_at", path)
    try:
        return datetime.fromisoformat(text)
    except ValueError:
        raise _fail(path, f"field 'started_at' is not an ISO 8601 date-time: {text!r}") from None


def _documents(obj: Mapping[str, Any], path: Path) -> tuple[str, ...]:
    docs = obj.get("documents", [])
    if docs is None:
        return ()
    if not isinstance(docs, list) or not all(isinstance(d, str) and d for d in docs):
        raise _fail(path, "field 'documents' must be a list of non-empty doc_id strings")
    return tuple(dict.fromkeys(docs))


def _plate(obj: Mapping[str, Any], path: Path) -> PlateRead | None:
    plate = obj.get("plate")
    if plate is None:
        return None
    if not isinstance(plate, dict):
        raise _fail(path, f"field 'plate' must be an object {{text, region, confidence}}, got {_short(plate)}")
    text, region, confidence = plate.get("text"), plate.get("region"), plate.get("confidence", 1.0)
    if not isinstance(text, str) or (region is not None and not isinstance(region, str)):
        raise _fail(path, "field 'plate': 'text' must be a string and 'region' a string or null")
    if isinstance(confidence, bool) or not isinstance(confidence, int | float):
        raise _fail(path, f"field 'plate': 'confidence' must be a number in [0, 1], got {_short(confidence)}")
    try:
        return PlateRead(text, region.upper() if region else None, _as_float(confidence))
    except ValueError as exc:
        raise _fail(path, f"field 'plate': {exc}") from None


def _exists(candidate: Path) -> bool:
    """``Path.exists`` that also says False for a name the OS refuses (too long, for one)."""
    try:
        return candidate.exists()
    except (OSError, ValueError):
        return False


def _camera_path(directory: Path, name: str, spec: Mapping[str, Any], path: Path) -> Path:
    root = directory.resolve()
    file = spec.get("file")
    if file is None:
        for candidate in (directory / f"cam_{name}.mp4", directory / f"cam_{name}"):
            if _exists(candidate):
                return candidate.resolve()
        raise InvalidVideoError(f"{directory}: camera {name!r}: no 'file' given and no cam_{name}.mp4 or cam_{name}/")
    if not isinstance(file, str) or not file:
        raise _fail(path, f"camera {name!r}: 'file' must be a non-empty string, got {file!r}")
    rel = Path(file)
    if rel.is_absolute():
        raise _fail(path, f"camera {name!r}: 'file' must be relative to the passage directory, got {file!r}")
    try:
        target = (directory / rel).resolve()
    except (OSError, ValueError):  # a NUL byte, an unencodable character, a symlink loop
        raise _fail(path, f"camera {name!r}: 'file' {file[:80]!r} is not a usable path") from None
    if not target.is_relative_to(root):
        raise _fail(path, f"camera {name!r}: 'file' {file!r} points outside the passage directory")
    if not _exists(target):
        raise InvalidVideoError(f"{directory}: camera {name!r}: file {file!r} not found")
    return target


def _as_float(value: int | float) -> float:
    """``value`` as a float; NaN when it is not finite or too large for a float (a JSON integer of 400 digits)."""
    try:
        number = float(value)
    except OverflowError:
        return math.nan
    return number if math.isfinite(number) else math.nan


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def _cameras(directory: Path, obj: Mapping[str, Any], path: Path) -> tuple[CameraSpec, ...]:
    cams = obj.get("cameras")
    if not isinstance(cams, dict) or not cams:
        raise _fail(path, "field 'cameras' must be a non-empty object {name: {file, view, fps}}")
    out: list[CameraSpec] = []
    for name, spec in cams.items():
        if not name or not set(name) <= _CAMERA_NAME_CHARS:
            raise _fail(path, f"camera name {name!r} must use only letters, digits, '_', '-' and '.'")
        if not isinstance(spec, dict):
            raise _fail(path, f"camera {name!r} must be an object {{file, view, fps}}")
        fps = spec.get("fps")
        if isinstance(fps, bool) or not isinstance(fps, int | float) or not 0 < _as_float(fps) <= 1000:
            raise _fail(path, f"camera {name!r}: 'fps' must be a number in (0, 1000], got {_short(fps)}")
        view = spec.get("view", "front")
        if not isinstance(view, str) or not view:
            raise _fail(path, f"camera {name!r}: 'view' must be a non-empty string, got {view!r}")
        zone = spec.get("zone")
        if zone is not None and (not isinstance(zone, str) or not zone.strip()):
            raise _fail(path, f"camera {name!r}: 'zone' must be a non-empty string, got {_short(zone)}")
        start = spec.get("start_s", 0)
        if isinstance(start, bool) or not isinstance(start, int | float) or not 0 <= _as_float(start) <= 86_400:
            raise _fail(
                path, f"camera {name!r}: 'start_s' must be a number of seconds in [0, 86400], got {_short(start)}"
            )
        out.append(CameraSpec(name, _camera_path(directory, name, spec, path), view, float(fps), zone, float(start)))
    return tuple(out)


def read_passage(passage_dir: Path | str) -> Passage:
    """Read and validate ``passage_dir/passage.json`` and locate every camera's frames."""
    directory = Path(passage_dir)
    obj = _load_json(directory)
    path = directory / PASSAGE_FILE
    passage_id = _str_field(obj, "passage_id", path)
    lane = _str_field(obj, "lane", path)
    direction = _str_field(obj, "direction", path)
    if direction not in _DIRECTIONS:
        raise _fail(path, f"field 'direction' must be 'inbound' or 'outbound', got {direction!r}")
    return Passage(
        directory=directory,
        passage_id=passage_id,
        lane=lane,
        direction=direction,
        started_at=_started_at(obj, path),
        documents=_documents(obj, path),
        cameras=_cameras(directory, obj, path),
        plate=_plate(obj, path),
    )


def passage_id_of(passage_dir: Path | str) -> str | None:
    """The passage_id of a passage.json even when the rest of it is invalid (``None`` when unreadable)."""
    try:
        obj = _load_json(Path(passage_dir))
    except InvalidPassageError:
        return None
    value = obj.get("passage_id")
    return value if isinstance(value, str) and value else None
