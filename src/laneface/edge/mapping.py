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
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from laneface.pipeline.result import OccupantLine, OccupantResult, PassageResult
    from laneface.selection import Shot

__all__ = ["empty_passage_body", "encode_body", "occupant_body", "passage_body", "shot_jpeg"]


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


def occupant_body(
    occupant: OccupantResult, model_version: str, *, images: bool = True, jpeg_quality: int = 90
) -> dict[str, object]:
    """One ``OccupantCreate`` from the occupant's ``laneface run`` line (:meth:`OccupantResult.as_json`): the
    service's contract has string ids; the best-shot JPEG (base64) when ``images`` and the occupant has one."""
    return _occupant_body(occupant.as_json(), occupant.best_shot if images else None, model_version, jpeg_quality)


def _occupant_body(line: OccupantLine, shot: Shot | None, model_version: str, jpeg_quality: int) -> dict[str, object]:
    match = line["match"]
    posted_match: dict[str, object] = {
        "doc_id": match["doc_id"],
        "score": match["score"],
        "decision": match["decision"],
    }
    if match.get("threshold") is not None:  # shown to the adjudicating officer next to the score
        posted_match["threshold"] = match["threshold"]
    out: dict[str, object] = {
        "occupant_id": str(line["occupant_id"]),
        "row": line["row"],
        "quality": line["quality"],
        "quality_passed": line["quality_passed"],
        "match": posted_match,
        "model_version": model_version,
    }
    if shot is not None:
        out["best_shot_jpeg_b64"] = base64.b64encode(shot_jpeg(shot, jpeg_quality)).decode("ascii")
    return out


def passage_body(
    result: PassageResult, started_at: datetime, *, images: bool = True, jpeg_quality: int = 90
) -> dict[str, object]:
    """The ``PassageCreate`` body of a processed passage, from its ``laneface run`` line; ``started_at`` comes
    from its ``passage.json``. ``timing_s`` carries the pipeline's wall-clock, CPU and video seconds."""
    line = result.as_json()
    timing = {"total": line["timing_s"], "cpu": line["cpu_s"], "video": line["video_s"]}
    return {
        "passage_id": line["passage_id"],
        "lane": line["lane"],
        "direction": line["direction"],
        "started_at": _instant(started_at),
        "occupant_count": line["occupant_count"],
        "complete_capture": line["complete_capture"],
        "occupants": [
            _occupant_body(o, occupant.best_shot if images else None, result.model_version, jpeg_quality)
            for o, occupant in zip(line["occupants"], result.occupants, strict=True)
        ],
        "timing_s": {name: v for name, v in timing.items() if v is not None},
    }


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
