"""The whole-gallery (1:N) stage at gallery sizes LFW cannot hold: FNIR at a target FPIR for 10^3-10^6.

LFW gives one real open-set experiment (:mod:`laneface.evaluation.onen`: 5,749 identities). A larger gallery
is that gallery plus ``M = N - G`` synthetic identities, each of which scores against any probe as a
recognizer's impostor does: independently, from the **impostor score distribution** measured on every
cross-identity pair of LFW images (tens of millions), with an exponential tail fitted to its top
``tail_k`` scores where the comparisons run out (a generalised Pareto tail of shape 0). Then, per search:

* a non-mated search is a false positive at t when its real best score is >= t or any of the M synthetic
  ones is: ``FPIR(t) = 1 - mean(real best < t) * (1 - S(t))^M``, S the impostor survival function;
* a mated search succeeds at t when its mate ranks first with a score s >= t among the real entries and no
  synthetic one scores s or more: ``1 - FNIR(t) = mean(hit and s >= t) * (1 - S(s))^M``.

The threshold at the target FPIR is solved for, and FNIR reported there. Smaller galleries are real: a
seeded sample of LFW identities. The synthetic part assumes what 1:N thresholds from the FMR curve assume,
that a probe's impostor scores are independent of each other; the real part keeps every dependence. The
model is checked where both exist: from a real sample of 1,000 identities, predicting the full gallery. On
LFW with SFace it predicts too low a threshold there (real look-alikes, relatives and twins, make the top
impostor scores of a search depend on each other), so the figures above LFW's size are lower bounds of FNIR.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from laneface.evaluation.lfw_embeddings import LfwEmbeddings
from laneface.evaluation.onen import OpenSetScores, open_set_scores
from laneface.gallery.thresholds import ImpostorTail

__all__ = ["ImpostorSurvival", "ScalePoint", "fnir_by_gallery_size", "sample_identities"]


@dataclass(frozen=True)
class ImpostorSurvival:
    """``S(t)``, the share of impostor comparisons scoring ``t`` or more: counted down to the ``tail_k``-th
    highest score, an exponential fitted to the ``tail_k`` highest above it."""

    top: npt.NDArray[np.float64]  # highest scores, descending
    n: int  # comparisons
    u: float  # where the fitted tail starts: the tail_k-th highest score
    scale: float  # its mean excess

    @classmethod
    def from_tail(cls, tail: ImpostorTail, tail_k: int = 2000) -> ImpostorSurvival:
        top = tail.top().astype(np.float64)
        k = min(tail_k, top.size)
        if k < 10:
            raise ValueError(f"too few impostor scores for a tail ({top.size})")
        u = float(top[k - 1])
        return cls(top, tail.n, u, max(float(np.mean(top[:k] - u)), 1e-9))

    def __call__(self, t: float) -> float:
        if t <= self.u:  # counted: at least tail_k scores are >= t
            above = int(np.searchsorted(-self.top, -t, side="right"))
            if above < self.top.size:
                return above / self.n
            return min(1.0, self.top.size / self.n) if t > -1.0 else 1.0  # below what was kept: coarse, not used
        k = int(np.searchsorted(-self.top, -self.u, side="right"))
        return (k / self.n) * math.exp(-(t - self.u) / self.scale)


@dataclass(frozen=True)
class ScalePoint:
    gallery_size: int
    real_identities: int  # identities of LFW in it; the rest are synthetic
    threshold: float
    fnir: float
    fpir: float  # at that threshold, by the model (the real part counted)
    impostor_fmr: float  # S(threshold): the per-comparison FMR it needs
    extrapolated: bool  # synthetic identities scored from the fitted tail (beyond the counted comparisons)

    def as_json(self) -> dict[str, Any]:
        out = {k: (round(v, 6) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        out["impostor_fmr"] = float(f"{self.impostor_fmr:.3g}")  # far below 1e-6: significant digits, not places
        return out


def _fpir(s: OpenSetScores, survival: ImpostorSurvival, extra: int, t: float) -> float:
    real_clear = float(np.mean(s.nonmated_best < t))
    return 1.0 - real_clear * (1.0 - survival(t)) ** extra


def _fnir(s: OpenSetScores, survival: ImpostorSurvival, extra: int, t: float) -> float:
    ok = s.mated_hit & (s.mated_score >= t)
    if extra == 0:
        return float(1.0 - np.mean(ok))
    keep = np.array([(1.0 - survival(float(x))) ** extra for x in s.mated_score[ok]])
    return float(1.0 - keep.sum() / s.mated_score.size)


def point(s: OpenSetScores, survival: ImpostorSurvival, gallery_size: int, target: float) -> ScalePoint:
    """FNIR at ``target`` FPIR for the real gallery of ``s`` grown to ``gallery_size`` synthetic-ally."""
    extra = max(0, gallery_size - s.gallery_size)
    lo, hi = -1.0, 1.0
    for _ in range(60):  # FPIR falls as t rises: the smallest t with FPIR <= target
        mid = (lo + hi) / 2
        if _fpir(s, survival, extra, mid) <= target:
            hi = mid
        else:
            lo = mid
    t = hi
    return ScalePoint(
        gallery_size=max(gallery_size, s.gallery_size),
        real_identities=s.gallery_size,
        threshold=t,
        fnir=_fnir(s, survival, extra, t),
        fpir=_fpir(s, survival, extra, t),
        impostor_fmr=survival(t),
        extrapolated=extra > 0 and t > survival.u,
    )


def sample_identities(emb: LfwEmbeddings, identities: int, seed: int = 0) -> LfwEmbeddings:
    """Every image of a seeded sample of ``identities`` identities (all when there are fewer)."""
    names = sorted(set(emb.identities))
    chosen = set(np.random.default_rng(seed).choice(names, size=min(identities, len(names)), replace=False).tolist())
    rows = np.array([i for i, n in enumerate(emb.identities) if n in chosen], np.int64)
    return LfwEmbeddings(
        tuple(emb.files[i] for i in rows), emb.vectors[rows], emb.acquired[rows], emb.model_version, emb.detector
    )


def fnir_by_gallery_size(
    emb: LfwEmbeddings,
    tail: ImpostorTail,
    sizes: Sequence[int],
    *,
    target: float = 1e-3,
    tail_k: int = 2000,
    seed: int = 0,
) -> dict[str, Any]:
    """FNIR at ``target`` FPIR per gallery size (real LFW samples below LFW's size, LFW plus synthetic
    identities above it) and the model's check: the full gallery predicted from a 1,000-identity sample."""
    survival = ImpostorSurvival.from_tail(tail, tail_k)
    full = open_set_scores(emb)
    points = []
    for n in sorted(sizes):
        if n < full.gallery_size:
            points.append(point(open_set_scores(sample_identities(emb, n, seed)), survival, n, target))
        else:
            points.append(point(full, survival, n, target))
    small = open_set_scores(sample_identities(emb, 1000, seed))
    predicted = point(small, survival, full.gallery_size, target)
    measured = point(full, survival, full.gallery_size, target)
    return {
        "model_version": emb.model_version,
        "target_fpir": target,
        "impostor_comparisons": tail.n,
        "tail": {"k": tail_k, "from_score": round(survival.u, 6), "mean_excess": round(survival.scale, 6)},
        "points": [p.as_json() for p in points],
        "check": {"predicted_from_1000": predicted.as_json(), "measured": measured.as_json()},
    }
