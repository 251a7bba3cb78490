"""`laneface demo`'s pure parts: the summary a person reads, the face-set lookup, the re-timing."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from laneface.cli import demo
from laneface.cli.demo import DemoRow, find_face_set, summary_table
from laneface.errors import InvalidDatasetError


def _row(pid: str, direction: str, truth: int, found: int, captured: int, identified: int) -> DemoRow:
    return DemoRow(pid, direction, "lane-1", truth, found, captured, identified, "stored")


def test_result_names_what_is_missing_and_who_waits_for_an_officer() -> None:
    assert _row("a", "inbound", 3, 3, 3, 3).result == "all identified"
    assert _row("b", "inbound", 5, 3, 2, 2).result == "2 of 5 identified, 2 not found, 1 for an officer"
    assert _row("c", "outbound", 2, 2, 2, 0).result == "0 of 2 identified, 2 for an officer"
    failed = DemoRow("d", "inbound", "lane-1", 2, 0, 0, 0, "not stored", "corrupt video: cam_front.mp4")
    assert failed.result == "error: corrupt video: cam_front.mp4"


def test_summary_table_has_a_line_per_passage_and_totals_that_add_up() -> None:
    rows = [_row("sim-1", "inbound", 4, 3, 2, 2), _row("sim-2", "outbound", 1, 1, 1, 0)]
    lines = summary_table(rows)
    assert lines[0].split()[:4] == ["passage", "direction", "lane", "people"]
    assert [line.split()[0] for line in lines[2:4]] == ["sim-1", "sim-2"]
    total = lines[-1].split()
    assert total[0] == "total" and "1 in / 1 out" in lines[-1]
    assert total[-6:-2] == ["5", "4", "3", "2"]  # people, found, captured, identified
    assert lines[-1].endswith("0 errors")
    widths = {len(line) for line in (lines[1], lines[-2])}
    assert len(widths) == 1  # both rules span the same columns


def test_face_set_given_must_exist(tmp_path: Path) -> None:
    with pytest.raises(InvalidDatasetError, match="not a directory"):
        find_face_set(tmp_path / "missing")
    assert find_face_set(tmp_path) == tmp_path


def test_face_set_not_found_says_how_to_give_one(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(demo, "FACE_SET_HINT", "no/such/face-set")
    with pytest.raises(InvalidDatasetError, match="--lfw-dir"):
        find_face_set(None)


def test_retime_moves_passages_to_the_last_minutes_in_order(tmp_path: Path) -> None:
    dirs = []
    for i in range(3):
        d = tmp_path / f"p{i}"
        d.mkdir()
        (d / "passage.json").write_text(json.dumps({"passage_id": f"p{i}", "started_at": "2026-03-02T10:00:00Z"}))
        dirs.append(d)
    now = datetime(2026, 12, 4, 19, 0, 0, tzinfo=UTC)
    demo._retime(dirs, now)
    starts = [json.loads((d / "passage.json").read_text())["started_at"] for d in dirs]
    assert starts == ["2026-12-04T18:51:00Z", "2026-12-04T18:54:00Z", "2026-12-04T18:57:00Z"]
    assert json.loads((dirs[0] / "passage.json").read_text())["passage_id"] == "p0"
