"""`laneface demo`: the whole product on the embedded default, in about a minute.

Simulated passages (both directions) are rendered from a face set, their travellers' document photos are
enrolled into the gallery and the records, the lane pipeline processes every passage, and each crossing is
stored in the records database of the data directory, as a lane would post it. ``--serve`` then starts the
service on loopback with development keys, so the dashboard shows what the demo stored.

It writes into the data directory's own records database and gallery (not a copy): run it with
``--data-dir`` on a scratch directory to keep a real deployment's records apart. Its simulated passages go to
``<data dir>/demo/passages``, which each run empties first.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from laneface.cli.common import settings_of, store_of
from laneface.errors import InvalidDatasetError

if TYPE_CHECKING:
    from fastapi import FastAPI

    from laneface.config import Settings
    from laneface.gallery.store import Gallery
    from laneface.models import ModelStore
    from laneface.pipeline.passages import PassageOutcome
    from laneface.records.service import RecordsService

__all__ = [
    "DemoRow",
    "demo_app",
    "demo_command",
    "demo_failure",
    "find_face_set",
    "records_lines",
    "summary_table",
]

log = logging.getLogger(__name__)

DEMO_DIR = "demo"
PASSAGES_DIR = "passages"  # the demo's own scratch folder under DEMO_DIR, emptied by each run
STORED, ALREADY, CONFLICT = "stored", "already stored", "conflict"
DEMO_LANE_ACTOR = "demo-lane"
STAGE_NAMES = {
    "documents": "by a document read (RFID)",
    "vehicle": "among the people seen in the vehicle before (plate)",
    "open_stays": "among the open stays",
    "gallery": "in the whole gallery",
}
SPACING = timedelta(minutes=3)  # the demo's passages are re-timed to the last minutes, so "today" shows them
FACE_SET_HINT = "../shared/data/lfw/lfw-deepfunneled"


def find_face_set(given: Path | None) -> Path:
    """The face set the simulator renders occupants and document photos from: ``given``, else the LFW copy
    beside the current directory or beside this checkout (``../shared``)."""
    if given is not None:
        if not given.is_dir():
            raise InvalidDatasetError(f"face set {given} is not a directory (LFW deep-funneled root)")
        return given
    here = Path(__file__).resolve()
    candidates = [Path.cwd() / FACE_SET_HINT, *(p / FACE_SET_HINT for p in here.parents[2:4])]
    for candidate in candidates:
        if candidate.is_dir():
            return candidate.resolve()
    raise InvalidDatasetError(
        "the demo renders its travellers from LFW deep-funneled (13,233 face images); none was found at "
        f"{FACE_SET_HINT}: give its root with --lfw-dir"
    )


@dataclass(frozen=True)
class DemoRow:
    """One passage of the demo as a person reads it."""

    passage_id: str
    direction: str
    lane: str
    truth: int  # people in the vehicle (the simulator's ground truth)
    occupants: int  # faces the lane found
    captured: int  # of those, with a best shot that met the quality profile
    identified: int  # matched to a document (1:few in the lane's documents, else 1:N)
    stored: str  # STORED, ALREADY (the same body was stored before), "conflict: ..." or "not stored: ..."
    error: str | None = None

    @property
    def result(self) -> str:
        if self.error is not None:
            return f"error: {self.error}"
        if self.identified >= self.truth:
            return "all identified"
        parts = [f"{self.identified} of {self.truth} identified"]
        if self.truth > self.occupants:
            parts.append(f"{self.truth - self.occupants} not found")
        if self.occupants > self.identified:
            parts.append(f"{self.occupants - self.identified} for an officer")
        return ", ".join(parts)


def summary_table(rows: Sequence[DemoRow]) -> list[str]:
    """The per-passage table and its totals, as text lines."""
    head = ("passage", "direction", "lane", "people", "found", "captured", "identified", "result")
    body = [
        (
            r.passage_id,
            r.direction,
            r.lane,
            str(r.truth),
            str(r.occupants),
            str(r.captured),
            str(r.identified),
            r.result,
        )
        for r in rows
    ]
    total = (
        "total",
        f"{sum(r.direction == 'inbound' for r in rows)} in / {sum(r.direction == 'outbound' for r in rows)} out",
        "",
        str(sum(r.truth for r in rows)),
        str(sum(r.occupants for r in rows)),
        str(sum(r.captured for r in rows)),
        str(sum(r.identified for r in rows)),
        f"{sum(r.error is not None for r in rows)} errors",
    )
    widths = [max(len(line[i]) for line in (head, *body, total)) for i in range(len(head))]

    def fmt(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return [fmt(head), rule, *(fmt(b) for b in body), rule, fmt(total)]


def _retime(passage_dirs: Sequence[Path], now: datetime) -> None:
    """Move the rendered passages to the last minutes (oldest first), keeping their order."""
    for i, directory in enumerate(passage_dirs):
        path = directory / "passage.json"
        meta = json.loads(path.read_text(encoding="utf-8"))
        started = now - SPACING * (len(passage_dirs) - i)
        meta["started_at"] = started.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        path.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")


def _retimed_history(part: Path, dirs: Sequence[Path], rendered_at: dict[str, str]) -> Path:
    """The simulator's history of the departing vehicles, moved as :func:`_retime` moved their passages."""
    from laneface.sim.population import HISTORY_FILE, shift_history

    def at(text: str) -> datetime:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))

    moves = {d.name: at(_started(d)) - at(rendered_at[d.name]) for d in dirs if d.parent == part}
    source = part / HISTORY_FILE
    lines = [json.loads(x) for x in source.read_text(encoding="utf-8").splitlines() if x.strip()]
    out = part / f"retimed-{HISTORY_FILE}"
    out.write_text("".join(json.dumps(x) + "\n" for x in shift_history(lines, moves)), encoding="utf-8")
    return out


def _started(directory: Path) -> str:
    return str(json.loads((directory / "passage.json").read_text(encoding="utf-8"))["started_at"])


def _truth(directory: Path) -> int:
    truth = json.loads((directory / "ground_truth.json").read_text(encoding="utf-8"))
    return len(truth["occupants"])


def _store(records: RecordsService, outcome: PassageOutcome) -> str:
    """Store one processed passage as its lane would post it (same body, same validation)."""
    from laneface.api.ingest import store_results
    from laneface.records.audit import Actor

    report = store_results(records, [outcome.unwrap()], actor=Actor(DEMO_LANE_ACTOR, "lane"))
    if report.imported:
        return STORED
    if report.already:
        return ALREADY  # an earlier demo run stored this very body under this passage_id and lane
    if report.conflicts:  # an earlier run stored another result under the same key: the records keep that one
        return f"{CONFLICT}: {report.conflicts[0].error}"
    problems = report.refused or report.failed
    return f"not stored: {problems[0].error}" if problems else "not stored"


def records_lines(rows: Sequence[DemoRow]) -> list[str]:
    """The summary's records and ledger lines: what this run stored, what an earlier run had stored
    identically, what conflicts with an earlier run's result, and what could not be stored."""
    stored = [r for r in rows if r.stored == STORED]
    already = [r for r in rows if r.stored == ALREADY]
    conflicts = sum(r.stored.startswith(CONFLICT) for r in rows)
    other = len(rows) - len(stored) - len(already) - conflicts
    parts = [f"records    {len(stored)} crossings stored"]
    if already:
        parts.append(f"{len(already)} already stored identically by an earlier demo run")
    if conflicts:  # processing again gives other timings: the records keep the first result of a passage
        parts.append(f"{conflicts} not stored again: an earlier demo run's different result for the passage is kept")
    if other:
        parts.append(f"{other} not stored")
    ledger = f"ledger     {sum(r.identified for r in stored)} travellers' crossings confirmed automatically"
    if already:
        ledger += f" ({sum(r.identified for r in already)} more by an earlier demo run)"
    return [", ".join(parts), ledger + "; the rest wait for an officer"]


def demo_failure(rows: Sequence[DemoRow]) -> str | None:
    """Why the demo failed (exit 1), or None: every passage failed, or none of its passages has a crossing in
    the records. A rerun succeeds: its passages are there, stored identically before or (a conflict: other
    timings, same passage) kept from the earlier run."""
    if not rows:
        return "no passage was processed"
    if all(r.error is not None for r in rows):
        return "every passage failed"
    if not any(r.stored in (STORED, ALREADY) or r.stored.startswith(CONFLICT) for r in rows):
        return "no crossing could be stored in the records"
    return None


def _scratch(out: Path) -> Path:
    """The demo's own scratch folder of simulated passages, emptied: a passage an earlier run (another seed,
    more passages) left there would otherwise be processed again."""
    sim_dir = out / PASSAGES_DIR
    if sim_dir.is_symlink() or sim_dir.is_file():
        sim_dir.unlink()
    elif sim_dir.is_dir():
        shutil.rmtree(sim_dir)
    return sim_dir


def _enrolled_in(gallery: Gallery, doc_ids: set[str]) -> tuple[set[str], set[str]]:
    """Of ``doc_ids``, those the gallery holds, and those of them with quality flags."""
    enrolled = {d for d in doc_ids if gallery.document(d) is not None}
    flagged = {r.doc_id for r in gallery.flagged_documents() if r.doc_id in enrolled}
    return enrolled, flagged


def _enrol(
    settings: Settings, store: ModelStore, records: RecordsService, manifest: Path
) -> tuple[set[str], set[str], set[str]]:
    """Enrol the manifest's document photos into the gallery and the records with the default policy (one
    usable face enrols; what the document profile finds short is a quality flag); the doc_ids (enrolled,
    flagged, in the manifest): a document the gallery holds counts once, however many manifests name it."""
    from laneface.api.gallery_service import enroller_from_settings
    from laneface.gallery.manifest import count_rows, read_manifest
    from laneface.records.enrolments import enrol_rows_with_records

    enroller = enroller_from_settings(settings, store)
    try:
        enrol_rows_with_records(
            enroller, records, read_manifest(manifest), manifest=str(manifest), total=count_rows(manifest)
        )
        doc_ids = {row.doc_id for row in read_manifest(manifest) if row.doc_id}
        enrolled, flagged = _enrolled_in(enroller.gallery, doc_ids)
    finally:
        enroller.gallery.close()
    return enrolled, flagged, doc_ids


def demo_command(
    ctx: typer.Context,
    passages: Annotated[int, typer.Option("--passages", min=2, max=50, help="Passages to simulate.")] = 6,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the simulator (same seed, same passages).")] = 2026,
    lfw_dir: Annotated[
        Path | None,
        typer.Option("--lfw-dir", help=f"Face set to render travellers from (default: {FACE_SET_HINT} if present)."),
    ] = None,
    serve: Annotated[
        bool, typer.Option("--serve", help="Then start the service on loopback with development keys.")
    ] = False,
    port: Annotated[int | None, typer.Option("--port", min=1, max=65535, help="Port of --serve.")] = None,
) -> None:
    """The whole product in a minute: simulate passages in both directions, enrol their travellers' documents,
    run the lane pipeline, store each crossing in the records of the data directory, and print a summary.
    With --serve, the service and its dashboard show what was stored.

    It writes into the data directory's own records database and gallery: use --data-dir (before `demo`)
    on a scratch directory to keep a deployment's records apart. Exit 1 when every passage failed or no
    crossing could be stored."""
    import cv2

    from laneface.api.ingest import import_results_file
    from laneface.gallery.store import gallery_dir
    from laneface.pipeline.lane import LanePipeline
    from laneface.pipeline.passages import process_passages
    from laneface.progress import progress_bar
    from laneface.records.audit import Actor
    from laneface.records.candidates import LedgerCandidates
    from laneface.records.service import RecordsService, build_cipher
    from laneface.sim.writer import simulate

    settings = settings_of(ctx)
    store = store_of(ctx)
    faces = find_face_set(lfw_dir)
    out = settings.data_dir / DEMO_DIR
    sim_dir = _scratch(out)
    cv2.setNumThreads(1)
    say = typer.echo

    inbound = (passages + 1) // 2
    say(f"1/4 simulating {inbound} inbound and {passages - inbound} outbound passages from {faces} ...", err=True)
    documents = 0
    manifests: list[Path] = []
    for direction, count, share, part_seed in (
        ("inbound", inbound, 1.0, seed),
        ("outbound", passages - inbound, 0.0, seed + 1),
    ):
        part = sim_dir / direction
        # departing vehicles come with what the ledger knew of them: plates, commuters, open stays
        history = direction == "outbound"
        summary = simulate(part, count, part_seed, faces, inbound_share=share, history=history, progress=log.info)
        documents += summary.documents
        manifests.append(part / "manifest.csv")
    dirs = sorted((p for p in sim_dir.glob("*/*") if (p / "passage.json").is_file()), key=_started)
    rendered_at = {d.name: _started(d) for d in dirs}
    _retime(dirs, datetime.now(UTC))
    past = _retimed_history(sim_dir / "outbound", dirs, rendered_at)

    records = RecordsService.open(settings, build_cipher(settings, dev_key=True))
    try:
        records.prepare_schema()
        say(f"2/4 enrolling {documents} document photos ...", err=True)
        enrolled: set[str] = set()
        flagged: set[str] = set()
        named: set[str] = set()
        for manifest in manifests:
            ids = _enrol(settings, store, records, manifest)
            enrolled, flagged, named = enrolled | ids[0], flagged | ids[1], named | ids[2]
        loaded = import_results_file(records, past, actor=Actor(DEMO_LANE_ACTOR, "lane"))
        say(f"   ledger: {len(loaded.imported)} earlier crossings of the departing travellers loaded", err=True)
        say("3/4 running the lane pipeline ...", err=True)
        ledger = LedgerCandidates.for_lane(records.sessions, settings.lane)
        pipeline = LanePipeline.from_settings(settings, store, candidates=ledger)
        rows: list[DemoRow] = []
        stages: Counter[str] = Counter()
        results = out / "results.jsonl"
        with pipeline, results.open("w", encoding="utf-8") as fh, progress_bar("passages") as bar:
            for done, outcome in enumerate(process_passages(pipeline, dirs), start=1):
                fh.write(json.dumps(outcome.as_json()) + "\n")
                if outcome.result is not None and outcome.result.direction == "outbound":
                    stages.update(str(o.match.stage) for o in outcome.result.occupants if o.match.decision == "match")
                rows.append(_row(records, outcome))
                log.info("%s: %s", outcome.directory.name, rows[-1].result)
                bar(done, len(dirs))
        say("4/4 stored in the records", err=True)
    finally:
        records.close()
    model_version = pipeline.embedder.model_version
    say("")
    for line in summary_table(rows):
        say(line)
    say("")
    say(f"documents  {len(enrolled)} of {len(named)} enrolled ({len(flagged)} with quality flags)")
    for line in records_lines(rows):
        say(line)
    if stages:
        found = ", ".join(f"{STAGE_NAMES.get(k, k)} {n}" for k, n in sorted(stages.items(), key=lambda kv: -kv[1]))
        say(f"outbound   identified: {found}")
    say(f"models     detector {pipeline.detector.name}, recognizer {model_version} (embedded defaults)")
    say("           stronger: `laneface models pull yunet-n sface` (official upstream, sha256 checked; or put the")
    say("           files in --models-dir DIR): `auto` then picks YuNet-n + SFace; `laneface models list` shows all;")
    say("           an agency's own ONNX model: --model-specs FILE, then `laneface models check NAME`")
    say(f"files      passages {sim_dir}")
    say(f"           results  {results}")
    say(f"           gallery  {gallery_dir(settings.data_dir, model_version)}")
    say(f"           records  {settings.database_url}")
    failure = demo_failure(rows)
    if failure is not None:
        typer.echo(f"error: {failure}", err=True)
        raise typer.Exit(1)
    if serve:
        _serve(ctx, settings, port)
    else:
        say("next       laneface demo --serve   (the dashboard over these records)")


def _row(records: RecordsService, outcome: PassageOutcome) -> DemoRow:
    meta = json.loads((outcome.directory / "passage.json").read_text(encoding="utf-8"))
    truth = _truth(outcome.directory)
    if outcome.error is not None:
        return DemoRow(
            outcome.directory.name, meta["direction"], meta["lane"], truth, 0, 0, 0, "not stored", str(outcome.error)
        )
    result = outcome.unwrap()
    line = result.as_json()
    return DemoRow(
        passage_id=line["passage_id"],
        direction=line["direction"],
        lane=line["lane"],
        truth=truth,
        occupants=line["occupant_count"],
        captured=sum(o["quality_passed"] for o in line["occupants"]),
        identified=sum(o["match"]["decision"] == "match" for o in line["occupants"]),
        stored=_store(records, outcome),
    )


def demo_app(settings: Settings, store: ModelStore) -> tuple[FastAPI, dict[str, str]]:
    """The service over the demo's data directory with development keys (loopback only) and its keys."""
    from laneface.api.app import create_app
    from laneface.api.gallery_service import ServiceGallery, enroller_from_settings
    from laneface.api.security import DEV_KEYS_FILE

    gallery = ServiceGallery(lambda: enroller_from_settings(settings, store))
    app = create_app(settings, gallery=gallery, insecure_dev=True)
    path = settings.data_dir / DEV_KEYS_FILE
    keys = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    return app, {role: key for role, key in keys.items() if isinstance(key, str)}


def _serve(ctx: typer.Context, settings: Settings, port: int | None) -> None:
    import uvicorn

    from laneface.cli.serve import service_urls

    app, keys = demo_app(settings, store_of(ctx))
    host, bind_port = "127.0.0.1", port or settings.service.port
    typer.echo("")
    for line in service_urls(
        host, bind_port, docs=settings.service.docs, insecure_dev=True, data_dir=settings.data_dir
    ):
        typer.echo(line)
    if "officer" in keys:
        typer.echo(f"  sign in:    officer key {keys['officer']}")
    typer.echo("  Ctrl-C stops the service")
    uvicorn.run(app, host=host, port=bind_port, log_config=None, server_header=False)
