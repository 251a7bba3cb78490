"""The lane pipeline end to end with fakes (colour squares for faces), and `laneface run`."""

from __future__ import annotations

import json
import os
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from lanefakes import (
    MODEL,
    ColourDetector,
    ColourEmbedder,
    FakeFace,
    SizeQuality,
    gallery_with,
    matcher_with,
    write_passage,
    write_thresholds,
)
from typer.testing import CliRunner

from laneface.cli.app import app
from laneface.config import LaneSettings
from laneface.errors import ConfigError, InvalidPassageError, InvalidVideoError
from laneface.pipeline.identify import OccupantMatch
from laneface.pipeline.lane import (
    LanePipeline,
    Occupant,
    TrackResult,
    absorbed,
    detection_stride,
    full_frame_every,
    full_frame_indices,
    matched_evidence,
)
from laneface.tracking.rows import RowModel
from laneface.types import FaceDetections, Template

RED, GREEN, BLUE, GREY = (200, 30, 30), (30, 200, 30), (30, 30, 200), (120, 120, 120)
DOCS = {"D-RED": RED, "D-GREEN": GREEN, "D-BLUE": BLUE, "D-GREY": GREY}


def _minivan(directory: Path, **kw: object) -> Path:
    """Front camera: driver (red) and passenger (green) in row 1, blue in row 2 (smaller); the left camera
    sees blue again, larger. Grey is in no camera."""
    front = [
        FakeFace(RED, 200, 40, 56, dx=1.0, grow=0.5),
        FakeFace(GREEN, 40, 40, 54, dx=1.0, grow=0.5),
        FakeFace(BLUE, 130, 120, 38, dx=1.0, grow=0.3),
    ]
    left = [FakeFace(BLUE, 10, 80, 60, dx=8.0)]
    return write_passage(directory, {"front": ("front", front), "left": ("left", left)}, **kw)  # type: ignore[arg-type]


@pytest.fixture
def pipeline(tmp_path: Path) -> LanePipeline:
    return LanePipeline(ColourDetector(), SizeQuality(), ColourEmbedder(), matcher_with(tmp_path / "data", DOCS))


def test_every_occupant_is_found_counted_placed_and_matched_once(tmp_path: Path, pipeline: LanePipeline) -> None:
    result = pipeline.process(_minivan(tmp_path / "p1", documents=["D-RED", "D-GREEN", "D-BLUE"]))
    assert result.passage_id == "P-1"
    assert result.occupant_count == 3, [o.as_json() for o in result.occupants]
    assert result.complete_capture
    by_doc = {o.match.doc_id: o for o in result.occupants}
    assert set(by_doc) == {"D-RED", "D-GREEN", "D-BLUE"}
    assert all(o.match.decision == "match" and o.match.mode == "one_to_few" for o in result.occupants)
    assert by_doc["D-RED"].row == 1 and by_doc["D-GREEN"].row == 1 and by_doc["D-BLUE"].row == 2
    assert by_doc["D-BLUE"].cameras == ("front", "left"), "the tracks of two cameras make one occupant"
    assert [o.occupant_id for o in result.occupants] == [1, 2, 3]
    assert result.frames_processed == 6 + 12  # 12 frames at 10 fps: front at 5 fps, the side camera at 10
    assert result.video_s == pytest.approx(1.2)


def test_only_the_best_shots_are_assessed_and_embedded(tmp_path: Path) -> None:
    det, quality, emb = ColourDetector(), SizeQuality(), ColourEmbedder()
    config = LaneSettings(candidates_per_track=3, shots_per_track=2, side_detect_fps=5.0, full_frame_fps=10.0)
    p = LanePipeline(det, quality, emb, matcher_with(tmp_path / "data", DOCS), config)
    p.process(_minivan(tmp_path / "p1"))
    assert det.calls == 12
    assert quality.faces == 4 * 3  # 4 tracks x 3 candidates, not 24 detected faces
    assert emb.embedded == 4 * 2


def test_document_not_read_goes_to_one_to_n_and_never_reuses_a_document(tmp_path: Path, pipeline: LanePipeline) -> None:
    result = pipeline.process(_minivan(tmp_path / "p1", documents=["D-RED"]))
    matches = {o.match.doc_id: o.match for o in result.occupants}
    assert matches["D-RED"].mode == "one_to_few"
    assert matches["D-GREEN"].mode == "one_to_n" and matches["D-BLUE"].mode == "one_to_n"
    assert len([o for o in result.occupants if o.match.doc_id]) == 3


def test_outbound_without_documents_is_identified_one_to_n(tmp_path: Path, pipeline: LanePipeline) -> None:
    result = pipeline.process(_minivan(tmp_path / "p1", direction="outbound"))
    assert {o.match.doc_id for o in result.occupants} == {"D-RED", "D-GREEN", "D-BLUE"}
    assert {o.match.mode for o in result.occupants} == {"one_to_n"}


def test_a_face_too_small_is_not_captured_and_the_vehicle_is_incomplete(tmp_path: Path) -> None:
    p = LanePipeline(ColourDetector(), SizeQuality(min_side=45), ColourEmbedder(), matcher_with(tmp_path / "d", DOCS))
    front = [FakeFace(RED, 200, 40, 56, dx=1.0), FakeFace(BLUE, 60, 120, 30, dx=1.0)]
    result = p.process(write_passage(tmp_path / "p", {"front": ("front", front)}, documents=["D-RED", "D-BLUE"]))
    assert result.occupant_count == 2 and not result.complete_capture
    small = next(o for o in result.occupants if not o.quality_passed)
    assert small.match.decision == "not_captured" and small.match.doc_id is None
    assert small.quality == pytest.approx(30.0, abs=1.5)
    line = result.as_json()
    occ = line["occupants"]
    assert isinstance(occ, list) and {"occupant_id", "row", "quality", "quality_passed", "match"} <= set(occ[0])
    assert set(occ[0]["match"]) >= {"doc_id", "score", "decision"}
    json.dumps(line)


def test_an_unknown_person_is_no_match(tmp_path: Path, pipeline: LanePipeline) -> None:
    stranger = (90, 160, 220)
    result = pipeline.process(
        write_passage(tmp_path / "p", {"front": ("front", [FakeFace(stranger, 100, 50, 60)])}, documents=["D-RED"])
    )
    (only,) = result.occupants
    assert only.quality_passed and only.match.decision == "no_match" and only.match.doc_id is None
    assert only.match.score is not None and only.match.score < 0.5


def test_config_is_checked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        LaneSettings(detect_fps=0)
    with pytest.raises(ValidationError):
        LaneSettings(shots_per_track=0)
    rows = RowModel()
    c = LaneSettings(detect_fps=5, side_detect_fps=10, full_frame_fps=2.5)
    assert detection_stride(c, rows, 10) == 2 and detection_stride(c, rows, 25) == 5
    assert detection_stride(c, rows, 10, "left") == 1
    assert full_frame_every(c, rows, 10) == 2 and full_frame_every(c, rows, 10, "right") == 4
    assert detection_stride(LaneSettings(detect_fps=30), rows, 10) == 1
    assert full_frame_every(LaneSettings(full_frame_fps=30), rows, 10) == 1
    with pytest.raises(ValidationError):
        LaneSettings(full_frame_fps=-1)
    from laneface.config import load_settings

    monkeypatch.setenv("LANEFACE_LANE__DETECT_FPS", "0")
    with pytest.raises(ConfigError, match=r"lane\.detect_fps"):
        load_settings()


def test_bad_passages_raise_input_errors(tmp_path: Path, pipeline: LanePipeline) -> None:
    with pytest.raises(InvalidPassageError):
        pipeline.process(tmp_path / "nowhere")
    d = _minivan(tmp_path / "p")
    for f in (d / "cam_left").iterdir():
        f.write_bytes(b"not an image")
    with pytest.raises(InvalidVideoError):
        pipeline.process(d)


# ---------------------------------------------------------------------------------------------- CLI


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)


def test_run_writes_one_line_per_passage_and_goes_on_after_a_bad_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None
) -> None:
    data = tmp_path / "data"
    gallery_with(data, DOCS).close()
    write_thresholds(data)
    built: list[LanePipeline] = []

    def fake_from_settings(cls: type[LanePipeline], settings: object, store: object, **kw: object) -> LanePipeline:
        from laneface.gallery.store import Gallery
        from laneface.matching import Matcher

        g = Gallery.open(data, MODEL, create=False)
        p = LanePipeline(ColourDetector(), SizeQuality(), ColourEmbedder(), Matcher.for_gallery(g, data), gallery=g)
        built.append(p)
        return p

    monkeypatch.setattr(LanePipeline, "from_settings", classmethod(fake_from_settings))
    good1 = _minivan(tmp_path / "good1", passage_id="G-1", documents=["D-RED", "D-GREEN", "D-BLUE"])
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "passage.json").write_text('{"passage_id": "B-1", "lane": ', encoding="utf-8")
    missing_video = _minivan(tmp_path / "novideo", passage_id="B-2")
    meta = json.loads((missing_video / "passage.json").read_text())
    meta["cameras"]["left"]["file"] = "cam_left.mp4"
    (missing_video / "passage.json").write_text(json.dumps(meta))
    good2 = _minivan(tmp_path / "good2", passage_id="G-2", direction="outbound")
    out = tmp_path / "out" / "results.jsonl"
    args = ["--data-dir", str(data), "run", str(good1), str(bad), str(missing_video), str(good2), "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, (result.output, result.exception)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x.get("passage_id") for x in lines] == ["G-1", None, "B-2", "G-2"]
    assert "not valid JSON" in lines[1]["error"] and "occupants" not in lines[1]
    assert "cam_left.mp4" in lines[2]["error"]
    for good in (lines[0], lines[3]):
        assert "error" not in good
        assert good["occupant_count"] == 3 and good["complete_capture"] is True
        assert isinstance(good["timing_s"], float)
        for o in good["occupants"]:
            assert o["match"]["decision"] == "match"
    assert built and built[0]._gallery is None, "the gallery is closed at the end of the run"


# ---------------------------------------------------------------------------------------------- regions


def test_regions_are_grown_clipped_and_merged() -> None:
    from laneface.geometry import regions_around

    assert regions_around([], (320, 240)) == []
    (r,) = regions_around([[100, 100, 140, 140]], (320, 240), margin=1.0, min_side=32)
    assert r == (60, 60, 180, 180)
    (r,) = regions_around([[0, 0, 20, 20]], (320, 240), margin=0.5, min_side=100)
    assert r == (0, 0, 60, 60), "clipped at the frame"
    merged = regions_around([[50, 50, 90, 90], [100, 50, 140, 90], [260, 180, 300, 220]], (320, 240), margin=0.5)
    assert len(merged) == 2 and merged[0][0] < 50 and merged[0][2] > 140


def test_detection_in_regions_maps_back_and_drops_faces_cut_by_a_region_edge() -> None:
    import numpy as np
    from lanefakes import render

    from laneface.detection.regions import detect_in_regions

    frame = render([FakeFace(RED, 100, 100, 40, dx=0), FakeFace(GREEN, 200, 100, 40, dx=0)], 1)[0]
    det = ColourDetector()
    found = detect_in_regions(det, frame, [(60, 60, 180, 180)], cut_faces="drop")
    assert len(found) == 1 and np.allclose(found.boxes_xyxy[0], [100, 100, 140, 140])
    # green is cut by the region's right edge
    cut = detect_in_regions(det, frame, [(60, 60, 220, 180)], cut_faces="drop")
    assert len(cut) == 1 and found.boxes_xyxy[0][0] == cut.boxes_xyxy[0][0]
    both = detect_in_regions(det, frame, [(60, 60, 180, 180), (185, 60, 260, 180)], cut_faces="drop")
    assert sorted(both.boxes_xyxy[:, 0].tolist()) == [100.0, 200.0]
    assert len(detect_in_regions(det, frame, [], cut_faces="drop")) == 0


def test_full_frame_every_one_searches_every_processed_frame_whole(tmp_path: Path) -> None:
    det = ColourDetector()
    p = LanePipeline(
        det, SizeQuality(), ColourEmbedder(), matcher_with(tmp_path / "d", DOCS), LaneSettings(full_frame_fps=10.0)
    )
    result = p.process(_minivan(tmp_path / "p1", documents=["D-RED", "D-GREEN", "D-BLUE"]))
    assert det.calls == 18 and result.occupant_count == 3 and result.complete_capture


def test_identification_follows_the_lane_policy(tmp_path: Path) -> None:
    """The pipeline decides with the policy of its lane settings (1:few at few_fmr 1e-2 by default, divided
    among the vehicle's documents), whatever policy the matcher it is given was built with."""
    matcher = matcher_with(tmp_path / "d", DOCS)
    lane = LanePipeline(ColourDetector(), SizeQuality(), ColourEmbedder(), matcher)
    assert LaneSettings().few_fmr == pytest.approx(1e-2)
    assert lane.matcher.policy.target_fmr == pytest.approx(1e-2) and lane.matcher.gallery is matcher.gallery
    assert lane.matcher.one_to_few_threshold(3) == pytest.approx(matcher.thresholds.at_fmr(1e-2 / 3))
    strict = LanePipeline(ColourDetector(), SizeQuality(), ColourEmbedder(), matcher, LaneSettings(few_fmr=1e-4))
    assert strict.matcher.one_to_few_threshold(3) == pytest.approx(matcher.thresholds.at_fmr(1e-4 / 3))
    assert strict.matcher.policy.target_fpir == pytest.approx(matcher.policy.target_fpir)
    same = lane.matcher
    assert LanePipeline(ColourDetector(), SizeQuality(), ColourEmbedder(), same).matcher is same, "built once"


@pytest.mark.parametrize("command", ["run", "bench-lane", "lane.toml"])
def test_every_entry_point_reads_the_one_lane_section(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_env: None, command: str
) -> None:
    """`laneface run`, `laneface bench lane` and lane.toml build the pipeline from ``Settings.lane``: absent
    options keep its defaults (or the environment's values), given ones replace them."""
    seen: list[LaneSettings] = []

    def fake_from_settings(
        cls: type[LanePipeline], settings: object, store: object = None, **kw: object
    ) -> LanePipeline:
        from laneface.config import Settings

        assert isinstance(settings, Settings)
        seen.append(settings.lane)
        raise SystemExit(7)

    monkeypatch.setattr(LanePipeline, "from_settings", classmethod(fake_from_settings))
    monkeypatch.setenv("LANEFACE_LANE__SHOTS_PER_OCCUPANT", "5")
    passage = _minivan(tmp_path / "p1")
    if command == "run":
        args = ["run", str(passage), "--out", str(tmp_path / "r.jsonl"), "--detect-fps", "2.5", "--few-fmr", "0.001"]
        CliRunner().invoke(app, ["--data-dir", str(tmp_path), *args])
        assert seen[0].detect_fps == 2.5 and seen[0].few_fmr == 1e-3
    elif command == "bench-lane":
        (passage / "ground_truth.json").write_text('{"passage_id": "P-1", "occupants": []}')
        args = ["bench", "lane", str(tmp_path), "--few-fmr", "0.001", "--out", str(tmp_path / "b")]
        CliRunner().invoke(app, ["--data-dir", str(tmp_path), *args])
        assert seen[0].few_fmr == 1e-3 and seen[0].detect_fps == LaneSettings().detect_fps
    else:
        from laneface.edge.config import load_lane_config

        toml = (
            'lane = "L1"\ndirection = "outbound"\noutbox = "o.db"\nspool_dir = "s"\n'
            '[service]\nurl = "http://127.0.0.1:9"\n[[camera]]\nname = "front"\nurl = "rtsp://x/y"\n'
            "[pipeline]\ndetect_fps = 2.5\nfew_fmr = 0.001\n"
        )
        (tmp_path / "lane.toml").write_text(toml)
        assert load_lane_config(tmp_path / "lane.toml").pipeline.few_fmr == 1e-3
        monkeypatch.setenv("LANEFACE_LANE_API_KEY", "k" * 32)
        CliRunner().invoke(app, ["--data-dir", str(tmp_path), "lane", "--config", str(tmp_path / "lane.toml")])
        assert seen[0].detect_fps == 2.5 and seen[0].few_fmr == 1e-3
    assert len(seen) == 1
    assert seen[0].shots_per_occupant == 5, "the environment's lane section is the base"
    defaults = LaneSettings()
    assert seen[0].full_frame_fps == defaults.full_frame_fps and seen[0].link_fmr == defaults.link_fmr


class _WholeOrRegion(ColourDetector):
    """Records the size and mean brightness of every image it searches (whole frames are 320x240)."""

    def __init__(self) -> None:
        super().__init__()
        self.shapes: list[tuple[int, int]] = []
        self.means: list[float] = []

    def detect(self, image_rgb: np.ndarray) -> FaceDetections:
        self.shapes.append(image_rgb.shape[:2])
        self.means.append(float(image_rgb.mean()))
        # snap to the nearest colour of the scene: interpolated and enhanced pixels keep their identity
        palette = np.array([(0, 0, 0), RED, GREEN, BLUE, GREY], np.float32)
        dist = np.linalg.norm(image_rgb[:, :, None, :].astype(np.float32) - palette, axis=3)
        return super().detect(palette[dist.argmin(axis=2)].astype(np.uint8))

    @property
    def whole(self) -> int:
        return sum(s == (240, 320) for s in self.shapes)


def test_full_frame_indices_keep_the_rate_and_give_short_passages_their_minimum() -> None:
    assert full_frame_indices(20, 4, 4) == {0, 4, 8, 12, 16}, "the rate alone gives enough"
    assert full_frame_indices(20, 4, 0) == {0, 4, 8, 12, 16}
    assert full_frame_indices(8, 4, 4) == {0, 2, 5, 7}, "spread from the first frame to the last"
    assert full_frame_indices(6, 8, 4) == {0, 2, 3, 5}
    assert full_frame_indices(3, 8, 4) == {0, 1, 2}, "fewer frames than the minimum: every one"
    assert full_frame_indices(5, 8, 1) == {0}
    assert full_frame_indices(0, 4, 4) == frozenset()


def test_a_short_passage_gets_its_minimum_of_whole_frame_searches(tmp_path: Path) -> None:
    """12 frames at 10 fps (1.2 s): at 1.25 whole frames per second a camera would get 2 searches."""
    counts = {}
    for minimum in (0, 4):
        det = _WholeOrRegion()
        lane = LaneSettings(min_full_frames=minimum)
        p = LanePipeline(det, SizeQuality(), ColourEmbedder(), matcher_with(tmp_path / f"d{minimum}", DOCS), lane)
        face = [FakeFace(RED, 200, 40, 56, dx=1.0)]
        p.process(write_passage(tmp_path / f"p{minimum}", {"front": ("front", face), "left": ("left", face)}))
        counts[minimum] = det.whole
    # front: 6 processed frames, every 4th {0, 4} or 4 spread {0, 2, 3, 5}; left: 12 processed, every 8th {0, 8}
    # or {0, 4, 7, 11}; each camera also searches frame 1 whole (a new face whose motion is not known yet)
    assert counts == {0: 3 + 3, 4: 5 + 5}


def test_regions_are_searched_upscaled_and_dark_images_enhanced(tmp_path: Path) -> None:
    det = _WholeOrRegion()
    lane = LaneSettings(region_upscale=2.0, min_full_frames=0)
    p = LanePipeline(det, SizeQuality(), ColourEmbedder(), matcher_with(tmp_path / "d", DOCS), lane)
    result = p.process(write_passage(tmp_path / "p", {"front": ("front", [FakeFace(RED, 100, 60, 50, dx=2.0)])}))
    regions = [s for s in det.shapes if s != (240, 320)]
    assert regions and min(min(s) for s in regions) >= 2 * lane.roi_min_side, "crops reach the detector upscaled"
    assert result.occupant_count == 1
    assert all(m < 40 for m in det.means), "enhancement is off by default: the detector sees the raw frames"

    bright = _WholeOrRegion()
    lit = LaneSettings(enhance_dark=True, min_full_frames=0)
    q = LanePipeline(bright, SizeQuality(), ColourEmbedder(), matcher_with(tmp_path / "e", DOCS), lit)
    q.process(write_passage(tmp_path / "q", {"front": ("front", [FakeFace(RED, 100, 60, 50, dx=2.0)])}))
    raw = _WholeOrRegion()  # the same passage and settings without the correction
    r = LanePipeline(
        raw,
        SizeQuality(),
        ColourEmbedder(),
        matcher_with(tmp_path / "g", DOCS),
        lit.model_copy(update={"enhance_dark": False}),
    )
    r.process(tmp_path / "q")
    assert raw.shapes == bright.shapes
    pairs = list(zip(raw.shapes, raw.means, bright.means, strict=True))
    assert all(b == a for shape, a, b in pairs if shape == (240, 320)), "whole frames are searched as they are"
    regions = [(a, b) for shape, a, b in pairs if shape != (240, 320)]
    assert regions and all(b > a + 3 for a, b in regions), "dark regions are brightened before detection"


def test_template_size_power_weights_small_faces_down(tmp_path: Path) -> None:
    from laneface.pipeline.lane import _inter_eye_px
    from laneface.quality.base import QualityReport
    from laneface.selection import FaceCandidate, Shot

    def shot(ied: float, unified: float) -> Shot:
        lm = np.array([[[10, 10], [10 + ied, 10], [15, 15], [12, 20], [18, 20]]], np.float32)
        face = FaceDetections(np.array([[0, 0, 40, 40]], np.float32), lm, np.ones(1, np.float32))
        cand = FaceCandidate("front", 0, 0, 0.0, np.zeros((40, 40, 3), np.uint8), face, (0, 0), 1.0, (0, 0, 40, 40))
        return Shot(cand, QualityReport({}, unified, "vehicle", True, ()))

    small, large = shot(10.0, 60.0), shot(50.0, 60.0)
    assert _inter_eye_px(small) == pytest.approx(10.0)
    matcher = matcher_with(tmp_path / "d", DOCS)
    plain = LanePipeline(ColourDetector(), SizeQuality(), ColourEmbedder(), matcher)
    assert plain._weights([small, large]) == [60.0, 60.0], "quality only by default"
    sized = LanePipeline(
        ColourDetector(), SizeQuality(), ColourEmbedder(), matcher, LaneSettings(template_size_power=1.0)
    )
    assert sized._weights([small, large]) == pytest.approx([15.0, 60.0]), "10 px of 40: a quarter; capped at 1"


def test_cabin_search_finds_a_face_too_small_for_the_whole_frame_search(tmp_path: Path) -> None:
    """A detector that finds faces of at least 20 px only: the small blue face beside the red one is found by
    the upscaled search around the red face, never by the whole-frame search."""

    class MinSide(_WholeOrRegion):
        def detect(self, image_rgb: np.ndarray) -> FaceDetections:
            found = super().detect(image_rgb)
            return found[(found.boxes_xyxy[:, 2] - found.boxes_xyxy[:, 0]) >= 20]

    # a rear-row face a little over half the size of the front-row one (a smaller one would be a printed face)
    faces = [FakeFace(RED, 100, 60, 26, dx=1.0), FakeFace(BLUE, 140, 64, 14, dx=1.0)]
    seen = {}
    for up in (1.0, 2.0):
        det = MinSide()
        lane = LaneSettings(cabin_upscale=up, min_full_frames=0)
        p = LanePipeline(det, SizeQuality(min_side=10), ColourEmbedder(), matcher_with(tmp_path / f"d{up}", DOCS), lane)
        result = p.process(write_passage(tmp_path / f"p{up}", {"front": ("front", faces)}))
        seen[up] = {o.match.doc_id for o in result.occupants if o.match.doc_id}
    assert "D-BLUE" not in seen[1.0] and "D-BLUE" in seen[2.0]


def test_a_face_printed_on_a_chest_is_not_counted_unless_the_lane_says_so(tmp_path: Path) -> None:
    """Grey is a face printed on red's chest: straight below red's head, moving with it. It is left out of
    the occupants (and said so in the result line); with ``reject_printed`` off it is a third occupant."""
    front = [
        FakeFace(RED, 60, 20, 56, dx=1.0),
        FakeFace(GREY, 62, 100, 50, dx=1.0),
        FakeFace(GREEN, 200, 20, 54, dx=1.0),
    ]
    passage = write_passage(tmp_path / "p", {"front": ("front", front)}, documents=["D-RED", "D-GREEN"])
    parts = (ColourDetector(), SizeQuality(), ColourEmbedder())
    result = LanePipeline(*parts, matcher_with(tmp_path / "d1", DOCS)).process(passage)
    assert result.occupant_count == 2 and result.faces_not_counted == 1
    assert {o.match.doc_id for o in result.occupants} == {"D-RED", "D-GREEN"}
    assert result.as_json()["faces_not_counted"] == 1
    lax = LanePipeline(*parts, matcher_with(tmp_path / "d2", DOCS), LaneSettings(reject_printed=False)).process(passage)
    assert lax.occupant_count == 3 and lax.faces_not_counted == 0 and "faces_not_counted" not in lax.as_json()


def test_outbound_searches_the_ledger_lists_once_per_passage_before_the_gallery(tmp_path: Path) -> None:
    from laneface.pipeline.candidates import CandidateQuery
    from laneface.pipeline.identify import CandidateList

    asked: list[CandidateQuery] = []

    class Ledger:
        def lists(self, query: CandidateQuery) -> list[CandidateList]:
            asked.append(query)
            return [CandidateList("vehicle", ("D-RED", "D-GREY")), CandidateList("open_stays", ("D-GREEN",))]

    lane = LaneSettings(candidate_lists=("vehicle", "open_stays"), checkpoint_s=0.2)
    p = LanePipeline(
        ColourDetector(), SizeQuality(), ColourEmbedder(), matcher_with(tmp_path / "d", DOCS), lane, candidates=Ledger()
    )
    directory = _minivan(tmp_path / "p1", direction="outbound")
    meta = json.loads((directory / "passage.json").read_text())
    (directory / "passage.json").write_text(json.dumps(meta | {"plate": {"text": "ABC 123", "region": "ON"}}))
    events: list[dict[str, object]] = []
    result = p.process(directory, events.append)
    stages = {o.match.doc_id: (o.match.stage, o.match.list_size) for o in result.occupants}
    assert stages == {"D-RED": ("vehicle", 2), "D-GREEN": ("open_stays", 1), "D-BLUE": ("gallery", 4)}
    assert len(asked) == 1 and len(events) > 3, "asked once, however often the occupants were looked at"
    assert asked[0].plate is not None and asked[0].plate.key == "A8C123" and asked[0].stages == lane.candidate_lists
    line = result.as_json()
    assert line["plate"] == {"text": "ABC 123", "region": "ON", "confidence": 1.0}
    assert line["occupants"][0]["match"]["stage"] in ("vehicle", "open_stays", "gallery")
    none = LanePipeline(
        ColourDetector(),
        SizeQuality(),
        ColourEmbedder(),
        matcher_with(tmp_path / "e", DOCS),
        LaneSettings(candidate_lists=()),
        candidates=Ledger(),
    )
    assert {o.match.stage for o in none.process(directory).occupants} == {"gallery"}
    assert len(asked) == 1, "a lane without lists does not ask"


def _template(v: list[float]) -> Template:
    a = np.array(v, np.float32)
    return Template(a / np.linalg.norm(a), "m")


def _track(
    tid: int,
    camera: str,
    vector: list[float] | None,
    unified: float = 60.0,
    frames: tuple[int, ...] = (0,),
    row: int | None = 1,
) -> TrackResult:
    from laneface.quality.base import QualityReport
    from laneface.selection import FaceCandidate, Shot
    from laneface.tracking.association import TrackSummary
    from laneface.tracking.tracker import FaceTrack, TrackPoint

    box = np.array([0, 0, 40, 40], np.float32)
    points = tuple(TrackPoint(f, f / 10, box, np.zeros((5, 2), np.float32), 0.9) for f in frames)
    cand = FaceCandidate(
        camera, tid, frames[0], 0.0, np.zeros((4, 4, 3), np.uint8), FaceDetections.empty(), (0, 0), 0.5, (0, 0, 4, 4)
    )
    shot = Shot(cand, QualityReport({}, unified, "vehicle", True, ()))
    summary = TrackSummary(FaceTrack(tid, camera, points), camera, None if vector is None else _template(vector), row)
    return TrackResult(summary, (shot,), ())


def test_a_matched_occupant_shows_the_face_of_the_tracks_that_matched() -> None:
    """Association joined two people's tracks: the record's best shot comes from the track closest to the
    matched document, even when the other person's shot ranks higher and also clears the threshold."""
    other, matched = _track(1, "right", [1, 0.5, 0], 80.0), _track(2, "left", [0, 1, 0.1], 60.0)
    occupant = Occupant(1, 0.0, other.shots[0], _template([1, 1, 0]), ("left", "right"), 2)
    document = _template([0, 1, 0])
    match = OccupantMatch("match", "DOC-B", 0.7, "one_to_few", 0.4)  # both tracks clear 0.4
    assert matched_evidence(occupant, [other, matched], match, document).best is matched.shots[0]
    # nothing to choose: no match, a single track, or the best-ranked shot is already the closest track's
    assert matched_evidence(occupant, [other, matched], OccupantMatch("no_match"), document) is occupant
    assert matched_evidence(occupant, [other], match, document) is occupant
    closest = _track(3, "front", [0, 1, 0], 90.0)
    on_it = replace(occupant, best=closest.shots[0])
    assert matched_evidence(on_it, [closest, matched], match, document) is on_it
    # a track whose shots all fail the profile shows only when no track has a passing shot
    failing = replace(
        closest, shots=(replace(closest.shots[0], report=replace(closest.shots[0].report, passed=False)),)
    )
    assert matched_evidence(occupant, [failing, matched, other], match, document).best is matched.shots[0]


def test_stray_tracks_join_the_occupant_whose_document_they_match() -> None:
    ana = [_track(1, "front", [1, 0, 0, 0], frames=(0, 1, 2))]
    ben = [_track(2, "front", [0, 1, 0, 0], frames=(0, 1, 2), row=2)]
    stray = [_track(3, "left", [0.9, 0.1, 0.2, 0])]  # Ana from the side, left apart by association
    beside = [_track(4, "front", [0.95, 0, 0.1, 0], frames=(1,))]  # like Ana, but in a frame with her: another face
    far = [_track(5, "right", [0.9, 0, 0, 0.2], row=3)]  # like Ana, but two rows behind her
    faint = [_track(6, "right", [0.1, 0.1, 1, 0])]  # like nobody
    bare = [_track(7, "right", None)]  # no template at all
    groups = [ana, ben, stray, beside, far, faint, bare]
    matches = [OccupantMatch("match", "A", 0.9), OccupantMatch("match", "B", 0.9)] + [OccupantMatch("no_match")] * 5
    refs = {"A": _template([1, 0, 0, 0]), "B": _template([0, 1, 0, 0])}
    out = absorbed(groups, matches, refs, 0.6)
    assert [[t.summary.track.track_id for t in g] for g in out] == [[1, 3], [2], [], [4], [5], [6], [7]]
    assert absorbed(groups, matches, refs, 0.999) == [list(g) for g in groups], "below the threshold: nothing moves"
    # two strays of one camera seen together cannot both join one occupant
    twins = [[_track(8, "left", [0.9, 0.1, 0, 0], frames=(5, 6))], [_track(9, "left", [0.8, 0.2, 0, 0], frames=(6,))]]
    out = absorbed([ana, *twins], [matches[0], OccupantMatch("no_match"), OccupantMatch("no_match")], refs, 0.6)
    assert [[t.summary.track.track_id for t in g] for g in out] == [[1, 8], [], [9]]
