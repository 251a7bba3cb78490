"""`laneface bench ...` commands."""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from laneface.cli.bench_service import bench_service_command
from laneface.cli.common import (
    DetectorOption,
    EmbedderOption,
    FewFmrOption,
    ProfileOption,
    emit_json,
    settings_of,
    settings_with_lane,
    store_of,
)
from laneface.errors import InvalidDatasetError

if TYPE_CHECKING:
    from laneface.config import Settings
    from laneface.models import ModelStore
    from laneface.pipeline.lane import LanePipeline

bench_app = typer.Typer(help="Benchmarks that print numbers (accuracy, speed, recall).", no_args_is_help=True)
log = logging.getLogger(__name__)
bench_app.command("service")(bench_service_command)

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


@bench_app.command("windshield")
def windshield(
    ctx: typer.Context,
    directory: Annotated[
        Path, typer.Option("--dir", help="YOLO dataset: images/ and labels/ with windshield boxes.")
    ] = Path("../shared/data/windshield"),
    detector: Annotated[str, typer.Option("--detector", "-d", help="Detector name or 'auto'.")] = "yunet",
    upscale: Annotated[
        float | None, typer.Option("--upscale", help="Resize factor for each windshield region (default: settings).")
    ] = None,
    tile: Annotated[int | None, typer.Option("--tile", help="Tile side in upscaled px (default: settings).")] = None,
    score: Annotated[
        float | None,
        typer.Option("--score-threshold", min=0.0, max=1.0, help="Detector score threshold (default: the detector's)."),
    ] = None,
    margin: Annotated[
        float, typer.Option("--margin", min=0.0, max=1.0, help="Enlarge each windshield box by this share per side.")
    ] = 0.1,
    max_face_share: Annotated[
        float | None,
        typer.Option(
            "--max-face-share",
            min=0.01,
            max=1.0,
            help="Drop faces wider than this share of the frame's widest searched region (default: keep all).",
        ),
    ] = None,
    regions: Annotated[
        str,
        typer.Option(
            "--regions",
            help="Search the labelled boxes ('labels', an oracle), boxes of a windshield localiser trained on "
            "the training split ('localised'), or 'both'.",
        ),
    ] = "labels",
    split: Annotated[
        str, typer.Option("--split", help="Frames to score: 'all', or the source-grouped 'test' or 'train' split.")
    ] = "all",
    every: Annotated[int, typer.Option("--every", min=1, help="Score every N-th frame of the split only.")] = 1,
    enhance: Annotated[
        bool, typer.Option("--enhance/--no-enhance", help="Exposure and local-contrast correction of each region.")
    ] = False,
    localiser_cache: Annotated[
        Path | None,
        typer.Option("--localiser-cache", help="Load the trained localiser from this file, or train and save it."),
    ] = None,
    save_examples: Annotated[
        Path | None, typer.Option("--save-examples", help="Write annotated failure images (no face found) here.")
    ] = None,
    save_found: Annotated[
        Path | None, typer.Option("--save-found", help="Write an enlarged crop of each windshield with a face here.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON.")] = False,
) -> None:
    """Share of windshields with at least one face found (every moving vehicle has a driver), faces per
    windshield, faces outside labelled windshields, CPU ms per frame (one thread); with --regions
    localised also the localiser's recall (IoU >= 0.5)."""
    import cv2

    from laneface.detection.factory import build_detector
    from laneface.errors import ConfigError
    from laneface.evaluation.bench_windshield import (
        Enhance,
        Localise,
        bench_windshields,
        clahe_gamma,
        load_windshield_dataset,
    )
    from laneface.evaluation.windshield_localiser import split_frames, trained_localiser

    if regions not in ("labels", "localised", "both"):
        raise ConfigError(f"--regions must be labels, localised or both, got {regions!r}")
    if split not in ("all", "test", "train"):
        raise ConfigError(f"--split must be all, test or train, got {split!r}")
    settings = settings_of(ctx)
    cv2.setNumThreads(1)
    upd: dict[str, object] = {"num_threads": 1}
    if upscale is not None:
        upd["upscale"] = upscale
    if tile is not None:
        upd["tile_size"] = tile
    if score is not None:
        upd["score_threshold"] = score
    frames = load_windshield_dataset(directory)
    train, test = split_frames(frames)
    scored = {"all": frames, "test": test, "train": train}[split][::every]
    det = build_detector(detector, store_of(ctx), settings.detection.model_copy(update=upd))
    enhancer: Enhance | None = clahe_gamma if enhance else None
    modes = ["labels", "localised"] if regions == "both" else [regions]
    results = []
    for mode in modes:
        localise: Localise | None = None
        if mode == "localised":
            localise = trained_localiser(train, localiser_cache, progress=log.info)
        res = bench_windshields(
            det,
            scored,
            margin=margin,
            max_face_share=max_face_share,
            localise=localise,
            enhance=enhancer,
            save_examples=None if save_examples is None else save_examples / mode,
            save_found=None if save_found is None else save_found / mode,
            progress=log.info,
        )
        results.append(res)
    if as_json:
        emit_json(
            [
                {
                    **r.as_json(),
                    "split": split,
                    "every": every,
                    "enhance": enhance,
                    "upscale": upscale,
                    "score": score,
                    "max_face_share": max_face_share,
                }
                for r in results
            ]
        )
        return
    for res in results:
        recall = res.localiser_recall
        typer.echo(
            f"{res.detector} [{res.regions}, split {split}]: {res.windshields} windshields in {res.frames} frames; "
            f"with >= 1 face {res.windshields_with_face} ({100 * res.share_with_face:.1f} %); faces per "
            f"windshield {res.faces_per_windshield:.3f} {res.faces_histogram}; faces outside labelled windshields "
            f"{res.faces_elsewhere}; CPU {res.cpu_ms_per_frame_mean:.1f} ms per frame (mean; wall median "
            f"{res.ms_per_frame_median:.1f})"
            + ("" if recall is None else f"; localiser recall {100 * recall:.1f} % ({res.localised_boxes} boxes)")
        )


@bench_app.command("lane")
def lane(
    ctx: typer.Context,
    directory: Annotated[Path, typer.Argument(help="Simulated passages (`laneface sim --out DIR`).")],
    results: Annotated[
        Path | None,
        typer.Option("--results", help="Score this `laneface run` JSONL instead of running the pipeline."),
    ] = None,
    detector: DetectorOption = None,
    embedder: EmbedderOption = None,
    profile: ProfileOption = None,
    few_fmr: FewFmrOption = None,
    limit: Annotated[int | None, typer.Option("--limit", min=1, help="Only the first N passages (sorted).")] = None,
    out: Annotated[Path, typer.Option("--out", help="Directory for results.jsonl, report JSON and chart.")] = Path(
        "out/bench_lane"
    ),
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    ledger: Annotated[
        bool,
        typer.Option(
            "--ledger/--no-ledger",
            help="Search the ledger's candidate lists of the records database (as `laneface run --ledger`; seed "
            "it with `laneface records import DIR/history.jsonl` for `sim --history` passages).",
        ),
    ] = False,
) -> None:
    """Run the lane pipeline on simulated passages (one thread) and score it against their ground truth:
    capture rate by row, complete capture, occupant count, identification (by deciding stage, and by what the
    ledger knew for `sim --history` passages), false matches (1:few and 1:N)."""
    from laneface.evaluation.bench_lane import find_passages, load_truth, score_passages, write_row_chart

    dirs = find_passages(directory)[:limit]
    truths = [load_truth(d) for d in dirs]
    out.mkdir(parents=True, exist_ok=True)
    if results is not None:
        try:
            lines = [json.loads(x) for x in results.read_text(encoding="utf-8").splitlines() if x.strip()]
        except (OSError, ValueError) as exc:
            raise InvalidDatasetError(f"cannot read results {results}: {exc}") from None
    else:
        settings = settings_with_lane(ctx, detector=detector, embedder=embedder, profile=profile, few_fmr=few_fmr)
        lines = _run_lane_pipeline(settings, store_of(ctx), dirs, out / "results.jsonl", ledger=ledger)
    report = score_passages(lines, truths)
    data = report.as_json()
    data["passages_dir"] = str(directory)
    wall = sum(float(str(x.get("bench_wall_s", 0.0))) for x in lines)
    if wall > 0 and report.video_s > 0:  # measured around process(), decoding included
        data["wall_s"] = round(wall, 3)
        data["wall_per_video_s"] = round(wall / report.video_s, 4)
    chart = write_row_chart(report, out / "capture_by_row.png")
    data["chart"] = str(chart)
    (out / "bench_lane.json").write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if as_json:
        emit_json(data)
        return
    for mode in ("1:few", "1:N", "all"):
        m = report.modes[mode]

        def pct(v: float | None) -> str:
            return "-" if v is None else f"{100 * v:.1f} %"

        rows = ", ".join(f"row {r} {pct(v)} (n={m.occupants_by_row[r]})" for r, v in m.capture_by_row.items())
        typer.echo(
            f"{mode}: {m.passages} passages ({m.errors} errors), {m.occupants} occupants | "
            f"capture {pct(m.capture_rate)}"
            f" [{rows}] | complete {pct(m.complete_capture_rate)} | count exact {pct(m.count_exact_rate)} | "
            f"identified {pct(m.correct_identification_rate)} (of captured {pct(m.identified_of_captured_rate)}) | "
            f"false matches {m.false_matches} "
            f"({pct(m.false_match_rate)})"
        )
        if m.capturable_by_row is not None:
            able = ", ".join(f"row {r} {pct(v)}" for r, v in m.capturable_by_row.items())
            typer.echo(
                f"  what the cameras allowed (ground truth): capturable {pct(m.capturable_rate)} [{able}] | "
                f"complete {pct(m.complete_capturable_rate)} | captured of capturable "
                f"{pct(m.captured_of_capturable_rate)}"
            )
        for z in (m.zones or {}).values():
            typer.echo(
                f"  by the end of zone {z.zone} ({z.passages} passages): capture {pct(z.capture_rate)} | complete "
                f"{pct(z.complete_capture_rate)} | capturable {pct(z.capturable_rate)} (complete "
                f"{pct(z.complete_capturable_rate)}) | captured of capturable {pct(z.captured_of_capturable_rate)}"
            )
        if m.decoys:
            typer.echo(
                f"  decoys (printed faces, pets): {m.decoys} planted, {m.decoys_shown} showing half a face or more "
                f"| taken for occupants {m.false_occupants} | spurious occupants in all {m.spurious_occupants}"
            )
        if m.by_stage:
            typer.echo(
                "  identified by stage (of all occupants; false matches): "
                + ", ".join(
                    f"{k} {pct(v['identified'] / m.occupants if m.occupants else None)} ({v['false_matches']})"
                    for k, v in m.by_stage.items()
                )
            )
        if m.by_category:
            typer.echo(
                "  by what the ledger knew (identified of occupants; false matches): "
                + ", ".join(
                    f"{k} {pct(v['identified'] / v['occupants'])} of {v['occupants']} ({v['false_matches']})"
                    for k, v in m.by_category.items()
                )
            )
        if m.stop_to_complete is not None:
            st = m.stop_to_complete

            def sec(v: float | None) -> str:
                return "-" if v is None else f"{v:.1f} s"

            typer.echo(
                f"  from the booth stop to complete capture: {st.complete} of {st.passages} passages complete, "
                f"median {sec(st.median_s)}, p90 {sec(st.p90_s)}"
            )
    if report.few_curve and report.few_curve[0].occupants:
        typer.echo(
            "1:few stage at fixed thresholds (identified / false matches): "
            + ", ".join(
                f"{p.threshold:g}: {100 * (p.identification_rate or 0):.1f} / {100 * (p.false_match_rate or 0):.2f} %"
                for p in report.few_curve
            )
        )
    ratio = report.processing_per_video_s
    cpu = "" if report.cpu_per_video_s is None else f" ({report.cpu_per_video_s:.2f} CPU s)"
    typer.echo(
        f"processing {report.processing_s:.1f} s for {report.video_s:.1f} s of passages: "
        f"{'-' if ratio is None else f'{ratio:.2f}'} s per second of video{cpu}; chart {chart}"
    )


def _run_lane_pipeline(
    settings: Settings, store: ModelStore, dirs: list[Path], path: Path, *, ledger: bool = False
) -> list[dict[str, object]]:
    """The pipeline's result per passage, on one thread (:func:`~laneface.pipeline.passages.process_passages`),
    each line with ``bench_wall_s``, the wall-clock seconds around reading and processing; ``ledger``: with the
    records database's candidate lists."""
    import contextlib

    import cv2

    from laneface.pipeline.lane import LanePipeline
    from laneface.records import migrate
    from laneface.records.candidates import LedgerCandidates
    from laneface.records.service import RecordsService

    cv2.setNumThreads(1)
    settings = settings.model_copy(
        update={
            "detection": settings.detection.model_copy(update={"num_threads": 1}),
            "embedding": settings.embedding.model_copy(update={"num_threads": 1}),
        }
    )

    with contextlib.ExitStack() as stack:
        candidates = None
        if ledger:
            records = stack.enter_context(contextlib.closing(RecordsService.open(settings, None)))
            migrate.require_current(records.engine)  # read only: `records import` made the schema
            candidates = LedgerCandidates.for_lane(records.sessions, settings.lane)
        return _run_passages(LanePipeline.from_settings(settings, store, candidates=candidates), dirs, path)


def _run_passages(pipeline: LanePipeline, dirs: list[Path], path: Path) -> list[dict[str, object]]:
    """Each passage of ``dirs`` through ``pipeline`` (closed at the end), its line written to ``path``."""
    from laneface.pipeline.passages import PassageOutcome, process_passages
    from laneface.progress import progress_bar

    lines: list[dict[str, object]] = []
    with (
        pipeline,
        path.open("w", encoding="utf-8") as fh,
        progress_bar("bench lane passages", total=len(dirs)) as bar,
    ):

        def progress(done: int, outcome: PassageOutcome) -> None:
            log.info("%d/%d %s", done, len(dirs), outcome.directory.name)
            bar(done, len(dirs))

        for outcome in process_passages(pipeline, dirs, progress=progress):
            line: dict[str, object] = {**outcome.as_json(), "bench_wall_s": round(outcome.wall_s, 4)}
            lines.append(line)
            fh.write(json.dumps(line) + "\n")
            fh.flush()
    return lines
