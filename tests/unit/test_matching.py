"""Matcher decisions at calibrated thresholds (ties match), model-version refusal, threshold data."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laneface.errors import (
    CalibrationRangeError,
    ConfigError,
    DocumentNotFoundError,
    ModelVersionMismatchError,
    UncalibratedModelError,
)
from laneface.gallery.scores import threshold_at_fmr
from laneface.gallery.store import Gallery, GalleryConfig
from laneface.gallery.thresholds import (
    FMR_GRID,
    FpirCurve,
    ImpostorTail,
    ThresholdSet,
    ThresholdTable,
    fmr_for_fpir,
    load_thresholds,
)
from laneface.matching import Matcher, MatchPolicy, MatchResult
from laneface.types import Template

MODEL = "unit-model@v1"


def _t(v: list[float], model: str = MODEL) -> Template:
    a = np.asarray(v, np.float32)
    return Template(a / np.linalg.norm(a), model)


def _thresholds(model: str = MODEL, fpir: FpirCurve | None = None) -> ThresholdSet:
    # FMR 1e-2 -> 0.3, 1e-3 -> 0.5, 1e-4 -> 0.6, 1e-5 -> 0.7, 1e-6 -> 0.8
    return ThresholdSet(model, 10**6, ((1e-2, 0.3), (1e-3, 0.5), (1e-4, 0.6), (1e-5, 0.7), (1e-6, 0.8)), fpir)


@pytest.fixture
def gallery(tmp_path: Path) -> Iterator[Gallery]:
    g = Gallery.open(tmp_path, MODEL, config=GalleryConfig(backend="exact"))
    g.enrol("A", _t([1, 0, 0, 0]))
    g.enrol("B", _t([0, 1, 0, 0]))
    g.enrol("C", _t([0, 0, 1, 0]))
    yield g
    g.close()


def _probe(score_with_a: float) -> Template:
    """A probe whose cosine with A is exactly ``score_with_a`` (float32)."""
    return _t([score_with_a, math.sqrt(1 - score_with_a**2) * 0.6, 0, math.sqrt(1 - score_with_a**2) * 0.8])


def test_verify_matches_at_or_above_the_threshold_and_a_tie_matches(gallery: Gallery) -> None:
    matcher = Matcher(gallery, _thresholds(), MatchPolicy(target_fmr=1e-4))
    assert matcher.verify_threshold == 0.6
    above = matcher.verify(_probe(0.9), "A")
    assert isinstance(above, MatchResult) and above.matched and above.decision == "match"
    assert (above.mode, above.doc_id, above.threshold, above.model_version) == ("verify", "A", 0.6, MODEL)
    assert above.score == pytest.approx(0.9, abs=1e-6)
    assert matcher.verify(_probe(0.3), "A").decision == "no_match"
    # a score exactly equal to the threshold matches (score >= threshold)
    tie = Template(np.array([1, 0, 0, 0], np.float32), MODEL)
    at_one = Matcher(gallery, ThresholdSet(MODEL, 10**6, ((1e-4, 1.0),)), MatchPolicy(target_fmr=1e-4))
    result = at_one.verify(tie, "A")
    assert result.score == 1.0 == result.threshold and result.decision == "match"
    just_above = ThresholdSet(MODEL, 10**6, ((1e-4, float(np.nextafter(np.float32(1.0), np.float32(2.0)))),))
    assert Matcher(gallery, just_above, MatchPolicy(target_fmr=1e-4)).verify(tie, "A").decision == "no_match"


def test_verify_against_a_document_not_enrolled_is_an_error(gallery: Gallery) -> None:
    with pytest.raises(DocumentNotFoundError, match="Z"):
        Matcher(gallery, _thresholds()).verify(_probe(0.9), "Z")


def test_one_to_few_picks_the_best_candidate_and_reports_missing_ones(gallery: Gallery) -> None:
    matcher = Matcher(gallery, _thresholds(), MatchPolicy(target_fmr=1e-4))
    probe = _t([0.2, 0.9, 0.1, 0])
    r = matcher.one_to_few(probe, ["A", "B", "nobody", "B"])
    assert (r.mode, r.decision, r.doc_id, r.missing) == ("one_to_few", "match", "B", ("nobody",))
    assert [c.doc_id for c in r.candidates] == ["B", "A"] and [c.rank for c in r.candidates] == [1, 2]
    assert r.score == pytest.approx(r.candidates[0].score)
    low = matcher.one_to_few(_t([0, 0, 0.3, 1]), ["A", "C"])
    assert low.decision == "no_match" and low.doc_id == "C"  # best candidate reported, below threshold
    none = matcher.one_to_few(probe, ["nobody"])
    assert (none.decision, none.doc_id, none.score, none.candidates) == ("no_match", None, None, ())


def test_one_to_few_threshold_tightens_with_the_number_of_documents(gallery: Gallery) -> None:
    matcher = Matcher(gallery, _thresholds(), MatchPolicy(target_fmr=1e-3))
    assert matcher.one_to_few_threshold(1) == matcher.verify_threshold == 0.5
    assert matcher.one_to_few_threshold(10) == 0.6  # FMR 1e-4 per comparison keeps 10 chances at 1e-3
    probe = _probe(0.55)  # matches A alone, not when A is one of three documents
    assert matcher.one_to_few(probe, ["A"]).decision == "match"
    three = matcher.one_to_few(probe, ["A", "B", "C"])
    assert three.doc_id == "A" and three.decision == "no_match" and three.threshold > 0.5


def test_one_to_few_ties_between_candidates_go_to_the_smaller_doc_id(gallery: Gallery) -> None:
    gallery.enrol("A2", _t([1, 0, 0, 0]))
    r = Matcher(gallery, _thresholds()).one_to_few(_t([1, 0, 0, 0]), ["A2", "A"])
    assert r.doc_id == "A" and r.candidates[0].score == r.candidates[1].score


def test_one_to_n_searches_the_gallery_at_the_fpir_threshold(gallery: Gallery) -> None:
    ts = _thresholds()
    matcher = Matcher(gallery, ts, MatchPolicy(target_fpir=3e-3))
    # 3 entries: FMR = 1 - (1 - 3e-3)^(1/3) ~ 1.0e-3 -> grid 1e-3 (or the stricter 1e-4 on rounding)
    assert matcher.one_to_n_threshold() in (0.5, 0.6)
    r = matcher.one_to_n(_probe(0.95), k=2)
    assert (r.mode, r.decision, r.doc_id) == ("one_to_n", "match", "A")
    assert len(r.candidates) == 2 and r.candidates[0].rank == 1
    miss = matcher.one_to_n(_t([0.1, 0.1, 0.1, 1]))
    assert miss.decision == "no_match" and miss.doc_id is not None


def test_one_to_n_on_an_empty_gallery_is_no_match(tmp_path: Path) -> None:
    with Gallery.open(tmp_path, MODEL, config=GalleryConfig(backend="exact")) as g:
        r = Matcher(g, _thresholds()).one_to_n(_probe(0.9))
        assert (r.decision, r.doc_id, r.score, r.candidates) == ("no_match", None, None, ())


def test_templates_of_another_model_version_are_never_compared(gallery: Gallery) -> None:
    matcher = Matcher(gallery, _thresholds())
    other = _t([1, 0, 0, 0], "other-model@v2")
    for call in (
        lambda: matcher.verify(other, "A"),
        lambda: matcher.one_to_few(other, ["A"]),
        lambda: matcher.one_to_n(other),
        lambda: gallery.search(other, 1),
        lambda: gallery.enrol("X", other),
    ):
        with pytest.raises(ModelVersionMismatchError, match="other-model@v2"):
            call()
    with pytest.raises(ModelVersionMismatchError, match="dimensions"):
        gallery.enrol("X", _t([1, 0, 0, 0, 0]))
    with pytest.raises(ModelVersionMismatchError):
        Matcher(gallery, _thresholds("other-model@v2"))


def test_a_gallery_directory_of_another_model_version_is_refused(tmp_path: Path) -> None:
    with Gallery.open(tmp_path, MODEL) as g:
        g.enrol("A", _t([1, 0, 0, 0]))
    db = tmp_path / "gallery" / MODEL / "gallery.sqlite"
    renamed = tmp_path / "gallery" / "impostor-model@v9"
    renamed.mkdir(parents=True)
    db.rename(renamed / "gallery.sqlite")
    with pytest.raises(ModelVersionMismatchError, match=MODEL):
        Gallery.open(tmp_path, "impostor-model@v9")


def test_unknown_model_version_tells_the_user_to_calibrate(tmp_path: Path) -> None:
    with pytest.raises(UncalibratedModelError, match="laneface calibrate"):
        load_thresholds(tmp_path).get("never-seen@v0")
    with Gallery.open(tmp_path, "never-seen@v0") as g, pytest.raises(UncalibratedModelError):
        Matcher.for_gallery(g, tmp_path)


def test_a_target_deeper_than_the_calibration_is_refused() -> None:
    ts = _thresholds()
    assert ts.at_fmr(1e-6) == 0.8 and ts.at_fmr(3e-4) == 0.6  # between grid points: the stricter one
    with pytest.raises(CalibrationRangeError, match="laneface calibrate"):
        ts.at_fmr(1e-7)
    with pytest.raises(CalibrationRangeError, match="--gallery"):
        ts.at_fpir(1e-3, 10**6)  # needs FMR 1e-9
    with pytest.raises(ConfigError):
        ts.at_fmr(0.0)
    with pytest.raises(ConfigError):
        MatchPolicy(target_fmr=1.5)


def test_a_measured_fpir_curve_serves_galleries_of_about_its_size() -> None:
    ts = _thresholds(fpir=FpirCurve(1000, 5000, ((1e-2, 0.55), (1e-3, 0.65)), "open set"))
    assert ts.at_fpir(1e-3, 1000) == 0.65 and ts.at_fpir(1e-3, 950) == 0.65
    # a much smaller gallery uses the FMR curve: 10 entries at FPIR 1e-3 -> FMR 1e-4 -> 0.6 (laxer than 0.65)
    assert ts.at_fpir(1e-3, 10) == 0.6
    # ... unless its FMR is out of the calibrated range: then the measured (stricter) curve still serves
    deep = _thresholds(fpir=FpirCurve(1000, 5000, ((1e-2, 0.55), (1e-4, 0.75)), "open set"))
    assert deep.at_fpir(1e-4, 200) == 0.75  # needs FMR 5e-7, below the grid (1e-6)
    # a larger gallery falls back to the FMR curve: FMR ~ 1e-3 / 5000 = 2e-7 is out of range here
    with pytest.raises(CalibrationRangeError):
        ts.at_fpir(1e-3, 5000)


def test_fmr_for_fpir_inverts_the_independence_formula() -> None:
    for n in (1, 10, 5749, 10**6):
        f = fmr_for_fpir(1e-3, n)
        assert 1 - (1 - f) ** n == pytest.approx(1e-3, rel=1e-6)
    assert fmr_for_fpir(1e-3, 1000) == pytest.approx(1e-6, rel=1e-3)


def test_threshold_tables_round_trip_and_user_files_override_shipped(tmp_path: Path) -> None:
    ts = _thresholds(fpir=FpirCurve(1000, 5000, ((1e-3, 0.65),), "open set"))
    table = ThresholdTable({}).with_set(ts)
    table.save(tmp_path / "thresholds.json")
    loaded = load_thresholds(tmp_path)
    assert loaded.get(MODEL) == ts
    data = json.loads((tmp_path / "thresholds.json").read_text())
    assert data["format"] == 1 and MODEL in data["models"]
    (tmp_path / "thresholds.json").write_text("{not json")
    with pytest.raises(ConfigError):
        load_thresholds(tmp_path)


def test_shipped_thresholds_load_and_cover_the_default_embedders() -> None:
    table = load_thresholds(None)
    names = {mv.split("@")[0] for mv in table.sets}
    assert {"dlib-resnet", "mobilefacenet"} <= names
    for ts in table.sets.values():
        fmrs = [f for f, _ in ts.fmr]
        thresholds = [t for _, t in ts.fmr]
        assert fmrs == sorted(fmrs, reverse=True) and thresholds == sorted(thresholds)
        assert ts.comparisons > 10**6 and ts.at_fmr(1e-5) > ts.at_fmr(1e-3)


def test_impostor_tail_agrees_with_threshold_at_fmr_in_its_exact_part() -> None:
    rng = np.random.default_rng(3)
    scores = rng.normal(0.0, 0.15, 50_000).astype(np.float32)
    tail = ImpostorTail(keep=2_000)
    for part in np.array_split(scores, 7):
        tail.add(part)
    assert tail.n == scores.size
    for f in (1e-2, 1e-3, 1e-4, 2e-5):
        assert tail.threshold_at(f) == pytest.approx(threshold_at_fmr(scores.astype(np.float64), f), abs=1e-7)
    # histogram part (1e-1 * 50k = 5k > keep): never looser, at most one bin stricter
    exact = threshold_at_fmr(scores.astype(np.float64), 1e-1)
    assert exact <= tail.threshold_at(1e-1) <= exact + 2.0 / (1 << 16) + 1e-7
    points = dict(tail.fmr_points())
    assert min(points) >= 1.0 / scores.size and set(points) <= set(FMR_GRID)


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(-1, 1, width=32), min_size=1, max_size=300),
    st.sampled_from([0.5, 0.1, 0.05, 0.01]),
)
def test_impostor_tail_threshold_never_lets_more_than_the_target_through(values: list[float], fmr: float) -> None:
    scores = np.array(values, np.float32)
    tail = ImpostorTail(keep=50)
    tail.add(scores)
    t = tail.threshold_at(fmr)
    assert np.mean(scores >= t) <= fmr + 1e-12
    assert t >= threshold_at_fmr(scores.astype(np.float64), fmr) - 1e-7


def test_a_long_list_is_read_once_until_the_gallery_changes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from laneface.matching import KEEP_LIST

    rng = np.random.default_rng(3)
    vectors = rng.standard_normal((KEEP_LIST + 4, 8)).astype(np.float32)
    docs = [f"D{i:04d}" for i in range(len(vectors))]
    with Gallery.open(tmp_path, MODEL, config=GalleryConfig(backend="exact")) as g:
        for d, v in zip(docs, vectors, strict=True):
            g.enrol(d, _t(v.tolist()))
        matcher = Matcher(g, _thresholds())
        reads: list[int] = []
        real = g.templates

        def counted(doc_ids: list[str]) -> dict[str, Template]:
            reads.append(len(doc_ids))
            return real(doc_ids)

        monkeypatch.setattr(g, "templates", counted)
        probe = _t(vectors[7].tolist())
        first = matcher.list_scores([probe], docs)
        again = matcher.list_scores([probe], [*reversed(docs), "NOT-ENROLLED"])  # another list: read
        assert matcher.list_scores([probe], docs)[1].tolist() == first[1].tolist()
        assert reads == [len(docs), len(docs) + 1], "the first list was kept"
        assert again[0] == first[0] and np.allclose(again[1], first[1])
        g.enrol("D0007", _t(vectors[8].tolist()))  # the gallery changed: read again, the new template scores
        docs_after, scores = matcher.list_scores([probe], docs)
        assert len(reads) == 3 and scores[0, docs_after.index("D0007")] < 0.99
        matcher.list_scores([probe], docs[:10])  # a short list is not kept
        matcher.list_scores([probe], docs[:10])
        assert reads[3:] == [10, 10]
