"""The lane simulator on a tiny fake LFW: passage format, ground truth, gallery manifest, determinism."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from laneface.errors import ConfigError, InvalidDatasetError
from laneface.sim.faces import HeadSprite, make_head_sprite
from laneface.sim.geometry import FRAME_H, FRAME_W, LookAtCamera
from laneface.sim.people import LfwIndex, TravellerPool
from laneface.sim.render import camera_for, render_camera
from laneface.sim.scene import sample_scene
from laneface.sim.writer import CAMERAS, head_sprites, scenes, simulate


def fake_face(rng: np.random.Generator) -> np.ndarray:
    """A 250x250 face-like RGB image with eyes where LFW deep-funneled has them."""
    img = np.full((250, 250, 3), rng.integers(40, 200, size=3), np.uint8)
    skin = tuple(int(v) for v in rng.integers(120, 230, size=3))
    cv2.ellipse(img, (125, 125), (58, 80), 0, 0, 360, skin, -1)
    cv2.ellipse(img, (125, 60), (60, 30), 0, 180, 360, tuple(int(v) for v in rng.integers(0, 90, size=3)), -1)
    for x in (104, 148):
        cv2.circle(img, (x, 112), 7, (250, 250, 250), -1)
        cv2.circle(img, (x, 112), 4, (20, 20, 20), -1)
    cv2.line(img, (125, 118), (120, 145), (90, 60, 50), 2)
    cv2.ellipse(img, (125, 168), (20, 8), 0, 0, 180, (120, 30, 40), 3)
    return img


def make_fake_lfw(root: Path, travellers: int = 9, singles: int = 4, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for i in range(travellers + singles):
        name = f"Person_{i:02d}"
        (root / name).mkdir(parents=True)
        for k in range(3 if i < travellers else 1):
            cv2.imwrite(str(root / name / f"{name}_{k + 1:04d}.jpg"), fake_face(rng)[..., ::-1])
    return root


@pytest.fixture(scope="module")
def lfw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_fake_lfw(tmp_path_factory.mktemp("lfw"))


@pytest.fixture(scope="module")
def sim_out(lfw: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("sim")
    simulate(out, 2, 5, lfw, inbound_share=0.5)
    return out


def _passages(out: Path) -> list[Path]:
    return sorted(p.parent for p in out.glob("*/passage.json"))


def test_writes_the_passage_format(sim_out: Path) -> None:
    dirs = _passages(sim_out)
    assert len(dirs) == 2
    for d in dirs:
        passage = json.loads((d / "passage.json").read_text())
        truth = json.loads((d / "ground_truth.json").read_text())
        assert set(passage) == {"passage_id", "lane", "direction", "started_at", "documents", "cameras"}
        assert passage["passage_id"] == d.name == truth["passage_id"]
        assert passage["direction"] in ("inbound", "outbound")
        assert passage["started_at"].endswith("Z") and "T" in passage["started_at"]
        docs = {o["doc_id"] for o in truth["occupants"]}
        assert set(passage["documents"]) <= docs
        if passage["direction"] == "outbound":
            assert passage["documents"] == []
        assert set(passage["cameras"]) == set(CAMERAS)
        for name, cam in passage["cameras"].items():
            assert cam == {"file": f"cam_{name}.mp4", "view": name, "fps": 10.0}
            cap = cv2.VideoCapture(str(d / cam["file"]))
            n = 0
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                assert frame.shape == (FRAME_H, FRAME_W, 3)
                n += 1
            cap.release()
            assert n == truth["frames"] == len(truth["cameras"][name]["frames"])
        assert 1 <= len(truth["occupants"]) <= 7
        assert {o["seat"] for o in truth["occupants"]} >= {"1L"}


def test_ground_truth_boxes_lie_inside_the_frame(sim_out: Path) -> None:
    faces = 0
    for d in _passages(sim_out):
        truth = json.loads((d / "ground_truth.json").read_text())
        ids = {o["occupant_id"]: o for o in truth["occupants"]}
        for cam in truth["cameras"].values():
            for frame in cam["frames"]:
                for f in frame:
                    x0, y0, x1, y1 = f["box_xyxy"]
                    assert 0 <= x0 < x1 <= FRAME_W and 0 <= y0 < y1 <= FRAME_H
                    assert 0 < f["visible"] <= 1
                    o = ids[f["occupant_id"]]
                    assert (f["identity"], f["row"], f["seat"]) == (o["identity"], o["row"], o["seat"])
                    faces += 1
    assert faces > 0


def test_boxes_cover_the_rendered_faces(lfw: Path) -> None:
    """Heads painted pure green: a fully visible face's box is mostly green and holds both eyes."""
    rng = np.random.default_rng(3)
    people = [(f"P{i}", "unused.jpg", f"D{i}") for i in range(7)]
    scene = sample_scene(rng, "t", people, started_at="2026-01-01T00:00:00Z", night=False, inbound=True)
    green = np.zeros((250, 250, 3), np.uint8)
    green[..., 1] = 255
    sprite = make_head_sprite(green, sunglasses=False, hat=False, hand=False, skin_rgb=(0, 255, 0), variant=0)
    heads: dict[int, Callable[[bool, bool], HeadSprite]] = {
        o.occupant_id: lambda hand, glasses: sprite for o in scene.occupants
    }
    checked = 0
    for name in CAMERAS:
        for frame in render_camera(name, scene, heads, 1):
            is_green = (frame.rgb[..., 1] > 200) & (frame.rgb[..., 0] < 60) & (frame.rgb[..., 2] < 60)
            for f in frame.faces:
                x0, y0, x1, y1 = (round(v) for v in f.box_xyxy)
                if f.visible < 0.95 or x1 - x0 < 8:
                    continue
                share = is_green[y0:y1, x0:x1].mean()
                assert share > 0.6, (name, f)
                for ex, ey in f.eyes:
                    assert x0 - 1 <= ex <= x1 + 1 and y0 - 1 <= ey <= y1 + 1
                checked += 1
    assert checked > 10


def test_manifest_documents_are_other_images_of_the_occupants(sim_out: Path, lfw: Path) -> None:
    with (sim_out / "manifest.csv").open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert list(rows[0]) == ["doc_id", "image", "doc_type", "citizenship", "identity"]
    by_doc = {r["doc_id"]: r for r in rows}
    assert len(by_doc) == len(rows)
    travellers = set()
    for d in _passages(sim_out):
        for o in json.loads((d / "ground_truth.json").read_text())["occupants"]:
            row = by_doc[o["doc_id"]]
            assert row["identity"] == o["identity"]
            photo = (sim_out / row["image"]).read_bytes()
            assert photo != (lfw / o["source_image"]).read_bytes()
            assert photo in {p.read_bytes() for p in (lfw / o["identity"]).iterdir()}
            travellers.add(o["identity"])
    distractors = [r for r in rows if r["identity"] not in travellers]
    assert distractors, "the gallery needs documents of people who did not travel"


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_same_seed_same_passages(lfw: Path, tmp_path: Path, sim_out: Path) -> None:
    """Byte-identical output for the same seed, videos included; the ``base`` scene variant is the
    simulator without variants, and its passage files name no variant (they are what it wrote before)."""
    a, b = tmp_path / "a", tmp_path / "b"
    simulate(a, 1, 11, lfw)
    simulate(b, 1, 11, lfw, variants=("base",))
    (pa,), (pb,), pc = _passages(a), _passages(b), _passages(sim_out)[0]
    fa, fb = _files(a), _files(b)
    assert set(fa) == set(fb) and any(k.endswith(".mp4") for k in fa) and "manifest.csv" in fa
    for name in fa:
        if name != "sim.json":  # it holds the output folder and the wall time
            assert fa[name] == fb[name], name
    assert json.loads(fb["sim.json"])["variant"] == "base"
    for name in ("passage.json", "ground_truth.json"):
        assert "variant" not in json.loads((pb / name).read_text())
    assert (pa / "ground_truth.json").read_bytes() != (pc / "ground_truth.json").read_bytes()


def test_too_few_identities_is_an_input_error(tmp_path: Path) -> None:
    root = make_fake_lfw(tmp_path / "lfw", travellers=3, singles=2)
    with pytest.raises(InvalidDatasetError, match="identities"):
        LfwIndex(root)
    with pytest.raises(InvalidDatasetError, match="does not exist"):
        LfwIndex(tmp_path / "missing")


def test_cli_sim(lfw: Path, tmp_path: Path) -> None:
    from laneface.cli.app import app

    out = tmp_path / "out"
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path / "d"), "sim", "--out", str(out), "--passages", "1", "--lfw-dir", str(lfw)]
    )
    assert result.exit_code == 0, result.output
    assert "1 passages" in result.output
    assert (out / "manifest.csv").is_file() and len(_passages(out)) == 1


def test_bad_parameters_are_config_errors(lfw: Path, tmp_path: Path) -> None:
    from laneface.errors import ConfigError

    with pytest.raises(ConfigError, match="at least 1"):
        simulate(tmp_path, 0, 1, lfw)
    with pytest.raises(ConfigError, match=r"\[0, 1\]"):
        simulate(tmp_path, 1, 1, lfw, night_share=1.5)


def test_scenes_are_the_passages_simulate_renders(lfw: Path, sim_out: Path) -> None:
    pool = TravellerPool(LfwIndex(lfw), np.random.default_rng([5, 0]))  # sim_out: seed 5, 2 passages
    drawn = list(scenes(pool, 5, 2, inbound_share=0.5))
    for scene, d in zip(drawn, _passages(sim_out), strict=True):
        truth = json.loads((d / "ground_truth.json").read_text())
        assert scene.passage_id == truth["passage_id"] and scene.vehicle.name == truth["vehicle"]
        assert [o.identity for o in scene.occupants] == [o["identity"] for o in truth["occupants"]]


def test_a_camera_placed_elsewhere_sees_the_scene_from_there(lfw: Path) -> None:
    pool = TravellerPool(LfwIndex(lfw), np.random.default_rng([7, 0]))
    (scene,) = scenes(pool, 7, 1)
    heads = head_sprites(scene, lfw, 1)
    rig = camera_for("front")
    lower = LookAtCamera((rig.position[0], rig.position[1] - 0.8, rig.position[2]), rig.target, rig.focal_px)
    as_rig = [f for fr in render_camera("front", scene, heads, 1) for f in fr.faces]
    same = [f for fr in render_camera("front", scene, heads, 1, rig) for f in fr.faces]
    moved = [f for fr in render_camera("front", scene, heads, 1, lower) for f in fr.faces]
    assert as_rig == same and as_rig
    assert [f.box_xyxy for f in moved] != [f.box_xyxy for f in as_rig]


# -- scene variants (sim/variants.py; the scene-level checks are in test_sim_variants.py) ----------------------


def _frames(path: Path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    out = []
    while True:
        ok, frame = cap.read()
        if not ok:
            break
        out.append(frame)
    cap.release()
    return out


def test_fast_low_res_passages_are_short_and_small(lfw: Path, tmp_path: Path) -> None:
    summary = simulate(tmp_path, 2, 5, lfw, variants=("low-res", "fast"))
    meta = json.loads((tmp_path / "sim.json").read_text())
    assert meta["variant"] == "fast+low-res" and meta["variant_parameters"]["rig.size"] == [640, 360]
    assert summary.passages == 2
    faces = 0
    for d in _passages(tmp_path):
        passage = json.loads((d / "passage.json").read_text())
        truth = json.loads((d / "ground_truth.json").read_text())
        assert passage["variant"] == truth["variant"] == "fast+low-res"
        assert 1.0 <= truth["frames"] / truth["fps"] <= 1.5
        for name in CAMERAS:
            frames = _frames(d / f"cam_{name}.mp4")
            assert len(frames) == truth["frames"] and {f.shape for f in frames} == {(360, 640, 3)}
            for frame in truth["cameras"][name]["frames"]:
                for f in frame:
                    x0, y0, x1, y1 = f["box_xyxy"]
                    assert 0 <= x0 < x1 <= 640 and 0 <= y0 < y1 <= 360
                    faces += 1
    assert faces > 0


def test_night_ir_passages_are_greyscale(lfw: Path, tmp_path: Path) -> None:
    simulate(tmp_path, 1, 5, lfw, night_share=0.0, variants=("night-ir", "fast"))
    (d,) = _passages(tmp_path)
    truth = json.loads((d / "ground_truth.json").read_text())
    assert truth["night"] is True and truth["variant"] == "night-ir+fast"
    for name in CAMERAS:
        assert truth["cameras"][name]["effects"]["night"] is True
        for frame in _frames(d / f"cam_{name}.mp4"):
            smooth = cv2.blur(frame, (31, 31)).astype(np.int16)  # the sensor noise is drawn per channel
            spread = smooth.max(axis=2) - smooth.min(axis=2)
            # grey up to the codec's rounding: 1.4-2.9 on LFW passages (day frames 7-16, seed 2026)
            assert spread.mean() <= 3.5, spread.mean()


def test_far_cameras_see_faces_about_half_the_size(lfw: Path) -> None:
    from laneface.sim.variants import VARIANTS

    pool = TravellerPool(LfwIndex(lfw), np.random.default_rng([4, 0]))
    (scene,) = scenes(pool, 4, 1)
    heads = head_sprites(scene, lfw, 1)
    ratios = []
    for name in CAMERAS:
        near = render_camera(name, scene, heads, 1)
        far = render_camera(name, scene, heads, 1, camera_for(name, VARIANTS["far"].rig))
        for fn, ff in zip(near, far, strict=True):
            sizes = {f.occupant_id: f.as_json()["ied_px"] for f in ff.faces}
            ratios += [
                float(f.as_json()["ied_px"]) / float(sizes[f.occupant_id]) for f in fn.faces if sizes.get(f.occupant_id)
            ]  # type: ignore[arg-type]
    assert len(ratios) > 20
    assert 1.6 <= float(np.median(ratios)) <= 2.4


def test_cli_sim_lists_variants_and_refuses_an_unknown_one(lfw: Path, tmp_path: Path) -> None:
    from laneface.cli.app import app
    from laneface.errors import ConfigError
    from laneface.sim.variants import VARIANTS

    runner = CliRunner()
    helped = runner.invoke(app, ["sim", "--help"], env={"COLUMNS": "400"})
    assert helped.exit_code == 0
    for name in VARIANTS:
        assert name in helped.output
    out = tmp_path / "out"
    args = ["--data-dir", str(tmp_path / "d"), "sim", "--out", str(out), "--lfw-dir", str(lfw), "--passages", "1"]
    bad = runner.invoke(app, [*args, "--variant", "fast", "--variant", "nope"])
    assert bad.exit_code != 0 and isinstance(bad.exception, ConfigError)
    assert "known variants: base, night-ir" in str(bad.exception) and not out.exists()
    ok = runner.invoke(app, [*args, "--variant", "fast", "--json"])
    assert ok.exit_code == 0, ok.output
    (d,) = _passages(out)
    assert json.loads((d / "passage.json").read_text())["variant"] == "fast"


def test_decoys_are_planted_with_their_own_truth_and_leave_the_rest_of_the_scene(
    lfw: Path, tmp_path: Path, sim_out: Path
) -> None:
    out = tmp_path / "decoys"
    summary = simulate(out, 2, 5, lfw, inbound_share=0.5, decoy_share=1.0)
    assert summary.decoys >= 2
    for plain_dir, dir_ in zip(_passages(sim_out), _passages(out), strict=True):
        plain = json.loads((plain_dir / "ground_truth.json").read_text())
        truth = json.loads((dir_ / "ground_truth.json").read_text())
        assert "decoys" not in plain and truth["decoys"]
        assert truth["occupants"] == plain["occupants"]  # a decoy is never an occupant
        ids = {d["decoy_id"] for d in truth["decoys"]}
        seats = {o["seat"] for o in truth["occupants"]}
        holders = {o["occupant_id"] for o in truth["occupants"]}
        for d in truth["decoys"]:
            if d["kind"] in ("dog", "cat"):
                assert d["seat"] not in seats and d["image"] is None
            elif d["kind"] != "sticker":
                assert d["holder"] in holders and d["image"]
        shown = set()
        for name, cam in truth["cameras"].items():
            assert len(cam["decoys"]) == len(cam["frames"]) == len(plain["cameras"][name]["frames"])
            for frame in cam["decoys"]:
                for d in frame:
                    assert d["decoy_id"] in ids and 0.0 < d["visible"] <= 1.0
                    x0, y0, x1, y1 = d["box_xyxy"]
                    assert 0 <= x0 < x1 <= FRAME_W and 0 <= y0 < y1 <= FRAME_H
                    shown.add(d["decoy_id"])
        assert shown, "some decoy shows in some camera"
    bad = tmp_path / "bad"
    with pytest.raises(ConfigError):
        simulate(bad, 1, 5, lfw, decoy_share=1.5)


def test_no_decoys_without_a_share(lfw: Path) -> None:
    from laneface.sim.scene import plant_decoys

    index = LfwIndex(lfw)
    scene = next(scenes(TravellerPool(index, np.random.default_rng(0)), 3, 1))
    assert plant_decoys(np.random.default_rng(1), scene, 0.0, ["x.jpg"]) is scene
    planted = plant_decoys(np.random.default_rng(1), scene, 1.0, ["Person_00/Person_00_0001.jpg"])
    assert planted.decoys and planted.occupants == scene.occupants
