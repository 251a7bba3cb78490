"""Scene variants of the lane simulator: the table, composition, and what each variant changes in the scenes,
the degradations and the rig (no rendering here; rendered variants: test_sim_render.py)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from laneface.errors import ConfigError
from laneface.sim.degrade import CameraEffects, Degrader, sample_effects
from laneface.sim.geometry import FRAME_H, FRAME_W, Rig
from laneface.sim.render import camera_for
from laneface.sim.scene import PassageScene
from laneface.sim.variants import BASE, VARIANTS, describe_variants, resolve_variants
from laneface.sim.writer import CAMERAS

PEOPLE = [(f"P{i}", f"P{i}/P{i}_0001.jpg", f"D{i}") for i in range(7)]
EXPECTED = {"base", "night-ir", "heavy-tint", "fast", "far", "glare", "low-res", "camera-height"}


class _Pool:
    """A traveller pool stand-in: endless distinct people, in order."""

    def __init__(self) -> None:
        self.taken = 0

    def peek(self, n: int) -> list[object]:
        from types import SimpleNamespace

        return [
            SimpleNamespace(
                identity=f"P{k}", face_image=f"P{k}/P{k}_0001.jpg", document=SimpleNamespace(doc_id=f"D{k}")
            )
            for k in range(self.taken, self.taken + n)
        ]

    def take(self, n: int) -> None:
        self.taken += n


def _scenes(names: tuple[str, ...], n: int = 40, seed: int = 2026) -> list[PassageScene]:
    from laneface.sim.writer import scenes

    return list(scenes(_Pool(), seed, n, variant=resolve_variants(names)))  # type: ignore[arg-type]


def test_the_table_lists_every_variant_with_a_description() -> None:
    assert set(VARIANTS) == EXPECTED
    text = describe_variants()
    for v in VARIANTS.values():
        assert v.description and f"{v.name}: {v.description}" in text
        assert (v.overrides() == {}) == (v is BASE)  # every variant but base changes something


def test_unknown_names_are_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown scene variant.*'nope'.*known variants: base, night-ir"):
        resolve_variants(["fast", "nope"])


def test_no_name_or_base_is_the_base() -> None:
    assert resolve_variants([]) is BASE and resolve_variants(["base"]) is BASE
    assert resolve_variants(["base", "far"]) is VARIANTS["far"]


def test_variants_compose_and_conflicts_are_refused() -> None:
    both = resolve_variants(["low-res", "night-ir", "far"])
    assert both.name == "night-ir+far+low-res"  # the table's order
    assert both.night is True and both.rig == Rig(distance_scale=2.0, size=(640, 360))
    with pytest.raises(ConfigError, match="disagree on night"):
        resolve_variants(["night-ir", "glare"])  # glare is a daylight variant


def test_base_scenes_are_the_scenes_drawn_without_a_variant() -> None:
    from laneface.sim.writer import scenes

    plain = list(scenes(_Pool(), 7, 30))  # type: ignore[arg-type]
    assert _scenes((), 30, 7) == plain == _scenes(("base",), 30, 7)
    assert all(s.approach_share == 0.6 and 3.0 <= s.seconds <= 4.5 for s in plain)


@pytest.mark.parametrize("name", ["heavy-tint", "far", "low-res", "camera-height"])
def test_rig_and_glass_variants_keep_the_scenes(name: str) -> None:
    """Variants that change the glass or the cameras draw the very same passages as the base."""
    assert _scenes((name,)) == _scenes(())


def test_fast_passages_last_1_to_1_5_s_and_the_vehicle_keeps_moving() -> None:
    base, fast = _scenes(()), _scenes(("fast",))
    assert all(1.0 <= s.seconds <= 1.5 for s in fast)
    assert {s.frames for s in fast} == set(range(10, 16))
    assert all(s.approach_share == 1.0 for s in fast)
    # the same vehicles and occupants, only shorter
    assert [replace(s, frames=0, approach_share=0.0) for s in fast] == [
        replace(s, frames=0, approach_share=0.0) for s in base
    ]


def test_night_ir_is_all_night_and_glare_all_day() -> None:
    base = _scenes(())
    assert any(s.night for s in base) and not all(s.night for s in base)
    night = _scenes(("night-ir",))
    assert all(s.night for s in night)
    assert not any(o.sunglasses for s in night for o in s.occupants) and not any(s.visors_down for s in night)
    assert all(s.started_at[11:13] in {"21", "22", "23", "00", "01", "02", "03", "04"} for s in night)
    assert not any(s.night for s in _scenes(("glare",)))
    # the same travellers (so the same gallery) whatever the time of day
    assert [[o.identity for o in s.occupants] for s in night] == [[o.identity for o in s.occupants] for s in base]


def _effects(name: str, camera: str, night: bool, seed: int) -> tuple[CameraEffects, CameraEffects]:
    base = sample_effects(np.random.default_rng(seed), camera, night)
    return base, VARIANTS[name].apply_effects(base, camera, np.random.default_rng([seed, 1]))


@pytest.mark.parametrize("seed", range(20))
def test_heavy_tint_darkens_every_window_and_less_so_under_infrared(seed: int) -> None:
    for camera in CAMERAS:
        base, heavy = _effects("heavy-tint", camera, False, seed)
        if camera == "front":  # through the windshield only: no rear window in view
            assert heavy.tint == base.tint == 1.0
        else:
            assert 0.1 <= heavy.tint <= 0.25 and heavy.tint <= base.tint
        assert 0.25 <= heavy.front_tint <= 0.45 and 0.6 <= heavy.shield_tint <= 0.8
        assert replace(heavy, tint=base.tint, front_tint=1.0, shield_tint=1.0) == base  # nothing else changes
        _, night = _effects("heavy-tint", camera, True, seed)
        assert heavy.front_tint < night.front_tint < 1.0 and heavy.shield_tint < night.shield_tint < 1.0
        assert night.tint <= sample_effects(np.random.default_rng(seed), camera, True).tint
        assert (night.tint < 1.0) == (camera != "front")


@pytest.mark.parametrize("seed", range(20))
def test_glare_is_strong_on_every_camera_by_day(seed: int) -> None:
    for camera in CAMERAS:
        base, glare = _effects("glare", camera, False, seed)
        assert glare.glare >= 0.7 and glare.glare_size == 2.0 and glare.reflection >= 0.3
        assert glare.glare >= base.glare
        _, night = _effects("glare", camera, True, seed)
        assert night.glare == sample_effects(np.random.default_rng(seed), camera, True).glare == 0.0


def test_fast_doubles_the_motion_blur() -> None:
    for seed in range(20):
        base, fast = _effects("fast", "front", False, seed)
        assert fast.blur_px == 2 * base.blur_px


def test_effects_json_names_variant_parameters_only_when_set() -> None:
    base, heavy = _effects("heavy-tint", "left", False, 3)
    assert not {"shield_tint", "front_tint", "glare_size"} & set(base.as_json())
    assert {"shield_tint", "front_tint"} <= set(heavy.as_json())


def test_the_default_rig_is_the_lane_rig() -> None:
    for name in CAMERAS:
        assert camera_for(name, Rig()) == camera_for(name) == camera_for(name, BASE.rig)


@pytest.mark.parametrize("name", CAMERAS)
def test_far_cameras_stand_twice_as_far_on_the_same_line_of_sight(name: str) -> None:
    near, far = camera_for(name), camera_for(name, VARIANTS["far"].rig)
    target = np.asarray(near.target)
    d_near, d_far = np.asarray(near.position) - target, np.asarray(far.position) - target
    assert np.allclose(d_far, 2.0 * d_near) and far.focal_px == near.focal_px and far.target == near.target


@pytest.mark.parametrize("name", CAMERAS)
def test_low_res_cameras_keep_the_field_of_view(name: str) -> None:
    full, low = camera_for(name), camera_for(name, VARIANTS["low-res"].rig)
    assert (low.width, low.height) == (640, 360) and (full.width, full.height) == (FRAME_W, FRAME_H)
    point = [(0.3, 1.4, 4.0)]
    assert np.allclose(low.project(point)[0] * 1.5, full.project(point)[0])


def test_camera_height_raises_every_camera_by_0_9_m() -> None:
    assert camera_for("front", VARIANTS["camera-height"].rig).position[1] == pytest.approx(3.0)
    for name in CAMERAS:
        base, high = camera_for(name), camera_for(name, VARIANTS["camera-height"].rig)
        assert high.position[1] == pytest.approx(base.position[1] + 0.9) and high.target == base.target


def test_degrader_tints_windshield_front_side_and_rear_windows_apart() -> None:
    """A flat grey frame: each kind of glass keeps its own transmission (no noise, glare or light change)."""
    fx = CameraEffects(
        night=False,
        gain=1.0,
        gamma=1.0,
        glare=0.0,
        reflection=0.0,
        tint=0.2,
        blur_px=0,
        blur_angle_deg=0.0,
        noise_sigma=0.0,
        jpeg_quality=None,
        shield_tint=0.7,
        front_tint=0.4,
    )
    w, h = 64, 32
    frame = np.full((h, w, 3), 200, np.uint8)
    window = np.zeros((h, w), np.uint8)
    window[8:24, 4:60] = 255
    shield, rear = np.zeros_like(window), np.zeros_like(window)
    shield[8:24, 4:20] = 255
    rear[8:24, 40:60] = 255
    out = Degrader(fx, np.random.default_rng(0), (w, h)).apply(frame, window, rear, 0, 0.0, shield)
    assert out.shape == (h, w, 3)
    assert abs(int(out[16, 10, 0]) - 140) <= 1  # windshield 0.7
    assert abs(int(out[16, 30, 0]) - 80) <= 1  # front side window 0.4
    assert abs(int(out[16, 50, 0]) - 40) <= 1  # rear window 0.2
    assert int(out[2, 2, 0]) == 200  # no glass: untouched


def test_a_larger_glare_spot_covers_more_glass() -> None:
    fx = sample_effects(np.random.default_rng(0), "front", False)
    fx = replace(fx, glare=0.9)
    small = Degrader(fx, np.random.default_rng(5)).glare
    big = Degrader(replace(fx, glare_size=2.0), np.random.default_rng(5)).glare
    assert (big > 0.3).sum() > 2 * (small > 0.3).sum()
