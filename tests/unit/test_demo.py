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


def _stored(pid: str, stored: str, identified: int = 1, error: str | None = None) -> DemoRow:
    return DemoRow(pid, "inbound", "lane-1", 2, 2, 2, identified, stored, error)


def test_scratch_empties_only_the_demos_own_passages_folder(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    stale = out / "passages" / "inbound" / "sim9-00001"
    stale.mkdir(parents=True)
    (stale / "passage.json").write_text("{}")
    (out / "results.jsonl").write_text("{}\n")
    (tmp_path / "records.db").write_text("")
    sim_dir = demo._scratch(out)
    assert sim_dir == out / "passages" and not sim_dir.exists()
    assert (out / "results.jsonl").is_file() and (tmp_path / "records.db").is_file()
    assert demo._scratch(out) == sim_dir  # nothing there yet: fine


def test_store_tells_an_identical_replay_from_a_conflict(monkeypatch: pytest.MonkeyPatch) -> None:
    import laneface.api.ingest as ingest
    from laneface.api.ingest import ErrorEntry, ImportReport

    class Outcome:
        def unwrap(self) -> object:
            return object()

    reports = iter(
        [
            ImportReport(imported=["L/p"]),
            ImportReport(already=["L/p"]),
            ImportReport(conflicts=[ErrorEntry(0, "p", "L", "another body was stored under this key")]),
        ]
    )
    monkeypatch.setattr(ingest, "store_results", lambda *a, **k: next(reports))
    got = [demo._store(None, Outcome()) for _ in range(3)]  # type: ignore[arg-type]
    assert got[:2] == ["stored", "already stored"]
    assert got[2] == "conflict: another body was stored under this key"


def test_records_lines_are_truthful_about_replays_conflicts_and_confirmations() -> None:
    rows = [
        _stored("a", "stored", identified=2),
        _stored("b", "already stored", identified=1),
        _stored("c", "conflict: another body", identified=2),
        _stored("d", "not stored", identified=0, error="corrupt video"),
    ]
    records, ledger = demo.records_lines(rows)
    assert records == (
        "records    1 crossings stored, 1 already stored identically by an earlier demo run, "
        "1 not stored again: an earlier demo run's different result for the passage is kept, 1 not stored"
    )
    # only the crossings in the records count: the conflicting passage's 2 matches were not stored
    assert ledger.startswith("ledger     2 travellers' crossings confirmed automatically (1 more by an earlier")


def test_demo_fails_when_nothing_is_stored_but_not_on_an_identical_rerun() -> None:
    assert demo.demo_failure([]) is not None
    assert demo.demo_failure([_stored("a", "not stored", error="x"), _stored("b", "not stored", error="y")]) == (
        "every passage failed"
    )
    refused = [_stored("a", "not stored: bad image"), _stored("b", "not stored: bad image")]
    assert demo.demo_failure(refused) == "no crossing could be stored in the records"
    # a rerun: other timings, so the records keep the earlier run's crossings of the same passages
    assert demo.demo_failure([_stored("a", "conflict: x"), _stored("b", "conflict: x")]) is None
    assert demo.demo_failure([_stored("a", "already stored"), _stored("b", "already stored")]) is None
    assert demo.demo_failure([_stored("a", "stored"), _stored("b", "not stored", error="x")]) is None


def test_enrolled_counts_distinct_documents_the_gallery_holds() -> None:
    from types import SimpleNamespace

    class Gallery:
        def __init__(self) -> None:
            self.held = {"D1": (), "D2": ("eyes_closed",)}  # D3 failed to enrol (skipped on a rerun): not held

        def document(self, doc_id: str) -> object | None:
            return SimpleNamespace(doc_id=doc_id) if doc_id in self.held else None

        def flagged_documents(self) -> list[object]:
            return [SimpleNamespace(doc_id=d) for d, flags in self.held.items() if flags] + [
                SimpleNamespace(doc_id="X9")  # flagged, but not one of this manifest's documents
            ]

    enrolled, flagged = demo._enrolled_in(Gallery(), {"D1", "D2", "D3"})  # type: ignore[arg-type]
    assert enrolled == {"D1", "D2"} and flagged == {"D2"}
    again, _ = demo._enrolled_in(Gallery(), {"D1", "D2"})  # the other manifest names D1 and D2 too
    assert len(enrolled | again) == 2
