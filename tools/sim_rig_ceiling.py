"""What other camera placements would let a lane capture: the capture ceiling of simulated passages per rig.

For the first N passages of a simulator seed (the same scenes `laneface sim` renders), every camera
placement below is rendered (ground truth only, no video) and each true occupant is marked capturable by
that camera when some face of it meets `laneface.evaluation.bench_lane.CapturableRule` (the vehicle
profile's pose and inter-eye distance limits, 85 % of the face visible). A rig is a set of placements; its
ceiling is the share of occupants (by row) and of vehicles (every occupant) that some camera of it could
capture. Nothing here depends on a detector or a recognizer: it says what the scene allows.

usage: python tools/sim_rig_ceiling.py --lfw-dir ../shared/data/lfw/lfw-deepfunneled --passages 40 --seed 2026
       [--any-pose]   (no yaw/pitch limits: what the rig would allow if every occupant faced a camera)
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np

from laneface.evaluation.bench_lane import CapturableRule
from laneface.sim.faces import HeadSprite
from laneface.sim.geometry import LookAtCamera
from laneface.sim.people import LfwIndex, TravellerPool
from laneface.sim.render import AIM_HEIGHT_M, HALF_WIDTH, STOP_M, render_camera
from laneface.sim.scene import ROW_DZ, PassageScene
from laneface.sim.writer import head_sprites, scenes

Placement = Callable[[float], LookAtCamera]  # side (-1 left, +1 right; ignored by front placements) -> camera


def _front(x: float = 0.0, height: float = 2.1) -> Placement:
    return lambda side: LookAtCamera((x, height, 0.0), (0.0, AIM_HEIGHT_M, STOP_M + 1.5), 2500.0)


def _side(dz: float, dist: float = 2.0, aim_dz: float = ROW_DZ[2] + 0.4) -> Placement:
    """A side camera ``dist`` m beside the vehicle, ``dz`` m from its nominal windshield base along the lane
    (negative: ahead of the vehicle, looking back), aimed at ``aim_dz`` behind the windshield base."""
    return lambda side: LookAtCamera(
        (side * (HALF_WIDTH + dist), 1.6, STOP_M + dz), (side * 0.2, AIM_HEIGHT_M, STOP_M + aim_dz), 2600.0
    )


FRONTS: dict[str, Placement] = {
    "front (rig)": _front(),
    "front 0.6 m towards the driver": _front(x=-0.6),
    "front at 1.7 m": _front(height=1.7),
}
SIDES: dict[str, Placement] = {
    "sides 2.65 m ahead (rig)": _side(-2.65),
    "sides 1.5 m ahead": _side(-1.5),
    "sides 1.5 m ahead, 1.4 m away": _side(-1.5, dist=1.4),
    "sides 0.5 m ahead": _side(-0.5, aim_dz=ROW_DZ[2]),
    "sides at the booth (0.6 m behind)": _side(0.6, aim_dz=ROW_DZ[2]),
}

Key = tuple[str, int]  # passage id, occupant id


def capturable(
    scene: PassageScene,
    heads: Mapping[int, Callable[[bool, bool], HeadSprite]],
    name: str,
    camera: LookAtCamera,
    rule: CapturableRule,
) -> set[Key]:
    found: set[Key] = set()
    for frame in render_camera(name, scene, heads, 0, camera):
        for face in frame.faces:
            if rule.accepts(face.as_json()):
                found.add((scene.passage_id, face.occupant_id))
    return found


def ceiling(sets: Sequence[set[Key]], all_scenes: Sequence[PassageScene]) -> str:
    union = set().union(*sets)
    by_row: dict[int, list[bool]] = {}
    for s in all_scenes:
        for o in s.occupants:
            by_row.setdefault(o.row, []).append((s.passage_id, o.occupant_id) in union)
    every = [x for v in by_row.values() for x in v]
    vehicles = [all((s.passage_id, o.occupant_id) in union for o in s.occupants) for s in all_scenes]
    rows = " / ".join(f"{100 * np.mean(by_row[r]):.0f}" for r in sorted(by_row))
    return f"{100 * np.mean(every):.1f} % (rows {rows}) | vehicles {100 * np.mean(vehicles):.1f} %"


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lfw-dir", type=Path, required=True)
    ap.add_argument("--passages", type=int, default=40)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument(
        "--any-pose", action="store_true", help="Drop the yaw and pitch limits: the bound if everyone faced a camera."
    )
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    pool = TravellerPool(LfwIndex(args.lfw_dir), np.random.default_rng([args.seed, 0]))
    all_scenes = list(scenes(pool, args.seed, args.passages))
    rule = CapturableRule(max_abs_yaw_deg=180.0, max_abs_pitch_deg=180.0) if args.any_pose else CapturableRule()
    cameras = [(label, "front", place(1.0)) for label, place in FRONTS.items()]
    sides = (("left", -1.0), ("right", 1.0))
    cameras += [(label, name, place(side)) for label, place in SIDES.items() for name, side in sides]
    cap: dict[tuple[str, str], set[Key]] = {(label, name): set() for label, name, _ in cameras}
    for i, s in enumerate(all_scenes):
        heads = head_sprites(s, args.lfw_dir, args.seed * 100_003 + i)  # read and drawn once for every camera
        for label, name, camera in cameras:
            cap[(label, name)] |= capturable(s, heads, name, camera, rule)
    out = sys.stdout.write
    out(f"{args.passages} passages of seed {args.seed}; occupants capturable by some camera of the rig ({rule})\n")
    for f, sd in itertools.product(FRONTS, SIDES):
        out(f"{f} + {sd}: {ceiling([cap[(f, 'front')], cap[(sd, 'left')], cap[(sd, 'right')]], all_scenes)}\n")
    rig = [cap[("front (rig)", "front")], cap[("sides 2.65 m ahead (rig)", "left")]]
    rig.append(cap[("sides 2.65 m ahead (rig)", "right")])
    more = [*rig, cap[("sides 1.5 m ahead", "left")], cap[("sides 1.5 m ahead", "right")]]
    out(f"rig + a second pair of sides 1.5 m ahead (5 cameras): {ceiling(more, all_scenes)}\n")
    out(f"every placement above ({len(cap)} cameras): {ceiling(list(cap.values()), all_scenes)}\n")
    out(f"{time.perf_counter() - t0:.0f} s\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
