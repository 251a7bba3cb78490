"""Shared by the dashboard tests: service settings with per-role keys, synthetic face thumbnails (real JPEGs),
passage bodies as lanes post them, document enrolment (the server: live_server.serve)."""

from __future__ import annotations

import base64
import io
import random
import secrets
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from PIL import Image, ImageDraw

from laneface.config import PrivacySettings, RecordsSettings, ServiceSettings, Settings
from laneface.records.crypto import generate_key

KEYS = {role: secrets.token_urlsafe(32) for role in ("lane", "officer", "auditor", "admin")}
HEADERS = {role: {"X-API-Key": key} for role, key in KEYS.items()}

SKIN = [(241, 194, 167), (224, 172, 105), (198, 134, 66), (141, 85, 36), (255, 219, 172), (120, 72, 40)]
HAIR = [(40, 30, 25), (90, 60, 30), (20, 20, 20), (150, 110, 60), (200, 190, 170)]


class Poster(Protocol):
    def post(self, url: str, **kwargs: Any) -> Any: ...


def service_settings(tmp: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp,
        records=RecordsSettings(database_url=database_url),
        privacy=PrivacySettings(encryption_key=generate_key(), home_country="UTO"),
        service=ServiceSettings(
            lane_keys=[KEYS["lane"]],
            officer_keys=[KEYS["officer"]],
            auditor_keys=[KEYS["auditor"]],
            admin_keys=[KEYS["admin"]],
        ),
    )


def face_jpeg(seed: int, size: int = 112) -> bytes:
    """A small synthetic face (seen through a windshield) as JPEG bytes; different seeds, different faces."""
    rng = random.Random(seed)
    img = Image.new("RGB", (size, size), (52, 58, 66))
    draw = ImageDraw.Draw(img)
    for y in range(size):  # dim interior gradient
        shade = 40 + int(35 * y / size)
        draw.line([(0, y), (size, y)], fill=(shade, shade + 6, shade + 14))
    skin, hair = rng.choice(SKIN), rng.choice(HAIR)
    cx, cy, rx, ry = size / 2 + rng.uniform(-4, 4), size * 0.52, size * 0.27, size * 0.34
    draw.ellipse([cx - rx * 1.9, size * 0.86, cx + rx * 1.9, size * 1.5], fill=rng.choice(HAIR[:3]))  # shoulders
    draw.ellipse([cx - rx - 3, cy - ry - 6, cx + rx + 3, cy + ry * 0.2], fill=hair)
    draw.ellipse([cx - rx, cy - ry, cx + rx, cy + ry], fill=skin)
    for side in (-1, 1):
        ex, ey = cx + side * rx * 0.42, cy - ry * 0.12
        draw.ellipse([ex - 5, ey - 3, ex + 5, ey + 3], fill=(245, 245, 245))
        draw.ellipse([ex - 2.5, ey - 2.5, ex + 2.5, ey + 2.5], fill=(40, 30, 30))
        draw.line([ex - 6, ey - 8, ex + 6, ey - 9], fill=hair, width=2)
    draw.line([cx, cy - 2, cx - 3, cy + ry * 0.32], fill=tuple(int(c * 0.8) for c in skin), width=2)
    draw.arc([cx - 10, cy + ry * 0.3, cx + 10, cy + ry * 0.62], 20, 160, fill=(150, 60, 60), width=2)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return buf.getvalue()


def occupant(
    occupant_id: str,
    row: int | None,
    decision: str,
    *,
    doc: str | None = None,
    score: float | None = None,
    quality: float = 80.0,
    image: bytes | None = None,
    threshold: float | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {
        "occupant_id": occupant_id,
        "row": row,
        "quality": quality,
        "quality_passed": decision != "not_captured",
        "match": {"doc_id": doc, "score": score, "decision": decision},
        "model_version": "dlib-resnet@1",
    }
    if threshold is not None:
        body["match"]["threshold"] = threshold
    if image is not None:
        body["best_shot_jpeg_b64"] = base64.b64encode(image).decode()
    return body


def passage(
    passage_id: str, lane: str, started_at: datetime, occupants: list[dict[str, Any]], direction: str = "inbound"
) -> dict[str, Any]:
    return {
        "passage_id": passage_id,
        "lane": lane,
        "direction": direction,
        "started_at": started_at.isoformat(),
        "occupant_count": len(occupants),
        "complete_capture": all(o["match"]["decision"] != "not_captured" for o in occupants),
        "occupants": occupants,
    }


def post_passage(client: Poster, body: dict[str, Any]) -> dict[str, Any]:
    r = client.post("/v1/passages", json=body, headers=HEADERS["lane"])
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def enrol(client: Poster, doc: str, citizenship: str, traveller_ref: str | None = None) -> None:
    data = {"doc_id": doc, "doc_type": "passport", "citizenship": citizenship}
    if traveller_ref is not None:
        data["traveller_ref"] = traveller_ref
    r = client.post(
        "/v1/gallery/documents",
        headers=HEADERS["admin"],
        files={"photo": ("p.jpg", face_jpeg(sum(doc.encode())), "image/jpeg")},
        data=data,
    )
    assert r.status_code == 201, r.text


def review(client: Poster, occupant_pk: int, decision: str, doc: str | None = None) -> None:
    body: dict[str, Any] = {"decision": decision}
    if doc is not None:
        body["doc_id"] = doc
    r = client.post(f"/v1/occupants/{occupant_pk}/reviews", json=body, headers=HEADERS["officer"])
    assert r.status_code == 201, r.text
