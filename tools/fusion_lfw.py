"""Score-level fusion of two recognizers on LFW View-2, from two template caches (issue 16, item 1).

    python tools/fusion_lfw.py --pairs ../shared/data/lfw/pairs.txt CACHE_A.npz CACHE_B.npz

The caches are those of `laneface bench onen --cache` / `laneface calibrate --cache` (one template per LFW
image). Each recognizer's pair scores are z-normalised with the mean and standard deviation of its
non-mated pairs in the nine training folds; fused score = w * z_A + (1 - w) * z_B, with w chosen on the
training folds (grid 0, 0.05, ..., 1) and the decision threshold too, then applied to the held-out fold
(10-fold, as the LFW protocol). Where one recognizer failed to acquire a face, the other's z-score alone
is used; where both failed, the pair is an error. Prints each recognizer alone and the fusion.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import numpy.typing as npt

from laneface.evaluation.lfw import score_pairs
from laneface.evaluation.lfw_embeddings import LfwEmbeddings
from laneface.evaluation.pairs import parse_pairs

F = npt.NDArray[np.float64]
B = npt.NDArray[np.bool_]


def best_threshold(scores: F, labels: B) -> tuple[float, float]:
    """(threshold, accuracy) maximising accuracy; non-finite scores never match."""
    finite = np.unique(scores[np.isfinite(scores)])
    cands = np.concatenate([[-np.inf], (finite[:-1] + finite[1:]) / 2, [np.inf]])
    order = np.argsort(scores)
    s, lab = scores[order], labels[order]
    # accuracy at t = (non-mated below t) + (mated at or above t)
    pos_at_or_above = np.concatenate([np.cumsum(lab[::-1])[::-1], [0]])
    neg_below = np.concatenate([[0], np.cumsum(~lab)])
    idx = np.searchsorted(s, cands, side="left")
    acc = (neg_below[idx] + pos_at_or_above[idx]) / len(s)
    k = int(np.argmax(acc))
    return float(cands[k]), float(acc[k])


def znorm(scores: F, fta: B, labels: B, train: B) -> F:
    imp = scores[train & ~labels & ~fta]
    z = (scores - imp.mean()) / imp.std()
    return np.where(fta, np.nan, z)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--pairs", type=Path, required=True)
    ap.add_argument("caches", type=Path, nargs=2)
    args = ap.parse_args()
    pf = parse_pairs(args.pairs)
    per: list[tuple[str, F, B]] = []
    labels: B | None = None
    folds: npt.NDArray[np.int64] | None = None
    for path in args.caches:
        emb = LfwEmbeddings.load(path)
        index = {}
        for i, f in enumerate(emb.files):
            name, image = f.split("/")
            index[(name, int(image[len(name) + 1 : -4]))] = i
        s, lab, fta, fo = score_pairs(pf, index, emb.vectors, emb.acquired)
        per.append((f"{emb.model_version} ({emb.detector})", s, fta))
        labels, folds = lab, fo
    if labels is None or folds is None:
        raise SystemExit("no pairs")
    grid = np.round(np.arange(0, 1.0001, 0.05), 2)
    results: dict[str, list[float]] = {per[0][0]: [], per[1][0]: [], "fusion": []}
    chosen: list[float] = []
    for k in range(pf.folds):
        test, train = folds == k, folds != k
        zs = [znorm(s, fta, labels, train) for _, s, fta in per]
        for (name, _, _), z in zip(per, zs, strict=True):
            zz = np.where(np.isnan(z), -np.inf, z)
            t, _ = best_threshold(zz[train], labels[train])
            results[name].append(float(((zz[test] >= t) == labels[test]).mean()))
        best = (-1.0, 0.0, 0.0)
        for w in grid:
            fused = np.where(np.isnan(zs[0]), zs[1], np.where(np.isnan(zs[1]), zs[0], w * zs[0] + (1 - w) * zs[1]))
            fused = np.where(np.isnan(fused), -np.inf, fused)
            t, acc = best_threshold(fused[train], labels[train])
            if acc > best[0]:
                best = (acc, float(w), t)
        _, w, t = best
        fused = np.where(np.isnan(zs[0]), zs[1], np.where(np.isnan(zs[1]), zs[0], w * zs[0] + (1 - w) * zs[1]))
        fused = np.where(np.isnan(fused), -np.inf, fused)
        results["fusion"].append(float(((fused[test] >= t) == labels[test]).mean()))
        chosen.append(w)
    for name, accs in results.items():
        a = np.array(accs)
        print(f"{name:60s} accuracy {100 * a.mean():.2f} % +- {100 * a.std():.2f} (10 folds)")
    print(f"weight of the first recognizer chosen per fold: {chosen}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
