"""`laneface bench ...` commands."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.common import emit_json, settings_of, store_of
from laneface.errors import InvalidDatasetError

bench_app = typer.Typer(help="Benchmarks that print numbers (accuracy, speed, recall).", no_args_is_help=True)
log = logging.getLogger(__name__)

DEFAULT_IEDS = "8,10,12,15,18,20,25,30,40,60,80"


@bench_app.command("detect")
def detect(
    ctx: typer.Context,
    lfw_dir: Annotated[Path, typer.Option("--lfw-dir", help="LFW deep-funneled image root (faces to paste).")],
    no_face: Annotated[
        Path | None, typer.Option("--no-face", help="An image without faces (false detections).")
    ] = None,
    detectors: Annotated[
        str,
        typer.Option("--detectors", help="Comma-separated; NAME@UPSCALExTILE adds upscaling/tiling, e.g. yunet@2x640."),
    ] = "dlib-hog,yunet,retinaface,scrfd,scrfd-500m",
    ieds: Annotated[str, typer.Option("--ieds", help="Inter-eye distances in px, comma-separated.")] = DEFAULT_IEDS,
    faces: Annotated[int, typer.Option("--faces", help="Faces per size (LFW images, seeded choice).")] = 60,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    out: Annotated[Path, typer.Option("--out", help="Directory for JSON and the recall plot.")] = Path(
        "out/bench_detect"
    ),
) -> None:
    """Per detector: recall versus inter-eye distance (8-80 px), false detections, ms per 960x540 frame (1 thread)."""
    import numpy as np

    from laneface.detection.factory import build_detector
    from laneface.evaluation.bench_detect import bench_detector, save_recall_plot

    settings = settings_of(ctx)
    store = store_of(ctx)
    paths = sorted(lfw_dir.glob("*/*.jpg"))
    if not paths:
        raise InvalidDatasetError(f"no LFW images (*/*.jpg) under {lfw_dir}")
    rng = np.random.default_rng(seed)
    chosen = [paths[i] for i in rng.choice(len(paths), size=min(faces, len(paths)), replace=False)]
    ied_values = [float(v) for v in ieds.split(",") if v.strip()]
    results = []
    for item in [d.strip() for d in detectors.split(",") if d.strip()]:
        name, _, scaling = item.partition("@")
        upd: dict[str, object] = {"num_threads": 1}
        if scaling:
            up, _, tile = scaling.partition("x")
            upd["upscale"] = float(up)
            upd["tile_size"] = int(tile or 0)
        det = build_detector(name, store, settings.detection.model_copy(update=upd))
        res = bench_detector(det, chosen, ied_values, no_face_path=no_face, seed=seed, progress=log.info)
        results.append(res)
        typer.echo(
            f"{res.detector}: "
            + ", ".join(f"{i:g}px {r:.2f}" for i, r in zip(res.ied_px, res.recall, strict=True))
            + f" | {res.ms_per_frame_960x540:.1f} ms/frame | false/frame {res.false_detections_per_frame:.3f}"
            + f" | no-face sample {res.false_detections_no_face_sample}",
            err=True,
        )
    out.mkdir(parents=True, exist_ok=True)
    rows = [asdict(r) for r in results]
    (out / "bench_detect.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    save_recall_plot(results, out / "recall_vs_ied.png")
    emit_json(rows)


@bench_app.command("quality")
def quality(
    ctx: typer.Context,
    lfw_dir: Annotated[Path, typer.Option("--lfw-dir", help="LFW deep-funneled image root.")],
    pairs: Annotated[Path, typer.Option("--pairs", help="LFW View-2 pairs.txt (its mated pairs are used).")],
    detector: Annotated[str, typer.Option("--detector", "-d", help="Detector name or 'auto'.")] = "yunet",
    embedder: Annotated[str, typer.Option("--embedder", "-e", help="Recognizer model name.")] = "mobilefacenet",
    seed: Annotated[int, typer.Option("--seed", help="Seeds degradations, pair subset and tie-breaking.")] = 0,
    max_pairs: Annotated[
        int | None, typer.Option("--max-pairs", help="Use this many mated pairs (seeded, spread over folds).")
    ] = None,
    train_repeats: Annotated[int, typer.Option("--train-repeats", help="Degraded copies per fitting probe.")] = 3,
    test_repeats: Annotated[int, typer.Option("--test-repeats", help="Degraded copies per held-out probe.")] = 1,
    clean_share: Annotated[float, typer.Option("--clean-share", help="Share of probes left clean.")] = 0.25,
    double_share: Annotated[float, typer.Option("--double-share", help="Share given two degradations.")] = 0.15,
    severity_power: Annotated[
        float, typer.Option("--severity-power", help="Severity = uniform ** power (higher: milder on average).")
    ] = 2.5,
    model: Annotated[
        str | None,
        typer.Option("--model", help="Evaluate this model file ('shipped' = the packaged one) instead of fitting."),
    ] = None,
    fit_out: Annotated[
        Path | None, typer.Option("--fit-out", help="Write the fitted unified model (JSON) here.")
    ] = None,
    out: Annotated[Path, typer.Option("--out", help="Directory for JSON, CSV and EDC plots.")] = Path(
        "out/bench_quality"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the whole summary as JSON.")] = False,
) -> None:
    """Fit the unified quality score on degraded LFW and draw EDC curves (ISO/IEC 29794-1) on held-out folds."""
    from laneface.detection.factory import build_detector
    from laneface.embedding.factory import build_embedder
    from laneface.evaluation.bench_quality import REPORT_FRACTIONS, run_quality_bench, write_outputs
    from laneface.evaluation.degrade import DegradationMix
    from laneface.quality.measures import default_measures
    from laneface.quality.profiles import load_quality_config
    from laneface.quality.unified import load_unified_model

    if model is not None and fit_out is not None:
        raise typer.BadParameter("--fit-out writes a fitted model; it cannot be used with --model")
    try:
        mix = DegradationMix(none=clean_share, double=double_share, severity_power=severity_power)
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    settings = settings_of(ctx)
    store = store_of(ctx)
    det = build_detector(detector, store, settings.detection)
    emb = build_embedder(embedder, store, settings.embedding)
    given = None if model is None else load_unified_model(None if model == "shipped" else Path(model))
    result = run_quality_bench(
        lfw_dir,
        pairs,
        det,
        emb,
        default_measures(),
        load_quality_config().mappings,
        model=given,
        seed=seed,
        max_pairs=max_pairs,
        train_repeats=train_repeats,
        test_repeats=test_repeats,
        mix=mix,
        progress=log.info,
    )
    paths = write_outputs(result, out)
    summary = result.summary()
    if fit_out is not None:
        unified = summary["edc"]["unified"]
        held_out = {
            "folds": summary["test_folds"],
            "probes": summary["test"]["probes"],
            "fnmr": unified["fnmr"]["0"],
            "fnmr_after_discarding_10pct": unified["fnmr"]["0.1"],
            "reduction_at_10pct": unified["reduction_at_10pct"],
        }
        fitted = dataclasses.replace(result.model, metadata={**result.model.metadata, "held_out": held_out})
        paths["model"] = fitted.save(fit_out)
    summary["files"] = {k: str(v) for k, v in paths.items()}
    if as_json:
        emit_json(summary)
        return
    edc = summary["edc"]
    head = "discarded".ljust(34) + "".join(f"{100 * f:>7g}%" for f in REPORT_FRACTIONS) + "   area  cut@10%"
    typer.echo(
        f"{summary['detector']} + {summary['embedder']}: threshold {summary['threshold']:.4f} at FMR "
        f"{summary['target_fmr']:g}; held-out probes {summary['test']['probes']} "
        f"(failures to acquire {summary['test']['failures_to_acquire']})"
    )
    typer.echo(head)
    for name, row in sorted(edc.items(), key=lambda kv: kv[1]["area"]):
        cut = row["reduction_at_10pct"]
        typer.echo(
            name.ljust(34)
            + "".join(f"{100 * v:>7.2f}%" for v in row["fnmr"].values())
            + f"  {row['area']:.4f}  {'-' if cut is None else f'{100 * cut:.0f}%'}"
        )
    typer.echo(json.dumps(summary["done_when"]))
    typer.echo(f"written: {', '.join(str(p) for p in paths.values())}")


@bench_app.command("quality-speed")
def quality_speed(
    ctx: typer.Context,
    images: Annotated[Path, typer.Option("--images", help="A directory of face images (searched recursively).")],
    detector: Annotated[str, typer.Option("--detector", "-d", help="Detector name or 'auto'.")] = "yunet",
    faces: Annotated[int, typer.Option("--faces", min=1, help="Faces to time (seeded choice of images).")] = 300,
    repeats: Annotated[int, typer.Option("--repeats", min=1, help="Passes over the faces.")] = 3,
    profile: Annotated[str, typer.Option("--profile", help="Quality profile checked.")] = "vehicle",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Milliseconds per face of every quality measure together (one thread, CPU time), and each measure's share."""
    import cv2
    import numpy as np

    from laneface.detection.factory import build_detector
    from laneface.evaluation.quality_speed import time_quality
    from laneface.imageio import ImageLimits, read_image
    from laneface.quality.assessor import QualityAssessor

    settings = settings_of(ctx)
    store = store_of(ctx)
    cv2.setNumThreads(1)
    paths = sorted(p for p in images.rglob("*") if p.suffix.lower() in {".jpg", ".jpeg", ".png"})
    if not paths:
        raise InvalidDatasetError(f"no .jpg/.jpeg/.png images under {images}")
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(paths))
    det = build_detector(detector, store, settings.detection)
    assessor = QualityAssessor.from_config(profile)
    limits = ImageLimits(max_bytes=settings.images.max_bytes, max_pixels=settings.images.max_pixels)
    chosen = []
    for idx in order:
        image = read_image(paths[int(idx)], limits=limits)
        dets = det.detect(image)
        if len(dets):
            chosen.append((image, dets, int(np.argmax(dets.scores))))
        if len(chosen) >= faces:
            break
    if not chosen:
        raise InvalidDatasetError(f"{detector} found no face in the images under {images}")
    result = time_quality(assessor, chosen, repeats=repeats)
    data = result.as_json()
    data["detector"] = det.name
    data["profile"] = profile
    if as_json:
        emit_json(data)
        return
    typer.echo(
        f"{result.faces} faces x {result.repeats}: {result.total_ms_mean:.2f} ms per face (CPU, one thread; "
        f"p50 {result.total_ms_p50:.2f}, p99 {result.total_ms_p99:.2f}; wall {result.wall_ms_mean:.2f})"
    )
    typer.echo(f"  {'quality crop (sample)':28} {result.sample_ms_mean:7.3f} ms")
    for name, ms in result.measure_ms_mean.items():
        typer.echo(f"  {name:28} {ms:7.3f} ms")
