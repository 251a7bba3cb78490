"""`laneface demo` end to end on real LFW faces and the embedded default models (../shared for the faces)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from typer.testing import CliRunner

from laneface.cli.app import app
from laneface.records.tables import Crossing, Document, LedgerEntry, Occupant

LFW = Path(__file__).resolve().parents[3] / "shared" / "data" / "lfw" / "lfw-deepfunneled"
if not LFW.is_dir():
    pytest.skip(f"LFW not present at {LFW}", allow_module_level=True)
pytestmark = [pytest.mark.models, pytest.mark.shared]


def _counts(data_dir: Path) -> dict[str, int]:
    engine = create_engine(f"sqlite:///{data_dir / 'records.db'}")
    try:
        with engine.connect() as conn:
            return {
                table.__tablename__: int(conn.scalar(select(func.count()).select_from(table)) or 0)
                for table in (Crossing, Occupant, Document, LedgerEntry)
            }
    finally:
        engine.dispose()


def test_demo_stores_every_passage_and_its_confirmations_and_a_rerun_adds_nothing(tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path), "demo", "--passages", "2", "--lfw-dir", str(LFW)]
    first = runner.invoke(app, args)
    assert first.exit_code == 0, first.output
    out = first.stdout
    table = [line for line in out.splitlines() if re.match(r"sim\d+-\d{5}\s", line)]
    assert len(table) == 2
    assert {line.split()[1] for line in table} == {"inbound", "outbound"}
    total = next(line for line in out.splitlines() if line.startswith("total")).split()
    identified = int(total[-3])
    enrolled, rows = (int(x) for x in re.search(r"documents\s+(\d+) of (\d+) enrolled", out).groups())  # type: ignore[union-attr]
    assert rows > 0 and enrolled >= 0.95 * rows
    assert "records    2 crossings stored" in out
    counts = _counts(tmp_path)
    assert counts["crossings"] == 2
    assert counts["documents"] == enrolled  # every enrolled document is known to the records
    assert counts["ledger_entries"] == identified  # each automatic match of an enrolled document is confirmed
    assert (tmp_path / "demo" / "results.jsonl").read_text().count("\n") == 2

    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    # processing again gives other timings (a conflict, the earlier crossing is kept) or, rarely, the same
    # body (an identical replay): either way nothing is added, and the summary says which
    records = next(line for line in again.stdout.splitlines() if line.startswith("records"))
    assert records.startswith("records    0 crossings stored, "), records
    same = re.search(r"(\d+) already stored identically", records)
    kept = re.search(r"(\d+) not stored again: an earlier demo run's different result", records)
    assert sum(int(m.group(1)) for m in (same, kept) if m) == 2, records
    assert _counts(tmp_path) == counts
