"""Scene sampling, cameras and head pose of the lane simulator (no rendering)."""

from __future__ import annotations

import numpy as np
import pytest

from laneface.sim.faces import EYES, make_head_sprite, pose_homography, turn_head
from laneface.sim.geometry import LookAtCamera
from laneface.sim.render import STOP_M, camera_for
from laneface.sim.scene import ROW_DZ, SEAT_X, VEHICLES, sample_scene

PEOPLE = [(f"P{i}", f"P{i}/P{i}_0001.jpg", f"D{i}") for i in range(7)]


@pytest.mark.parametrize("seed", range(60))
def test_scenes_are_plausible(seed: int) -> None:
    rng = np.random.default_rng(seed)
    inbound = seed % 2 == 0
    s = sample_scene(rng, "p", PEOPLE, started_at="2026-01-01T10:00:00Z", night=False, inbound=inbound)
    seats = [o.seat for o in s.occupants]
    assert 1 <= len(seats) <= 7 and len(set(seats)) == len(seats)
    assert seats[0] == "1L"
    assert all(1 <= o.row <= len(s.vehicle.rows) and o.seat[1] in s.vehicle.rows[o.row - 1] for o in s.occupants)
    assert len({o.identity for o in s.occupants}) == len(s.occupants)
    if inbound:
        assert set(s.documents) <= {o.doc_id for o in s.occupants}
    else:
        assert s.documents == ()
    assert s.z_start_m > s.z_stop_m and 30 <= s.frames <= 45
    for o in s.occupants:
        if o.down is not None:
            t = (o.down[0] + o.down[1]) / 2
            assert o.pitch_at(t) <= o.pitch_deg - 20 and 0.0 <= o.down[0] < o.down[1]
        if o.sunglasses_off_at is not None:
            assert o.sunglasses and o.sunglasses_at(0.0) and not o.sunglasses_at(o.sunglasses_off_at)
        assert o.hand_at(0.5) == (o.hand is not None and o.hand[0] <= 0.5 <= o.hand[1])


def test_every_vehicle_type_and_count_occurs() -> None:
    kinds, counts, rows = set(), set(), set()
    for seed in range(400):
        s = sample_scene(np.random.default_rng(seed), "p", PEOPLE, started_at="x", night=True, inbound=False)
        kinds.add(s.vehicle.name)
        counts.add(len(s.occupants))
        rows |= {o.row for o in s.occupants}
        assert not any(o.sunglasses for o in s.occupants)  # nobody wears sunglasses at night
    assert kinds == {v.name for v in VEHICLES}
    assert counts == set(range(1, 8))
    assert rows == {1, 2, 3}


def test_front_camera_sees_the_driver_on_the_image_right() -> None:
    cam = LookAtCamera((0.0, 2.4, 0.0), (0.0, 1.3, 5.0), 2300.0)
    uv, depth = cam.project([(-0.38, 1.3, 4.0), (0.38, 1.3, 4.0)])
    assert uv[0, 0] > 480 > uv[1, 0] and (depth > 0).all()
    yaw, pitch = cam.view_angles((0.0, 1.3, 4.0), (0.0, 0.0, -1.0))
    assert abs(yaw) < 1e-6 and pitch < 0  # seen from above: as if looking down
    yaw_turned, _ = cam.view_angles((0.0, 1.3, 4.0), (-0.5, 0.0, -1.0))  # towards the vehicle's left
    assert yaw_turned > 20  # ... which is the image's right


def test_turning_the_head_moves_the_eyes_towards_the_turn() -> None:
    face = np.full((250, 250, 3), 128, np.uint8)
    sprite = make_head_sprite(face, sunglasses=True, hat=True, hand=True, skin_rgb=(200, 150, 120), variant=1)
    right = turn_head(sprite, 40.0)
    left = turn_head(sprite, -40.0)
    assert (right.eyes[:, 0] > EYES[:, 0]).all() and (left.eyes[:, 0] < EYES[:, 0]).all()
    assert right.eyes[1, 0] - right.eyes[0, 0] < EYES[1, 0] - EYES[0, 0]  # foreshortened
    assert sprite.face_visible.sum() < sprite.face_region.sum()  # the hand and the cap's brim cover some
    assert np.allclose(pose_homography(0.0, 0.0, (80.0, 100.0)), np.eye(3))


def test_behaviours_vary_over_the_passage() -> None:
    """Looking down is mostly an episode, sunglasses mostly come off: both happen, and both ways."""
    downs, offs = [], []
    for seed in range(300):
        s = sample_scene(np.random.default_rng(seed), "p", PEOPLE, started_at="x", night=False, inbound=True)
        downs += [o.down for o in s.occupants if o.down is not None]
        offs += [o.sunglasses_off_at for o in s.occupants if o.sunglasses]
    assert any(d == (0.0, 1.0) for d in downs) and any(d != (0.0, 1.0) for d in downs)
    assert any(t is None for t in offs) and any(t is not None for t in offs)


@pytest.mark.parametrize("row", [2, 3])
@pytest.mark.parametrize("seat", ["L", "R"])
def test_side_cameras_see_forward_looking_rear_passengers_at_moderate_yaw(row: int, seat: str) -> None:
    """The side camera of a passenger's side sees them looking ahead at 15-35 degrees, inside the frame
    (a camera square to the side windows would see them in profile)."""
    cam = camera_for("left" if seat == "L" else "right")
    face = (SEAT_X[seat], 1.38, STOP_M + ROW_DZ[row])
    yaw, _ = cam.view_angles(face, (0.0, 0.0, -1.0))
    uv, depth = cam.project([face])
    assert 15.0 <= abs(yaw) <= 35.0
    assert 0 < uv[0, 0] < cam.width and 0 < uv[0, 1] < cam.height and depth[0] > 0
