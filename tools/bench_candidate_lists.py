"""What the ledger's candidate lists cost a lane per outbound passage as the ledger grows: building the
``open_stays`` list (the query over the ledger, then the documents of those travellers) and scoring a
vehicle's occupants against it (templates read from the gallery, exact scores), for a lane's first vehicle
and for the next one 30 s later (the list and its stacked templates are reused within
``lane.open_stays_refresh_s`` while the gallery is unchanged).

    python tools/bench_candidate_lists.py [--stays 1000,10000,50000] [--dim 128] [--url URL] [--dir DIR]

Synthetic: each traveller has one enrolled document and one arrival (one crossing of three occupants per
three travellers) and no departure, so every one is an open stay. ``--url``: the records database (default a
SQLite file under ``--dir``; a PostgreSQL URL should name an empty database). CPU seconds of this process.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, insert
from sqlalchemy.orm import sessionmaker

from laneface.gallery.store import Gallery, GalleryConfig
from laneface.gallery.thresholds import ThresholdSet
from laneface.matching import Matcher
from laneface.pipeline.candidates import CandidateQuery
from laneface.records.candidates import LedgerCandidates
from laneface.records.migrate import upgrade
from laneface.records.tables import Crossing, Document, LedgerEntry, Occupant, Traveller
from laneface.types import Template

MODEL = "bench-lists@v1"
T0 = datetime(2026, 6, 1, tzinfo=UTC)


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def _fill(url: str, start: int, stop: int) -> None:
    engine = create_engine(url)
    upgrade(engine)
    ids = range(start, stop)
    with engine.begin() as conn:
        conn.execute(
            insert(Traveller),
            [{"id": i + 1, "traveller_ref": f"T{i}", "citizenship": "UTO", "created_at": T0} for i in ids],
        )
        conn.execute(
            insert(Document),
            [
                {"id": i + 1, "doc_id": f"D{i:07d}", "doc_type": "passport", "traveller_id": i + 1, "created_at": T0}
                for i in ids
            ],
        )
        crossings = range((start + 2) // 3, (stop + 2) // 3)  # crossing c holds travellers 3c .. 3c + 2
        conn.execute(
            insert(Crossing),
            [
                {
                    "id": c + 1, "passage_id": f"P{c}", "lane": "IN-1", "direction": "inbound",
                    "started_at": T0 + timedelta(seconds=c), "received_at": T0 + timedelta(seconds=c),
                    "occupant_count": 3, "complete_capture": True, "body_sha256": "0" * 64,
                }
                for c in crossings
            ],
        )  # fmt: skip
        conn.execute(
            insert(Occupant),
            [
                {
                    "id": i + 1, "crossing_id": i // 3 + 1, "occupant_id": str(i % 3 + 1), "row": 1, "quality": 80.0,
                    "quality_passed": True, "decision": "match", "doc_id": f"D{i:07d}", "score": 0.9,
                    "threshold": 0.5, "model_version": MODEL,
                }
                for i in ids
            ],
        )  # fmt: skip
        conn.execute(
            insert(LedgerEntry),
            [
                {
                    "id": i + 1, "traveller_id": i + 1, "document_id": i + 1, "occupant_pk": i + 1,
                    "movement": "arrival", "at": T0 + timedelta(seconds=i // 3), "source": "automatic",
                }
                for i in ids
            ],
        )  # fmt: skip
    engine.dispose()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--stays", default="1000,10000,50000")
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--url", default="")
    ap.add_argument("--dir", type=Path, default=None)
    ap.add_argument("--refresh-s", type=float, default=60.0, help="open_stays_refresh_s (0: no reuse)")
    args = ap.parse_args()
    refresh_s = args.refresh_s
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-lists-"))
    url = args.url or f"sqlite:///{root / 'records.db'}"
    sizes = sorted(int(s) for s in args.stays.split(","))
    rng = np.random.default_rng(0)
    thresholds = ThresholdSet(MODEL, 10**10, tuple((10.0**-k, 0.25 + 0.06 * k) for k in range(1, 11)))
    engine = create_engine(url)
    sessions = sessionmaker(engine)
    query = CandidateQuery("OUT-1", "outbound", T0 + timedelta(days=30), None, ("open_stays",))
    probes = [Template(v / np.linalg.norm(v), MODEL) for v in rng.standard_normal((3, args.dim)).astype(np.float32)]
    done = 0
    print(f"open_stays_refresh_s = {refresh_s:g}, {args.dim}-d templates, {url.split(':')[0]}\n")
    print(
        "| open stays | first vehicle: list, CPU s (wall s) | its 3 occupants scored | next vehicle 30 s later: list "
        "| its 3 occupants scored |"
    )
    print("|---|---|---|---|---|")
    with Gallery.open(root / "data", MODEL, config=GalleryConfig(backend="exact")) as gallery:
        for size in sizes:
            _fill(url, done, size)
            vectors = rng.standard_normal((size - done, args.dim)).astype(np.float32)
            for k, v in enumerate(vectors):
                gallery.enrol(f"D{done + k:07d}", Template(v / np.linalg.norm(v), MODEL))
            gallery.flush()
            done = size
            source = LedgerCandidates(sessions, open_stays_refresh_s=refresh_s)  # a lane process starting
            matcher = Matcher(gallery, thresholds)
            row = [f"{size:,}"]
            for at in (query.started_at, query.started_at + timedelta(seconds=30)):
                c0, w0 = _cpu(), time.perf_counter()
                (found,) = source.lists(replace(query, started_at=at))
                c1, w1 = _cpu(), time.perf_counter()
                _docs, scores = matcher.list_scores(probes, found.doc_ids)
                c2, w2 = _cpu(), time.perf_counter()
                if len(found.doc_ids) != size or scores.shape != (3, size):
                    raise SystemExit(f"list of {len(found.doc_ids)} documents, scores {scores.shape}: expected {size}")
                row += [f"{c1 - c0:.3f} ({w1 - w0:.3f})", f"{c2 - c1:.3f} ({w2 - w1:.3f})"]
            print("| " + " | ".join(row) + " |")
    engine.dispose()


if __name__ == "__main__":
    main()
