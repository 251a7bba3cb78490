"""The booth stop of an inbound passage: booth cameras, occupants' behaviour while the vehicle stands,
prompts and who answers them; and the scenes of a :class:`~laneface.sim.scenario.Scenario`'s passages.

Booth cameras stand beside the stopped vehicle on the booth's side, at window height, one square to each
row and a little ahead of it, so that an occupant who looks at the camera of their row is seen frontally
through the open driver window or the rear side window. While the vehicle stands an occupant looks ahead
(as at the end of the approach), the driver talks to the officer at first (towards the booth), some
occupants glance at the booth now and then, some look down (phone, lap), sleeping passengers keep their
head down. At each prompt a complying occupant turns to the camera of their row after a delay, holds it
for a while, and takes sunglasses off; the others keep doing what they did.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from laneface.sim.geometry import LookAtCamera
from laneface.sim.render import AIM_HEIGHT_M, HALF_WIDTH, STOP_M, HeadPose, yaw_at
from laneface.sim.scenario import InboundZones, OutboundZone
from laneface.sim.scene import ROW_DZ, Occupant, PassageScene

__all__ = [
    "BOOTH_CAMERAS",
    "BoothBehaviour",
    "BoothPlan",
    "BoothStop",
    "booth_camera",
    "drive_through",
    "queue_approach",
    "sample_booth",
]

BOOTH_CAMERAS = ("booth1", "booth2", "booth3")  # aimed at rows 1, 2, 3
BOOTH_FOCAL_PX = 1000.0  # the whole window of a row from about a metre away, the near face 40 px between the eyes
CAMERA_AHEAD_M = 0.25  # booth cameras stand this far ahead of their row's seats
MAX_HEAD_YAW = 85.0  # how far a seated person turns the head towards a camera beside them


def booth_camera(row: int, zones: InboundZones) -> LookAtCamera:
    """The booth camera aimed at ``row`` of a vehicle standing at the stop line."""
    side = -1.0 if zones.booth_side == "left" else 1.0
    z = STOP_M + ROW_DZ[row]
    return LookAtCamera(
        (side * (HALF_WIDTH + zones.camera_distance_m), zones.camera_height_m, z - CAMERA_AHEAD_M),
        (0.0, AIM_HEIGHT_M, z),
        BOOTH_FOCAL_PX,
    )


@dataclass(frozen=True)
class BoothBehaviour:
    """What one occupant does while the vehicle stands (seconds after the stop)."""

    occupant_id: int
    asleep: bool
    complies: bool
    camera: int  # the row whose booth camera this occupant turns to
    looks_at_camera: tuple[tuple[float, float], ...]  # answering prompts
    looks_at_booth: tuple[tuple[float, float], ...]  # talking to the officer, glancing
    looks_down: tuple[tuple[float, float], ...]
    sunglasses_off_s: float | None  # None: sunglasses (if worn) stay on

    def as_json(self) -> dict[str, object]:
        def spans(v: tuple[tuple[float, float], ...]) -> list[list[float]]:
            return [[round(a, 2), round(b, 2)] for a, b in v]

        return {
            "asleep": self.asleep,
            "complies": self.complies,
            "camera": BOOTH_CAMERAS[self.camera - 1],
            "looks_at_camera": spans(self.looks_at_camera),
            "looks_at_booth": spans(self.looks_at_booth),
            "looks_down": spans(self.looks_down),
            "sunglasses_off_s": None if self.sunglasses_off_s is None else round(self.sunglasses_off_s, 2),
        }


@dataclass(frozen=True)
class BoothPlan:
    """The booth stop of one inbound passage."""

    dwell_s: float
    fps: float
    z_front: float  # where the windshield base stands (the stop line, give or take)
    prompts: tuple[float, ...]  # seconds after the stop
    behaviour: tuple[BoothBehaviour, ...]

    @property
    def frames(self) -> int:
        return max(1, round(self.dwell_s * self.fps))

    def as_json(self) -> dict[str, object]:
        return {
            "dwell_s": round(self.dwell_s, 2),
            "fps": self.fps,
            "frames": self.frames,
            "prompts": [{"at_s": round(p, 2), "source": "auto"} for p in self.prompts],
        }


def _inside(spans: tuple[tuple[float, float], ...], s: float) -> bool:
    return any(a <= s < b for a, b in spans)


def _spans(
    rng: np.random.Generator, count: int, length: tuple[float, float], dwell: float
) -> tuple[tuple[float, float], ...]:
    out = []
    for _ in range(count):
        a = float(rng.uniform(0, dwell))
        out.append((a, min(dwell, a + float(rng.uniform(*length)))))
    return tuple(sorted(out))


def sample_booth(rng: np.random.Generator, scene: PassageScene, zones: InboundZones) -> BoothPlan:
    """The stop of ``scene``'s vehicle at the booth: dwell, prompts and each occupant's behaviour."""
    dwell = float(rng.uniform(*zones.dwell_s))
    prompts = zones.prompts.times(dwell)
    driver_seat = "1L" if zones.booth_side == "left" else "1R"
    behaviour = []
    for o in scene.occupants:
        asleep = o.seat != "1L" and bool(rng.random() < zones.asleep_share)
        complies = (not asleep) and bool(rng.random() < zones.prompts.comply)
        answers = []
        if complies:
            for p in prompts:
                a = p + float(rng.uniform(*zones.prompts.delay_s))
                answers.append((a, min(dwell, a + float(rng.uniform(*zones.prompts.hold_s)))))
        at_booth: list[tuple[float, float]] = []
        if o.seat == driver_seat:  # hands the documents over, answers the officer's questions
            at_booth.append((0.0, min(dwell, float(rng.uniform(5.0, 15.0)))))
        if not asleep and rng.random() < zones.glance_share:
            at_booth.extend(_spans(rng, int(rng.integers(1, 4)), (1.0, 3.0), dwell))
        down: tuple[tuple[float, float], ...] = ()
        if o.down is not None and not asleep:  # the phone or the lap, as on the approach
            down = ((0.0, dwell),) if o.down == (0.0, 1.0) else _spans(rng, 2, (3.0, 12.0), dwell)
        off = answers[0][0] if answers and o.sunglasses_at(1.0) else None
        behaviour.append(
            BoothBehaviour(
                o.occupant_id,
                asleep,
                complies,
                o.row,
                tuple(a for a in answers if a[0] < dwell),
                tuple(sorted(at_booth)),
                down,
                off,
            )
        )
    z = STOP_M + float(np.clip(rng.normal(0.0, 0.2), -0.4, 0.4))
    return BoothPlan(dwell, zones.booth_fps, z, prompts, tuple(behaviour))


@dataclass(frozen=True)
class BoothStop:
    """The :class:`~laneface.sim.render.Motion` of the booth cameras: the vehicle stands at
    ``plan.z_front``, heads follow each occupant's :class:`BoothBehaviour`."""

    scene: PassageScene
    plan: BoothPlan
    cameras: tuple[LookAtCamera, ...]  # rows 1, 2, 3

    @property
    def frames(self) -> int:
        return self.plan.frames

    def share(self, index: int) -> float:
        return index / max(1, self.plan.frames - 1)

    def z_front(self, index: int) -> float:
        return self.plan.z_front

    def _towards(self, o: Occupant, camera: LookAtCamera) -> tuple[float, float]:
        """Head yaw and pitch (vehicle frame) of ``o`` looking at ``camera``."""
        s = self.scene
        p = np.array([s.lane_offset_m + o.x_m, s.vehicle.face_height_m + o.dh_m, self.plan.z_front + o.dz_m])
        d = np.asarray(camera.position, np.float64) - p
        yaw = math.degrees(math.atan2(-d[0], -d[2]))
        pitch = math.degrees(math.atan2(d[1], math.hypot(d[0], d[2])))
        return max(-MAX_HEAD_YAW, min(MAX_HEAD_YAW, yaw)), pitch

    @cached_property
    def _behaviour(self) -> dict[int, BoothBehaviour]:
        return {b.occupant_id: b for b in self.plan.behaviour}

    def pose(self, o: Occupant, index: int) -> HeadPose:
        b = self._behaviour[o.occupant_id]
        s = index / self.plan.fps
        glasses = o.sunglasses_at(1.0) and (b.sunglasses_off_s is None or s < b.sunglasses_off_s)
        if b.asleep:
            return HeadPose(yaw_at(o, 1.0), o.pitch_deg - 35.0, False, glasses)
        if _inside(b.looks_at_camera, s):
            yaw, pitch = self._towards(o, self.cameras[b.camera - 1])
            return HeadPose(yaw, pitch, False, glasses)
        if _inside(b.looks_at_booth, s):
            yaw, pitch = self._towards(o, self.cameras[0])
            return HeadPose(yaw, pitch + 5.0, False, glasses)  # the officer's face is above the camera
        if _inside(b.looks_down, s):
            return HeadPose(yaw_at(o, 1.0), o.pitch_deg + o.down_deg, False, glasses)
        return HeadPose(yaw_at(o, 1.0), o.pitch_deg, False, glasses)


# -- scenes of a scenario's passages -----------------------------------------------------------------------
def queue_approach(rng: np.random.Generator, scene: PassageScene, zones: InboundZones) -> PassageScene:
    """``scene`` as the approach zone of a two-zone lane: the vehicle moves for the whole approach (stopping
    and going in the queue) and reaches the booth after it."""
    from dataclasses import replace

    seconds = float(rng.uniform(*zones.approach_s))
    stops = int(rng.integers(zones.queue_stops[0], zones.queue_stops[1] + 1))
    lengths = [float(rng.uniform(0.1, 0.25)) for _ in range(stops)]
    if sum(lengths) > 0.6:  # many stops: the vehicle still moves for 40 % of the approach
        lengths = [v * 0.6 / sum(lengths) for v in lengths]
    moving = 1.0 - sum(lengths)
    cuts = sorted(float(c) for c in rng.uniform(0.05, moving - 0.05, size=stops)) if stops else []
    pauses, before = [], 0.0
    for cut, length in zip(cuts, lengths, strict=True):
        pauses.append((cut + before, cut + before + length))
        before += length
    return replace(
        scene,
        frames=max(3, round(seconds * zones.fps)),
        fps=zones.fps,
        approach_share=1.0,
        pauses=tuple(pauses),
    )


DRIVE_START_M, DRIVE_END_M = 9.0, 0.8  # a drive-through: from the far edge of the view to under the front camera


def drive_through(rng: np.random.Generator, scene: PassageScene, zone: OutboundZone) -> tuple[PassageScene, float]:
    """``scene`` as an outbound drive-through at a sampled speed (km/h, returned beside it)."""
    from dataclasses import replace

    slow = bool(rng.random() < zone.slowdown_share)
    kmh = float(rng.uniform(*(zone.slowdown_kmh if slow else zone.speed_kmh)))
    seconds = (DRIVE_START_M - DRIVE_END_M) / (kmh / 3.6)
    return (
        replace(
            scene,
            frames=max(3, round(seconds * zone.fps)),
            fps=zone.fps,
            approach_share=1.0,
            z_start_m=DRIVE_START_M,
            z_stop_m=DRIVE_END_M,
            constant_speed=True,
        ),
        kmh,
    )
