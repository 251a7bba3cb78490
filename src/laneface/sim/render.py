"""Frames of one camera of a simulated passage, and the ground truth of every face drawn in them.

Per frame: a static background, the vehicle body, its windows (seen-through interior), then, far to
near, torsos, headrests, heads and sun visors, each clipped to the windows the camera looks through.
An id buffer records which object is on top at each pixel, so the visible share of each face is exact.
Degradations (:mod:`.degrade`) follow.

Camera rig (see :mod:`.geometry` for the axes), fixed in the lane and aimed at the nominal stop position
``STOP_M`` (each vehicle stops somewhere else in 2.2-3.6 m): ``front`` stands 2.1 m high on the lane's
centre line and looks at the windshield, through which rows 1 and (partly) 2 are seen; ``left`` and
``right`` stand on the islands 2 m beside the vehicle and 1.35 m ahead of its bumper, and look back
diagonally through the side windows (and the windshield's edge) at rows 2-3, so that a rear passenger who
looks ahead is seen at about 25-35 degrees of yaw (a camera square to the side windows would see every
forward-looking face in profile), through the window of the passenger's own row or the one ahead of it
rather than through a door pillar.

:class:`~laneface.sim.geometry.Rig` moves that rig as a whole (farther along each camera's line of sight,
higher) or changes its sensor's resolution, for the scene variants of :mod:`.variants`; the default rig is
the one above.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import numpy as np
import numpy.typing as npt

from laneface.sim.faces import HeadSprite, pose_homography, shrink, turn_head, turned_face_box
from laneface.sim.geometry import FRAME_H, FRAME_W, LookAtCamera, Rig
from laneface.sim.scene import ROW_DZ, SEAT_X, Decoy, Occupant, PassageScene

if TYPE_CHECKING:
    from laneface.sim.decoys import DecoyArt

__all__ = [
    "CAMERA_VIEWS",
    "DecoyTruth",
    "DriveBy",
    "FaceTruth",
    "Frame",
    "HeadPose",
    "Motion",
    "camera_for",
    "render_camera",
    "yaw_at",
]

CAMERA_VIEWS = {"front": "front", "left": "left", "right": "right"}
M_PER_SPRITE_PX = 0.063 / 43.7  # LFW deep-funneled: 43.7 px between the eyes
ANCHOR = (80.0, 112.0)  # head point placed at the occupant's eye position (sprite pixels)
HALF_WIDTH = 0.92  # vehicle half-width, metres
MIN_VISIBLE = 0.01  # faces less visible than this are left out of the ground truth
STOP_M = 2.9  # nominal stop position of the windshield base: where the cameras are aimed
AIM_HEIGHT_M = 1.35  # height the cameras are aimed at (faces sit at 1.15-1.55 m by vehicle type)
DECOY_ID = 1000  # id-buffer value of decoy ``k``'s face: DECOY_ID + k (occupants use id + 1)


@dataclass(frozen=True)
class FaceTruth:
    occupant_id: int
    box_xyxy: tuple[float, float, float, float]  # clipped to the frame
    eyes: tuple[tuple[float, float], tuple[float, float]]
    yaw_deg: float
    pitch_deg: float
    visible: float  # share of the face (box inside the head) that is on top and inside the frame

    def as_json(self) -> dict[str, object]:
        return {
            "occupant_id": self.occupant_id,
            "box_xyxy": [round(v, 1) for v in self.box_xyxy],
            "eyes": [[round(v, 1) for v in e] for e in self.eyes],
            "ied_px": round(float(np.hypot(*np.subtract(self.eyes[1], self.eyes[0]))), 1),
            "yaw_deg": round(self.yaw_deg, 1),
            "pitch_deg": round(self.pitch_deg, 1),
            "visible": round(self.visible, 3),
        }


@dataclass(frozen=True)
class DecoyTruth:
    """Where a decoy's face (a printed face, a pet's head) is in a frame, and how much of it shows."""

    decoy_id: int
    kind: str
    box_xyxy: tuple[float, float, float, float]  # clipped to the frame
    visible: float

    def as_json(self) -> dict[str, object]:
        return {
            "decoy_id": self.decoy_id,
            "kind": self.kind,
            "box_xyxy": [round(v, 1) for v in self.box_xyxy],
            "visible": round(self.visible, 3),
        }


@dataclass(frozen=True)
class Frame:
    """One rendered frame: pixels, the faces in it, the windows (255 = glass), the rear ones (rows 2-3, the
    tinted ones), the windshield, and the decoys' faces in it."""

    rgb: npt.NDArray[np.uint8]
    faces: list[FaceTruth]
    window_mask: npt.NDArray[np.uint8]
    tint_mask: npt.NDArray[np.uint8] | None
    shield_mask: npt.NDArray[np.uint8] | None = None
    decoys: list[DecoyTruth] = field(default_factory=list)


@dataclass(frozen=True)
class _Item:
    """Something drawn in a frame, sorted far to near by ``depth`` (metres along the optical axis)."""

    depth: float
    kind: str  # "head" | "torso" | "headrest" | "visor" | "decoy"
    point: tuple[float, float, float]
    occupant: Occupant | None = None
    decoy: Decoy | None = None


def camera_for(name: str, rig: Rig | None = None) -> LookAtCamera:
    """The camera ``name`` of the lane: fixed, the same for every passage (placed by ``rig``, if given)."""
    if name == "front":
        cam = LookAtCamera((0.0, 2.1, 0.0), (0.0, AIM_HEIGHT_M, STOP_M + 1.5), 2500.0)
    else:
        side = -1.0 if name == "left" else 1.0
        cam = LookAtCamera(
            (side * (HALF_WIDTH + 2.0), 1.6, STOP_M - 2.65),
            (side * 0.2, AIM_HEIGHT_M, STOP_M + ROW_DZ[2] + 0.4),
            2600.0,
        )
    if rig is None or rig == Rig():
        return cam
    target = np.asarray(cam.target, np.float64)
    pos = target + rig.distance_scale * (np.asarray(cam.position, np.float64) - target)
    pos[1] += rig.raise_m
    width, height = rig.size
    return LookAtCamera(
        (float(pos[0]), float(pos[1]), float(pos[2])),
        cam.target,
        cam.focal_px * width / FRAME_W,
        width,
        height,
    )


def _z_front(scene: PassageScene, t: float) -> float:
    """Windshield base position at time share ``t``: decelerates to a stop at ``z_stop_m``, then stands;
    at a constant speed instead where the scene says so; it stands still during the scene's pauses."""
    if scene.pauses:
        t = _moving_share(scene.pauses, t)
    if scene.constant_speed:
        return float(scene.z_start_m + (scene.z_stop_m - scene.z_start_m) * t)
    left = max(0.0, 1.0 - t / scene.approach_share)
    return float(scene.z_stop_m + (scene.z_start_m - scene.z_stop_m) * left**1.7)


def _moving_share(pauses: tuple[tuple[float, float], ...], t: float) -> float:
    """The share of the moving time that has passed at time share ``t`` (pauses: sorted, disjoint)."""
    stood = sum(max(0.0, min(t, b) - a) for a, b in pauses)
    total = sum(b - a for a, b in pauses)
    return min(1.0, (t - stood) / max(1e-9, 1.0 - total))


@dataclass(frozen=True)
class HeadPose:
    """How an occupant's head is held in one frame: yaw and pitch relative to the vehicle (degrees,
    positive yaw towards the vehicle's left, positive pitch up), a hand over the face, sunglasses on."""

    yaw_deg: float
    pitch_deg: float
    hand: bool
    sunglasses: bool


class Motion(Protocol):
    """What changes from frame to frame of one camera: where the vehicle is, and how each head is held."""

    @property
    def frames(self) -> int: ...

    def share(self, index: int) -> float:
        """Time share (0-1) of frame ``index`` within this camera's video."""
        ...

    def z_front(self, index: int) -> float: ...

    def pose(self, o: Occupant, index: int) -> HeadPose: ...


@dataclass(frozen=True)
class DriveBy:
    """The passage's own motion: the vehicle approaches (and stands, or drives on), heads follow the
    occupants' sampled behaviour over the passage's time share."""

    scene: PassageScene

    @property
    def frames(self) -> int:
        return self.scene.frames

    def share(self, index: int) -> float:
        return index / max(1, self.scene.frames - 1)

    def z_front(self, index: int) -> float:
        return _z_front(self.scene, self.share(index))

    def pose(self, o: Occupant, index: int) -> HeadPose:
        t = self.share(index)
        return HeadPose(yaw_at(o, t), o.pitch_at(t), o.hand_at(t), o.sunglasses_at(t))


def yaw_at(o: Occupant, t: float) -> float:
    """Head yaw of ``o`` (degrees, vehicle frame) at time share ``t`` of the passage."""
    a, b = o.yaw_deg
    k = min(1.0, max(0.0, (t - o.yaw_turn_at) / 0.12 + 0.5))  # a 1-second turn
    return a + (b - a) * k


def _poly(cam: LookAtCamera, pts: list[tuple[float, float, float]]) -> npt.NDArray[np.int32] | None:
    uv, depth = cam.project(pts)
    if (depth < 0.3).any():
        return None
    return np.round(uv).astype(np.int32).reshape(-1, 1, 2)


class CameraRenderer:
    """Draws the frames of one camera; heads are cached per (occupant, yaw step, size level)."""

    def __init__(
        self,
        name: str,
        scene: PassageScene,
        heads: Mapping[int, Callable[[bool, bool], HeadSprite]],
        seed: int,
        camera: LookAtCamera | None = None,
        *,
        view: str | None = None,
        motion: Motion | None = None,
        decoys: Mapping[int, DecoyArt] | None = None,
    ) -> None:
        self.name = name
        self.decoy_art = decoys or {}
        self.view = view or CAMERA_VIEWS[name]
        self.scene = scene
        self.motion: Motion = motion or DriveBy(scene)
        self.cam = camera or camera_for(name)
        self.heads = heads
        self.rng = np.random.default_rng(seed)
        self._cache: dict[tuple[int, int, int, bool, bool], tuple[HeadSprite, npt.NDArray[np.uint8]]] = {}
        self._boxes: dict[int, npt.NDArray[np.float64]] = {}
        self.size = (self.cam.width, self.cam.height)
        self.background = _background(self.view, self.rng, scene.night, self.size)
        self.cabin = _cabin(int(self.rng.integers(25, 60)), self.size)

    # -- vehicle ----------------------------------------------------------------------------------
    def _windows(self, zf: float) -> list[tuple[npt.NDArray[np.int32], int]]:
        """Window polygons the camera sees occupants through, with the row each belongs to (0 = windshield)."""
        s, h = self.scene, self.scene.vehicle.face_height_m
        x0 = s.lane_offset_m
        pts = [
            (x0 - 0.72, h - 0.3, zf),
            (x0 + 0.72, h - 0.3, zf),
            (x0 + 0.64, h + 0.24, zf + 0.55),
            (x0 - 0.64, h + 0.24, zf + 0.55),
        ]
        shield = _poly(self.cam, pts)
        out = [] if shield is None else [(shield, 0)]
        if self.view == "front":
            return out
        side = -1.0 if self.view == "left" else 1.0
        xs = x0 + side * HALF_WIDTH
        for r in range(1, len(s.vehicle.rows) + 1):
            a, b = zf + ROW_DZ[r] - 0.5, zf + ROW_DZ[r] + 0.3
            top = h + 0.2 - (0.04 if r == 3 else 0.0)
            poly = _poly(self.cam, [(xs, h - 0.27, a), (xs, h - 0.27, b), (xs, top, b - 0.08), (xs, top, a + 0.12)])
            if poly is not None:
                out.append((poly, r))
        return out

    def _body(self, frame: npt.NDArray[np.uint8], zf: float) -> None:
        import cv2

        s, h = self.scene, self.scene.vehicle.face_height_m
        x0 = s.lane_offset_m
        col = tuple(int(c) for c in s.body_rgb)
        dark = tuple(int(c * 0.6) for c in s.body_rgb)
        length = 1.6 + ROW_DZ[len(s.vehicle.rows)]
        if self.view == "front":
            body = [
                (x0 - 0.95, 0.35, zf - 1.3),
                (x0 + 0.95, 0.35, zf - 1.3),
                (x0 + 0.92, h - 0.33, zf - 0.05),
                (x0 + 0.74, h + 0.3, zf + 0.62),
                (x0 - 0.74, h + 0.3, zf + 0.62),
                (x0 - 0.92, h - 0.33, zf - 0.05),
            ]
            roof = [
                (x0 - 0.74, h + 0.3, zf + 0.62),
                (x0 + 0.74, h + 0.3, zf + 0.62),
                (x0 + 0.7, h + 0.3, zf + length),
                (x0 - 0.7, h + 0.3, zf + length),
            ]
            for pts, c in ((roof, dark), (body, col)):
                poly = _poly(self.cam, pts)
                if poly is not None:
                    cv2.fillPoly(frame, [poly], c, cv2.LINE_AA)
            grille = _poly(self.cam, [(x0 - 0.5, 0.5, zf - 1.3), (x0 + 0.5, 0.5, zf - 1.3), (x0 + 0.5, 0.75, zf - 1.3)])
            if grille is not None:
                g = grille.reshape(-1, 2)
                cv2.rectangle(frame, tuple(g[0]), tuple(g[2]), (25, 25, 25), -1)
            return
        side = -1.0 if self.view == "left" else 1.0
        xs = x0 + side * HALF_WIDTH
        body = [(xs, 0.35, zf - 1.3), (xs, 0.35, zf + length), (xs, h + 0.3, zf + length - 0.2), (xs, h + 0.3, zf)]
        hood = [(xs, 0.35, zf - 1.3), (xs, h - 0.3, zf - 0.1), (xs, h + 0.3, zf + 0.6), (xs, h + 0.3, zf)]
        for pts in (body, hood):
            poly = _poly(self.cam, pts)
            if poly is not None:
                cv2.fillPoly(frame, [poly], col, cv2.LINE_AA)
        for wz in (zf - 0.9, zf + length - 0.7):  # wheels
            uv, depth = self.cam.project([(xs, 0.33, wz)])
            if depth[0] > 0.3:
                r = int(self.cam.focal_px * 0.33 / depth[0])
                cv2.circle(frame, (int(uv[0, 0]), int(uv[0, 1])), r, (20, 20, 20), -1, cv2.LINE_AA)

    # -- heads ------------------------------------------------------------------------------------
    def _sprite(
        self, o: Occupant, yaw: float, scale: float, hand: bool, glasses: bool
    ) -> tuple[HeadSprite, npt.NDArray[np.uint8], float]:
        """The turned head at the pyramid level nearest above ``scale``, with its two masks packed."""
        step = round(yaw / 3.0)
        level = min(5, max(0, int(np.floor(-np.log2(max(scale, 1e-3)) + 0.3))))
        key = (o.occupant_id, step, level, hand, glasses)
        if key not in self._cache:
            base = self.heads[o.occupant_id](hand, glasses)
            turned = turn_head(base, step * 3.0)
            sprite = turned if level == 0 else shrink(turned, 0.5**level)
            self._cache[key] = (sprite, np.ascontiguousarray(np.dstack([sprite.face_visible, sprite.face_region])))
        sprite, masks = self._cache[key]
        return sprite, masks, 0.5**level

    def frames(self) -> Iterator[Frame]:
        """Every frame of the passage, before degradation."""
        import cv2

        s = self.scene
        h = s.vehicle.face_height_m
        for i in range(self.motion.frames):
            zf = self.motion.z_front(i)
            frame = self.background.copy()
            self._body(frame, zf)
            windows = self._windows(zf)
            width, height = self.size
            mask = np.zeros((height, width), np.uint8)
            tint: npt.NDArray[np.uint8] | None = None
            shield: npt.NDArray[np.uint8] | None = None
            for poly, row in windows:
                cv2.fillPoly(mask, [poly], 255, cv2.LINE_AA)
                if row >= 2:
                    if tint is None:
                        tint = np.zeros((height, width), np.uint8)
                    cv2.fillPoly(tint, [poly], 255, cv2.LINE_AA)
                elif row == 0 and self.view != "front":  # the front camera sees through the windshield only
                    shield = np.zeros((height, width), np.uint8)
                    cv2.fillPoly(shield, [poly], 255, cv2.LINE_AA)
            if self.view == "front":
                shield = mask
            _fill_interior(frame, mask, self.cabin)
            gx, gy, gw, gh = cv2.boundingRect(mask)
            glass = (int(gx), int(gy), int(gw), int(gh))  # props are only seen through the glass
            idbuf = np.zeros((height, width), np.int16)
            items: list[_Item] = []
            for o in s.occupants:
                p = (s.lane_offset_m + o.x_m, h + o.dh_m, zf + o.dz_m)
                depth = float(self.cam.to_camera([p])[0, 2])
                items.append(_Item(depth, "head", p, o))
                items.append(_Item(depth + 0.06, "torso", p, o))
            for r, seats in enumerate(s.vehicle.rows[:-1], start=1):
                for side in seats:
                    x = {"L": -0.38, "M": 0.0, "R": 0.38}[side]
                    p = (s.lane_offset_m + x, h - 0.07, zf + ROW_DZ[r] + 0.2)
                    items.append(_Item(float(self.cam.to_camera([p])[0, 2]), "headrest", p))
            if s.decoys:
                items.extend(self._decoy_items(i, zf))
            if self.view == "front":
                for seat in s.visors_down:
                    x = -0.38 if seat.endswith("L") else 0.38
                    p = (s.lane_offset_m + x, h + 0.2, zf + 0.5)
                    items.append(_Item(float(self.cam.to_camera([p])[0, 2]), "visor", p))
            items.sort(key=lambda it: -it.depth)
            truths: list[FaceTruth] = []
            drawn: list[tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64], float, float, float]] = []
            drawn_decoys: list[tuple[Decoy, npt.NDArray[np.float64], float]] = []
            for item in items:
                if item.depth < 0.3:
                    continue
                if item.kind == "decoy" and item.decoy is not None:
                    shown = self._draw_decoy(frame, idbuf, mask, item.decoy, item.point)
                    if shown is not None:
                        drawn_decoys.append((item.decoy, *shown))
                elif item.kind == "head" and item.occupant is not None:
                    pose = self.motion.pose(item.occupant, i)
                    res = self._draw_head(frame, idbuf, mask, item.occupant, item.point, item.depth, pose)
                    if res is not None:
                        drawn.append(res)
                else:
                    self._draw_prop(frame, idbuf, mask, item, glass)
            for oid, box, eyes, yaw, pitch, region_px in drawn:
                truth = _face_truth(idbuf, oid, box, eyes, yaw, pitch, region_px, self.size)
                if truth is not None:
                    truths.append(truth)
            decoys = [
                t
                for d, quad, region_px in drawn_decoys
                if (t := _decoy_truth(idbuf, d, quad, region_px, self.size)) is not None
            ]
            yield Frame(frame, truths, mask, tint, shield, decoys)

    # -- decoys -----------------------------------------------------------------------------------
    def _decoy_items(self, index: int, zf: float) -> list[_Item]:
        """Where each decoy's face is in this frame: with its holder's body, on the windshield, on its seat."""
        s, h = self.scene, self.scene.vehicle.face_height_m
        by_id = {o.occupant_id: o for o in s.occupants}
        out = []
        for d in s.decoys:
            ox, oy, oz = d.offset_m
            holder = by_id.get(d.holder) if d.holder is not None else None
            if holder is not None:
                base = (s.lane_offset_m + holder.x_m, h + holder.dh_m, zf + holder.dz_m)
            elif d.seat is not None:
                ox += 0.02 * float(np.sin(0.35 * index + d.decoy_id))  # a pet looks about
                base = (s.lane_offset_m + SEAT_X[d.seat[-1]], h, zf + ROW_DZ[int(d.seat[0])])
            else:
                base = (s.lane_offset_m, h - 0.3, zf)
            p = (base[0] + ox, base[1] + oy, base[2] + oz)
            depth = float(self.cam.to_camera([p])[0, 2])
            if d.kind == "shirt" and holder is not None:  # on the torso, under the head
                head = float(self.cam.to_camera([base])[0, 2])
                depth = head + 0.03
            out.append(_Item(depth, "decoy", p, decoy=d))
        return out

    def _draw_decoy(
        self,
        frame: npt.NDArray[np.uint8],
        idbuf: npt.NDArray[np.int16],
        mask: npt.NDArray[np.uint8],
        d: Decoy,
        p: tuple[float, float, float],
    ) -> tuple[npt.NDArray[np.float64], float] | None:
        """Draw decoy ``d`` with its face's centre at ``p``; its face's corners in the frame and its area."""
        import cv2

        art = self.decoy_art.get(d.decoy_id)
        if art is None:
            return None
        fx0, fy0, fx1, fy1 = art.face_box
        cx, cy = (fx0 + fx1) / 2, (fy0 + fy1) / 2
        ah, aw = art.alpha.shape
        src = np.array([[0, 0], [aw, 0], [aw, ah], [0, ah]], np.float64)
        if art.billboard:
            depth = float(self.cam.to_camera([p])[0, 2])
            if depth < 0.3:
                return None
            k = self.cam.focal_px * art.m_per_px / depth
            uv, _ = self.cam.project([p])
            hmat = np.array([[k, 0, uv[0, 0] - k * cx], [0, k, uv[0, 1] - k * cy], [0, 0, 1]], np.float64)
        else:  # a plane facing the vehicle's front: seen from behind or edge-on, nothing shows
            if self.cam.position[2] > p[2] - 0.05:
                return None
            m = art.m_per_px
            world = [(p[0] + (u - cx) * m, p[1] - (v - cy) * m, p[2]) for u, v in src]
            uv, depth_c = self.cam.project(world)
            if float(depth_c.min()) < 0.3:
                return None
            hmat = cv2.getPerspectiveTransform(src.astype(np.float32), uv.astype(np.float32)).astype(np.float64)
        placed = _placement(hmat, (aw, ah), self.size)
        if placed is None:
            return None
        shift, size, roi, sl = placed
        rgb = cv2.warpPerspective(art.rgb, shift, size, flags=cv2.INTER_AREA)
        alpha = cv2.warpPerspective(art.alpha, shift, size, flags=cv2.INTER_LINEAR)
        face = np.zeros_like(art.alpha)
        face[int(fy0) : int(np.ceil(fy1)), int(fx0) : int(np.ceil(fx1))] = 255
        face = np.asarray(cv2.bitwise_and(face, art.alpha), np.uint8)
        face_w = cv2.warpPerspective(face, shift, size, flags=cv2.INTER_NEAREST)
        region_px = float(np.count_nonzero(face_w > 127))
        a8 = cv2.multiply(np.ascontiguousarray(alpha[sl]), mask[roi], scale=1.0 / 255.0)
        a = a8.astype(np.float32) * (1.0 / 255.0)
        frame[roi] = cv2.blendLinear(np.ascontiguousarray(rgb[sl]), np.ascontiguousarray(frame[roi]), a, 1.0 - a)
        on = a8 > 127
        ids = idbuf[roi]
        ids[on] = -1
        ids[on & (face_w[sl] > 127)] = DECOY_ID + d.decoy_id
        box = np.array([[fx0, fy0, 1], [fx1, fy0, 1], [fx1, fy1, 1], [fx0, fy1, 1]], np.float64) @ hmat.T
        return box[:, :2] / box[:, 2:], region_px

    def _draw_prop(
        self,
        frame: npt.NDArray[np.uint8],
        idbuf: npt.NDArray[np.int16],
        mask: npt.NDArray[np.uint8],
        item: _Item,
        glass: tuple[int, int, int, int],
    ) -> None:
        import cv2

        f = self.cam.focal_px / item.depth
        x, y, z = item.point
        if item.kind == "torso":
            uv, _ = self.cam.project([(x, y - 0.42, z + 0.05)])
            centre = (int(uv[0, 0]), int(uv[0, 1]))
            poly = np.asarray(cv2.ellipse2Poly(centre, (int(0.22 * f), int(0.22 * f)), 0, 0, 360, 10), np.int32)
            shirt = item.occupant.shirt_rgb if item.occupant is not None else (90, 90, 90)
            colour = tuple(int(c * 0.6) for c in shirt)
        elif item.kind == "headrest":
            uv, _ = self.cam.project([item.point])
            centre = (int(uv[0, 0]), int(uv[0, 1]))
            poly = np.asarray(cv2.ellipse2Poly(centre, (int(0.13 * f), int(0.1 * f)), 0, 0, 360, 10), np.int32)
            colour = (45, 42, 40)
        else:  # visor
            quad = _poly(
                self.cam, [(x - 0.26, y, z), (x + 0.26, y, z), (x + 0.26, y - 0.17, z), (x - 0.26, y - 0.17, z)]
            )
            if quad is None:
                return
            poly = quad.reshape(-1, 2)
            colour = (70, 68, 64)
        gx, gy, gw, gh = glass
        x0, y0 = np.maximum(poly.min(axis=0), (gx, gy))
        x1, y1 = np.minimum(poly.max(axis=0) + 1, (gx + gw, gy + gh))
        if x1 <= x0 or y1 <= y0:
            return
        layer = np.zeros((int(y1 - y0), int(x1 - x0)), np.uint8)
        cv2.fillPoly(layer, [(poly - (x0, y0)).astype(np.int32).reshape(-1, 1, 2)], 255)
        roi = (slice(int(y0), int(y1)), slice(int(x0), int(x1)))
        on = cv2.bitwise_and(layer, mask[roi]) > 127
        frame[roi][on] = colour
        idbuf[roi][on] = -1

    def _draw_head(
        self,
        frame: npt.NDArray[np.uint8],
        idbuf: npt.NDArray[np.int16],
        mask: npt.NDArray[np.uint8],
        o: Occupant,
        p: tuple[float, float, float],
        depth: float,
        pose: HeadPose,
    ) -> tuple[int, npt.NDArray[np.float64], npt.NDArray[np.float64], float, float, float] | None:
        import cv2

        yaw_o, pitch_o = pose.yaw_deg, pose.pitch_deg
        facing = (-np.sin(np.radians(yaw_o)), np.sin(np.radians(pitch_o)), -np.cos(np.radians(yaw_o)))
        yaw, pitch = self.cam.view_angles(p, facing)
        if abs(yaw) > 80:
            return None
        scale = self.cam.focal_px * M_PER_SPRITE_PX / depth  # frame px per full-size sprite px
        sprite, masks, k = self._sprite(o, yaw, scale, pose.hand, pose.sunglasses)
        uv, _ = self.cam.project([p])
        a = np.array([[scale, 0, uv[0, 0] - scale * ANCHOR[0]], [0, scale, uv[0, 1] - scale * ANCHOR[1]], [0, 0, 1]])
        tilt = pose_homography(pitch, o.roll_deg, ANCHOR)
        full = a @ tilt  # full-size sprite -> frame
        hmat = full @ np.diag([1 / k, 1 / k, 1.0])  # shrunk sprite -> frame
        placed = _placement(hmat, sprite.size, self.size)
        if placed is None:
            return None
        shift, size, roi, sl = placed
        rgba = cv2.warpPerspective(sprite.rgba, shift, size, flags=cv2.INTER_LINEAR)
        warped = cv2.warpPerspective(masks, shift, size, flags=cv2.INTER_NEAREST)
        region_px = float(np.count_nonzero(warped[..., 1] > 127))
        alpha = cv2.multiply(np.ascontiguousarray(rgba[sl][..., 3]), mask[roi], scale=1.0 / 255.0)
        a = alpha.astype(np.float32) * (1.0 / 255.0)
        rgb = np.ascontiguousarray(rgba[sl][..., :3])
        frame[roi] = cv2.blendLinear(rgb, np.ascontiguousarray(frame[roi]), a, 1.0 - a)
        on = alpha > 127
        ids = idbuf[roi]
        ids[on] = -1
        ids[on & (warped[sl][..., 0] > 127)] = o.occupant_id + 1
        step = round(yaw / 3.0)
        if step not in self._boxes:
            self._boxes[step] = np.array(turned_face_box(step * 3.0))
        box = self._boxes[step]
        pts = np.array([[box[0], box[1], 1], [box[2], box[1], 1], [box[2], box[3], 1], [box[0], box[3], 1]]) @ full.T
        pts = pts[:, :2] / pts[:, 2:]
        eyes = np.c_[sprite.eyes / k, np.ones(2)] @ full.T
        eyes = eyes[:, :2] / eyes[:, 2:]
        return o.occupant_id, pts, eyes, yaw, pitch, region_px


def _placement(
    hmat: npt.NDArray[np.float64], src_wh: tuple[int, int], size: tuple[int, int]
) -> tuple[npt.NDArray[np.float64], tuple[int, int], tuple[slice, slice], tuple[slice, slice]] | None:
    """Where an image of ``src_wh`` mapped into the frame by ``hmat`` lands: the homography into its bounding
    box, that box's size, and the frame region and box region it covers inside the frame (None when it falls
    outside the frame or is under 2 px)."""
    w, h = src_wh
    corners = np.array([[0, 0, 1], [w, 0, 1], [w, h, 1], [0, h, 1]], np.float64) @ hmat.T
    corners = corners[:, :2] / corners[:, 2:]
    bx0, by0 = np.floor(corners.min(axis=0)).astype(int)
    bx1, by1 = np.ceil(corners.max(axis=0)).astype(int)
    width, height = size
    if bx1 <= 0 or by1 <= 0 or bx0 >= width or by0 >= height or bx1 - bx0 < 2 or by1 - by0 < 2:
        return None
    shift = np.array([[1, 0, -bx0], [0, 1, -by0], [0, 0, 1]], np.float64) @ hmat
    fx0, fy0 = max(0, bx0), max(0, by0)
    fx1, fy1 = min(width, bx1), min(height, by1)
    roi = (slice(fy0, fy1), slice(fx0, fx1))
    sl = (slice(fy0 - by0, fy1 - by0), slice(fx0 - bx0, fx1 - bx0))
    return shift, (int(bx1 - bx0), int(by1 - by0)), roi, sl


def _visible_box(
    idbuf: npt.NDArray[np.int16], value: int, quad: npt.NDArray[np.float64], region_px: float, size: tuple[int, int]
) -> tuple[tuple[float, float, float, float], float] | None:
    """The box of ``quad`` clipped to the frame and the share of its ``region_px`` pixels that are on top
    (``idbuf == value``); None when it is under a pixel or less than :data:`MIN_VISIBLE` shows."""
    x0, y0 = quad.min(axis=0)
    x1, y1 = quad.max(axis=0)
    w, h = float(size[0]), float(size[1])
    cx0, cy0 = min(w, max(0.0, float(x0))), min(h, max(0.0, float(y0)))
    cx1, cy1 = min(w, max(0.0, float(x1))), min(h, max(0.0, float(y1)))
    if cx1 - cx0 < 1 or cy1 - cy0 < 1 or region_px <= 0:
        return None
    on_top = float((idbuf[int(cy0) : int(np.ceil(cy1)), int(cx0) : int(np.ceil(cx1))] == value).sum())
    visible = min(1.0, on_top / region_px)
    if visible < MIN_VISIBLE:
        return None
    return (cx0, cy0, cx1, cy1), visible


def _cabin(interior: int, size: tuple[int, int]) -> npt.NDArray[np.uint8]:
    """The cabin seen through the glass: dark, lighter towards the bottom of the frame."""
    width, height = size
    grad = np.clip(np.linspace(0.7, 1.2, height, dtype=np.float32) * interior, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(np.broadcast_to(grad[:, None, None], (height, width, 3)))


def _fill_interior(frame: npt.NDArray[np.uint8], mask: npt.NDArray[np.uint8], cabin: npt.NDArray[np.uint8]) -> None:
    """Replace what is seen through the windows (``mask``) by the cabin, letting 15 % of the scene through."""
    import cv2

    x, y, w, h = cv2.boundingRect(mask)
    if w == 0 or h == 0:
        return
    roi = (slice(y, y + h), slice(x, x + w))
    a = mask[roi].astype(np.float32) * (0.85 / 255.0)
    part = np.ascontiguousarray(frame[roi])
    frame[roi] = cv2.blendLinear(np.ascontiguousarray(cabin[roi]), part, a, 1.0 - a)


def _face_truth(
    idbuf: npt.NDArray[np.int16],
    oid: int,
    quad: npt.NDArray[np.float64],
    eyes: npt.NDArray[np.float64],
    yaw: float,
    pitch: float,
    region_px: float,
    size: tuple[int, int],
) -> FaceTruth | None:
    shown = _visible_box(idbuf, oid + 1, quad, region_px, size)
    if shown is None:
        return None
    e = ((float(eyes[0, 0]), float(eyes[0, 1])), (float(eyes[1, 0]), float(eyes[1, 1])))
    return FaceTruth(oid, shown[0], e, yaw, pitch, shown[1])


def _decoy_truth(
    idbuf: npt.NDArray[np.int16], d: Decoy, quad: npt.NDArray[np.float64], region_px: float, size: tuple[int, int]
) -> DecoyTruth | None:
    shown = _visible_box(idbuf, DECOY_ID + d.decoy_id, quad, region_px, size)
    return None if shown is None else DecoyTruth(d.decoy_id, d.kind, shown[0], shown[1])


def _background(
    name: str, rng: np.random.Generator, night: bool, size: tuple[int, int] = (FRAME_W, FRAME_H)
) -> npt.NDArray[np.uint8]:
    """A static scene: sky or canopy above, road with lane marks below, low-frequency texture."""
    import cv2

    width, height = size
    grey = rng.integers(70, 190, size=(9, 16, 1)).astype(np.float32)
    tint = rng.uniform(0.85, 1.15, size=(1, 1, 3)).astype(np.float32)
    small = np.clip(grey * tint + rng.normal(0, 8, size=(9, 16, 3)), 0, 255).astype(np.uint8)
    bg = cv2.resize(small, (width, height), interpolation=cv2.INTER_CUBIC).astype(np.float32)
    horizon = int(rng.integers(90, 200)) if name == "front" else int(rng.integers(150, 260))
    horizon = horizon * height // FRAME_H  # drawn for the standard frame height
    road = np.float32(rng.uniform(70, 120))
    bg[horizon:] = bg[horizon:] * 0.25 + road * 0.75
    if name == "front":
        for x in (0.18, 0.82):
            cv2.line(bg, (int(width * 0.5), horizon), (int(width * x * 2 - width * 0.5), height), (200, 200, 190), 4)
    if night:
        bg *= 0.25
    return np.clip(bg, 0, 255).astype(np.uint8)


def render_camera(
    name: str,
    scene: PassageScene,
    heads: Mapping[int, Callable[[bool, bool], HeadSprite]],
    seed: int,
    camera: LookAtCamera | None = None,
    *,
    view: str | None = None,
    motion: Motion | None = None,
    decoys: Mapping[int, DecoyArt] | None = None,
) -> Iterator[Frame]:
    """Frames of camera ``name`` (before degradations) with their face ground truth and window masks.

    ``camera`` places it elsewhere than the lane's rig (:func:`camera_for`); ``view`` says which windows it
    sees occupants through (``"front"``: the windshield; ``"left"``/``"right"``: that side's; by default the
    view of the lane camera ``name``); ``motion`` gives the vehicle's position and the heads per frame (by
    default the passage's own, :class:`DriveBy`); ``decoys`` the pixels of the scene's decoys by id."""
    return CameraRenderer(name, scene, heads, seed, camera, view=view, motion=motion, decoys=decoys).frames()
