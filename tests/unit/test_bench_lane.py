"""Scoring of `laneface bench lane` on hand-made results and ground truth (no pipeline)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from laneface.errors import InvalidDatasetError
from laneface.evaluation.bench_lane import (
    CapturableRule,
    capturable_occupants,
    few_operating_curve,
    find_passages,
    load_truth,
    map_occupants,
    score_passages,
    write_row_chart,
)


def truth(pid: str, seats: list[str], *, inbound: bool = True, frames: int = 20) -> dict[str, Any]:
    occ = [
        {"occupant_id": i, "row": int(s[0]), "seat": s, "doc_id": f"{pid}-D{i}", "identity": f"{pid}-P{i}"}
        for i, s in enumerate(seats)
    ]
    docs = [o["doc_id"] for o in occ] if inbound else []
    return {
        "passage_id": pid,
        "direction": "inbound" if inbound else "outbound",
        "documents": docs,
        "frames": frames,
        "fps": 10.0,
        "occupants": occ,
    }


def occ(oid: int, row: int | None, passed: bool, doc: str | None = None, decision: str | None = None) -> dict[str, Any]:
    decision = decision or ("match" if doc else ("no_match" if passed else "not_captured"))
    return {
        "occupant_id": oid,
        "row": row,
        "quality": 80.0 if passed else 10.0,
        "quality_passed": passed,
        "match": {"doc_id": doc, "score": 0.7 if doc else None, "decision": decision},
    }


def result(pid: str, occupants: list[dict[str, Any]], *, complete: bool = False, timing: float = 1.0) -> dict[str, Any]:
    return {
        "passage_id": pid,
        "occupant_count": len(occupants),
        "complete_capture": complete,
        "occupants": occupants,
        "timing_s": timing,
    }


def two_front_seats() -> dict[str, Any]:
    """Passage "a" with occupants 0 (1L) and 1 (1R), both seen in frame 0 of the front camera."""
    t = truth("a", ["1L", "1R"])
    faces = [{"occupant_id": 0, "box_xyxy": [100, 100, 140, 150]}, {"occupant_id": 1, "box_xyxy": [300, 100, 340, 150]}]
    t["cameras"] = {"front": {"frames": [faces]}}
    return t


def shot(x: float) -> dict[str, Any]:
    """A best shot in frame 0 of the front camera, 40 px wide from ``x``."""
    return {"camera": "front", "frame_index": 0, "box_xyxy": [x, 102, x + 40, 151]}


def test_mapping_by_document_then_row_then_count() -> None:
    t = truth("a", ["1L", "1R", "2L", "2R"])
    r = result(
        "a",
        [
            occ(10, 2, True),  # by row: the first free row-2 seat, 2L
            occ(11, 1, True, "a-D1"),  # by document: 1R
            occ(12, None, True),  # no row: sorted last for the count step, nothing left -> spurious
            occ(13, 3, False),  # row 3 does not exist in the vehicle -> by count: 2R
            occ(14, 1, True),  # by row: 1L
        ],
    )
    mapping, spurious = map_occupants(r, t)
    assert mapping == {0: 14, 1: 11, 2: 10, 3: 13}
    assert spurious == [12]


def test_mapping_by_best_shot_sees_swapped_documents_and_double_counts() -> None:
    """With best shots and per-frame truth boxes, the appearance decides: a match to a fellow passenger's
    document is a false match, and a second occupant showing someone already mapped is spurious."""
    t = two_front_seats()

    swapped = occ(1, 1, True, "a-D1") | {"best_shot": shot(101)}  # shows occupant 0, matched 1's document
    other = occ(2, 1, True, "a-D0") | {"best_shot": shot(299)}  # shows occupant 1, matched 0's document
    twice = occ(3, 1, True) | {"best_shot": shot(104)}  # occupant 0 again
    nowhere = occ(4, 1, False) | {"best_shot": {"camera": "left", "frame_index": 0, "box_xyxy": [0, 0, 9, 9]}}
    mapping, spurious = map_occupants(result("a", [swapped, other, twice, nowhere]), t)
    assert mapping == {0: 1, 1: 2} and spurious == [3, 4]
    report = score_passages([result("a", [swapped, other, twice, nowhere])], [t])
    m = report.modes["all"]
    assert m.correct_identification_rate == 0.0 and m.false_matches == 2 and m.spurious_occupants == 2
    assert m.count_exact_rate == 0.0


def test_mapping_by_best_shot_prefers_the_occupant_with_the_right_document() -> None:
    t = truth("a", ["1L"])
    t["cameras"] = {"front": {"frames": [[{"occupant_id": 0, "box_xyxy": [100, 100, 140, 150]}]]}}
    shot = {"camera": "front", "frame_index": 0, "box_xyxy": [100, 100, 140, 150]}
    uncaptured = occ(1, 1, False) | {"best_shot": shot}  # the larger overlap
    matched = occ(2, 1, True, "a-D0") | {"best_shot": shot | {"box_xyxy": [103, 100, 143, 150]}}
    mapping, spurious = map_occupants(result("a", [uncaptured, matched]), t)
    assert mapping == {0: 2} and spurious == [1]
    m = score_passages([result("a", [uncaptured, matched])], [t]).modes["all"]
    assert m.correct_identification_rate == 1.0 and m.false_matches == 0


def test_mapping_leaves_unfound_occupants_unmapped() -> None:
    mapping, spurious = map_occupants(result("a", [occ(0, 1, True, "a-D0")]), truth("a", ["1L", "2L"]))
    assert mapping == {0: 0} and spurious == []


def test_capture_by_row_complete_capture_and_count() -> None:
    truths = [truth("a", ["1L", "1R", "2L"]), truth("b", ["1L", "2R", "3L"]), truth("c", ["1L"])]
    results = [
        result("a", [occ(0, 1, True, "a-D0"), occ(1, 1, True, "a-D1"), occ(2, 2, True, "a-D2")], complete=True),
        result("b", [occ(0, 1, True, "b-D0"), occ(1, 2, False)]),  # row 2 not passed, row 3 not found
        result("c", [occ(0, 1, True, "c-D0")]),
    ]
    rep = score_passages(results, truths).modes["1:few"]
    assert rep.passages == 3 and rep.occupants == 7
    assert rep.capture_by_row == {"1": 1.0, "2": 0.5, "3": 0.0}
    assert rep.occupants_by_row == {"1": 4, "2": 2, "3": 1}
    assert rep.capture_rate == pytest.approx(5 / 7)
    assert rep.complete_capture_rate == pytest.approx(2 / 3)
    assert rep.claimed_complete_rate == pytest.approx(1 / 3)
    assert rep.count_exact_rate == pytest.approx(2 / 3)  # b found 2 of 3
    assert rep.correct_identification_rate == pytest.approx(5 / 7)
    assert rep.identified_of_captured_rate == pytest.approx(5 / 5)
    assert rep.false_matches == 0 and rep.false_match_rate == 0.0


def test_false_matches_count_wrong_documents_and_spurious_matches() -> None:
    truths = [truth("a", ["1L", "1R"])]
    results = [
        result(
            "a",
            [
                occ(0, 1, True, "a-D0"),  # correct
                occ(1, 1, True, "OTHER"),  # matched to a document of nobody in the vehicle: false
                occ(2, 2, True, "ELSE"),  # spurious occupant with a match: false as well
            ],
        )
    ]
    rep = score_passages(results, truths).modes["1:few"]
    assert rep.false_matches == 2 and rep.false_match_rate == pytest.approx(1.0)
    assert rep.correct_identification_rate == pytest.approx(0.5)
    assert rep.identified_of_captured_rate == pytest.approx(0.5)  # two captured, one given its own document
    assert rep.spurious_occupants == 1 and rep.count_exact_rate == 0.0


def test_one_to_few_and_one_to_n_are_reported_separately() -> None:
    truths = [truth("in", ["1L", "2L"]), truth("out", ["1L", "1R"], inbound=False), truth("nodoc", ["1L"])]
    truths[2]["documents"] = []  # inbound, but nothing was read: 1:N
    results = [
        result("in", [occ(0, 1, True, "in-D0"), occ(1, 2, True, "in-D1")], timing=2.0),
        result("out", [occ(0, 1, True, "out-D0"), occ(1, 1, False)], timing=1.0),
        {"passage_id": "nodoc", "error": "unreadable video"},
    ]
    report = score_passages(results, truths)
    few, onen, both = report.modes["1:few"], report.modes["1:N"], report.modes["all"]
    assert (few.passages, onen.passages, both.passages) == (1, 2, 3)
    assert few.correct_identification_rate == 1.0 and few.complete_capture_rate == 1.0
    assert onen.occupants == 3 and onen.errors == 1
    assert onen.capture_rate == pytest.approx(1 / 3) and onen.correct_identification_rate == pytest.approx(1 / 3)
    assert onen.count_exact_rate == pytest.approx(1 / 2)
    assert both.occupants == 5
    assert report.processing_s == pytest.approx(3.0)
    assert report.video_s == pytest.approx(6.0)
    assert report.processing_per_video_s == pytest.approx(0.5)
    assert report.cpu_s is None and report.cpu_per_video_s is None  # these results carry no cpu_s
    json.dumps(report.as_json())
    results[0]["cpu_s"], results[1]["cpu_s"] = 1.5, 0.6  # wall 3.0 s: the rest was waiting or stolen
    timed = score_passages(results, truths)
    assert timed.cpu_s == pytest.approx(2.1) and timed.cpu_per_video_s == pytest.approx(0.35)
    assert timed.as_json()["cpu_per_video_s"] == pytest.approx(0.35)


def test_missing_result_counts_as_nothing_found() -> None:
    rep = score_passages([], [truth("a", ["1L"])]).modes["all"]
    assert rep.errors == 1 and rep.capture_rate == 0.0 and rep.count_exact_rate == 0.0


def _few(o: dict[str, Any], **scores: float) -> dict[str, Any]:
    o["match"]["few_scores"] = [{"doc_id": d.replace("_", "-"), "score": v} for d, v in scores.items()]
    return o


def test_few_operating_curve_decides_the_one_to_few_stage_again_at_each_threshold() -> None:
    t = truth("a", ["1L", "1R", "2L"])  # documents a-D0, a-D1, a-D2 read
    r = result(
        "a",
        [
            _few(occ(0, 1, True, "a-D0"), a_D0=0.9, a_D1=0.1, a_D2=0.2),
            _few(occ(1, 1, True), a_D0=0.5, a_D1=0.45, a_D2=0.0),  # true doc a-D1 scores below a-D0
            _few(occ(2, 2, True), a_D0=0.0, a_D1=0.0, a_D2=0.3),
        ],
    )
    outbound = truth("b", ["1L"], inbound=False)  # not a 1:few passage: ignored
    curve = {p.threshold: p for p in few_operating_curve([r, result("b", [])], [t, outbound], (0.25, 0.4, 0.6))}
    # 0.25: the assignment gives a-D0 to occupant 0 (0.9 + 0.45 beats 0.5 + 0.1), a-D1 to 1, a-D2 to 2
    assert (curve[0.25].identified, curve[0.25].false_matches, curve[0.25].occupants) == (3, 0, 3)
    assert (curve[0.4].identified, curve[0.4].false_matches) == (2, 0)
    assert (curve[0.6].identified, curve[0.6].false_matches) == (1, 0)
    assert curve[0.6].identification_rate == pytest.approx(1 / 3)
    # an impostor above the threshold with its own document missing: a false match
    lone = result("a", [_few(occ(0, 1, True), a_D0=0.1, a_D1=0.7)])
    point = few_operating_curve([lone], [t], (0.5,))[0]
    assert (point.identified, point.false_matches) == (0, 1)
    assert score_passages([r], [t]).as_json()["few_operating_curve"][0]["threshold"] == 0.2


def _write_passage(root: Path, t: dict[str, Any]) -> Path:
    d = root / t["passage_id"]
    d.mkdir(parents=True)
    (d / "passage.json").write_text("{}")
    (d / "ground_truth.json").write_text(json.dumps(t))
    return d


def test_find_and_load_passages(tmp_path: Path) -> None:
    _write_passage(tmp_path, truth("b", ["1L"]))
    _write_passage(tmp_path, truth("a", ["1L", "2L"]))
    (tmp_path / "not-a-passage").mkdir()
    dirs = find_passages(tmp_path)
    assert [d.name for d in dirs] == ["a", "b"]
    assert len(load_truth(dirs[0])["occupants"]) == 2
    (dirs[1] / "ground_truth.json").write_text('{"passage_id": "b", "occupants": [{"row": 1}]}')
    with pytest.raises(InvalidDatasetError, match="occupant_id"):
        load_truth(dirs[1])
    (dirs[1] / "ground_truth.json").write_text("{not json")
    with pytest.raises(InvalidDatasetError, match="cannot read"):
        load_truth(dirs[1])
    with pytest.raises(InvalidDatasetError, match="no passages"):
        find_passages(tmp_path / "not-a-passage")


def test_chart_is_written(tmp_path: Path) -> None:
    report = score_passages([result("a", [occ(0, 1, True)])], [truth("a", ["1L", "2L"])])
    path = write_row_chart(report, tmp_path / "c" / "rows.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_cli_scores_a_results_file(tmp_path: Path) -> None:
    from laneface.cli.app import app

    _write_passage(tmp_path / "sim", truth("a", ["1L", "2L"]))
    lines = tmp_path / "results.jsonl"
    lines.write_text(json.dumps(result("a", [occ(0, 1, True, "a-D0")])) + "\n")
    args = ["--data-dir", str(tmp_path / "d"), "bench", "lane", str(tmp_path / "sim"), "--results", str(lines)]
    res = CliRunner().invoke(app, [*args, "--out", str(tmp_path / "o"), "--json"])
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["modes"]["1:few"]["capture_by_row"] == {"1": 1.0, "2": 0.0}
    assert (tmp_path / "o" / "capture_by_row.png").is_file()


def test_few_operating_curve_counts_a_second_occupant_of_one_person_as_that_person() -> None:
    """A person split into two pipeline occupants: at a lower threshold the spurious one (its best shot shows
    the person) may take the person's document; that identifies the person, it is not a false match."""
    t = two_front_seats()

    main = _few(occ(1, 1, True) | {"best_shot": shot(100)}, a_D0=0.2, a_D1=0.0)  # person 0, weak template
    again = _few(occ(2, 1, True) | {"best_shot": shot(103)}, a_D0=0.3, a_D1=0.05)  # person 0 again
    other = _few(occ(3, 1, True, "a-D1") | {"best_shot": shot(300)}, a_D0=0.0, a_D1=0.8)  # person 1
    mapping, spurious = map_occupants(result("a", [main, again, other]), t)
    assert mapping == {0: 1, 1: 3} and spurious == [2]
    curve = {p.threshold: p for p in few_operating_curve([result("a", [main, again, other])], [t], (0.25, 0.5))}
    assert (curve[0.25].identified, curve[0.25].false_matches) == (2, 0)  # a-D0 to occupant 2: person 0
    assert (curve[0.5].identified, curve[0.5].false_matches) == (1, 0)
    # an occupant whose best shot shows nobody still makes a false match with a document it takes
    nobody = _few(occ(4, 1, True) | {"best_shot": shot(200)}, a_D0=0.6, a_D1=0.0)
    assert map_occupants(result("a", [main, nobody, other]), t) == ({0: 1, 1: 3}, [4])
    point = few_operating_curve([result("a", [main, nobody, other])], [t], (0.5,))[0]
    assert (point.identified, point.false_matches) == (1, 1)


def _face(oid: int, **kw: float) -> dict[str, Any]:
    face: dict[str, Any] = {"occupant_id": oid, "box_xyxy": [0, 0, 40, 50], "ied_px": 24.0}
    face.update({"yaw_deg": 5.0, "pitch_deg": -3.0, "visible": 0.95})
    face.update(kw)
    return face


@pytest.mark.parametrize(
    ("change", "accepted"),
    [
        ({}, True),
        ({"visible": 0.84}, False),  # a headrest or a hand over part of the face
        ({"ied_px": 19.9}, False),
        ({"yaw_deg": -30.5}, False),
        ({"yaw_deg": 30.0}, True),
        ({"pitch_deg": 25.5}, False),
    ],
)
def test_capturable_rule_follows_the_vehicle_profile_limits(change: dict[str, float], accepted: bool) -> None:
    assert CapturableRule().accepts(_face(0, **change)) is accepted


def test_capturable_occupants_need_one_good_face_in_any_camera_and_frame() -> None:
    t = truth("a", ["1L", "1R", "2L"])
    t["cameras"] = {
        "front": {"frames": [[_face(0, yaw_deg=50.0), _face(1, visible=0.5)], [_face(0, yaw_deg=40.0)]]},
        "left": {"frames": [[_face(2, ied_px=12.0)], [_face(0)]]},  # occupant 0 seen well once, by the left camera
    }
    assert capturable_occupants(t) == {0}
    assert capturable_occupants(t, CapturableRule(min_visible=0.4, min_ied_px=10)) == {0, 1, 2}
    assert capturable_occupants(truth("b", ["1L"])) is None  # no per-frame faces: it cannot say


def test_report_gives_the_ceiling_the_cameras_allowed() -> None:
    a, b = truth("a", ["1L", "2L"]), truth("b", ["1L", "1R"])
    a["cameras"] = {"front": {"frames": [[_face(0), _face(1, visible=0.3)]]}}  # 2L hidden all along
    b["cameras"] = {"front": {"frames": [[_face(0), _face(1)]]}}
    results = [
        result("a", [occ(0, 1, True, "a-D0"), occ(1, 2, False)]),
        result("b", [occ(0, 1, True, "b-D0"), occ(1, 1, False)]),  # 1R could have been captured
    ]
    rep = score_passages(results, [a, b]).modes["all"]
    assert rep.capturable_by_row == {"1": 1.0, "2": 0.0}
    assert rep.capturable_rate == pytest.approx(3 / 4)
    assert rep.complete_capturable_rate == pytest.approx(1 / 2)  # only b could be captured whole
    assert rep.captured_of_capturable_rate == pytest.approx(2 / 3)
    assert rep.complete_capture_rate == 0.0
    # a passage without per-frame faces leaves the ceiling unknown for its modes
    unknown = score_passages(results, [a, truth("b", ["1L", "1R"])]).modes
    assert unknown["all"].capturable_rate is None and unknown["all"].capturable_by_row is None


def _zoned(pid: str, seats: list[str], booth_from: float = 2.0, end: float = 12.0) -> dict[str, Any]:
    """A two-zone passage: approach camera 'front' (0 - booth_from), booth camera 'booth1' (booth_from - end);
    occupant 0 is capturable on the approach, every occupant at the booth."""
    t = truth(pid, seats)
    t["zones"] = [
        {"zone": "approach", "start_s": 0.0, "end_s": booth_from},
        {"zone": "booth", "start_s": booth_from, "end_s": end},
    ]
    good = {"visible": 1.0, "ied_px": 40.0, "yaw_deg": 0.0, "pitch_deg": 0.0}
    t["cameras"] = {
        "front": {"zone": "approach", "frames": [[{"occupant_id": 0, **good}]]},
        "booth1": {"zone": "booth", "frames": [[{"occupant_id": i, **good} for i in range(len(seats))]]},
    }
    return t


def _at(o: dict[str, Any], seconds: float | None, zone: str | None) -> dict[str, Any]:
    return {**o, "captured_at_s": seconds, "capture_zone": zone}


def test_zones_report_what_was_reached_by_their_end_and_the_time_from_the_stop() -> None:
    truths = [_zoned("a", ["1L", "1R"]), _zoned("b", ["1L", "1R"]), _zoned("c", ["1L"])]
    results = [
        # a: driver on the approach (1.0 s), passenger at the booth 3.5 s after the stop
        result("a", [_at(occ(1, 1, True, "a-D0"), 1.0, "approach"), _at(occ(2, 1, True, "a-D1"), 5.5, "booth")]),
        # b: the passenger is never captured
        result("b", [_at(occ(1, 1, True, "b-D0"), 0.5, "approach"), _at(occ(2, 1, False), None, None)]),
        # c: the only occupant, on the approach
        result("c", [_at(occ(1, 1, True, "c-D0"), 1.5, "approach")]),
    ]
    m = score_passages(results, truths).modes["all"]
    assert m.zones is not None and list(m.zones) == ["approach", "booth"]
    approach, booth = m.zones["approach"], m.zones["booth"]
    assert (approach.passages, approach.occupants) == (3, 5)
    assert approach.capture_rate == pytest.approx(3 / 5) and approach.complete_capture_rate == pytest.approx(1 / 3)
    assert approach.capturable_rate == pytest.approx(3 / 5), "only occupant 0 shows on the approach camera"
    assert booth.capture_rate == pytest.approx(4 / 5) and booth.complete_capture_rate == pytest.approx(2 / 3)
    assert booth.capturable_rate == 1.0 and booth.captured_of_capturable_rate == pytest.approx(4 / 5)
    st = m.stop_to_complete
    assert st is not None and (st.passages, st.complete) == (3, 2)
    assert st.median_s == pytest.approx(1.75) and st.p90_s == pytest.approx(3.15), "times 3.5 and 0"
    assert score_passages(results, truths).video_s == pytest.approx(36.0), "a passage lasts until its last zone ends"


def test_one_zone_passages_have_no_zone_figures() -> None:
    m = score_passages([result("a", [occ(1, 1, True, "a-D0")])], [truth("a", ["1L"])]).modes["all"]
    assert m.zones is None and m.stop_to_complete is None


def test_decoys_taken_for_occupants_are_false_occupants_never_mapped() -> None:
    """A pipeline occupant whose best shot shows a planted printed face is a false occupant: it is not
    mapped to the missing true occupant (it would pass for that person by row) and counts as spurious."""
    t = two_front_seats()
    t["decoys"] = [{"decoy_id": 0, "kind": "shirt", "holder": 0}, {"decoy_id": 1, "kind": "cat", "seat": "2L"}]
    t["cameras"]["front"]["decoys"] = [
        [{"decoy_id": 0, "kind": "shirt", "box_xyxy": [100, 170, 140, 220], "visible": 1.0}]
    ]
    head = occ(1, 1, True, "a-D0") | {"best_shot": shot(100)}
    print_ = occ(2, 1, True) | {"best_shot": {"camera": "front", "frame_index": 0, "box_xyxy": [101, 171, 141, 221]}}
    mapping, spurious = map_occupants(result("a", [head, print_]), t)
    assert mapping == {0: 1} and spurious == [2]
    m = score_passages([result("a", [head, print_])], [t]).modes["all"]
    assert (m.decoys, m.decoys_shown, m.false_occupants) == (2, 1, 1)
    assert m.capture_rate == 0.5 and m.count_exact_rate == 1.0  # two found, two aboard: the count hides it
    clean = score_passages([result("a", [head])], [t]).modes["all"]
    assert clean.false_occupants == 0 and clean.spurious_occupants == 0


def test_identifications_are_counted_by_deciding_stage_and_by_what_the_ledger_knew() -> None:
    t = truth("a", ["1L", "1R", "2L"], inbound=False)
    t["population"] = {"vehicle": "commuter", "occupants": {"0": "regular", "1": "regular", "2": "unknown"}}
    staged = [occ(0, 1, True, "a-D0"), occ(1, 1, True, "OTHER"), occ(2, 2, True, "a-D2"), occ(3, 2, True, "ELSE")]
    for o, stage in zip(staged, ("vehicle", "open_stays", "gallery", "gallery"), strict=True):
        o["match"]["stage"] = stage
    rep = score_passages([result("a", staged)], [t]).modes["1:N"]
    assert rep.by_stage == {
        "gallery": {"identified": 1, "false_matches": 1},  # the spurious occupant's match is the gallery's
        "open_stays": {"identified": 0, "false_matches": 1},
        "vehicle": {"identified": 1, "false_matches": 0},
    }
    assert rep.by_category == {
        "regular": {"occupants": 2, "captured": 2, "identified": 1, "false_matches": 1},
        "unknown": {"occupants": 1, "captured": 1, "identified": 1, "false_matches": 0},
    }
    plain = score_passages([result("a", [occ(0, 1, True, "a-D0")])], [truth("a", ["1L"], inbound=False)])
    assert plain.modes["1:N"].by_stage is None and plain.modes["1:N"].by_category is None
