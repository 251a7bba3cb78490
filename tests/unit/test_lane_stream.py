"""Passages processed as their frames come: the same result as a recorded passage, events, two zones."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lanefakes import ColourDetector, ColourEmbedder, FakeFace, SizeQuality, matcher_with, write_passage
from typer.testing import CliRunner

from laneface.capture import read_passage
from laneface.config import LaneSettings
from laneface.pipeline.lane import LanePipeline

RED, GREEN, BLUE = (200, 30, 30), (30, 200, 30), (30, 30, 200)
DOCS = {"D-RED": RED, "D-GREEN": GREEN, "D-BLUE": BLUE}


def _pipeline(tmp_path: Path, **lane: Any) -> LanePipeline:
    return LanePipeline(
        ColourDetector(), SizeQuality(), ColourEmbedder(), matcher_with(tmp_path / "data", DOCS), LaneSettings(**lane)
    )


def _two_zones(directory: Path, *, blue: bool = True, documents: tuple[str, ...] = ("D-RED", "D-GREEN")) -> Path:
    """Approach (front, 0-1.2 s): red large, green too small; booth (1.2-2.4 s): green large from its 7th
    frame on (1.8 s), blue too small all along (if ``blue``)."""
    approach = [FakeFace(RED, 200, 40, 56, dx=1.0), FakeFace(GREEN, 40, 40, 20, dx=1.0)]
    booth = [FakeFace(GREEN, 40, 60, 60, dx=0.0, frames=(6, 12))]
    if blue:
        booth.append(FakeFace(BLUE, 200, 120, 20, dx=0.0))
    write_passage(directory, {"front": ("front", approach), "booth1": ("left", booth)}, documents=documents)
    meta = json.loads((directory / "passage.json").read_text("utf-8"))
    meta["cameras"]["front"].update(zone="approach", start_s=0.0)
    meta["cameras"]["booth1"].update(zone="booth", start_s=1.2)
    (directory / "passage.json").write_text(json.dumps(meta), "utf-8")
    return directory


def _line(result: Any) -> dict[str, Any]:
    line = dict(result.as_json())
    del line["timing_s"], line["cpu_s"]
    return line


def test_frames_pushed_in_any_camera_order_give_the_recorded_result(tmp_path: Path) -> None:
    import numpy as np
    from PIL import Image

    from laneface.capture.frames import Frame

    directory = _two_zones(tmp_path / "p")
    pipe = _pipeline(tmp_path)
    recorded = pipe.process(directory)
    passage = read_passage(directory)
    frames = {
        cam.name: [
            Frame(cam.name, i, i / cam.fps, np.asarray(Image.open(p).convert("RGB")))
            for i, p in enumerate(sorted(cam.path.iterdir()))
        ]
        for cam in passage.cameras
    }
    counts = {name: len(f) for name, f in frames.items()}
    for order in (["booth1", "front"], ["front", "booth1"]):  # one camera after the other, both ways
        stream = pipe.stream(passage, frame_counts=counts)
        for name in order:
            for frame in frames[name]:
                stream.feed(name, frame)
        assert _line(stream.finish()) == _line(recorded), order
    events: list[dict[str, Any]] = []
    stream = pipe.stream(passage, events.append, frame_counts=counts)  # interleaved in time, looked at
    for i in range(12):
        for name in ("front", "booth1"):
            stream.feed(name, frames[name][i])
    assert _line(stream.finish()) == _line(recorded)
    assert events[-1]["event"] == "passage_complete"


def test_two_zones_events_and_capture_times(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    pipe = _pipeline(tmp_path, checkpoint_s=0.2, auto_prompt=True, prompt_after_s=0.2, prompt_every_s=0.6)
    result = pipe.process(_two_zones(tmp_path / "p"), events.append)
    assert result.stop_s == 1.2
    by_doc = {o.match.doc_id: o for o in result.occupants}
    assert by_doc["D-RED"].capture_zone == "approach" and by_doc["D-RED"].captured_at_s == 0.0
    # green appears in the booth's 7th frame (1.8 s); the whole-frame search of its 8th (1.9 s) finds it
    assert by_doc["D-GREEN"].capture_zone == "booth" and by_doc["D-GREEN"].captured_at_s == pytest.approx(1.9)
    assert not result.complete_capture and result.stop_to_complete_s is None, "blue is never captured"
    kinds = [e["event"] for e in events]
    assert kinds[0] == "occupant_captured" and kinds[-1] == "passage_complete"
    assert all(e["passage_id"] == "P-1" and e["lane"] == "L1" for e in events)
    assert [e["t_s"] for e in events] == sorted(e["t_s"] for e in events), "in passage time"
    captured = [e for e in events if e["event"] == "occupant_captured"]
    assert [(e["occupant"], e["capture_zone"]) for e in captured] == [(1, "approach"), (2, "booth")]
    assert captured[0]["zone"] == "approach" and captured[1]["zone"] == "booth"
    assert captured[1]["t_s"] >= 1.9, "known once its first good frame has been processed"
    identified = {e["doc_id"]: e for e in events if e["event"] == "occupant_identified"}
    assert set(identified) == {"D-RED", "D-GREEN"} and identified["D-GREEN"]["occupant"] == 2
    missing = [e for e in events if e["event"] == "seat_missing"]
    assert missing and all(e["zone"] == "booth" and e["t_s"] >= 1.2 for e in missing), "reported at the booth"
    assert missing[0]["documents_unmatched"] == 1, "green's document is read, green not yet identified"
    assert missing[-1]["seen_not_captured"] and missing[-1]["documents_unmatched"] == 0, "blue: seen, never good"
    prompts = [e for e in events if e["event"] == "prompt"]
    assert prompts and prompts[0]["t_s"] >= 1.4 and prompts[0]["source"] == "auto"
    assert [p["at_s"] for p in result.prompts] == [p["t_s"] for p in prompts]
    assert all(b["at_s"] - a["at_s"] >= 0.6 - 1e-9 for a, b in zip(result.prompts, result.prompts[1:], strict=False))
    line = result.as_json()
    assert line["stop_s"] == 1.2 and line["stop_to_complete_s"] is None and len(line["prompts"]) == len(prompts)
    assert pipe.process(_two_zones(tmp_path / "q")).prompts == result.prompts, "prompts need no event reader"


def test_stop_to_complete_counts_from_the_stop(tmp_path: Path) -> None:
    result = _pipeline(tmp_path).process(_two_zones(tmp_path / "p", blue=False))
    assert result.complete_capture and result.stop_to_complete_s == pytest.approx(0.7)
    assert result.prompts == (), "no automatic prompts unless the lane says so"


def test_one_zone_passages_keep_their_line_and_report_what_is_missing_at_the_end(tmp_path: Path) -> None:
    events: list[dict[str, Any]] = []
    directory = write_passage(
        tmp_path / "p",
        {"front": ("front", [FakeFace(RED, 200, 40, 56), FakeFace(BLUE, 40, 40, 20)])},
        documents=["D-RED", "D-BLUE"],
    )
    result = _pipeline(tmp_path).process(directory, events.append)
    line = result.as_json()
    assert "stop_s" not in line and "prompts" not in line
    assert all("captured_at_s" not in o for o in line["occupants"])
    (missing,) = [e for e in events if e["event"] == "seat_missing"]
    assert missing["zone"] is None and missing["documents_unmatched"] == 1 and missing["seen_not_captured"]
    assert events[-1]["event"] == "passage_complete" and events[-1]["complete_capture"] is False


def test_run_writes_events_as_json_lines(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from laneface.cli.app import app

    directory = _two_zones(tmp_path / "p")
    monkeypatch.setattr(
        LanePipeline, "from_settings", classmethod(lambda cls, s, store=None, **kw: _pipeline(tmp_path))
    )
    out, events = tmp_path / "r.jsonl", tmp_path / "events.jsonl"
    res = CliRunner().invoke(app, ["run", str(directory), "--out", str(out), "--events", str(events), "--no-table"])
    assert res.exit_code == 0, res.output
    lines = [json.loads(x) for x in events.read_text("utf-8").splitlines()]
    assert lines[-1]["event"] == "passage_complete" and {x["event"] for x in lines} >= {"occupant_captured"}
    assert json.loads(out.read_text("utf-8"))["stop_s"] == 1.2


def test_officer_prompts_are_announced_and_listed_with_the_result(tmp_path: Path) -> None:
    from laneface.edge.mapping import line_body

    events: list[dict[str, Any]] = []
    waiting = [["remove_sunglasses"]]

    def feed() -> list[str]:  # one prompt, given while the first frames are processed
        return waiting.pop() if waiting else []

    result = _pipeline(tmp_path).process(_two_zones(tmp_path / "p"), events.append, feed)
    given = [e for e in events if e["event"] == "prompt"]
    assert [(e["source"], e["message"]) for e in given] == [("officer", "remove_sunglasses")]
    assert [(p["source"], p.get("message"), p["at_s"]) for p in result.prompts] == [
        ("officer", "remove_sunglasses", given[0]["t_s"])
    ]
    body = line_body(result.as_json())
    assert body["prompts"] == [{"source": "officer", "message": "remove_sunglasses", "at_s": given[0]["t_s"]}]
    quiet = _pipeline(tmp_path).process(_two_zones(tmp_path / "q"))
    assert "prompts" not in line_body(quiet.as_json()), "bodies without prompts stay as they were"


def test_thumbnails_only_when_the_lane_asks_for_them(tmp_path: Path) -> None:
    import base64

    from laneface.imageio import decode_image

    plain: list[dict[str, Any]] = []
    _pipeline(tmp_path).process(_two_zones(tmp_path / "p"), plain.append)
    assert all("thumbnail_jpeg_b64" not in e for e in plain)
    events: list[dict[str, Any]] = []
    _pipeline(tmp_path, event_thumbnail_px=48).process(_two_zones(tmp_path / "q"), events.append)
    captured = [e for e in events if e["event"] == "occupant_captured"]
    assert captured and all("thumbnail_jpeg_b64" in e for e in captured)
    image = decode_image(base64.b64decode(captured[0]["thumbnail_jpeg_b64"]))
    assert image.shape[0] == 48
