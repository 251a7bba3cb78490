"""FNIR at FPIR by gallery size: real samples below the data's size, synthetic identities scoring as the
impostors do above it; the threshold grows with the gallery and so does FNIR."""

from __future__ import annotations

import numpy as np
import pytest

from laneface.evaluation.lfw_embeddings import LfwEmbeddings
from laneface.evaluation.onen import open_set_scores
from laneface.evaluation.onen_scale import ImpostorSurvival, fnir_by_gallery_size, point
from laneface.gallery.calibration import cross_identity_tail
from laneface.gallery.thresholds import ImpostorTail


def _embeddings(identities: int = 1200, images: int = 3, dim: int = 32, seed: int = 0) -> LfwEmbeddings:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((identities, dim))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vecs, files = [], []
    for i in range(identities):
        for k in range(images):
            v = centres[i] + 0.6 * rng.standard_normal(dim) / np.sqrt(dim)
            vecs.append(v / np.linalg.norm(v))
            files.append(f"P{i:05d}/P{i:05d}_{k + 1:04d}.jpg")
    acquired = np.ones(len(files), bool)
    return LfwEmbeddings(tuple(files), np.asarray(vecs, np.float32), acquired, "toy@1", "none")


def test_the_survival_function_is_counted_then_an_exponential_tail() -> None:
    tail = ImpostorTail(keep=5000)
    scores = np.random.default_rng(1).standard_normal(200_000) * 0.1
    tail.add(scores)
    s = ImpostorSurvival.from_tail(tail, tail_k=500)
    assert s(s.u) == pytest.approx(500 / 200_000, rel=0.01)
    assert s(s.u + 1e-6) == pytest.approx(s(s.u), rel=0.01), "continuous where the tail starts"
    assert s(0.2) == pytest.approx(np.mean(scores >= 0.2), rel=0.05)
    assert s(0.6) < s(0.5) < s(0.45) and s(0.6) > 0


def test_thresholds_and_fnir_grow_with_the_gallery() -> None:
    emb = _embeddings()
    tail = cross_identity_tail(emb.vectors, emb.identities, emb.acquired)
    out = fnir_by_gallery_size(emb, tail, [300, 1200, 12_000, 1_200_000], target=1e-2, tail_k=500)
    points = out["points"]
    assert [p["gallery_size"] for p in points] == [300, 1200, 12_000, 1_200_000]
    assert [p["real_identities"] for p in points] == [300, 1200, 1200, 1200]
    thresholds = [p["threshold"] for p in points]
    assert thresholds == sorted(thresholds) and thresholds[-1] > thresholds[1]
    fnirs = [p["fnir"] for p in points[1:]]
    assert fnirs == sorted(fnirs)
    assert points[-1]["extrapolated"] and not points[1]["extrapolated"]
    for p in points:
        assert p["fpir"] <= 1e-2 + 1e-9
    # the real gallery alone: the model adds nothing and FNIR is the measured one at that threshold
    real = open_set_scores(emb)
    p = point(real, ImpostorSurvival.from_tail(tail, 500), real.gallery_size, 1e-2)
    assert p.fnir == pytest.approx(real.fnir(p.threshold)) and p.fpir == pytest.approx(real.fpir(p.threshold))
    check = out["check"]
    assert abs(check["predicted_from_1000"]["threshold"] - check["measured"]["threshold"]) < 0.05
