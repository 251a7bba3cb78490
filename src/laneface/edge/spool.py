"""The passage spool: a cut passage is written to disk in the passage format (README "Lane pipeline":
``passage.json`` + ``cam_<name>/`` JPEG frame folders) before the trigger is acknowledged, so a lane process
that dies after a trigger loses nothing: spooled passages are processed when it starts again.

A passage is written under ``.partial-<name>`` (every file fsynced), then renamed to ``<name>`` (an atomic
step) and the spool directory fsynced; ``<name>`` is ``<time ns, 20 digits>_<passage_id>``, so the spool
lists in cut order. A partial directory left by a crash is removed at start (its trigger was never
acknowledged). A passage that cannot be processed is moved to ``failed/`` with the reason, never deleted.
"""

from __future__ import annotations

import json
import logging
import os
import re
import shutil
import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path

from laneface.capture.passage import PASSAGE_FILE
from laneface.edge.cameras import BufferedFrame, CameraInfo
from laneface.fsutil import fsync_dir

__all__ = ["FAILED_DIR", "Spool", "SpooledPassage"]

logger = logging.getLogger(__name__)

FAILED_DIR = "failed"
_PARTIAL = ".partial-"
_NAME = re.compile(r"^(\d{20})_([A-Za-z0-9][A-Za-z0-9.:-]*)$")


def _write_durably(path: Path, data: bytes) -> None:
    with path.open("wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())


class SpooledPassage:
    """A spooled passage directory and the fields of its ``passage.json`` the lane needs."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        obj = json.loads((directory / PASSAGE_FILE).read_text(encoding="utf-8"))
        self.passage_id = str(obj["passage_id"])
        self.lane = str(obj["lane"])
        self.direction = str(obj["direction"])
        self.started_at = datetime.fromisoformat(str(obj["started_at"]))
        self.has_frames = bool(obj.get("cameras"))


class Spool:
    """A directory of spooled passages (see the module docstring)."""

    def __init__(self, directory: Path | str) -> None:
        self.directory = Path(directory)
        self.directory.mkdir(parents=True, exist_ok=True)

    def clean_partial(self) -> int:
        """Remove passages a crash left half-written; returns how many."""
        removed = 0
        for path in self.directory.glob(f"{_PARTIAL}*"):
            shutil.rmtree(path, ignore_errors=True)
            removed += 1
        if removed:
            logger.warning("spool: removed %d half-written passage(s) left by a crash", removed)
        return removed

    def write(
        self,
        *,
        passage_id: str,
        lane: str,
        direction: str,
        started_at: datetime,
        documents: Sequence[str],
        cameras: Sequence[CameraInfo],
        frames: Mapping[str, Sequence[BufferedFrame]],
    ) -> Path:
        """Write one passage durably and return its directory. Cameras without frames are left out."""
        name = f"{time.time_ns():020d}_{passage_id}"
        if not _NAME.match(name):
            raise ValueError(f"passage_id {passage_id!r} cannot name a spool directory")
        partial = self.directory / f"{_PARTIAL}{name}"
        partial.mkdir()
        cams: dict[str, dict[str, object]] = {}
        times: dict[str, list[float]] = {}
        zoned = any(cam.zone is not None for cam in cameras)
        first = min((f[0].t for f in frames.values() if f), default=0.0)
        for cam in cameras:
            kept = frames.get(cam.name, ())
            if not kept:
                continue
            folder = partial / f"cam_{cam.name}"
            folder.mkdir()
            for i, frame in enumerate(kept):
                _write_durably(folder / f"{i:06d}.jpg", frame.jpeg)
            fsync_dir(folder)
            cams[cam.name] = {"file": folder.name, "view": cam.view, "fps": cam.fps}
            if zoned:  # lanes with zones: which zone, and when its first frame came (a booth camera: the stop)
                cams[cam.name] |= {"zone": cam.zone or "approach", "start_s": round(kept[0].t - first, 3)}
            times[cam.name] = [round(f.t, 3) for f in kept]
        aware = started_at if started_at.tzinfo is not None else started_at.replace(tzinfo=UTC)
        meta = {
            "passage_id": passage_id,
            "lane": lane,
            "direction": direction,
            "started_at": aware.astimezone(UTC).isoformat().replace("+00:00", "Z"),
            "documents": list(documents),
            "cameras": cams,
            "frame_times": times,
            "spooled_at": datetime.now(UTC).isoformat().replace("+00:00", "Z"),
        }
        _write_durably(partial / PASSAGE_FILE, json.dumps(meta, indent=1).encode("utf-8"))
        fsync_dir(partial)
        final = self.directory / name
        os.rename(partial, final)
        fsync_dir(self.directory)
        return final

    def pending(self) -> list[Path]:
        """Complete spooled passages, oldest cut first."""
        return sorted(
            p for p in self.directory.iterdir() if p.is_dir() and _NAME.match(p.name) and (p / PASSAGE_FILE).is_file()
        )

    def find(self, passage_id: str) -> Path | None:
        """The spooled directory of ``passage_id`` (``None`` when it is not spooled)."""
        for path in self.directory.glob(f"*_{passage_id}"):
            m = _NAME.match(path.name)
            if m and m.group(2) == passage_id and (path / PASSAGE_FILE).is_file():
                return path
        return None

    def remove(self, path: Path) -> None:
        """Delete a passage whose record is in the outbox."""
        shutil.rmtree(path, ignore_errors=True)
        fsync_dir(self.directory)

    def quarantine(self, path: Path, reason: str) -> Path:
        """Move a passage that cannot be processed to ``failed/`` with ``reason.txt``."""
        failed = self.directory / FAILED_DIR
        failed.mkdir(exist_ok=True)
        target = failed / path.name
        if target.exists():
            shutil.rmtree(target)
        os.rename(path, target)
        (target / "reason.txt").write_text(reason + "\n", encoding="utf-8")
        fsync_dir(self.directory)
        logger.error("spool: passage %s moved to %s: %s", path.name, failed, reason)
        return target
