"""Lane operations in the simulator: scenario files, the booth stop, prompts, queues and drive-throughs."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from tests.unit.test_sim_render import make_fake_lfw

from laneface.capture import read_passage
from laneface.errors import ConfigError
from laneface.sim.booth import BOOTH_CAMERAS, BoothStop, booth_camera, drive_through, queue_approach, sample_booth
from laneface.sim.render import _z_front
from laneface.sim.scenario import InboundZones, OutboundZone, PromptRule, Scenario, load_scenario, parse_scenario
from laneface.sim.scene import PassageScene, sample_scene
from laneface.sim.writer import simulate

PEOPLE = [(f"Person_{i}", f"Person_{i}/Person_{i}_0001.jpg", f"DOC{i}") for i in range(8)]


def _scene(seed: int, inbound: bool = True) -> PassageScene:
    rng = np.random.default_rng(seed)
    return sample_scene(rng, f"p{seed}", PEOPLE, started_at="2026-01-01T10:00:00Z", night=False, inbound=inbound)


# -- scenario files ----------------------------------------------------------------------------------------
def test_the_built_in_scenario_is_the_documented_default(tmp_path: Path) -> None:
    assert load_scenario("two-zone") == Scenario()
    path = tmp_path / "s.toml"
    path.write_text('name = "mine"\n[inbound]\ndwell_s = [30, 40]\n[inbound.prompts]\ncomply = 0.5\n', "utf-8")
    s = load_scenario(path)
    assert (s.name, s.inbound.dwell_s, s.inbound.prompts.comply) == ("mine", (30.0, 40.0), 0.5)
    assert s.inbound.booth_fps == InboundZones().booth_fps and s.outbound == OutboundZone(), "the rest: defaults"


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"dwel_s": 3}, "unknown key 'dwel_s'"),
        ({"inbound": {"dwel_s": [1, 2]}}, "unknown key inbound.'dwel_s'"),
        ({"inbound": {"prompts": {"comply": 1.5}}}, "comply is a share"),
        ({"inbound": {"dwell_s": [90, 20]}}, "low end 90 is above the high end 20"),
        ({"inbound": {"dwell_s": 30}}, "must be a range"),
        ({"inbound": {"booth_side": "up"}}, "'left' or 'right'"),
        ({"inbound": {"booth_fps": 0}}, "booth_fps must be > 0"),
        ({"inbound": {"queue_stops": [2, 1]}}, "queue_stops must be"),
        ({"outbound": {"speed_kmh": [0, 30]}}, "must be in"),
        ({"outbound": {"fps": True}}, "must be a number"),
        ({"inbound": 3}, "must be a table"),
        ({"name": ""}, "non-empty string"),
    ],
)
def test_bad_scenarios_are_refused_with_the_key(doc: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(")):
        parse_scenario(doc, "s.toml")


def test_unreadable_scenarios_are_config_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="no such file, and not a built-in scenario"):
        load_scenario(tmp_path / "nope.toml")
    bad = tmp_path / "bad.toml"
    bad.write_text("inbound = [", "utf-8")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_scenario(bad)


def test_prompts_come_first_then_every_so_often_while_the_vehicle_stands() -> None:
    assert PromptRule(first_s=6, every_s=15).times(40) == (6, 21, 36)
    assert PromptRule(first_s=6, every_s=None).times(40) == (6,)
    assert PromptRule(first_s=None).times(40) == ()
    assert PromptRule(first_s=50).times(40) == ()
    s = parse_scenario({"inbound": {"prompts": {"first_s": "none"}}})
    assert s.inbound.prompts.times(90) == ()


# -- the booth stop --------------------------------------------------------------------------------------
@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10_000), comply=st.sampled_from([0.0, 1.0]))
def test_who_answers_prompts(seed: int, comply: float) -> None:
    zones = InboundZones(dwell_s=(40, 60), prompts=PromptRule(first_s=5, every_s=10, comply=comply), asleep_share=0.3)
    scene = _scene(seed)
    plan = sample_booth(np.random.default_rng(seed), scene, zones)
    assert 40 <= plan.dwell_s <= 60 and plan.frames == round(plan.dwell_s * zones.booth_fps)
    assert plan.prompts == zones.prompts.times(plan.dwell_s)
    for o, b in zip(scene.occupants, plan.behaviour, strict=True):
        assert b.occupant_id == o.occupant_id and b.camera == o.row
        if o.seat == "1L":
            assert not b.asleep, "the driver is awake"
            assert b.looks_at_booth and b.looks_at_booth[0][0] == 0.0, "and answers the officer first"
        if b.asleep or comply == 0.0:
            assert not b.complies and b.looks_at_camera == ()
        else:
            assert b.complies and len(b.looks_at_camera) >= 1
            for (a, e), p in zip(b.looks_at_camera, plan.prompts, strict=False):
                assert p + 1.0 <= a <= p + 4.0 and a < e <= plan.dwell_s


def test_an_occupant_answering_a_prompt_faces_the_camera_of_their_row() -> None:
    zones = InboundZones(dwell_s=(60, 60), prompts=PromptRule(first_s=5, every_s=20, comply=1.0), asleep_share=0.0)
    for seed in range(20):
        scene = _scene(seed)
        plan = sample_booth(np.random.default_rng(seed), scene, zones)
        cams = tuple(booth_camera(r, zones) for r in (1, 2, 3))
        stop = BoothStop(scene, plan, cams)
        for o, b in zip(scene.occupants, plan.behaviour, strict=True):
            a, e = b.looks_at_camera[0]
            index = int(np.ceil(a * zones.booth_fps))
            assert index / zones.booth_fps < e
            pose = stop.pose(o, index)
            face = (scene.lane_offset_m + o.x_m, scene.vehicle.face_height_m + o.dh_m, plan.z_front + o.dz_m)
            yaw_rad, pitch_rad = np.radians(pose.yaw_deg), np.radians(pose.pitch_deg)
            facing = (-np.sin(yaw_rad), np.sin(pitch_rad), -np.cos(yaw_rad))
            yaw, pitch = cams[o.row - 1].view_angles(face, facing)
            assert abs(yaw) < 3 or abs(pose.yaw_deg) == 85.0, (o.seat, yaw)
            assert abs(pitch) < 3


def test_sunglasses_come_off_with_the_first_answer() -> None:
    zones = InboundZones(dwell_s=(60, 60), prompts=PromptRule(first_s=5, comply=1.0), asleep_share=0.0)
    seen = 0
    for seed in range(200):
        scene = _scene(seed)
        plan = sample_booth(np.random.default_rng(seed), scene, zones)
        stop = BoothStop(scene, plan, tuple(booth_camera(r, zones) for r in (1, 2, 3)))
        for o, b in zip(scene.occupants, plan.behaviour, strict=True):
            if not o.sunglasses_at(1.0):
                assert b.sunglasses_off_s is None and not stop.pose(o, 0).sunglasses
                continue
            seen += 1
            assert b.sunglasses_off_s == b.looks_at_camera[0][0]
            assert stop.pose(o, 0).sunglasses and not stop.pose(o, plan.frames - 1).sunglasses
    assert seen > 0


# -- queue and drive-through ------------------------------------------------------------------------------
@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 10_000), stops=st.integers(0, 5))
def test_the_queue_stops_and_goes_and_ends_at_the_booth(seed: int, stops: int) -> None:
    zones = InboundZones(queue_stops=(stops, stops))
    scene = queue_approach(np.random.default_rng(seed), _scene(seed), zones)
    assert len(scene.pauses) == stops and 40 <= scene.frames <= 80 and scene.fps == 10
    edges = [v for p in scene.pauses for v in p]
    assert edges == sorted(edges) and all(0 < v < 1 for v in edges)
    assert sum(b - a for a, b in scene.pauses) <= 0.6 + 1e-9
    for a, b in scene.pauses:
        assert _z_front(scene, a) == pytest.approx(_z_front(scene, b)), "stands still in the queue"
    z = [_z_front(scene, t) for t in np.linspace(0, 1, 101)]
    assert all(later <= earlier + 1e-9 for earlier, later in itertools.pairwise(z)), "never backs up"
    assert z[0] == pytest.approx(scene.z_start_m) and z[-1] == pytest.approx(scene.z_stop_m)


def test_a_drive_through_crosses_the_view_at_a_constant_speed() -> None:
    zone = OutboundZone(speed_kmh=(18.0, 18.0))
    scene, kmh = drive_through(np.random.default_rng(0), _scene(1, inbound=False), zone)
    assert kmh == 18.0 and scene.constant_speed
    assert scene.frames == round((scene.z_start_m - scene.z_stop_m) / 5.0 * 10)
    z = [_z_front(scene, t) for t in (0.0, 0.25, 0.5, 1.0)]
    assert np.diff(z) == pytest.approx([(z[-1] - z[0]) / 4] * 2 + [(z[-1] - z[0]) / 2])
    slow, kmh = drive_through(np.random.default_rng(0), _scene(1, inbound=False), OutboundZone(slowdown_share=1.0))
    assert 5.0 <= kmh <= 10.0 and slow.frames > scene.frames


# -- rendered ------------------------------------------------------------------------------------------------
def test_a_two_zone_passage_adds_booth_cameras_that_start_at_the_stop(tmp_path: Path) -> None:
    lfw = make_fake_lfw(tmp_path / "lfw")
    scenario = parse_scenario(
        {
            "inbound_share": 1.0,
            "night_share": 0.0,
            "inbound": {"approach_s": [1.0, 1.0], "dwell_s": [6.0, 6.0], "prompts": {"first_s": 1.0, "comply": 1.0}},
        }
    )
    out = tmp_path / "sim"
    simulate(out, 1, 3, lfw, scenario=scenario)
    (pdir,) = [p for p in out.iterdir() if (p / "passage.json").is_file()]
    passage = read_passage(pdir)
    zones = {c.name: (c.zone, c.start_s, c.fps) for c in passage.cameras}
    assert zones == {
        "front": ("approach", 0.0, 10.0),
        "left": ("approach", 0.0, 10.0),
        "right": ("approach", 0.0, 10.0),
        **{n: ("booth", 1.0, 2.0) for n in BOOTH_CAMERAS},
    }
    truth = json.loads((pdir / "ground_truth.json").read_text("utf-8"))
    assert truth["zones"] == [
        {"zone": "approach", "start_s": 0.0, "end_s": 1.0},
        {"zone": "booth", "start_s": 1.0, "end_s": 7.0},
    ]
    assert truth["booth"]["prompts"] == [{"at_s": 1.0, "source": "auto"}]
    for name in BOOTH_CAMERAS:
        assert len(truth["cameras"][name]["frames"]) == 12
    frontal = 0
    for o in truth["occupants"]:
        b = o["booth"]
        assert b["complies"] != b["asleep"]
        cam = truth["cameras"][b["camera"]]["frames"]
        for a, e in b["looks_at_camera"]:
            for i in range(int(np.ceil(a * 2)), int(np.ceil(e * 2))):
                faces = [f for f in cam[i] if f["occupant_id"] == o["occupant_id"]]
                frontal += sum(abs(f["yaw_deg"]) < 10 and f["visible"] > 0.5 for f in faces)
    assert frontal > 0, "complying occupants are seen frontally by the camera of their row"
    sim = json.loads((out / "sim.json").read_text("utf-8"))
    assert sim["scenario"]["inbound"]["dwell_s"] == [6.0, 6.0]
