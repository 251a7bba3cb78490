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
    """Rows of the demo's own passages; the history of the departing travellers (``H-...``) apart."""
    engine = create_engine(f"sqlite:///{data_dir / 'records.db'}")
    history = Crossing.passage_id.like("H-%")
    try:
        with engine.connect() as conn:
            counts = {"documents": int(conn.scalar(select(func.count()).select_from(Document)) or 0)}
            for name, table, where in (
                ("crossings", Crossing, ~history),
                ("history_crossings", Crossing, history),
                ("occupants", Occupant, ~history),
                ("ledger_entries", LedgerEntry, ~history),
            ):
                query = select(func.count()).select_from(table)
                if table is not Crossing:
                    query = (
                        query.join(Occupant, Occupant.id == LedgerEntry.occupant_pk) if table is LedgerEntry else query
                    )
                    query = query.join(Crossing, Crossing.id == Occupant.crossing_id)
                counts[name] = int(conn.scalar(query.where(where)) or 0)
            return counts
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
    assert counts["history_crossings"] > 0, "the departing travellers' earlier crossings seed the ledger"
    assert re.search(r"ledger: \d+ earlier crossings of the departing travellers loaded", first.output)
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
