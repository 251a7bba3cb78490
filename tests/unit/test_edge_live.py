"""A passage processed while it happens: frames taken from the lane's buffers as they arrive, booth cameras
from the stop on, documents read at the booth, officer prompts recorded, the record body at the end."""

from __future__ import annotations

import io
import json
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
from lanefakes import ColourDetector, ColourEmbedder, FakeFace, SizeQuality, matcher_with, render
from PIL import Image

from laneface.config import LaneSettings
from laneface.edge.booth import OfficerPrompts
from laneface.edge.cameras import BufferedFrame, CameraInfo, FrameRing
from laneface.edge.live import LiveSession
from laneface.pipeline.lane import LanePipeline

RED, GREEN, BLUE = (220, 40, 40), (40, 200, 60), (50, 80, 230)
DOCS = {"D-RED": RED, "D-GREEN": GREEN, "D-BLUE": BLUE}


class RingHub:
    """Real frame rings; frames are PNG bytes (the fake detector needs exact colours)."""

    def __init__(self) -> None:
        self.rings = {"front": FrameRing(600.0), "booth1": FrameRing(600.0)}

    @property
    def cameras(self) -> tuple[CameraInfo, ...]:
        return (CameraInfo("front", "front", 10.0, "approach"), CameraInfo("booth1", "left", 10.0, "booth"))

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def cut(self, start: float, end: float, wait_s: float) -> dict[str, list[BufferedFrame]]:
        return {name: ring.between(start, end) for name, ring in self.rings.items()}

    def latest(self, camera: str) -> BufferedFrame | None:
        return self.rings[camera].latest()

    def status(self) -> dict[str, object]:
        return {}

    def push(self, camera: str, t0: float, images: list[np.ndarray]) -> None:
        for i, img in enumerate(images):
            buf = io.BytesIO()
            Image.fromarray(img).save(buf, "PNG")
            self.rings[camera].append(BufferedFrame(t0 + 0.1 * i, buf.getvalue()))


def _pipeline(tmp_path: Path) -> LanePipeline:
    return LanePipeline(
        ColourDetector(), SizeQuality(), ColourEmbedder(), matcher_with(tmp_path / "data", DOCS), LaneSettings()
    )


def _wait(predicate: Any, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_a_passage_processed_while_it_happens(tmp_path: Path) -> None:
    hub, events, prompts = RingHub(), [], OfficerPrompts()
    lock = threading.Lock()
    t0 = time.time() - 10.0  # frames already buffered: the session takes them at once
    session = LiveSession(
        _pipeline(tmp_path),
        hub,
        passage_id="P-LIVE",
        lane="L1",
        direction="inbound",
        documents=["D-RED"],
        start_t=t0,
        events=events.append,
        prompts=prompts,
        cut_wait_s=0.0,
        lock=lock,
    )
    # the approach: red is large, seen by the front camera
    hub.push("front", t0 + 0.05, render([FakeFace(RED, 40, 40, 56, dx=1.0)], 12))
    # the booth camera films a blue face before the vehicle stops (another car leaving): never fed
    hub.push("booth1", t0 + 0.05, render([FakeFace(BLUE, 100, 60, 60, dx=0.0)], 12))
    _wait(lambda: any(e["event"] == "occupant_captured" for e in events))
    assert events[0]["zone"] == "approach" and events[0]["capture_zone"] == "approach"
    session.stop(t0 + 1.5, ["D-GREEN"])  # documents read at the booth
    prompts.add(["remove_sunglasses"])
    hub.push("booth1", t0 + 1.55, render([FakeFace(GREEN, 60, 60, 60, dx=0.0)], 12))
    _wait(lambda: any(e.get("doc_id") == "D-GREEN" for e in events))
    session.end(t0 + 2.8, [])
    body = session.body(20.0)
    assert body is not None
    record = json.loads(body)
    assert record["passage_id"] == "P-LIVE" and record["direction"] == "inbound"
    matched = sorted(o["match"]["doc_id"] for o in record["occupants"] if o["match"]["decision"] == "match")
    assert matched == ["D-GREEN", "D-RED"], "blue filmed before the stop is not an occupant"
    assert record["occupant_count"] == 2 and record["complete_capture"] is True
    assert [(p["source"], p.get("message")) for p in record["prompts"]] == [("officer", "remove_sunglasses")]
    green = next(e for e in events if e.get("doc_id") == "D-GREEN")
    assert green["zone"] == "booth" and green["t_s"] >= 1.5
    assert events[-1]["event"] == "passage_complete"
    assert all(o["best_shot_jpeg_b64"] for o in record["occupants"])


def test_a_cancelled_passage_gives_no_body(tmp_path: Path) -> None:
    hub = RingHub()
    session = LiveSession(
        _pipeline(tmp_path),
        hub,
        passage_id="P-X",
        lane="L1",
        direction="inbound",
        documents=[],
        start_t=time.time(),
        cut_wait_s=0.0,
    )
    session.cancel()
    assert session.body(5.0) is None
