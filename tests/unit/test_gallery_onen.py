"""The LFW open-set protocol and the calibrations on hand-made templates whose figures are known."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from laneface.errors import GalleryError
from laneface.evaluation.lfw_embeddings import LfwEmbeddings, LfwErratum, lfw_errata, without_label_errors
from laneface.evaluation.onen import calibrate_from_lfw, lfw_open_set, open_set_scores, select_lfw_files
from laneface.gallery.calibration import calibrate_from_gallery, cross_identity_tail
from laneface.gallery.metadata import DuplicateFlag
from laneface.gallery.store import Gallery, GalleryConfig
from laneface.gallery.thresholds import ThresholdSet
from laneface.types import Template

E = np.eye(8, dtype=np.float32)


def _u(v: np.ndarray) -> np.ndarray:
    return (v / np.linalg.norm(v)).astype(np.float32)


def _embeddings() -> LfwEmbeddings:
    rows = [
        ("A/A_0001.jpg", E[0]),
        ("A/A_0002.jpg", E[0]),
        ("A/A_0003.jpg", _u(E[0] + E[1])),
        ("B/B_0001.jpg", E[2]),
        ("B/B_0002.jpg", _u(E[2] + 0.5 * E[0])),
        ("C/C_0001.jpg", E[3]),
        ("D/D_0001.jpg", None),  # no face: D is not enrolled
        ("D/D_0002.jpg", E[4]),
        ("E/E_0001.jpg", E[5]),
        ("E/E_0002.jpg", None),  # no face: a failed mated search
    ]
    vecs = np.stack([v if v is not None else np.zeros(8, np.float32) for _, v in rows])
    acquired = np.array([v is not None for _, v in rows])
    return LfwEmbeddings(tuple(f for f, _ in rows), vecs, acquired, "toy@v1", "toy-detector")


def test_open_set_protocol_counts_and_rates() -> None:
    s = open_set_scores(_embeddings())
    assert (s.identities, s.gallery_size, s.gallery_fte, s.probe_fta) == (5, 4, 1, 2)
    np.testing.assert_allclose(s.mated_score[:3], [1.0, np.sqrt(0.5), 2 / np.sqrt(5)], atol=1e-6)
    assert np.isneginf(s.mated_score[3]) and s.mated_hit.tolist() == [True, True, True, False]
    assert s.nonmated_best.size == 10
    assert s.nonmated_best[4] == pytest.approx(1 / np.sqrt(5), abs=1e-6)  # B_0002 against A, B left out
    assert np.isneginf(s.nonmated_best[[6, 9]]).all()
    assert s.fnir(-np.inf) == 0.25 and s.fpir(0.3) == 0.1 and s.fpir(0.5) == 0.0


def test_open_set_result_reports_fnir_at_fpir_and_checks_stored_thresholds() -> None:
    stored = ThresholdSet("toy@v1", 10**6, ((1e-2, 0.2), (1e-3, 0.3), (1e-4, 0.5), (1e-5, 0.9)), source="unit")
    r = lfw_open_set(_embeddings(), thresholds=stored)
    assert (r.gallery_size, r.mated_searches, r.nonmated_searches) == (4, 4, 10)
    assert r.rank1_identification_rate == 0.75
    # 10 non-mated searches: FPIR 1e-2 allows none, so the threshold sits just above B_0002's 0.447
    assert r.threshold_at_fpir["0.01"] == pytest.approx(1 / np.sqrt(5), abs=1e-6)
    assert r.fpir_reached["0.01"] == 0.0 and r.fnir_at_fpir["0.01"] == 0.25
    check = r.stored_threshold_check
    assert check is not None and check["threshold"] in (0.3, 0.5)  # FMR for FPIR 1e-3 at N=4 ~ 2.5e-4
    assert r.top_nonmated[0]["probe"] == "B/B_0002.jpg" and r.top_nonmated[0]["gallery"] == "A/A_0001.jpg"
    assert "FNIR at FPIR 0.001" in r.summary()


def test_lfw_calibration_uses_every_cross_identity_pair_of_acquired_images() -> None:
    emb = _embeddings()
    tail = cross_identity_tail(emb.vectors, emb.identities, emb.acquired, block=3)
    assert tail.n == 8 * 7 // 2 - 3 - 1  # A has 3 same-identity pairs, B one
    ts = calibrate_from_lfw(emb, "toy")
    assert ts.comparisons == 24 and ts.model_version == "toy@v1"
    assert ts.fpir is not None and ts.fpir.gallery_size == 3 and ts.fpir.searches == 10
    assert [f for f, _ in ts.fmr] == [0.2, 0.1, 0.05]  # deeper FMRs need more than 24 comparisons


def test_label_errors_are_left_out_of_the_lfw_calibration() -> None:
    emb = _embeddings()
    # B_0002 "is" A: its non-mated search against A is the highest impostor score of the toy set
    cleaned, removed = without_label_errors(emb, [LfwErratum(("B/B_0002.jpg", "Z/Z_0001.jpg"), "shows A")])
    assert removed == 1 and "B/B_0002.jpg" not in cleaned.files and len(cleaned.files) == len(emb.files) - 1
    assert cleaned.vectors.shape == (9, 8) and cleaned.acquired.tolist() == [
        f != "E/E_0002.jpg" and f != "D/D_0001.jpg" for f in cleaned.files
    ]
    assert open_set_scores(cleaned).nonmated_best.max() < open_set_scores(emb).nonmated_best.max()
    assert without_label_errors(emb, []) == (emb, 0)


def test_the_shipped_lfw_errata_name_lfw_files() -> None:
    errata = lfw_errata()
    assert len(errata) >= 10 and all(e.reason for e in errata)
    files = [f for e in errata for f in e.files]
    assert len(files) == len(set(files))
    for f in files:
        name, image = f.split("/")
        assert image.startswith(name + "_") and image.endswith(".jpg") and image[len(name) + 1 : -4].isdigit()


def test_gallery_calibration_leaves_out_self_and_flagged_duplicates(tmp_path: Path) -> None:
    with Gallery.open(tmp_path, "toy@v1", config=GalleryConfig(backend="exact")) as g:
        with pytest.raises(GalleryError, match="needs more"):
            calibrate_from_gallery(g)
        for i in range(5):
            g.enrol(f"D{i}", Template(E[i], "toy@v1"))
        ts = calibrate_from_gallery(g, searches=5)
        assert ts.comparisons == 20 and ts.fpir is not None and ts.fpir.gallery_size == 4
        g.enrol("D5", Template(E[0], "toy@v1"), duplicate_flags=[DuplicateFlag("D5", "D0", 1.0, 0.9)])
        ts2 = calibrate_from_gallery(g, searches=6)
        assert ts2.comparisons == 6 * 5 - 2  # the D0~D5 pair is one person: not an impostor pair
        assert max(t for _, t in ts2.fmr) < 0.5


def test_identity_sample_is_seeded_and_keeps_whole_identities(tmp_path: Path) -> None:
    for name, n in (("Ann", 2), ("Bob", 1), ("Cid", 3), ("Dee", 1)):
        (tmp_path / name).mkdir()
        for i in range(1, n + 1):
            (tmp_path / name / f"{name}_{i:04d}.jpg").write_bytes(b"x")
    everything = select_lfw_files(tmp_path)
    assert len(everything) == 7 and everything[0] == "Ann/Ann_0001.jpg"
    two = select_lfw_files(tmp_path, identities=2, seed=1)
    assert two == select_lfw_files(tmp_path, identities=2, seed=1)
    names = {f.split("/")[0] for f in two}
    assert len(names) == 2 and all(f in everything for f in two)
    assert sum(f.startswith(n) for n in names for f in everything) == len(two)


def test_lfw_embeddings_round_trip(tmp_path: Path) -> None:
    emb = _embeddings()
    emb.save(tmp_path / "e.npz")
    back = LfwEmbeddings.load(tmp_path / "e.npz")
    assert back.files == emb.files and back.model_version == "toy@v1" and back.detector == "toy-detector"
    np.testing.assert_array_equal(back.vectors, emb.vectors)
    np.testing.assert_array_equal(back.acquired, emb.acquired)


class _Det:
    name = "toy-detector"

    def detect(self, image_rgb: np.ndarray):  # type: ignore[no-untyped-def]
        from laneface.quality.template import QUALITY_128
        from laneface.types import FaceDetections

        if image_rgb.max() == 0:
            return FaceDetections.empty(self.name)
        lms = (QUALITY_128.as_array() + 36).astype(np.float32)[None]
        return FaceDetections(np.array([[40, 40, 160, 160]], np.float32), lms, np.array([0.9], np.float32))


class _Emb:
    name = "toy"
    model_version = "toy@v1"

    def __init__(self, fail_after: int | None = None) -> None:
        from laneface.alignment import template

        self.alignment = template("arcface_112")
        self.calls = 0
        self.fail_after = fail_after

    def crops(self, image_rgb: np.ndarray, detections):  # type: ignore[no-untyped-def]
        from laneface.embedding.base import template_crops

        return template_crops(image_rgb, detections, self.alignment)

    def embed(self, crops):  # type: ignore[no-untyped-def]
        from laneface.types import TemplateBatch

        self.calls += 1
        if self.fail_after is not None and self.calls > self.fail_after:
            raise KeyboardInterrupt
        v = np.array([c[40:70, 40:70].mean() + 1.0 for c in crops] + [1.0], np.float32)[None, :2]
        return TemplateBatch(v / np.linalg.norm(v), "toy@v1")


def test_embed_lfw_checkpoints_resumes_and_reuses_its_cache(tmp_path: Path) -> None:
    from PIL import Image

    from laneface.evaluation.lfw_embeddings import embed_lfw, lfw_image_list

    root = tmp_path / "lfw"
    for i, name in enumerate(["Ann", "Bob", "Cid"]):
        (root / name).mkdir(parents=True)
        for j in range(2):
            value = 0 if (name, j) == ("Bob", 1) else 40 * (i + 1) + j
            Image.fromarray(np.full((200, 200, 3), value, np.uint8)).save(root / name / f"{name}_{j + 1:04d}.jpg")
    files = lfw_image_list(root)
    cache = tmp_path / "cache.npz"
    with pytest.raises(KeyboardInterrupt):
        embed_lfw(root, files, _Det(), _Emb(fail_after=3), cache=cache, checkpoint=2)  # type: ignore[arg-type]
    assert list(tmp_path.glob("cache.npz.partial-*.npz")) and not cache.exists()
    emb = _Emb()
    seen: list[tuple[int, int]] = []
    result = embed_lfw(root, files, _Det(), emb, cache=cache, checkpoint=2, progress=lambda d, t: seen.append((d, t)))  # type: ignore[arg-type]
    assert emb.calls == 2  # two done before the interruption; Bob_0002 has no face
    assert seen[-1] == (6, 6) and result.acquired.tolist() == [True, True, True, False, True, True]
    assert cache.is_file() and not list(tmp_path.glob("cache.npz.partial-*.npz"))
    again = _Emb()
    assert embed_lfw(root, files, _Det(), again, cache=cache).files == result.files  # type: ignore[arg-type]
    assert again.calls == 0
