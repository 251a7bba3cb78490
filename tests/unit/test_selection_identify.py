"""Best-shot selection (proxy, candidate buffer, ranking, aggregation) and occupant identification
(1:few with assignment, then 1:N; never two occupants on one document)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from lanefakes import MODEL, SizeQuality, colour_vector, matcher_with

from laneface.pipeline.identify import identify
from laneface.quality.base import QualityReport
from laneface.selection import (
    CandidateBuffer,
    FaceCandidate,
    Shot,
    aggregate_templates,
    assess_candidates,
    proxy_score,
    rank_key,
)
from laneface.types import FaceDetections, Template

FRONTAL = np.array([[30, 40], [50, 40], [40, 50], [33, 60], [47, 60]], np.float32)


def test_proxy_prefers_large_frontal_confident_faces() -> None:
    turned = FRONTAL.copy()
    turned[2, 0] = 48  # nose near the right eye
    assert proxy_score(FRONTAL, 0.9) > proxy_score(turned, 0.9)
    assert proxy_score(FRONTAL * 2, 0.9) > proxy_score(FRONTAL, 0.9)
    assert proxy_score(FRONTAL, 0.9) > proxy_score(FRONTAL, 0.5)
    assert proxy_score(np.zeros((5, 2)), 0.9) == 0.0


def _face(scale: float, dx: float = 0.0) -> FaceDetections:
    lm = FRONTAL * scale + np.array([dx, 0], np.float32)
    box = np.array([[lm[:, 0].min() - 10, lm[:, 1].min() - 15, lm[:, 0].max() + 10, lm[:, 1].max() + 10]])
    return FaceDetections(box, lm[None], np.array([0.9], np.float32))


def test_buffer_keeps_the_best_faces_of_each_track_as_patches() -> None:
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, size=(300, 400, 3), dtype=np.uint8)
    buf = CandidateBuffer(keep=2)
    for i, scale in enumerate([1.0, 1.6, 1.2, 2.0]):
        buf.offer("front", 7, i, i / 10, image, _face(scale, dx=5 * i), 0)
    buf.offer("front", 8, 0, 0.0, image, _face(1.0), 0)
    kept = buf.candidates("front", 7)
    assert [c.frame_index for c in kept] == [3, 1]
    assert len(buf.candidates("front", 8)) == 1 and buf.candidates("left", 7) == []
    c = kept[0]
    # the patch holds the same pixels at the shifted landmarks
    x, y = c.face.landmarks_xy[0, 2]
    ox, oy = c.origin_xy
    assert np.array_equal(c.patch_rgb[int(y), int(x)], image[int(y) + oy, int(x) + ox])
    assert c.patch_rgb.shape[0] < image.shape[0] and c.patch_rgb.flags.c_contiguous
    with pytest.raises(ValueError):
        CandidateBuffer(keep=0)


def _shot(passed: bool, unified: float | None, proxy: float = 0.5, frame: int = 0) -> Shot:
    cand = FaceCandidate(
        "c", 0, frame, 0.0, np.zeros((4, 4, 3), np.uint8), FaceDetections.empty(), (0, 0), proxy, (0.0, 0.0, 4.0, 4.0)
    )
    return Shot(cand, QualityReport({}, unified, "vehicle", passed, ()))


def test_ranking_puts_passing_faces_first_then_unified_score() -> None:
    shots = [_shot(False, 90), _shot(True, 40), _shot(True, 70), _shot(True, None), _shot(True, 70, proxy=0.9)]
    ranked = sorted(shots, key=rank_key, reverse=True)
    assert ranked == [shots[4], shots[2], shots[1], shots[3], shots[0]]


def test_assess_candidates_ranks_by_quality() -> None:
    image = np.zeros((300, 400, 3), np.uint8)
    buf = CandidateBuffer(keep=3)
    for i, scale in enumerate([0.6, 2.0, 1.0]):
        buf.offer("front", 1, i, 0.0, image, _face(scale), 0)
    shots = assess_candidates(SizeQuality(min_side=45), buf.candidates("front", 1))
    assert [s.candidate.frame_index for s in shots] == [1, 2, 0]
    assert shots[0].passed and not shots[2].passed


def test_aggregate_templates_weights_and_normalises() -> None:
    a, b = Template(np.array([1, 0], np.float32), "m"), Template(np.array([0, 1], np.float32), "m")
    t = aggregate_templates([a, b], [3.0, 1.0])
    assert np.linalg.norm(t.vector) == pytest.approx(1.0) and t.vector[0] > t.vector[1] > 0
    assert aggregate_templates([a]).vector.tolist() == [1.0, 0.0]
    assert aggregate_templates([a, b], [0.0, float("nan")]).vector[0] == pytest.approx(2**-0.5)
    with pytest.raises(ValueError):
        aggregate_templates([])
    with pytest.raises(ValueError):
        aggregate_templates([a, Template(np.array([1, 0], np.float32), "other")])


# ------------------------------------------------------------------------------------------ identify

C1, C2, C3, C4 = (200, 0, 0), (0, 200, 0), (0, 0, 200), (90, 90, 0)


def _t(*mix: tuple[tuple[int, int, int], float]) -> Template:
    v = sum(w * colour_vector(c) for c, w in mix)
    return Template(np.asarray(v / np.linalg.norm(v), np.float32), MODEL)


def test_one_document_is_never_given_to_two_occupants(tmp_path: Path) -> None:
    m = matcher_with(tmp_path, {"D1": C1, "D2": C2, "D3": C3})
    # both occupants resemble D1; occupant 0 also resembles D2, occupant 1 does not
    o0 = _t((C1, 1.0), (C2, 0.9))
    o1 = _t((C1, 1.0), (C4, 0.2))
    results = identify(m, [o0, o1], ["D1", "D2"])
    assert [r.doc_id for r in results] == ["D2", "D1"], "the assignment explains both occupants"
    assert {r.decision for r in results} == {"match"} and {r.mode for r in results} == {"one_to_few"}
    # identical occupants: one gets D1, the other goes to 1:N and may not take D1 again
    twins = identify(m, [_t((C1, 1.0)), _t((C1, 1.0))], ["D1"])
    assert sorted(r.decision for r in twins) == ["match", "no_match"]
    assert [r.doc_id for r in twins].count("D1") == 1
    loser = next(r for r in twins if r.decision == "no_match")
    assert loser.mode == "one_to_n" and loser.doc_id is None


def test_unread_document_goes_to_one_to_n_and_outbound_is_one_to_n(tmp_path: Path) -> None:
    m = matcher_with(tmp_path, {"D1": C1, "D2": C2, "D3": C3})
    r = identify(m, [_t((C1, 1.0)), _t((C3, 1.0)), None], ["D1", "NOT-ENROLLED"])
    assert (r[0].doc_id, r[0].mode) == ("D1", "one_to_few")
    assert (r[1].doc_id, r[1].mode, r[1].decision) == ("D3", "one_to_n", "match")
    assert r[2].decision == "not_captured" and r[2].score is None
    out = identify(m, [_t((C2, 1.0)), _t((C4, 1.0))], [])
    assert (out[0].doc_id, out[0].mode) == ("D2", "one_to_n")
    assert out[1].decision == "no_match" and out[1].score is not None and out[1].score < out[1].threshold  # type: ignore[operator]


def test_two_occupants_contesting_one_document_in_one_to_n(tmp_path: Path) -> None:
    m = matcher_with(tmp_path, {"D1": C1, "D2": C2})
    strong, weak = _t((C1, 1.0)), _t((C1, 1.0), (C4, 0.3))
    r = identify(m, [weak, strong], [])
    assert (r[1].doc_id, r[1].decision) == ("D1", "match")
    assert r[0].doc_id != "D1"


def test_empty_gallery_and_no_occupant(tmp_path: Path) -> None:
    m = matcher_with(tmp_path, {})
    r = identify(m, [_t((C1, 1.0))], ["D1"])
    assert r[0].decision == "no_match" and r[0].score is None and r[0].mode == "one_to_n"
    assert identify(m, [], ["D1"]) == []


def test_every_one_to_few_score_is_reported_whatever_the_decision(tmp_path: Path) -> None:
    m = matcher_with(tmp_path, {"D1": C1, "D2": C2, "D3": C3})
    r = identify(m, [_t((C1, 1.0)), _t((C3, 1.0)), None], ["D1", "D2", "NOT-ENROLLED"])
    assert [d for d, _ in r[0].few_scores] == ["D1", "D2"], "enrolled documents read in the lane, best first"
    assert r[0].few_scores[0][1] == pytest.approx(r[0].score)
    assert r[1].mode == "one_to_n" and {d for d, _ in r[1].few_scores} == {"D1", "D2"}
    assert r[1].few_scores[0][1] >= r[1].few_scores[1][1]
    assert r[2].few_scores == ()
    assert identify(m, [_t((C1, 1.0))], [])[0].few_scores == ()
    from laneface.pipeline.result import match_line

    as_json = match_line(r[0])["few_scores"]
    assert isinstance(as_json, list) and as_json[0]["doc_id"] == "D1"
