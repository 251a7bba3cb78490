"""Rig planner: which cameras, where and at what resolution, let a lane capture its occupants.

For the first passages of a seed of a :class:`~laneface.sim.scenario.Scenario` (the scenes ``laneface sim``
renders), every candidate camera placement of each zone is rendered (ground truth only, no video written)
and each true occupant is marked capturable by that camera when some face of it meets
:class:`~laneface.sim.capturable.CapturableRule`. Resolution needs no second rendering: at a fixed
field of view a face's inter-eye distance scales with the sensor's width, so a placement is scored at each
resolution by scaling the rule's minimum. A rig of a zone is a set of placements at one resolution; its
*ceiling* is the share of vehicles whose every occupant some camera of the zone (and of the zones before
it) could capture. Nothing here depends on a detector or a recognizer: it says what the scene allows.

Cost of a rig: cameras, pixels per second (width x height x frame rate, summed) and the CPU the lane
pipeline would need, estimated as ``CPU_S_PER_CAMERA_S`` x (pixels / the standard 960x540) per camera-second
of video, from the measured base lane. The planner recommends, per zone, the cheapest rig (fewest cameras,
then fewest pixels per second) whose ceiling reaches the target.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from laneface.sim.booth import BoothPlan, BoothStop, booth_camera
from laneface.sim.capturable import CapturableRule
from laneface.sim.faces import HeadSprite
from laneface.sim.geometry import FRAME_H, FRAME_W, LookAtCamera
from laneface.sim.render import AIM_HEIGHT_M, HALF_WIDTH, STOP_M, DriveBy, Motion, render_camera
from laneface.sim.scenario import InboundZones, Scenario
from laneface.sim.scene import ROW_DZ, PassageScene

__all__ = [
    "CPU_S_PER_CAMERA_S",
    "RESOLUTIONS",
    "Placement",
    "RigOption",
    "ZonePlan",
    "booth_placements",
    "lane_placements",
    "plan_rigs",
    "plan_scenario",
]

# the base lane's measured CPU per camera-second at 960x540 and 10 fps (docs/benchmarks.md, 200-passage sets)
CPU_S_PER_CAMERA_S = 0.40 / 3
RESOLUTIONS: tuple[tuple[int, int], ...] = ((960, 540), (1280, 720), (1920, 1080))

Key = tuple[str, int]  # passage id, occupant id
Heads = Mapping[int, Callable[[bool, bool], HeadSprite]]
INSTALLED = ("front (rig)", "sides 2.65 m ahead (rig)")  # the lane's rig (laneface.sim.render)


@dataclass(frozen=True)
class Placement:
    """One camera position of a zone; ``group`` names the placements that go together (a pair of sides)."""

    label: str
    group: str
    view: str
    camera: LookAtCamera


def _front(label: str, x: float = 0.0, height: float = 2.1) -> Placement:
    cam = LookAtCamera((x, height, 0.0), (0.0, AIM_HEIGHT_M, STOP_M + 1.5), 2500.0)
    return Placement(label, label, "front", cam)


def _sides(label: str, dz: float, dist: float = 2.0, aim_dz: float = ROW_DZ[2] + 0.4) -> list[Placement]:
    """A pair of side cameras ``dist`` m beside the vehicle, ``dz`` m from its nominal windshield base along
    the lane (negative: ahead of the vehicle, looking back), aimed ``aim_dz`` behind the windshield base."""
    out = []
    for view, side in (("left", -1.0), ("right", 1.0)):
        cam = LookAtCamera(
            (side * (HALF_WIDTH + dist), 1.6, STOP_M + dz), (side * 0.2, AIM_HEIGHT_M, STOP_M + aim_dz), 2600.0
        )
        out.append(Placement(f"{label} {view}", label, view, cam))
    return out


def lane_placements() -> list[Placement]:
    """Candidate cameras of the approach or drive-through zone (the lane's rig first)."""
    return [
        _front("front (rig)"),
        _front("front 0.6 m towards the driver", x=-0.6),
        _front("front at 1.7 m", height=1.7),
        *_sides("sides 2.65 m ahead (rig)", -2.65),
        *_sides("sides 1.5 m ahead", -1.5),
        *_sides("sides 0.5 m ahead", -0.5, aim_dz=ROW_DZ[2]),
    ]


def booth_placements(zones: InboundZones) -> list[Placement]:
    """Candidate booth cameras: one per row at the scenario's height, and 0.3 m lower and higher."""
    out = []
    for dh in (0.0, -0.3, 0.3):
        z = replace(zones, camera_height_m=zones.camera_height_m + dh)
        for row in (1, 2, 3):
            label = f"booth row {row} at {z.camera_height_m:.1f} m"
            out.append(Placement(label, label, zones.booth_side, booth_camera(row, z)))
    return out


@dataclass(frozen=True)
class RigOption:
    zone: str
    placements: tuple[str, ...]
    resolution: tuple[int, int]
    fps: float
    cameras: int
    pixels_per_s: float
    cpu_s_per_s: float  # estimated, the lane pipeline on one core
    ceiling: float  # share of vehicles completely capturable by the zones up to this one
    occupants: float  # share of occupants capturable


@dataclass(frozen=True)
class ZonePlan:
    zone: str
    passages: int
    options: tuple[RigOption, ...]  # cheapest first
    recommended: RigOption | None  # the cheapest reaching the target


def _capturable(
    scene: PassageScene,
    heads: Heads,
    placement: Placement,
    motion: Motion,
) -> dict[Key, float]:
    """Per occupant seen well enough (pose, visibility) by this camera, the largest inter-eye distance (px at
    the standard resolution) among those faces."""
    rule = CapturableRule(min_ied_px=0.0)
    best: dict[Key, float] = {}
    frames = render_camera(placement.label, scene, heads, 0, placement.camera, view=placement.view, motion=motion)
    for frame in frames:
        for face in frame.faces:
            truth = face.as_json()
            if rule.accepts(truth):
                key = (scene.passage_id, face.occupant_id)
                best[key] = max(best.get(key, 0.0), float(np.hypot(*np.subtract(face.eyes[1], face.eyes[0]))))
    return best


def _groups(placements: Sequence[Placement]) -> dict[str, list[Placement]]:
    out: dict[str, list[Placement]] = {}
    for p in placements:
        out.setdefault(p.group, []).append(p)
    return out


def _rigs(zone: str, placements: Sequence[Placement]) -> Iterator[tuple[str, ...]]:
    """The rigs to compare: for a lane zone a front camera choice with a side pair choice (or none); for the
    booth, the cameras of rows 1, 1-2 and 1-3 at each height."""
    groups = _groups(placements)
    if zone == "booth":
        for h in sorted({g.rsplit(" at ", 1)[1] for g in groups}):
            for rows in ((1,), (1, 2), (1, 2, 3)):
                yield tuple(f"booth row {r} at {h}" for r in rows)
        return
    fronts = [g for g in groups if g.startswith("front")]
    sides = [g for g in groups if g.startswith("sides")]
    for f in fronts:
        yield (f,)
        for s in sides:
            yield (f, s)


def plan_rigs(
    scenario: Scenario,
    scenes_and_booths: Sequence[tuple[PassageScene, BoothPlan | None]],
    heads_of: Callable[[int, PassageScene], Heads],
    *,
    target: float = 0.9,
    progress: Callable[[str], None] | None = None,
) -> list[ZonePlan]:
    """Plans of the zones of ``scenario``'s passages (``scenes_and_booths``: each scene with its booth plan
    or ``None``); ``heads_of(i, scene)`` draws the head sprites of passage ``i``."""
    zones_of = {"inbound": ("approach", "booth"), "outbound": ("drive-through",)}
    lane = lane_placements()
    booth = booth_placements(scenario.inbound)
    seen: dict[tuple[str, str], dict[Key, float]] = {}  # (zone, placement) -> occupant -> best ied
    occupants: dict[str, list[PassageScene]] = {}
    for i, (scene, plan) in enumerate(scenes_and_booths):
        heads = heads_of(i, scene)
        for zone in zones_of[scene.direction]:
            occupants.setdefault(zone, []).append(scene)
            if zone == "booth":
                assert isinstance(plan, BoothPlan)
                cams = {p.label: p for p in booth}
                for p in booth:
                    row_cams = tuple(cams[f"booth row {r} at {p.label.rsplit(' at ', 1)[1]}"].camera for r in (1, 2, 3))
                    got = _capturable(scene, heads, p, BoothStop(scene, plan, row_cams))
                    seen.setdefault((zone, p.label), {}).update(got)
            else:
                for p in lane:
                    seen.setdefault((zone, p.label), {}).update(_capturable(scene, heads, p, DriveBy(scene)))
        if progress is not None:
            progress(f"{scene.passage_id}: {len(scene.occupants)} occupants, {scene.direction}")
    plans = []
    for zone in ("approach", "booth", "drive-through"):
        scenes = occupants.get(zone, [])
        if not scenes:
            continue
        placements = booth if zone == "booth" else lane
        groups = _groups(placements)
        before: dict[Key, float] = {}
        if zone == "booth":  # the booth finishes what the approach's rig (as installed) left
            for p in lane:
                if p.group in INSTALLED:
                    for k, v in seen.get(("approach", p.label), {}).items():
                        before[k] = max(before.get(k, 0.0), v)
        fps = (
            scenario.inbound.booth_fps
            if zone == "booth"
            else (scenario.inbound.fps if zone == "approach" else scenario.outbound.fps)
        )
        options = []
        for rig in _rigs(zone, placements):
            members = [p for g in rig for p in groups[g]]
            for width, height in RESOLUTIONS:
                scale = width / FRAME_W
                need = CapturableRule().min_ied_px
                ok: set[Key] = {k for k, v in before.items() if v >= need}  # the approach at its own resolution
                for p in members:
                    ok |= {k for k, v in seen.get((zone, p.label), {}).items() if v * scale >= need}
                every = [(s.passage_id, o.occupant_id) in ok for s in scenes for o in s.occupants]
                vehicles = [all((s.passage_id, o.occupant_id) in ok for o in s.occupants) for s in scenes]
                pixels = len(members) * width * height * fps
                options.append(
                    RigOption(
                        zone=zone,
                        placements=tuple(p.label for p in members),
                        resolution=(width, height),
                        fps=fps,
                        cameras=len(members),
                        pixels_per_s=float(pixels),
                        cpu_s_per_s=round(CPU_S_PER_CAMERA_S * pixels / (FRAME_W * FRAME_H * 10.0), 3),
                        ceiling=float(np.mean(vehicles)),
                        occupants=float(np.mean(every)),
                    )
                )
        options.sort(key=lambda o: (o.cameras, o.pixels_per_s, -o.ceiling))
        recommended = next((o for o in options if o.ceiling >= target), None)
        plans.append(ZonePlan(zone, len(scenes), tuple(options), recommended))
    return plans


def plan_scenario(
    scenario: Scenario,
    lfw_root: Path,
    passages: int,
    seed: int,
    *,
    target: float = 0.9,
    progress: Callable[[str], None] | None = None,
) -> list[ZonePlan]:
    """:func:`plan_rigs` on the first ``passages`` passages of ``seed`` (the scenes ``laneface sim`` renders)."""
    from laneface.sim.people import LfwIndex, TravellerPool
    from laneface.sim.writer import head_sprites, scenario_passages

    pool = TravellerPool(LfwIndex(lfw_root), np.random.default_rng([seed, 0]))
    drawn = [(scene, zones.booth) for scene, zones in scenario_passages(pool, seed, passages, scenario)]
    return plan_rigs(
        scenario,
        drawn,
        lambda i, scene: head_sprites(scene, lfw_root, seed * 100_003 + i),
        target=target,
        progress=progress,
    )
