"""`laneface sim`: renders passages in the passage format, with ground truth and a gallery manifest.

Output::

    <out>/manifest.csv                 doc_id,image,doc_type,citizenship,identity (image relative to the CSV)
    <out>/gallery/<doc_id>.jpg         document photos: another LFW image of each traveller, plus distractors
    <out>/<passage_id>/passage.json    the passage contract (README)
    <out>/<passage_id>/cam_<name>.mp4  960x540 (another size in some variants), 10 fps, mp4v; cameras front, left, right
    <out>/<passage_id>/ground_truth.json
    <out>/sim.json                     parameters and counts

``ground_truth.json``: ``{"passage_id", "vehicle", "rows", "night", "direction", "documents",
"occupants": [{"occupant_id", "identity", "row", "seat", "doc_id", "document_read", "source_image",
"sunglasses", "sunglasses_off_at", "looks_down", "hat", "hand"}],
"cameras": {"<name>": {"effects": {...}, "frames": [[face, ...], ...]}}}``
where each face is ``{"occupant_id", "identity", "row", "seat", "box_xyxy", "eyes", "ied_px", "yaw_deg",
"pitch_deg", "visible"}``: the box covers the face from brows to chin (pixel xyxy, clipped to the
frame), ``visible`` is the share of the face that is on top (not behind a headrest, visor, hand, cap brim,
another head or the window frame) and inside the frame. Only faces with ``visible >= 0.01`` are listed.

Determinism: the same seed, LFW copy and passage count give byte-identical JSON, manifest and
gallery; passage ``i`` depends only on the seed, ``i`` and the travellers drawn before it.

Scenarios (:mod:`.scenario`, ``scenario=``, ``laneface sim --scenario``): every camera of ``passage.json``
and of the ground truth names its ``zone`` and ``start_s``; an inbound passage adds the booth cameras
``booth1``-``booth3`` (zone ``booth``, starting when the approach ends, at the booth's frame rate). The
ground truth adds ``"zones": [{"zone", "start_s", "end_s", ("pauses_s" | "speed_kmh")}]``, for inbound
passages ``"booth": {"dwell_s", "fps", "frames", "prompts": [{"at_s", "source"}]}`` and per occupant
``"booth": {"asleep", "complies", "camera", "looks_at_camera", "looks_at_booth", "looks_down",
"sunglasses_off_s"}`` (spans in seconds after the stop). Without a scenario nothing of this is written.

Decoys (``decoy_share=``, ``laneface sim --decoys``): that share of vehicles carries a printed face (on a
shirt, a photo or a phone held up, a sticker on the windshield) or a pet on an empty seat
(:class:`~laneface.sim.scene.Decoy`), drawn by a generator of its own so the rest of every scene stays as
it was. The ground truth then lists ``"decoys": [{"decoy_id", "kind", "holder", "seat", "image",
"size_m"}]`` and, per camera, ``"decoys": [[{"decoy_id", "kind", "box_xyxy", "visible"}, ...], ...]`` (per
frame, as ``frames``). A decoy is never an occupant: nothing of it is in ``occupants``.

Scene variants (:mod:`.variants`, ``variants=``): the base scenes with some parameters changed. A variant
other than ``base`` is named in ``passage.json`` and ``ground_truth.json`` (``"variant"``); ``sim.json``
names every variant, ``base`` included, with the parameters it changes. The base scenes' passage files
carry no such key and are byte for byte what the simulator wrote before variants
existed. The travellers, and so the manifest and gallery, are the same for every variant of a seed.
"""

from __future__ import annotations

import csv
import json
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from laneface.errors import ConfigError
from laneface.sim.booth import (
    BOOTH_CAMERAS,
    BoothPlan,
    BoothStop,
    booth_camera,
    drive_through,
    queue_approach,
    sample_booth,
)
from laneface.sim.people import MIN_TRAVELLERS, Document, LfwIndex, TravellerPool
from laneface.sim.population import HISTORY_FILE, background_stays, plan_history
from laneface.sim.scenario import InboundZones, Scenario
from laneface.sim.scene import Occupant, PassageScene, plant_decoys, sample_scene
from laneface.sim.variants import BASE, Variant, resolve_variants

if TYPE_CHECKING:
    import numpy.typing as npt

    from laneface.sim.decoys import DecoyArt
    from laneface.sim.faces import HeadSprite
    from laneface.sim.geometry import LookAtCamera

__all__ = ["CAMERAS", "SimSummary", "head_sprites", "render_passage", "scenes", "simulate"]

CAMERAS = ("front", "left", "right")
EPOCH = datetime(2026, 3, 2, tzinfo=UTC)


@dataclass(frozen=True)
class SimSummary:
    out: str
    passages: int
    occupants: int
    documents: int
    distractors: int
    seconds: float
    seconds_per_passage: float
    decoys: int = 0


def _started_at(rng: np.random.Generator, index: int, night: bool) -> str:
    day = EPOCH + timedelta(days=index // 60)
    hour = int(rng.choice([21, 22, 23, 0, 1, 2, 3, 4])) if night else int(rng.integers(7, 19))
    t = day + timedelta(hours=hour, minutes=int(rng.integers(0, 60)), seconds=int(rng.integers(0, 60)))
    return t.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Zones:
    """A passage of a :class:`~laneface.sim.scenario.Scenario`: the zone the lane's rig films, and for an
    inbound passage the booth stop after it."""

    zone: str  # "approach" | "drive-through"
    inbound: InboundZones
    booth: BoothPlan | None = None
    speed_kmh: float | None = None  # drive-through


def render_passage(
    scene: PassageScene,
    lfw_root: Path,
    out_dir: Path,
    seed: int,
    variant: Variant = BASE,
    zones: Zones | None = None,
    extra: Mapping[str, Mapping[str, object]] | None = None,
) -> dict[str, object]:
    """Write the videos, passage.json and ground_truth.json of ``scene`` into ``out_dir``; returns the truth.

    ``variant`` changes the cameras' degradations and the rig (its scene changes are already in ``scene``);
    ``zones`` (a scenario's passage) names the zone of the lane's cameras and adds the booth cameras."""
    import cv2

    from laneface.sim.degrade import Degrader, sample_effects
    from laneface.sim.render import CAMERA_VIEWS, DriveBy, Motion, camera_for, render_camera

    out_dir.mkdir(parents=True, exist_ok=True)
    heads = head_sprites(scene, lfw_root, seed)
    art = decoy_art(scene, lfw_root, seed)
    by_id = {o.occupant_id: o for o in scene.occupants}
    cameras_truth: dict[str, object] = {}
    cameras_json: dict[str, dict[str, object]] = {}
    # (name, view, camera, motion, zone, start_s, fps, layers slide with the vehicle)
    plan: list[tuple[str, str, LookAtCamera, Motion, str | None, float, float, bool]] = [
        (n, CAMERA_VIEWS[n], camera_for(n, variant.rig), DriveBy(scene), None if zones is None else zones.zone, 0.0,
         scene.fps, True)
        for n in CAMERAS
    ]  # fmt: skip
    if zones is not None and zones.booth is not None:
        booth_cams = tuple(booth_camera(r, zones.inbound) for r in (1, 2, 3))
        stop = BoothStop(scene, zones.booth, booth_cams)
        start = round(scene.frames / scene.fps, 3)
        for r, n in enumerate(BOOTH_CAMERAS):
            plan.append((n, zones.inbound.booth_side, booth_cams[r], stop, "booth", start, zones.booth.fps, False))
    for ci, (name, view, camera, motion, zone, start_s, fps, sliding) in enumerate(plan):
        rng = np.random.default_rng([seed, ci])
        effects = sample_effects(rng, view, scene.night)
        if variant is not BASE:  # drawn from a generator of its own: the base draws below stay as they are
            effects = variant.apply_effects(effects, view, np.random.default_rng([seed, ci, 1]))
        size = (camera.width, camera.height)
        degrader = Degrader(effects, rng, size)
        path = out_dir / f"cam_{name}.mp4"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
        frames_truth: list[list[dict[str, object]]] = []
        decoys_truth: list[list[dict[str, object]]] = []
        try:
            frames = render_camera(name, scene, heads, seed * 7 + ci, camera, view=view, motion=motion, decoys=art)
            for i, frame in enumerate(frames):
                t = motion.share(i) if sliding else 0.0
                pixels = degrader.apply(frame.rgb, frame.window_mask, frame.tint_mask, i, t, frame.shield_mask)
                writer.write(cv2.cvtColor(pixels, cv2.COLOR_RGB2BGR))
                faces = []
                for f in frame.faces:
                    o = by_id[f.occupant_id]
                    faces.append({"identity": o.identity, "row": o.row, "seat": o.seat, **f.as_json()})
                frames_truth.append(faces)
                decoys_truth.append([d.as_json() for d in frame.decoys])
        finally:
            writer.release()
        where: dict[str, object] = {} if zone is None else {"zone": zone, "start_s": start_s}
        if zone is not None:
            where["fps"] = fps
        cameras_truth[name] = {"view": view, **where, "effects": effects.as_json(), "frames": frames_truth}
        if scene.decoys:
            cameras_truth[name]["decoys"] = decoys_truth  # type: ignore[index]
        cameras_json[name] = {"file": f"cam_{name}.mp4", "view": view, "fps": fps}
        if zone is not None:
            cameras_json[name].update(zone=zone, start_s=start_s)
    tag: dict[str, object] = {} if variant is BASE else {"variant": variant.name}
    passage = {
        "passage_id": scene.passage_id,
        **tag,
        "lane": scene.lane,
        "direction": scene.direction,
        "started_at": scene.started_at,
        "documents": list(scene.documents),
        "cameras": cameras_json,
    }
    truth: dict[str, object] = {
        "passage_id": scene.passage_id,
        **tag,
        "vehicle": scene.vehicle.name,
        "rows": len(scene.vehicle.rows),
        "night": scene.night,
        "direction": scene.direction,
        "documents": list(scene.documents),
        "frames": scene.frames,
        "fps": scene.fps,
        "visors_down": list(scene.visors_down),
        "occupants": [
            {
                "occupant_id": o.occupant_id,
                "identity": o.identity,
                "row": o.row,
                "seat": o.seat,
                "doc_id": o.doc_id,
                "document_read": o.doc_id in scene.documents,
                "source_image": o.image,
                "sunglasses": o.sunglasses,
                "sunglasses_off_at": o.sunglasses_off_at,
                "looks_down": list(o.down) if o.down is not None else None,
                "hat": o.hat,
                "hand": o.hand is not None,
            }
            for o in scene.occupants
        ],
        "cameras": cameras_truth,
    }
    if scene.decoys:
        truth["decoys"] = [
            {"decoy_id": d.decoy_id, "kind": d.kind, "holder": d.holder, "seat": d.seat, "image": d.image,
             "size_m": round(d.size_m, 3)}
            for d in scene.decoys
        ]  # fmt: skip
    if zones is not None:
        _zones_truth(truth, scene, zones)
    if extra is not None:  # ``--history``: the plate read (passage.json) and what the ledger knows (truth)
        passage.update(extra.get("passage", {}))
        truth.update(extra.get("truth", {}))
    (out_dir / "passage.json").write_text(json.dumps(passage, indent=2) + "\n", encoding="utf-8")
    (out_dir / "ground_truth.json").write_text(json.dumps(truth) + "\n", encoding="utf-8")
    return truth


def _zones_truth(truth: dict[str, object], scene: PassageScene, zones: Zones) -> None:
    """The scenario's part of the ground truth: zones with their times, the booth stop, each occupant's
    behaviour at the booth, the pauses in the queue or the drive-through speed."""
    end = round(scene.frames / scene.fps, 3)
    spans: list[dict[str, object]] = [{"zone": zones.zone, "start_s": 0.0, "end_s": end}]
    if zones.speed_kmh is not None:
        spans[0]["speed_kmh"] = round(zones.speed_kmh, 1)
    if scene.pauses:
        spans[0]["pauses_s"] = [[round(a * end, 2), round(b * end, 2)] for a, b in scene.pauses]
    if zones.booth is not None:
        spans.append({"zone": "booth", "start_s": end, "end_s": round(end + zones.booth.dwell_s, 3)})
        truth["booth"] = zones.booth.as_json()
        by_id = {b.occupant_id: b for b in zones.booth.behaviour}
        occupants = truth["occupants"]
        assert isinstance(occupants, list)
        for o in occupants:
            o["booth"] = by_id[o["occupant_id"]].as_json()
    truth["zones"] = spans


def head_sprites(scene: PassageScene, lfw_root: Path, seed: int) -> dict[int, Callable[[bool, bool], HeadSprite]]:
    """Occupant id -> its head sprites (with or without hand and sunglasses), drawn from its LFW image."""
    from laneface.imageio import read_image

    return {o.occupant_id: _HeadVariants(read_image(lfw_root / o.image), o, seed) for o in scene.occupants}


def decoy_art(scene: PassageScene, lfw_root: Path, seed: int) -> dict[int, DecoyArt]:
    """Decoy id -> its pixels (a printed face from its LFW image, or a pet)."""
    from laneface.imageio import read_image
    from laneface.sim.decoys import make_decoy_art

    return {
        d.decoy_id: make_decoy_art(
            d,
            np.random.default_rng([seed, 5, d.decoy_id]),
            read_image(lfw_root / d.image) if d.image is not None else None,
        )
        for d in scene.decoys
    }


def scenes(
    pool: TravellerPool,
    seed: int,
    passages: int,
    *,
    inbound_share: float = 0.6,
    night_share: float = 0.25,
    variant: Variant = BASE,
) -> Iterator[PassageScene]:
    """The scenes of passages 0 .. ``passages`` - 1 of ``seed``, their travellers taken from ``pool`` in turn
    (what :func:`simulate` renders; passage ``i`` depends only on the seed, ``i`` and the pool's state),
    with ``variant``'s scene parameters."""
    for i in range(passages):
        rng = np.random.default_rng([seed, 1, i])
        night = bool(rng.random() < night_share)
        if variant.night is not None:  # the draw above is still made: the draws after it stay the base's
            night = variant.night
        inbound = bool(rng.random() < inbound_share)
        people = [(c.identity, c.face_image, c.document.doc_id) for c in pool.peek(MIN_TRAVELLERS)]
        scene = sample_scene(
            rng, f"sim{seed}-{i:05d}", people, started_at=_started_at(rng, i, night), night=night, inbound=inbound
        )
        if variant is not BASE:
            scene = variant.apply_scene(scene, np.random.default_rng([seed, 2, i]))
        pool.take(len(scene.occupants))
        yield scene


def scenario_passages(
    pool: TravellerPool, seed: int, passages: int, scenario: Scenario, variant: Variant = BASE
) -> Iterator[tuple[PassageScene, Zones]]:
    """The passages of ``scenario``: the scenes of :func:`scenes` (same travellers, vehicles and occupants
    for a seed) with the scenario's shares, each turned into an approach then a booth stop (inbound) or a
    drive-through (outbound) by draws of a generator of its own."""
    drawn = scenes(
        pool,
        seed,
        passages,
        inbound_share=scenario.inbound_share,
        night_share=scenario.night_share,
        variant=variant,
    )
    for i, scene in enumerate(drawn):
        rng = np.random.default_rng([seed, 3, i])
        if scene.direction == "inbound":
            approach = queue_approach(rng, scene, scenario.inbound)
            yield approach, Zones("approach", scenario.inbound, booth=sample_booth(rng, approach, scenario.inbound))
        else:
            drive, kmh = drive_through(rng, scene, scenario.outbound)
            yield drive, Zones("drive-through", scenario.inbound, speed_kmh=kmh)


class _HeadVariants:
    """The head sprites of one occupant (with or without the hand, with or without the sunglasses), made
    when first asked for."""

    def __init__(self, face: npt.NDArray[np.uint8], o: Occupant, seed: int) -> None:
        self.face, self.o, self.seed = face, o, seed
        self._made: dict[tuple[bool, bool], HeadSprite] = {}

    def __call__(self, hand: bool, glasses: bool) -> HeadSprite:
        from laneface.sim.faces import make_head_sprite

        key = (hand and self.o.hand is not None, glasses and self.o.sunglasses)
        if key not in self._made:
            self._made[key] = make_head_sprite(
                self.face,
                sunglasses=key[1],
                hat=self.o.hat,
                hand=key[0],
                skin_rgb=self.o.skin_rgb,
                variant=self.seed + self.o.occupant_id,
            )
        return self._made[key]


def _write_gallery(out: Path, lfw_root: Path, documents: list[Document]) -> None:
    gallery = out / "gallery"
    gallery.mkdir(parents=True, exist_ok=True)
    with (out / "manifest.csv").open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(["doc_id", "image", "doc_type", "citizenship", "identity"])
        for d in sorted(documents, key=lambda d: d.doc_id):
            suffix = Path(d.image).suffix.lower() or ".jpg"
            shutil.copyfile(lfw_root / d.image, gallery / f"{d.doc_id}{suffix}")
            w.writerow([d.doc_id, f"gallery/{d.doc_id}{suffix}", d.doc_type, d.citizenship, d.identity])


def simulate(
    out: Path,
    passages: int,
    seed: int,
    lfw_root: Path,
    *,
    distractors: int | None = None,
    inbound_share: float = 0.6,
    night_share: float = 0.25,
    variants: tuple[str, ...] = (),
    scenario: Scenario | None = None,
    decoy_share: float = 0.0,
    history: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SimSummary:
    """Render ``passages`` passages into ``out`` (see the module docstring) of the scene variant made of
    ``variants`` (:func:`laneface.sim.variants.resolve_variants`; none = the base scenes); with a
    ``scenario`` (whose shares replace ``inbound_share`` and ``night_share``), its zones."""
    variant = resolve_variants(variants)
    if passages < 1:
        raise ConfigError(f"passages must be at least 1, got {passages}")
    if not 0.0 <= inbound_share <= 1.0 or not 0.0 <= night_share <= 1.0 or not 0.0 <= decoy_share <= 1.0:
        raise ConfigError("inbound_share, night_share and decoy_share must lie in [0, 1]")
    t0 = time.perf_counter()
    index = LfwIndex(lfw_root)
    pool = TravellerPool(index, np.random.default_rng([seed, 0]))
    out.mkdir(parents=True, exist_ok=True)
    occupants = 0
    drawn: Iterator[tuple[PassageScene, Zones | None]]
    if scenario is None:
        plain = scenes(pool, seed, passages, inbound_share=inbound_share, night_share=night_share, variant=variant)
        drawn = ((scene, None) for scene in plain)
    else:
        drawn = scenario_passages(pool, seed, passages, scenario, variant)
    printable = [images[0] for images in index.images.values()]
    decoys = 0
    population = (scenario or Scenario()).population
    past: list[dict[str, object]] = []
    departures: list[datetime] = []
    for i, (drawn_scene, zones) in enumerate(drawn):
        scene = plant_decoys(np.random.default_rng([seed, 4, i]), drawn_scene, decoy_share, printable)
        decoys += len(scene.decoys)
        occupants += len(scene.occupants)
        told: dict[str, dict[str, object]] | None = None
        if history and scene.direction == "outbound":
            planned = plan_history(np.random.default_rng([seed, 5, i]), scene, population)
            scene = planned.scene
            past.extend(planned.crossings)
            departures.append(datetime.fromisoformat(scene.started_at.replace("Z", "+00:00")))
            told = {"passage": {} if planned.plate is None else {"plate": planned.plate}}
            told["truth"] = {"population": planned.truth}
        render_passage(scene, lfw_root, out / scene.passage_id, seed * 100_003 + i, variant, zones, told)
        if progress is not None:
            progress(f"{scene.passage_id}: {scene.vehicle.name}, {len(scene.occupants)} occupants, {scene.direction}")
    docs = pool.documents()
    extra = pool.distractors(len(docs) if distractors is None else distractors)
    _write_gallery(out, lfw_root, docs + extra)
    if history:
        first = min(departures, default=EPOCH)
        past.extend(background_stays(np.random.default_rng([seed, 6]), [d.doc_id for d in extra], population, first))
        past.sort(key=lambda line: (str(line["started_at"]), str(line["passage_id"])))
        with (out / HISTORY_FILE).open("w", encoding="utf-8") as fh:
            fh.writelines(json.dumps(line) + "\n" for line in past)
    seconds = time.perf_counter() - t0
    summary = SimSummary(
        out=str(out),
        passages=passages,
        occupants=occupants,
        documents=len(docs) + len(extra),
        distractors=len(extra),
        seconds=round(seconds, 2),
        seconds_per_passage=round(seconds / passages, 3),
        decoys=decoys,
    )
    meta: dict[str, object] = {
        "seed": seed,
        "lfw_dir": str(lfw_root),
        "inbound_share": inbound_share if scenario is None else scenario.inbound_share,
        "night_share": night_share if scenario is None else scenario.night_share,
        "variant": variant.name,
        "decoy_share": decoy_share,
    }
    if history:
        meta["population"] = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(population).items()}
        meta["history_crossings"] = len(past)
    if scenario is not None:
        meta["scenario"] = scenario.as_json()
    if variant is not BASE:
        meta["variant_parameters"] = {k: list(v) if isinstance(v, tuple) else v for k, v in variant.overrides().items()}
    (out / "sim.json").write_text(json.dumps({**meta, **summary.__dict__}, indent=2) + "\n", encoding="utf-8")
    return summary
