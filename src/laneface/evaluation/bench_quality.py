"""`laneface bench quality`: fit the unified quality score on degraded LFW and prove it with EDC curves.

Data (LFW View-2 ``pairs.txt``; only the mated pairs are used):

* **reference** = the pair's first image, clean; **probe** = its second image, degraded with a seeded
  :func:`~laneface.evaluation.degrade.random_degradation` (the generator is seeded by (seed, pair, repeat),
  so a probe does not depend on which other pairs run);
* the **threshold** is fixed at FMR = ``target_fmr`` (default 1e-3) on the impostor comparisons of every
  two clean references (of the pairs used) of different people
  (:func:`~laneface.gallery.scores.threshold_at_fmr`);
* the face nearest the image centre is used (:func:`~laneface.evaluation.lfw.central_face`). A probe where
  no face is found is a **failure to acquire**: its genuine score is ``-inf`` (a false non-match at any
  threshold) and its quality is the lowest (unified 0; discarded first by every measure). A pair whose
  clean reference yields no face is a failure to enrol: it is left out and counted (``reference_fte``);
* the first half of the folds (0-4 of 10; LFW folds are identity-disjoint) **fits** the model, each probe
  degraded ``train_repeats`` times; the EDC figures come from the other half (**held out**), each probe
  degraded ``test_repeats`` times. With ``model`` given nothing is fitted and only the held-out half runs
  (the whole file when it has a single fold).

Single measures are ranked by their raw value in the direction of their 0-100 mapping (``|raw - center|``
for two-sided ones), which orders faces like the scalar without its rounding and saturation; a measure
that failed to assess ranks just above the failures to acquire.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from laneface.alignment import align_face
from laneface.detection.base import FaceDetector
from laneface.embedding.base import FaceEmbedder
from laneface.errors import ConfigError, InvalidDatasetError, InvalidImageError
from laneface.evaluation.degrade import DegradationMix, random_degradation
from laneface.evaluation.edc import EdcCurve, edc_area, edc_curve, oracle_curve, random_discard_curve, save_edc_plot
from laneface.evaluation.lfw import central_face
from laneface.evaluation.pairs import Pair, lfw_image_path, parse_pairs
from laneface.gallery.scores import threshold_at_fmr
from laneface.imageio import read_image
from laneface.quality.base import FaceSample, MeasureResult, QualityMeasure
from laneface.quality.mapping import SigmoidMapping
from laneface.quality.unified import DEFAULT_FEATURES, UnifiedQualityModel, fit_unified_model

__all__ = [
    "REPORT_FRACTIONS",
    "Probe",
    "QualityBenchResult",
    "measure_goodness",
    "run_quality_bench",
    "write_outputs",
]

log = logging.getLogger(__name__)
RgbImage = npt.NDArray[np.uint8]
Progress = Callable[[str], None]

#: Discard fractions reported in the JSON and the text summary.
REPORT_FRACTIONS: tuple[float, ...] = (0.0, 0.05, 0.1, 0.2, 0.3)
MAX_FRACTION = 0.3
_MEASURE_FAILED = float(np.finfo(np.float64).min)  # ranks above -inf (FTA), below every assessed value


@dataclass
class Probe:
    """One degraded probe of one mated pair and everything measured on it."""

    pair: int  # index of the mated pair in the pairs file (0-based, mated pairs only)
    fold: int
    split: str  # "train" or "test"
    repeat: int
    degradation: dict[str, Any]
    acquired: bool = False
    score: float = -math.inf  # cosine similarity with the clean reference; -inf = failure to acquire
    measures: dict[str, MeasureResult] = field(default_factory=dict)
    unified: float = 0.0  # filled once a model exists; 0 for a failure to acquire


@dataclass
class QualityBenchResult:
    """Everything the bench measured; :meth:`summary` is the JSON written and printed."""

    detector: str
    embedder: str
    embedder_version: str
    seed: int
    target_fmr: float
    threshold: float
    impostor_comparisons: int
    references: int
    reference_fte: int
    train_folds: list[int]
    test_folds: list[int]
    probes: list[Probe]
    model: UnifiedQualityModel
    fitted: bool
    fit_info: dict[str, Any]
    curves: dict[str, EdcCurve]
    seconds: dict[str, float]
    mix: DegradationMix = field(default_factory=DegradationMix)

    def summary(self) -> dict[str, Any]:
        test = [p for p in self.probes if p.split == "test"]
        train = [p for p in self.probes if p.split == "train"]
        fnmr0 = self.curves["random"].at(0.0)
        edc: dict[str, Any] = {}
        for name, curve in self.curves.items():
            at = {f"{f:g}": round(curve.at(f), 5) for f in REPORT_FRACTIONS}
            f0, f10 = curve.at(0.0), curve.at(0.1)
            area = edc_area(curve, MAX_FRACTION)
            edc[name] = {
                "fnmr": at,
                "reduction_at_10pct": round(1.0 - f10 / f0, 4) if f0 > 0 else None,
                "area": round(area, 6),
                "area_relative": round(area / (MAX_FRACTION * fnmr0), 4) if fnmr0 > 0 else None,
            }
        singles = [n for n in self.curves if n.startswith("measure:")]
        best_by_10 = min(singles, key=lambda n: self.curves[n].at(0.1)) if singles else None
        best_by_area = min(singles, key=lambda n: edc[n]["area"]) if singles else None
        u10 = self.curves["unified"].at(0.1)
        beats_10 = all(u10 < self.curves[n].at(0.1) for n in singles)
        beats_area = all(edc["unified"]["area"] < edc[n]["area"] for n in singles)
        reduction = edc["unified"]["reduction_at_10pct"]
        return {
            "detector": self.detector,
            "embedder": self.embedder,
            "embedder_version": self.embedder_version,
            "seed": self.seed,
            "target_fmr": self.target_fmr,
            "threshold": self.threshold,
            "impostor_comparisons": self.impostor_comparisons,
            "references": self.references,
            "reference_fte": self.reference_fte,
            "train_folds": self.train_folds,
            "test_folds": self.test_folds,
            "degradation_mix": {
                "none": self.mix.none,
                "double": self.mix.double,
                "severity_power": self.mix.severity_power,
                "kinds": list(self.mix.kinds),
            },
            "unified_model": {"version": self.model.version, "fitted_here": self.fitted, **self.fit_info},
            "train": _split_summary(train, None),
            "test": _split_summary(test, self.threshold),
            "edc": edc,
            "best_single_measure_at_10pct": best_by_10,
            "best_single_measure_by_area": best_by_area,
            "done_when": {
                "reduction_at_10pct": reduction,
                "reduction_at_10pct_at_least_40pct": reduction is not None and reduction >= 0.4,
                "unified_beats_every_single_measure_at_10pct": beats_10,
                "unified_beats_every_single_measure_by_area": beats_area,
            },
            "seconds": {k: round(v, 1) for k, v in self.seconds.items()},
        }


def _split_summary(probes: Sequence[Probe], threshold: float | None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "probes": len(probes),
        "failures_to_acquire": sum(not p.acquired for p in probes),
        "degradations": dict(Counter("+".join(p.degradation["kinds"]) for p in probes).most_common()),
    }
    if threshold is not None and probes:
        by_kind: dict[str, list[Probe]] = {}
        for p in probes:
            for k in p.degradation["kinds"]:
                by_kind.setdefault(k, []).append(p)
        out["fnmr"] = round(float(np.mean([p.score < threshold for p in probes])), 5)
        out["by_degradation"] = {
            k: {
                "probes": len(ps),
                "fnmr": round(float(np.mean([p.score < threshold for p in ps])), 4),
                "mean_unified": round(float(np.mean([p.unified for p in ps])), 1),
            }
            for k, ps in sorted(by_kind.items())
        }
    return out


def measure_goodness(results: Sequence[Mapping[str, MeasureResult]], name: str, mapping: SigmoidMapping) -> Any:
    """Quality of each face by one measure: its raw value oriented like its mapping (higher = better).

    ``x = raw`` (or ``|raw - center|``), times the sign of the mapping's width; a failure to assess gives the
    lowest finite float, an absent measure (no face) ``-inf``.
    """
    out = np.empty(len(results))
    sign = 1.0 if mapping.w > 0 else -1.0
    for i, res in enumerate(results):
        r = res.get(name)
        if r is None:
            out[i] = -math.inf
        elif r.status != "ok" or r.raw is None:
            out[i] = _MEASURE_FAILED
        else:
            x = r.raw if mapping.center is None else abs(r.raw - mapping.center)
            out[i] = sign * x
    return out


def _select_pairs(mated: list[Pair], max_pairs: int | None, seed: int) -> list[int]:
    if max_pairs is None or max_pairs >= len(mated):
        return list(range(len(mated)))
    folds = sorted({p.fold for p in mated})
    per_fold = max(1, max_pairs // len(folds))
    rng = np.random.default_rng([seed, 7])
    chosen: list[int] = []
    for f in folds:
        idx = [i for i, p in enumerate(mated) if p.fold == f]
        chosen.extend(sorted(rng.permutation(idx)[:per_fold].tolist()))
    return sorted(chosen)


def _read(path: Path) -> RgbImage:
    try:
        return read_image(path)
    except InvalidImageError as exc:
        raise InvalidDatasetError(f"LFW image {path} cannot be read: {exc}") from None


class _Embedder:
    """Batches aligned crops; ``done[key]`` holds the template once its batch ran."""

    def __init__(self, embedder: FaceEmbedder, batch: int = 32) -> None:
        self.embedder = embedder
        self.batch = batch
        self.pending: list[tuple[Any, RgbImage]] = []
        self.done: dict[Any, npt.NDArray[np.float32]] = {}

    def add(self, key: Any, image: RgbImage, landmarks: npt.NDArray[np.float32]) -> None:
        self.pending.append((key, align_face(image, landmarks, self.embedder.alignment)))
        if len(self.pending) >= self.batch:
            self.flush()

    def flush(self) -> None:
        if self.pending:
            tb = self.embedder.embed([c for _, c in self.pending])
            for (key, _), v in zip(self.pending, tb.vectors, strict=True):
                self.done[key] = np.asarray(v, dtype=np.float32)
            self.pending.clear()


def _references(
    lfw_dir: Path, keys: list[tuple[str, int]], detector: FaceDetector, embedder: FaceEmbedder, progress: Progress
) -> dict[tuple[str, int], npt.NDArray[np.float32]]:
    emb = _Embedder(embedder)
    for i, key in enumerate(keys):
        image = _read(lfw_image_path(lfw_dir, *key))
        dets = detector.detect(image)
        k = central_face(dets, image.shape[1], image.shape[0])
        if k is not None:
            emb.add(key, image, dets.landmarks_xy[k])
        if (i + 1) % 500 == 0:
            progress(f"references: {i + 1}/{len(keys)}")
    emb.flush()
    return emb.done


def _impostor_scores(refs: dict[tuple[str, int], npt.NDArray[np.float32]]) -> npt.NDArray[np.float64]:
    keys = sorted(refs)
    if len(keys) < 2:
        raise InvalidDatasetError("at least two references with a face are needed for impostor comparisons")
    v = np.stack([refs[k] for k in keys]).astype(np.float32)
    names = np.array([k[0] for k in keys])
    scores = v @ v.T
    iu, ju = np.triu_indices(len(keys), k=1)
    different = names[iu] != names[ju]
    out = np.asarray(scores[iu[different], ju[different]], dtype=np.float64)
    if out.size == 0:
        raise InvalidDatasetError("the references show a single person: no impostor comparisons")
    return out


def _run_probes(
    probes: list[Probe],
    mated: list[Pair],
    lfw_dir: Path,
    refs: dict[tuple[str, int], npt.NDArray[np.float32]],
    detector: FaceDetector,
    embedder: FaceEmbedder,
    measures: Sequence[QualityMeasure],
    mix: DegradationMix,
    seed: int,
    progress: Progress,
) -> None:
    emb = _Embedder(embedder)
    cache: dict[tuple[str, int], RgbImage] = {}
    for n, probe in enumerate(probes):
        pair = mated[probe.pair]
        key = (pair.name_b, pair.index_b)
        if key not in cache:
            cache.clear()
            cache[key] = _read(lfw_image_path(lfw_dir, *key))
        rng = np.random.default_rng([seed, probe.pair, probe.repeat])
        image, probe.degradation = random_degradation(cache[key], rng, mix=mix)
        dets = detector.detect(image)
        k = central_face(dets, image.shape[1], image.shape[0])
        if k is not None:
            sample = FaceSample.from_detection(image, dets, k)
            probe.measures = {m.name: m.measure(sample) for m in measures}
            probe.acquired = True
            emb.add(n, image, dets.landmarks_xy[k])
        if (n + 1) % 500 == 0:
            progress(f"probes: {n + 1}/{len(probes)}")
    emb.flush()
    for n, probe in enumerate(probes):
        if probe.acquired:
            ref = refs[(mated[probe.pair].name_a, mated[probe.pair].index_a)]
            probe.score = float(emb.done[n] @ ref)


def run_quality_bench(
    lfw_dir: Path,
    pairs_path: Path,
    detector: FaceDetector,
    embedder: FaceEmbedder,
    measures: Sequence[QualityMeasure],
    mappings: Mapping[str, SigmoidMapping],
    *,
    model: UnifiedQualityModel | None = None,
    seed: int = 0,
    max_pairs: int | None = None,
    train_repeats: int = 3,
    test_repeats: int = 1,
    target_fmr: float = 1e-3,
    mix: DegradationMix | None = None,
    progress: Progress | None = None,
) -> QualityBenchResult:
    """Run the benchmark described in the module docstring (fits a model unless ``model`` is given)."""
    say: Progress = progress or log.info
    if train_repeats < 1 or test_repeats < 1:
        raise ConfigError("train_repeats and test_repeats must be 1 or more")
    if max_pairs is not None and max_pairs < 1:
        raise ConfigError("max_pairs must be 1 or more")
    mix = mix or DegradationMix()
    started = time.perf_counter()
    pairs_file = parse_pairs(pairs_path)
    mated = [p for p in pairs_file.pairs if p.mated]
    if not mated:
        raise InvalidDatasetError(f"{pairs_path} holds no mated pairs")
    chosen = _select_pairs(mated, max_pairs, seed)
    folds = sorted({mated[i].fold for i in chosen})
    if model is None and len(folds) < 2:
        raise InvalidDatasetError("fitting needs at least two folds: one half fits, the other is held out")
    fitting_half = folds[: len(folds) // 2]
    train_folds = fitting_half if model is None else []
    test_folds = [f for f in folds if f not in fitting_half]
    chosen = [i for i in chosen if mated[i].fold in train_folds or mated[i].fold in test_folds]

    ref_keys = sorted({(mated[i].name_a, mated[i].index_a) for i in chosen})
    t0 = time.perf_counter()
    refs = _references(lfw_dir, ref_keys, detector, embedder, say)
    impostor = _impostor_scores(refs)
    threshold = threshold_at_fmr(impostor, target_fmr)
    say(f"threshold {threshold:.4f} at FMR {target_fmr:g} from {impostor.size} impostor comparisons")
    t_refs = time.perf_counter() - t0

    usable = [i for i in chosen if (mated[i].name_a, mated[i].index_a) in refs]
    probes: list[Probe] = []
    for i in usable:
        split = "train" if mated[i].fold in train_folds else "test"
        for r in range(train_repeats if split == "train" else test_repeats):
            probes.append(Probe(i, mated[i].fold, split, r, {}))
    t0 = time.perf_counter()
    _run_probes(probes, mated, lfw_dir, refs, detector, embedder, measures, mix, seed, say)
    t_probes = time.perf_counter() - t0

    t0 = time.perf_counter()
    fit_info: dict[str, Any]
    if model is None:
        train = [p for p in probes if p.split == "train" and p.acquired]
        x = np.full((len(train), len(DEFAULT_FEATURES)), np.nan)
        for row, p in enumerate(train):
            x[row] = [s.value(p.measures.get(s.measure)) for s in DEFAULT_FEATURES]
        labels = np.array([p.score >= threshold for p in train])
        meta = {
            "model_version": f"unified-gam-1+{detector.name}+{embedder.name}+seed{seed}",
            "target": "P(genuine cosine score >= threshold) of a degraded probe against a clean reference",
            "threshold": threshold,
            "target_fmr": target_fmr,
            "detector": detector.name,
            "embedder": embedder.name,
            "embedder_version": embedder.model_version,
            "dataset": f"LFW View-2 mated pairs, folds {train_folds}, synthetic degradations "
            f"(laneface.evaluation.degrade, seed {seed}, {train_repeats} per probe, none {mix.none:g}, "
            f"double {mix.double:g}, severity power {mix.severity_power:g})",
            "training_pairs": len({p.pair for p in train}),
            "created": time.strftime("%Y-%m-%d", time.gmtime()),
        }
        model, report = fit_unified_model(x, labels, DEFAULT_FEATURES, groups=[p.fold for p in train], metadata=meta)
        fit_info = {
            "l2": report.l2,
            "cv_log_loss": {f"{k:g}": round(v, 5) for k, v in report.cv_log_loss.items()},
            "train_samples": report.samples,
            "train_matched": report.positives,
        }
    else:
        fit_info = {}
    for p in probes:
        p.unified = (model.unified(p.measures) or 0.0) if p.acquired else 0.0
    t_fit = time.perf_counter() - t0

    test = [p for p in probes if p.split == "test"]
    if not test:
        raise InvalidDatasetError("no held-out probes: use more pairs or folds")
    genuine = np.array([p.score for p in test])
    curves: dict[str, EdcCurve] = {
        "unified": edc_curve([p.unified for p in test], genuine, threshold, seed=seed),
        "random": random_discard_curve(genuine, threshold),
        "oracle": oracle_curve(genuine, threshold),
    }
    results = [p.measures for p in test]
    for m in measures:
        mapping = mappings.get(m.name)
        if mapping is not None:
            curves[f"measure:{m.name}"] = edc_curve(
                measure_goodness(results, m.name, mapping), genuine, threshold, seed=seed
            )
    return QualityBenchResult(
        detector=detector.name,
        embedder=embedder.name,
        embedder_version=embedder.model_version,
        seed=seed,
        target_fmr=target_fmr,
        threshold=threshold,
        impostor_comparisons=int(impostor.size),
        references=len(refs),
        reference_fte=len(chosen) - len(usable),
        train_folds=train_folds,
        test_folds=test_folds,
        probes=probes,
        model=model,
        fitted=bool(fit_info),
        fit_info=fit_info,
        curves=curves,
        seconds={
            "references": t_refs,
            "probes": t_probes,
            "fit": t_fit,
            "total": time.perf_counter() - started,
        },
        mix=mix,
    )


def write_outputs(result: QualityBenchResult, out_dir: Path) -> dict[str, Path]:
    """Write ``bench_quality.json``, ``probes.csv``, ``edc.png`` (unified, baselines, the best measures) and
    ``edc_all_measures.png`` into ``out_dir``; returns the paths by role."""
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = result.summary()
    paths = {"json": out_dir / "bench_quality.json", "csv": out_dir / "probes.csv"}
    paths["json"].write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    _write_csv(result, paths["csv"])
    curves = result.curves
    singles = sorted((n for n in curves if n.startswith("measure:")), key=lambda n: edc_area(curves[n]))
    stack = f"{result.detector} + {result.embedder}"
    fnmr0 = curves["random"].at(0.0)
    title = f"EDC, degraded LFW (held out), {stack}\nthreshold {result.threshold:.3f} at FMR {result.target_fmr:g}"
    main = {"unified": curves["unified"]} | {n.removeprefix("measure:"): curves[n] for n in singles[:4]}
    main |= {f"random (FNMR {100 * fnmr0:.1f}%)": curves["random"], "oracle": curves["oracle"]}
    paths["png"] = save_edc_plot(
        main, out_dir / "edc.png", title, emphasise=["unified"], dashed=[n for n in main if n.startswith(("r", "o"))]
    )
    every = {"unified": curves["unified"]} | {n.removeprefix("measure:"): curves[n] for n in singles}
    every["random"] = curves["random"]
    paths["png_all"] = save_edc_plot(
        every, out_dir / "edc_all_measures.png", title, emphasise=["unified"], dashed=["random"]
    )
    return paths


def _write_csv(result: QualityBenchResult, path: Path) -> None:
    names = sorted({n for p in result.probes for n in p.measures})
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh)
        writer.writerow(
            ["pair", "fold", "split", "repeat", "degradations", "severities", "acquired", "score", "unified", *names]
        )
        for p in result.probes:
            raws = [p.measures[n].raw if n in p.measures else None for n in names]
            writer.writerow(
                [
                    p.pair,
                    p.fold,
                    p.split,
                    p.repeat,
                    "+".join(p.degradation.get("kinds", [])),
                    "+".join(f"{s['severity']:.3f}" for s in p.degradation.get("steps", [])),
                    int(p.acquired),
                    "" if not math.isfinite(p.score) else f"{p.score:.5f}",
                    f"{p.unified:.3f}",
                    *("" if v is None else f"{v:.5g}" for v in raws),
                ]
            )
