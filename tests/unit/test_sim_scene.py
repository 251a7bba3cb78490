"""Scene sampling, cameras and head pose of the lane simulator (no rendering)."""

from __future__ import annotations

import numpy as np
import pytest

from laneface.evaluation.sim.faces import EYES, make_head_sprite, pose_homography, turn_head
from laneface.evaluation.sim.geometry import LookAtCamera
from laneface.evaluation.sim.scene import VEHICLES, sample_scene

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
    assert s.z_start_m > s.z_stop_m and 18 <= s.frames <= 27


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
