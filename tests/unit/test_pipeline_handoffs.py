"""The hand-offs that run, bench lane and the lane edge share: one passage loop, one serialisation of a
passage result, one 1:few decision."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from lanefakes import (
    MODEL,
    ColourDetector,
    ColourEmbedder,
    FakeFace,
    SizeQuality,
    colour_vector,
    matcher_with,
    write_passage,
)

from laneface.edge.mapping import passage_body
from laneface.errors import InputError, InvalidPassageError
from laneface.evaluation.bench_lane import few_operating_curve, score_passages
from laneface.pipeline.identify import NOT_CAPTURED, OccupantMatch, assign_documents, identify
from laneface.pipeline.lane import LanePipeline
from laneface.pipeline.passages import PassageOutcome, process_passages
from laneface.pipeline.result import OccupantResult, PassageResult
from laneface.types import Template

RED, BLUE = (200, 30, 30), (30, 30, 200)
DOCS = {"D-RED": RED, "D-BLUE": BLUE}


def _pipeline(tmp_path: Path) -> LanePipeline:
    return LanePipeline(ColourDetector(), SizeQuality(), ColourEmbedder(), matcher_with(tmp_path / "data", DOCS))


def _passage(directory: Path, pid: str) -> Path:
    faces = [FakeFace(RED, 200, 40, 56, dx=1.0), FakeFace(BLUE, 40, 40, 54, dx=1.0)]
    return write_passage(directory, {"front": ("front", faces)}, passage_id=pid, documents=["D-RED", "D-BLUE"])


def test_the_loop_goes_on_after_a_bad_passage_and_reports_it_the_same_way_everywhere(tmp_path: Path) -> None:
    good = _passage(tmp_path / "good", "G-1")
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "passage.json").write_text('{"passage_id": "B-1", "lane": ', encoding="utf-8")
    seen: list[tuple[int, str]] = []
    outcomes = list(
        process_passages(_pipeline(tmp_path), [good, bad], progress=lambda n, o: seen.append((n, o.directory.name)))
    )
    assert seen == [(1, "good"), (2, "bad")]
    ok, failed = outcomes
    assert ok.error is None and ok.result is not None and ok.unwrap() is ok.result and ok.wall_s > 0
    assert ok.as_json()["passage_id"] == "G-1"
    assert isinstance(failed.error, InvalidPassageError) and failed.result is None
    assert failed.as_json() == {"passage_id": None, "passage_dir": str(bad), "error": str(failed.error)}
    with pytest.raises(InvalidPassageError):
        failed.unwrap()
    # bench lane scores an error line of an unreadable passage.json as that passage's error, by its directory
    truth = {"passage_id": "bad", "direction": "outbound", "documents": [], "occupants": []}
    assert score_passages([dict(failed.as_json())], [truth]).modes["all"].errors == 1


def test_an_outcome_holds_a_result_or_an_error() -> None:
    with pytest.raises(ValueError, match="either"):
        PassageOutcome(Path("x"), None, None, 0.0)
    with pytest.raises(ValueError, match="either"):
        PassageOutcome(Path("x"), object(), InputError("x"), 0.0)  # type: ignore[arg-type]


def _result(quality: float, score: float) -> PassageResult:
    occupant = OccupantResult(1, 1, quality, True, OccupantMatch("match", "D-1", score, "one_to_few", 0.3), ("f",), 1)
    empty = OccupantResult(2, None, float("nan"), False, NOT_CAPTURED, ("f",), 1)
    return PassageResult(
        "P-1", "L1", "inbound", ("D-1",), (occupant, empty), 1.0, 0.5, 2.0, 10, "m@1", datetime(2026, 1, 1, tzinfo=UTC)
    )


@pytest.mark.parametrize(("quality", "score"), [(81.256, 0.612345), (100.4, 0.5), (-3.0, float("nan"))])
def test_the_service_body_carries_the_run_line_values(quality: float, score: float) -> None:
    """One serialisation: the body's numbers are the run line's (ids as strings, the service's contract)."""
    result = _result(quality, score)
    line = result.as_json()
    json.dumps(line, allow_nan=False)  # a run line is valid JSON even with NaN inside
    body = passage_body(result, result.started_at, images=False)
    occupants: Any = body["occupants"]
    for mine, theirs in zip(line["occupants"], occupants, strict=True):
        assert theirs["occupant_id"] == str(mine["occupant_id"])
        assert theirs["quality"] == mine["quality"] and 0.0 <= mine["quality"] <= 100.0
        assert theirs["match"]["score"] == mine["match"]["score"]
        assert theirs["match"]["decision"] == mine["match"]["decision"]
    first = line["occupants"][0]["match"]["score"]
    assert first is None if math.isnan(score) else first == round(score, 4)


def test_one_to_few_rule_is_shared_by_identify_and_the_operating_curve(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bench's operating curve decides with the pipeline's own function: a change of the rule moves both."""
    import importlib

    ident = importlib.import_module("laneface.pipeline.identify")

    scores = np.array([[0.9, 0.5], [0.45, 0.1]])
    assert assign_documents(scores, np.array([0.4, 0.4])) == [(0, 0)], "0.5 alone beats 0.1 + 0.05"
    assert assign_documents(scores, np.array([0.4, 0.05])) == [(0, 0), (1, 1)]
    assert assign_documents(scores, np.array([0.95, 0.95])) == []
    truth = {
        "passage_id": "a",
        "direction": "inbound",
        "documents": ["D-RED"],
        "occupants": [{"occupant_id": 0, "row": 1, "seat": "1L", "doc_id": "D-RED"}],
    }
    line = {
        "passage_id": "a",
        "occupants": [
            {"occupant_id": 1, "row": 1, "match": {"doc_id": None, "few_scores": [{"doc_id": "D-RED", "score": 0.9}]}}
        ],
    }
    matcher = matcher_with(tmp_path, DOCS)
    red = Template(colour_vector(RED), MODEL)
    assert few_operating_curve([line], [truth], (0.5,))[0].identified == 1
    assert identify(matcher, [red], ["D-RED"])[0].mode == "one_to_few"
    monkeypatch.setattr(ident, "assign_documents", lambda s, t: [])
    assert few_operating_curve([line], [truth], (0.5,))[0].identified == 0
    assert identify(matcher, [red], ["D-RED"])[0].mode == "one_to_n", "no 1:few match: 1:N decides"
