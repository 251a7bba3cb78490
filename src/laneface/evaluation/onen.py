"""Open-set 1:N identification on LFW: FNIR at FPIR (ISO/IEC 19795-1 terms), from a command.

Protocol (every choice is fixed; nothing is dropped silently):

* **gallery**: the first image (``Name_0001.jpg``) of every identity, one entry per identity (5,749 for
  the whole of LFW). An identity whose first image has no detectable face is not enrolled (gallery FTE,
  counted) and its other images are used as non-mated probes only;
* **mated searches**: every other image of an enrolled identity (7,484 for LFW). A mated search succeeds
  at threshold t when its rank-1 candidate is its own identity's entry with score >= t. A probe without
  a detectable face (FTA) is a failed mated search. ``FNIR(t)`` = failed / mated searches;
* **non-mated searches**: every image (13,233), searched with its own identity's entry left out of the
  gallery (the top-2 are retrieved and that entry dropped), i.e. against a gallery of N-1 identities none
  of which is the probe's. A search is a false positive at t when its best remaining score is >= t; an FTA
  probe never is. ``FPIR(t)`` = false positives / non-mated searches. Using each image for a mated and a
  non-mated search is legitimate: the two are different experiments (identity enrolled or not);
* the threshold at a target FPIR is the smallest with FPIR <= target on these searches
  (:func:`~laneface.gallery.scores.threshold_at_fmr` applied to the best non-mated scores); FNIR is
  reported there, with the rank-1 identification rate (FNIR at threshold -inf, closed set);
* when thresholds for the model version are stored, the 1:N threshold the Matcher would use at FPIR 1e-3
  for this gallery size is checked too (FPIR and FNIR measured at it; in-sample when those thresholds were
  calibrated on the same LFW run), and so is the threshold the FMR curve gives through
  ``FPIR = 1 - (1 - FMR)^N``, which tests that independence assumption.

Search is exact (FAISS flat: the gallery is small), so the figures are those of the recognizer.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from laneface.errors import CalibrationRangeError
from laneface.evaluation.lfw_embeddings import LfwEmbeddings, lfw_image_list
from laneface.gallery.calibration import calibrated_at_now, cross_identity_tail
from laneface.gallery.faiss_index import FaissConfig, FaissIndex
from laneface.gallery.scores import threshold_at_fmr
from laneface.gallery.thresholds import FpirCurve, ThresholdSet, fmr_for_fpir, fpir_points

__all__ = [
    "OpenSetResult",
    "OpenSetScores",
    "calibrate_from_lfw",
    "lfw_open_set",
    "open_set_scores",
    "select_lfw_files",
]

FPIR_TARGETS = (1e-3, 2e-3, 5e-3, 1e-2)


def select_lfw_files(lfw_dir: Path, *, identities: int | None = None, seed: int = 0) -> list[str]:
    """All LFW files, or every file of a seeded random sample of ``identities`` identities."""
    files = lfw_image_list(lfw_dir)
    if identities is None:
        return files
    names = sorted({f.split("/", 1)[0] for f in files})
    rng = np.random.default_rng(seed)
    chosen = set(rng.choice(names, size=min(identities, len(names)), replace=False).tolist())
    return [f for f in files if f.split("/", 1)[0] in chosen]


@dataclass(frozen=True, eq=False)
class OpenSetScores:
    """Raw outcome of the searches: what every figure is computed from."""

    gallery_size: int
    gallery_fte: int
    identities: int
    mated_score: npt.NDArray[np.float64]  # rank-1 score of each mated search (-inf: FTA)
    mated_hit: npt.NDArray[np.bool_]  # rank-1 is the mate
    nonmated_best: npt.NDArray[np.float64]  # best score without the own identity (-inf: FTA / none)
    nonmated_entry: npt.NDArray[np.int64]  # file row of the gallery image that gave it (-1: none)
    probe_fta: int

    def fnir(self, threshold: float) -> float:
        return float(1.0 - np.mean(self.mated_hit & (self.mated_score >= threshold)))

    def fpir(self, threshold: float) -> float:
        return float(np.mean(self.nonmated_best >= threshold))


def open_set_scores(emb: LfwEmbeddings) -> OpenSetScores:
    identities = np.array(emb.identities)
    names, first = np.unique(identities, return_index=True)  # files are sorted: first = *_0001
    enrolled = emb.acquired[first]
    gallery_rows = first[enrolled]
    entry_of = {str(n): i for i, n in enumerate(names[enrolled])}  # identity -> index id
    dim = emb.vectors.shape[1]
    index = FaissIndex(dim, FaissConfig(kind="flat"))
    index.add(np.arange(gallery_rows.size, dtype=np.int64), emb.vectors[gallery_rows])
    hits = index.search(emb.vectors, 2)
    own = np.array([entry_of.get(str(n), -2) for n in identities], np.int64)
    acquired = emb.acquired
    # non-mated: drop the own identity's entry from the top-2
    top_is_own = hits.ids[:, 0] == own
    best = np.where(top_is_own, hits.scores[:, 1], hits.scores[:, 0]).astype(np.float64)
    best_id = np.where(top_is_own, hits.ids[:, 1], hits.ids[:, 0])
    entry = np.where(best_id >= 0, gallery_rows[np.maximum(best_id, 0)], -1).astype(np.int64)
    best[~acquired] = -np.inf
    best[~np.isfinite(best)] = -np.inf
    # mated: non-first images of enrolled identities
    is_first = np.zeros(len(identities), bool)
    is_first[first] = True
    mated = (~is_first) & (own >= 0)
    mated_score = np.where(acquired[mated], hits.scores[mated, 0], -np.inf).astype(np.float64)
    mated_hit = (hits.ids[mated, 0] == own[mated]) & acquired[mated]
    return OpenSetScores(
        gallery_size=int(gallery_rows.size),
        gallery_fte=int((~enrolled).sum()),
        identities=int(names.size),
        mated_score=mated_score,
        mated_hit=mated_hit,
        nonmated_best=best,
        nonmated_entry=entry,
        probe_fta=int((~acquired).sum()),
    )


@dataclass(frozen=True)
class OpenSetResult:
    model_version: str
    detector: str
    sample: str
    identities: int
    gallery_size: int
    gallery_fte: int
    mated_searches: int
    nonmated_searches: int
    probe_fta: int
    rank1_identification_rate: float
    fnir_at_fpir: dict[str, float]
    threshold_at_fpir: dict[str, float]
    fpir_reached: dict[str, float]
    stored_threshold_check: dict[str, Any] | None = None
    fmr_formula_check: dict[str, Any] | None = None  # threshold at FMR = 1 - (1 - FPIR)^(1/N) of the FMR curve
    top_nonmated: list[dict[str, Any]] = field(default_factory=list)  # the highest non-mated scores, for audit
    notes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        return asdict(self)

    def summary(self) -> str:
        lines = [
            f"{self.model_version} ({self.detector}), LFW {self.sample}: gallery {self.gallery_size} identities "
            f"(gallery FTE {self.gallery_fte}), {self.mated_searches} mated and {self.nonmated_searches} non-mated "
            f"searches, probe FTA {self.probe_fta}",
            f"rank-1 identification rate (closed set): {self.rank1_identification_rate:.4f}",
        ]
        for key, fnir in self.fnir_at_fpir.items():
            lines.append(
                f"FNIR at FPIR {key}: {fnir:.4f} (threshold {self.threshold_at_fpir[key]:.4f}, "
                f"FPIR reached {self.fpir_reached[key]:.5f})"
            )
        if self.stored_threshold_check:
            c = self.stored_threshold_check
            lines.append(
                f"stored thresholds at FPIR {c['target_fpir']:g} for {self.gallery_size} entries: threshold "
                f"{c['threshold']:.4f} -> measured FPIR {c['fpir']:.5f}, FNIR {c['fnir']:.4f}"
            )
        if self.fmr_formula_check:
            c = self.fmr_formula_check
            lines.append(
                f"FMR curve via FPIR = 1-(1-FMR)^N: FMR {c['fmr']:.3g} -> threshold {c['threshold']:.4f} -> "
                f"measured FPIR {c['fpir']:.5f}, FNIR {c['fnir']:.4f}"
            )
        if self.top_nonmated:
            lines.append("highest non-mated scores (often LFW label errors: one person under two names):")
            lines.extend(f"  {t['score']:.3f} {t['probe']} ~ {t['gallery']}" for t in self.top_nonmated[:10])
        lines.extend(self.notes)
        return "\n".join(lines)


def calibrate_from_lfw(emb: LfwEmbeddings, source: str) -> ThresholdSet:
    tail = cross_identity_tail(emb.vectors, emb.identities, emb.acquired)
    scores = open_set_scores(emb)
    fpir = FpirCurve(
        gallery_size=scores.gallery_size - 1,
        searches=int(scores.nonmated_best.size),
        points=fpir_points(scores.nonmated_best),
        source=f"{source}: open-set non-mated searches, first image per identity as gallery",
    )
    return ThresholdSet(
        model_version=emb.model_version,
        comparisons=tail.n,
        fmr=tail.fmr_points(),
        fpir=fpir,
        source=f"{source}: cross-identity pairs of {int(emb.acquired.sum())} images (detector {emb.detector})",
        calibrated_at=calibrated_at_now(),
    )


def lfw_open_set(emb: LfwEmbeddings, *, thresholds: ThresholdSet | None = None, sample: str = "all") -> OpenSetResult:
    s = open_set_scores(emb)
    fnir: dict[str, float] = {}
    thr: dict[str, float] = {}
    reached: dict[str, float] = {}
    for target in FPIR_TARGETS:
        key = f"{target:g}"
        t = float(threshold_at_fmr(s.nonmated_best, target))
        thr[key], fnir[key], reached[key] = t, s.fnir(t), s.fpir(t)
    check = None
    formula = None
    notes: list[str] = []
    if thresholds is not None:
        try:
            t = thresholds.at_fpir(1e-3, s.gallery_size)
            check = {
                "target_fpir": 1e-3,
                "threshold": t,
                "fpir": s.fpir(t),
                "fnir": s.fnir(t),
                "source": thresholds.source,
            }
        except CalibrationRangeError as exc:
            notes.append(f"stored thresholds not checked: {exc}")
        fmr = fmr_for_fpir(1e-3, max(1, s.gallery_size - 1))
        try:
            t = thresholds.at_fmr(fmr)
            formula = {"target_fpir": 1e-3, "fmr": fmr, "threshold": t, "fpir": s.fpir(t), "fnir": s.fnir(t)}
        except CalibrationRangeError as exc:
            notes.append(f"FMR-derived 1:N threshold not checked: {exc}")
    order = np.argsort(-s.nonmated_best, kind="stable")[:20]
    top = [
        {"score": round(float(s.nonmated_best[i]), 4), "probe": emb.files[i], "gallery": emb.files[s.nonmated_entry[i]]}
        for i in order
        if np.isfinite(s.nonmated_best[i])
    ]
    return OpenSetResult(
        model_version=emb.model_version,
        detector=emb.detector,
        sample=sample,
        identities=s.identities,
        gallery_size=s.gallery_size,
        gallery_fte=s.gallery_fte,
        mated_searches=int(s.mated_score.size),
        nonmated_searches=int(s.nonmated_best.size),
        probe_fta=s.probe_fta,
        rank1_identification_rate=round(1.0 - s.fnir(-np.inf), 5),
        fnir_at_fpir={k: round(v, 5) for k, v in fnir.items()},
        threshold_at_fpir={k: round(v, 6) for k, v in thr.items()},
        fpir_reached={k: round(v, 6) for k, v in reached.items()},
        stored_threshold_check=check,
        fmr_formula_check=formula,
        top_nonmated=top,
        notes=notes,
    )
