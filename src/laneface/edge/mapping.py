"""From the lane pipeline's :class:`~laneface.pipeline.result.PassageResult` to the body the service takes
(``PassageCreate`` of :mod:`laneface.api.schemas.passages`): pure functions, no I/O.

The body is encoded once (:func:`encode_body`) and those bytes are what the outbox keeps and re-sends, so a
replay after a crash is byte-identical and the service answers it with 200, not 409.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from laneface.pipeline.result import OccupantLine, OccupantResult, PassageLine, PassageResult
    from laneface.selection import Shot

__all__ = [
    "empty_passage_body",
    "encode_body",
    "line_body",
    "occupant_body",
    "passage_body",
    "shot_file",
    "shot_jpeg",
    "shot_jpegs",
]


def _instant(value: datetime) -> str:
    """ISO 8601 in UTC with an offset (a naive time is taken as UTC)."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return aware.astimezone(UTC).isoformat()


def shot_jpeg(shot: Shot, quality: int = 90) -> bytes:
    """The best shot as JPEG: the face patch the pipeline kept (the face with a margin around it)."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(shot.candidate.patch_rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def shot_jpegs(result: PassageResult, jpeg_quality: int = 90) -> dict[int, bytes]:
    """The best-shot JPEG of every occupant that has one, by occupant_id (what ``laneface run --save-shots``
    writes and what the body carries, so a saved crop re-imported gives the same body)."""
    return {o.occupant_id: shot_jpeg(o.best_shot, jpeg_quality) for o in result.occupants if o.best_shot is not None}


def shot_file(shots_dir: Path, lane: str, passage_id: str, occupant_id: int) -> Path:
    """Where ``laneface run --save-shots DIR`` puts an occupant's best shot and ``laneface records import
    --shots DIR`` finds it: ``DIR/<lane>/<passage_id>/<occupant_id>.jpg`` (the outbox key as folders).
    ValueError for a lane or passage_id that is not one plain path component."""
    for part in (lane, passage_id):
        if not part or part.startswith(".") or "/" in part or "\\" in part or "\0" in part:
            raise ValueError(f"{part!r} cannot name a folder of best shots")
    return shots_dir / lane / passage_id / f"{int(occupant_id)}.jpg"


def occupant_body(
    occupant: OccupantResult, model_version: str, *, images: bool = True, jpeg_quality: int = 90
) -> dict[str, object]:
    """One ``OccupantCreate`` from the occupant's ``laneface run`` line (:meth:`OccupantResult.as_json`): the
    service's contract has string ids; the best-shot JPEG (base64) when ``images`` and the occupant has one."""
    jpeg = shot_jpeg(occupant.best_shot, jpeg_quality) if images and occupant.best_shot is not None else None
    return _occupant_body(occupant.as_json(), jpeg, model_version)


def _occupant_body(line: OccupantLine, jpeg: bytes | None, model_version: str) -> dict[str, object]:
    match = line["match"]
    posted_match: dict[str, object] = {
        "doc_id": match["doc_id"],
        "score": match["score"],
        "decision": match["decision"],
    }
    if match.get("threshold") is not None:  # shown to the adjudicating officer next to the score
        posted_match["threshold"] = match["threshold"]
    if match.get("stage") is not None:  # which candidate list decided, and its size (outbound audit)
        posted_match["stage"] = match["stage"]
        posted_match["list_size"] = match.get("list_size")
    out: dict[str, object] = {
        "occupant_id": str(line["occupant_id"]),
        "row": line["row"],
        "quality": line["quality"],
        "quality_passed": line["quality_passed"],
        "match": posted_match,
        "model_version": model_version,
    }
    if jpeg is not None:
        out["best_shot_jpeg_b64"] = base64.b64encode(jpeg).decode("ascii")
    return out


def line_body(line: PassageLine, jpegs: Mapping[int, bytes] | None = None) -> dict[str, object]:
    """The ``PassageCreate`` body of a ``laneface run`` line (:class:`PassageLine`); ``jpegs`` are the best
    shots by occupant_id. ``timing_s`` carries the pipeline's wall-clock, CPU and video seconds."""
    timing = {"total": line["timing_s"], "cpu": line["cpu_s"], "video": line["video_s"]}
    timing["stop_to_complete"] = line.get("stop_to_complete_s")  # lanes with a booth
    images = jpegs or {}
    body: dict[str, object] = {
        "passage_id": line["passage_id"],
        "lane": line["lane"],
        "direction": line["direction"],
        "started_at": _instant(datetime.fromisoformat(line["started_at"])),
        "occupant_count": line["occupant_count"],
        "complete_capture": line["complete_capture"],
        "occupants": [
            _occupant_body(o, images.get(o["occupant_id"]), line["model_version"]) for o in line["occupants"]
        ],
        "timing_s": {name: v for name, v in timing.items() if v is not None},
    }
    if line.get("prompts"):  # only when there are some: bodies of lanes without a booth stay as they were
        body["prompts"] = [{k: v for k, v in p.items() if v is not None} for p in line["prompts"]]
    if line.get("plate") is not None:
        body["plate"] = {k: v for k, v in line["plate"].items() if v is not None}
    if line.get("faces_not_counted"):  # only when some were: other bodies stay as they were
        body["faces_not_counted"] = line["faces_not_counted"]
    return body


def passage_body(
    result: PassageResult, started_at: datetime, *, images: bool = True, jpeg_quality: int = 90
) -> dict[str, object]:
    """The ``PassageCreate`` body of a processed passage: :func:`line_body` of its ``laneface run`` line, with
    ``started_at`` (from its ``passage.json``) and its best shots when ``images``."""
    line = result.as_json()
    line["started_at"] = _instant(started_at)
    return line_body(line, shot_jpegs(result, jpeg_quality) if images else None)


def empty_passage_body(passage_id: str, lane: str, direction: str, started_at: datetime) -> dict[str, object]:
    """A passage whose cut held no frame at all (every camera down): recorded with no occupant and
    ``complete_capture`` false — the crossing happened, nobody was captured."""
    return {
        "passage_id": passage_id,
        "lane": lane,
        "direction": direction,
        "started_at": _instant(started_at),
        "occupant_count": 0,
        "complete_capture": False,
        "occupants": [],
    }


def encode_body(body: Mapping[str, object]) -> bytes:
    """Canonical JSON bytes (sorted keys, no spaces, no NaN)."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), allow_nan=False).encode("utf-8")
