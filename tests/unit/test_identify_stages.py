"""Staged identification: the documents read, then the ledger's lists (each at a threshold for its size), then
the whole gallery; no document and no holder is matched twice in one vehicle; plates and their key."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lanefakes import MODEL, colour_vector, gallery_with, thresholds

from laneface.capture.passage import read_passage
from laneface.errors import InvalidPassageError
from laneface.matching import Matcher, MatchPolicy
from laneface.pipeline.candidates import CandidateQuery, FixedCandidates
from laneface.pipeline.identify import CandidateList, identify
from laneface.pipeline.result import match_line
from laneface.plates import PlateRead, plate_key
from laneface.types import Template

C1, C2, C3, C4, C5 = (200, 0, 0), (0, 200, 0), (0, 0, 200), (90, 90, 0), (0, 90, 90)
# the whole gallery at a strict FPIR, short lists at a lenient one: a list of 2 decides far lower
POLICY = MatchPolicy(target_fmr=1e-3, target_fpir=1e-6, target_list_fpir=1e-2)


def _t(*mix: tuple[tuple[int, int, int], float]) -> Template:
    v = sum(w * colour_vector(c) for c, w in mix)
    return Template(np.asarray(v / np.linalg.norm(v), np.float32), MODEL)


@pytest.fixture
def matcher(tmp_path: Path) -> Matcher:
    gallery = gallery_with(tmp_path, {"D1": C1, "D2": C2, "D3": C3, "D4": C4})
    return Matcher(gallery, thresholds(), POLICY)


def _weak(colour: tuple[int, int, int], matcher: Matcher, doc: str) -> Template:
    """A template of ``colour``'s person whose score with ``doc`` lies between a 2-list's and the gallery's
    thresholds (a poor capture of someone the vehicle list knows)."""
    for noise in np.linspace(0.2, 3.0, 57):
        t = _t((colour, 1.0), (C5, float(noise)))
        s = float(t.vector @ matcher.gallery.template(doc).vector)
        if matcher.list_threshold(2) + 0.02 < s < matcher.one_to_n_threshold() - 0.02:
            return t
    raise AssertionError("no such template")


def test_thresholds_grow_with_the_list(matcher: Matcher) -> None:
    assert matcher.list_threshold(2) < matcher.list_threshold(200) <= matcher.one_to_n_threshold() + 1e-9
    # a list too large for the calibration is decided at the strictest threshold the calibration holds
    assert matcher.list_threshold(10**12) == matcher.thresholds.at_fmr(matcher.thresholds.min_fmr)


def test_a_weak_capture_is_matched_by_the_vehicle_list_not_by_the_gallery(matcher: Matcher) -> None:
    weak = _weak(C2, matcher, "D2")
    alone = identify(matcher, [weak], [])[0]
    assert (alone.decision, alone.stage, alone.list_size) == ("no_match", "gallery", 4)
    lists = [CandidateList("vehicle", ("D2", "D3"))]
    staged = identify(matcher, [weak], [], lists=lists)[0]
    assert (staged.decision, staged.doc_id, staged.stage, staged.list_size) == ("match", "D2", "vehicle", 2)
    assert staged.mode == "one_to_few" and staged.threshold == pytest.approx(matcher.list_threshold(2))
    line = match_line(staged)
    assert (line["stage"], line["list_size"]) == ("vehicle", 2)


def test_stages_run_in_order_and_only_for_occupants_still_without_a_document(matcher: Matcher) -> None:
    lists = [CandidateList("vehicle", ("D1", "D2")), CandidateList("open_stays", ("D1", "D2", "D3", "D4"))]
    r = identify(matcher, [_t((C1, 1.0)), _t((C2, 1.0)), _t((C3, 1.0)), None], ["D1"], lists=lists)
    assert [(m.doc_id, m.stage) for m in r[:3]] == [("D1", "documents"), ("D2", "vehicle"), ("D3", "open_stays")]
    assert r[0].list_size == 1 and r[1].list_size == 1, "the vehicle list without D1, already given"
    assert r[2].list_size == 2, "open stays without D1 and D2"
    assert r[3].decision == "not_captured" and r[3].stage is None


def test_a_holder_of_two_documents_is_matched_once(matcher: Matcher) -> None:
    # D1 and D2 are one traveller's passport and card: two look-alikes in the car cannot both be them
    lists = [CandidateList("vehicle", ("D1", "D2"), {"D1": "T1", "D2": "T1"})]
    r = identify(matcher, [_t((C1, 1.0)), _t((C2, 1.0), (C1, 0.1))], [], lists=lists)
    assert sorted(m.decision for m in r) == ["match", "no_match"]
    assert r[0].doc_id == "D1", "the better pair wins"
    assert r[1].stage == "gallery" and r[1].doc_id is None, "the gallery may not give T1's card either"


def test_without_the_gallery_the_last_list_decides(matcher: Matcher) -> None:
    r = identify(matcher, [_t((C3, 1.0))], [], lists=[CandidateList("vehicle", ("D1",))], gallery=False)[0]
    assert (r.decision, r.stage, r.list_size, r.mode) == ("no_match", "vehicle", 1, "one_to_few")
    assert r.score is not None and r.score < r.threshold  # type: ignore[operator]
    nothing = identify(matcher, [_t((C3, 1.0))], [], gallery=False)[0]
    assert nothing.decision == "no_match" and nothing.stage is None
    unknown = identify(matcher, [_t((C3, 1.0))], [], lists=[CandidateList("vehicle", ("NOT-ENROLLED",))])[0]
    assert unknown.stage == "gallery", "a list with nothing enrolled is no stage"


def test_fixed_candidates_answer_the_stages_asked(matcher: Matcher) -> None:
    source = FixedCandidates((CandidateList("open_stays", ("D1",)), CandidateList("vehicle", ("D2",))))
    q = CandidateQuery("L1", "outbound", __import__("datetime").datetime(2026, 1, 1), None, ("vehicle",))
    assert [c.stage for c in source.lists(q)] == ["vehicle"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    faces=st.lists(st.sampled_from([C1, C2, C3, C4, C5]), min_size=1, max_size=5),
    noise=st.lists(st.floats(0.0, 1.5), min_size=5, max_size=5),
    read=st.lists(st.sampled_from(["D1", "D2", "D3", "D4", "NOPE"]), max_size=3),
    vehicle=st.lists(st.sampled_from(["D1", "D2", "D3", "D4"]), max_size=4),
    holders=st.dictionaries(st.sampled_from(["D1", "D2", "D3", "D4"]), st.sampled_from(["T1", "T2"]), max_size=4),
)
def test_no_document_and_no_holder_is_matched_twice_in_a_vehicle(
    matcher: Matcher,
    faces: list[tuple[int, int, int]],
    noise: list[float],
    read: list[str],
    vehicle: list[str],
    holders: dict[str, str],
) -> None:
    templates = [_t((c, 1.0), (C5, n)) for c, n in zip(faces, noise, strict=False)]
    lists = [CandidateList("vehicle", tuple(vehicle), holders), CandidateList("open_stays", ("D1", "D2", "D3", "D4"))]
    result = identify(matcher, templates, read, lists=lists)
    matched = [m for m in result if m.decision == "match"]
    docs = [m.doc_id for m in matched]
    assert len(docs) == len(set(docs))
    later = [holders.get(d, d) for m, d in zip(matched, docs, strict=True) if m.stage != "documents"]
    assert len(later) == len(set(later)), "a holder is matched once by the ledger stages and the gallery"
    for m in result:
        assert m.score is None or m.threshold is None or (m.score >= m.threshold) == (m.decision == "match")


def test_plate_keys_fold_what_readers_confuse() -> None:
    assert plate_key("abc-1O2") == plate_key("A8C 102") == "A8C102"
    assert plate_key("ŽÅ 12") == "12"
    read = PlateRead("BXR 5OQ", "ON", 0.8)
    assert read.key == PlateRead("8XR50O").key
    for bad in ("", " - ", "A" * 17):
        with pytest.raises(ValueError):
            PlateRead(bad)
    for conf in (-0.1, 1.5, float("nan")):
        with pytest.raises(ValueError):
            PlateRead("ABC", None, conf)


def _passage(tmp_path: Path, **extra: object) -> Path:
    (tmp_path / "cam_front").mkdir(exist_ok=True)
    (tmp_path / "cam_front" / "0.png").write_bytes(b"x")
    obj = {
        "passage_id": "P1",
        "lane": "L1",
        "direction": "outbound",
        "started_at": "2026-11-22T15:04:05+00:00",
        "cameras": {"front": {"fps": 10}},
        **extra,
    }
    (tmp_path / "passage.json").write_text(json.dumps(obj))
    return tmp_path


def test_passage_json_carries_an_optional_plate(tmp_path: Path) -> None:
    assert read_passage(_passage(tmp_path)).plate is None
    p = read_passage(_passage(tmp_path, plate={"text": "ab 123", "region": "on", "confidence": 0.7})).plate
    assert p == PlateRead("ab 123", "ON", 0.7)
    assert read_passage(_passage(tmp_path, plate={"text": "XYZ9"})).plate == PlateRead("XYZ9", None, 1.0)
    for bad in (
        "ABC",
        {"text": 12},
        {"text": "--"},
        {"text": "ABC", "confidence": 2},
        {"text": "ABC", "confidence": True},
        {"text": "ABC", "region": 5},
    ):
        with pytest.raises(InvalidPassageError, match="plate"):
            read_passage(_passage(tmp_path, plate=bad))


def test_a_holder_is_matched_once_at_the_documents_stage_too(matcher: Matcher) -> None:
    # a passport card and an enhanced licence of one traveller, both read by RFID; two look-alikes in the car
    holders = [CandidateList("vehicle", ("D1", "D2"), {"D1": "T1", "D2": "T1"})]
    r = identify(matcher, [_t((C1, 1.0)), _t((C2, 1.0), (C1, 0.1))], ["D1", "D2"], lists=holders)
    assert [m.doc_id for m in r].count(None) == 1 and {m.doc_id for m in r} - {None} <= {"D1", "D2"}
    assert r[0].doc_id == "D1" and r[0].stage == "documents"


def test_an_occupant_that_loses_a_holder_is_assigned_again_within_the_list(matcher: Matcher) -> None:
    # o1 fits D2 best and D3 well; D2 belongs to the holder o0 already takes with D1: o1 gets D3, not nothing
    lists = [CandidateList("vehicle", ("D1", "D2", "D3"), {"D1": "T1", "D2": "T1", "D3": "T2"})]
    o0, o1 = _t((C1, 1.0), (C2, 0.6)), _t((C2, 1.0), (C3, 0.9))
    r = identify(matcher, [o0, o1], [], lists=lists, gallery=False)
    assert [(m.doc_id, m.stage) for m in r] == [("D1", "vehicle"), ("D3", "vehicle")]


def test_plates_the_service_would_refuse_are_refused_when_read() -> None:
    from laneface.api.schemas.passages import PlateCreate

    for text, region in (("ÄBC 123", None), ("ABC\t1", None), ("ABC 123", "B.C."), ("ABC 123", "QC ")):
        with pytest.raises(ValueError):
            PlateRead(text, region)
        with pytest.raises(ValueError):
            PlateCreate.model_validate({"text": text, "region": region}).to_read()
    assert PlateCreate.model_validate({"text": "ABC 123", "region": "qc"}).to_read() == PlateRead("ABC 123", "QC")
