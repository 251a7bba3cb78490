"""The public API of the gallery and matching, and what importing them costs."""

from __future__ import annotations

import dataclasses
import subprocess
import sys

import laneface.gallery as gallery
import laneface.matching as matching


def test_public_api_is_pinned() -> None:
    assert sorted(gallery.__all__) == gallery.__all__
    for name in gallery.__all__:
        assert hasattr(gallery, name), name
    assert set(matching.__all__) == {"MatchPolicy", "MatchResult", "Matcher", "Mode"}
    assert {"Gallery", "GalleryConfig", "VectorIndex", "ExactIndex", "FaissIndex", "MilvusIndex"} <= set(
        gallery.__all__
    )


def test_results_are_frozen_dataclasses() -> None:
    for cls in (
        matching.MatchResult,
        matching.MatchPolicy,
        gallery.Candidate,
        gallery.SearchHits,
        gallery.ThresholdSet,
    ):
        assert dataclasses.is_dataclass(cls) and cls.__dataclass_params__.frozen  # type: ignore[attr-defined]
    fields = {f.name for f in dataclasses.fields(matching.MatchResult)}
    assert {"doc_id", "score", "decision", "threshold", "mode", "model_version"} <= fields


def test_importing_loads_no_heavy_backend() -> None:
    code = (
        "import sys, laneface.gallery, laneface.matching, laneface.cli.gallery, laneface.cli.bench_gallery;"
        "heavy = ('faiss', 'pymilvus', 'milvus_lite', 'cv2', 'onnxruntime', 'dlib');"
        "print(','.join(m for m in heavy if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
