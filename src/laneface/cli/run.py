"""`laneface run PASSAGE_DIR ... --out results.jsonl`: the lane pipeline on recorded passages; `--post URL`
sends each passage's record to the records service through the lane edge's outbox; `laneface outbox flush`
delivers what an earlier `--post` left pending."""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from laneface.cli.common import (
    DetectFpsOption,
    DetectorOption,
    EmbedderOption,
    FewFmrOption,
    FullFrameFpsOption,
    ProfileOption,
    ShotsPerTrackOption,
    SideDetectFpsOption,
    emit_json,
    settings_of,
    settings_with_lane,
    store_of,
)
from laneface.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Iterator

    from laneface.config import Settings
    from laneface.edge.post import PostReport, ResultPoster
    from laneface.pipeline.passages import PassageOutcome
    from laneface.pipeline.result import PassageResult
    from laneface.records.service import RecordsService

__all__ = ["outbox_app", "run_command", "summary_table"]

logger = logging.getLogger(__name__)

outbox_app = typer.Typer(help="The outbox of `laneface run --post` in the data directory.", no_args_is_help=True)

PostOption = Annotated[
    str | None,
    typer.Option(
        "--post",
        help="Records service URL (several, comma-separated: replicas, tried in turn): each passage's record "
        "goes through an outbox in the data dir (nothing is lost when the service is down; idempotent on lane + "
        "passage_id).",
    ),
]
ApiKeyEnvOption = Annotated[
    str,
    typer.Option("--api-key-env", help="Environment variable holding the API key of role 'lane' (as lane.toml)."),
]
ApiKeyFileOption = Annotated[
    Path | None, typer.Option("--api-key-file", help="File holding the API key of role 'lane' (wins over the env).")
]
DrainOption = Annotated[
    float,
    typer.Option("--drain-s", min=0.0, help="At the end, wait at most this long for the outbox to be delivered."),
]


def _open_poster(
    ctx: typer.Context, url: str, api_key_env: str, api_key_file: Path | None, images: bool
) -> ResultPoster:
    """The outbox of the data dir with a deliverer to ``url``, configured as the lane edge's (lane.toml
    [service] and [delivery] defaults)."""
    from pydantic import ValidationError

    from laneface.edge.config import DeliveryConfig, ServiceConfig
    from laneface.edge.post import ResultPoster, run_outbox_path
    from laneface.retry import Backoff

    first, *others = [u.strip() for u in url.split(",")]
    try:
        service = ServiceConfig(
            url=first, fallback_urls=tuple(others), api_key_env=api_key_env, api_key_file=api_key_file
        )
    except ValidationError as exc:
        raise ConfigError(f"--post {url!r}: {exc.errors()[0]['msg']}") from None
    d = DeliveryConfig()
    return ResultPoster.open(
        run_outbox_path(settings_of(ctx).data_dir),
        service.urls,
        service.api_key(os.environ),
        images=images,
        backoff=Backoff(d.backoff_initial_s, d.backoff_factor, d.backoff_max_s, d.jitter),
        timeout_s=service.timeout_s,
    )


@contextlib.contextmanager
def _open_records(settings: Settings) -> Iterator[RecordsService]:
    """The records database of ``settings``, read for candidate lists: its schema must be current (a lane
    never migrates the centre's database)."""
    from laneface.records import migrate
    from laneface.records.service import RecordsService

    records = RecordsService.open(settings, None)
    try:
        migrate.require_current(records.engine)
        yield records
    finally:
        records.close()


def _report_post(report: PostReport, where: Path) -> None:
    typer.echo(
        f"posted: {report.stored} stored in the outbox, {report.kept} already there; {report.delivered} delivered, "
        f"{report.rejected} rejected; outbox {where}: {report.counts}",
        err=True,
    )
    if report.pending:
        typer.echo(
            f"{report.pending} record(s) still pending (service unreachable?): they stay in the outbox; "
            "`laneface outbox flush --post URL` or the next `laneface run --post` delivers them",
            err=True,
        )


def _decisions(result: PassageResult) -> str:
    counts: dict[str, int] = {}
    for o in result.occupants:
        counts[o.match.decision] = counts.get(o.match.decision, 0) + 1
    return ", ".join(f"{n} {d}" for d, n in sorted(counts.items())) or "-"


def summary_table(outcomes: list[PassageOutcome]) -> list[list[str]]:
    """The rows of the run's summary (header first, totals last): per passage its id, direction, occupants,
    captured (best shot passed the quality profile), identified (decision ``match``), decisions and the
    error or warnings."""
    rows = [["passage", "direction", "occupants", "captured", "identified", "decisions", "error / warnings"]]
    occ = cap = ident = failed = 0
    for o in outcomes:
        r = o.result
        if r is None:
            failed += 1
            rows.append([o.passage_id or o.directory.name, "-", "-", "-", "-", "-", str(o.error)])
            continue
        c = sum(1 for x in r.occupants if x.quality_passed)
        i = sum(1 for x in r.occupants if x.match.decision == "match")
        occ, cap, ident = occ + r.occupant_count, cap + c, ident + i
        rows.append(
            [r.passage_id, r.direction, str(r.occupant_count), str(c), str(i), _decisions(r), "; ".join(r.warnings)]
        )
    ok = len(outcomes) - failed
    rows.append(
        [f"{len(outcomes)} passages", f"{failed} failed", str(occ), str(cap), str(ident), f"{ok} processed", ""]
    )
    return rows


def _print_table(rows: list[list[str]]) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(*rows[0], title="laneface run", show_footer=False)
    for row in rows[1:-1]:
        table.add_row(*row)
    table.add_section()
    table.add_row(*rows[-1])
    Console(stderr=True, width=max(100, min(200, os.get_terminal_size(2).columns if os.isatty(2) else 160))).print(
        table
    )


def _save_shots(result: PassageResult, shots_dir: Path) -> int:
    from laneface.edge.mapping import shot_file, shot_jpegs

    saved = 0
    for occupant_id, jpeg in shot_jpegs(result).items():
        try:
            path = shot_file(shots_dir, result.lane, result.passage_id, occupant_id)
        except ValueError as exc:
            logger.warning("best shots of passage %s not saved: %s", result.passage_id, exc)
            return saved
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(jpeg)
        saved += 1
    return saved


def run_command(
    ctx: typer.Context,
    passages: Annotated[
        list[Path], typer.Argument(help="Passage directories (passage.json + cam_<name>.mp4 or cam_<name>/ frames).")
    ],
    out: Annotated[Path, typer.Option("--out", "-o", help="JSON Lines file written, one line per passage.")],
    detector: DetectorOption = None,
    embedder: EmbedderOption = None,
    detect_fps: DetectFpsOption = None,
    side_detect_fps: SideDetectFpsOption = None,
    full_frame_fps: FullFrameFpsOption = None,
    shots_per_track: ShotsPerTrackOption = None,
    profile: ProfileOption = None,
    few_fmr: FewFmrOption = None,
    lane: Annotated[
        str | None, typer.Option("--lane", help="Lane name of the records (default: each passage.json's lane).")
    ] = None,
    save_shots: Annotated[
        Path | None,
        typer.Option(
            "--save-shots",
            help="Save each occupant's best shot as DIR/<lane>/<passage_id>/<occupant_id>.jpg "
            "(`laneface records import --shots DIR` takes them).",
        ),
    ] = None,
    events: Annotated[
        Path | None,
        typer.Option(
            "--events",
            help="Write each passage's events (occupant_captured, occupant_identified, seat_missing, prompt, "
            "passage_complete) to this JSON Lines file as they happen.",
        ),
    ] = None,
    post: PostOption = None,
    api_key_env: ApiKeyEnvOption = "LANEFACE_LANE_API_KEY",
    api_key_file: ApiKeyFileOption = None,
    images: Annotated[bool, typer.Option("--images/--no-images", help="With --post: send the best-shot JPEGs.")] = True,
    drain_s: DrainOption = 30.0,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress on stderr.")] = True,
    table: Annotated[bool, typer.Option("--table/--no-table", help="Summary table on stderr at the end.")] = True,
    ledger: Annotated[
        bool,
        typer.Option(
            "--ledger/--no-ledger",
            help="Search the ledger's candidate lists (people seen in the vehicle before, by plate; open "
            "stays) of the records database (database_url) before the whole gallery.",
        ),
    ] = False,
) -> None:
    """Process each passage: every occupant, its row, its best shot's quality and its identification
    (1:few against the passage's documents, with --ledger the ledger's lists, then 1:N). One JSON line per
    passage on --out; a passage that cannot be read gets a line with "error" and the run goes on; a result
    with "warnings" left something out (a corrupt camera video). A summary table goes to stderr. Exit
    status 1 when every passage failed (or the service rejected a record)."""
    from laneface.edge.post import run_outbox_path
    from laneface.pipeline.candidates import CandidateSource
    from laneface.pipeline.lane import LanePipeline
    from laneface.pipeline.passages import process_passages
    from laneface.progress import progress_bar
    from laneface.records.candidates import LedgerCandidates

    settings = settings_with_lane(
        ctx,
        detector=detector,
        embedder=embedder,
        detect_fps=detect_fps,
        side_detect_fps=side_detect_fps,
        full_frame_fps=full_frame_fps,
        shots_per_track=shots_per_track,
        profile=profile,
        few_fmr=few_fmr,
    )
    if lane is not None and (not lane or "/" in lane):
        raise typer.BadParameter("a lane name without '/'", param_hint="--lane")
    poster = _open_poster(ctx, post, api_key_env, api_key_file, images) if post else None
    outcomes: list[PassageOutcome] = []
    shots = 0
    stack = contextlib.ExitStack()
    try:
        if poster is not None:
            poster.start()  # delivers while the next passages are processed
        if ledger:
            records = stack.enter_context(_open_records(settings))
            candidates: CandidateSource | None = LedgerCandidates.for_lane(records.sessions, settings.lane)
        else:
            candidates = None
        pipeline = LanePipeline.from_settings(settings, store_of(ctx), candidates=candidates)
        out.parent.mkdir(parents=True, exist_ok=True)
        if events is not None:
            events.parent.mkdir(parents=True, exist_ok=True)
        with (
            pipeline,
            out.open("w", encoding="utf-8") as fh,
            events.open("w", encoding="utf-8") if events is not None else contextlib.nullcontext() as ev,
            progress_bar("passages", progress, total=len(passages)) as bar,
        ):

            def emit(event: dict[str, object]) -> None:
                assert ev is not None
                ev.write(json.dumps(event) + "\n")
                ev.flush()

            for outcome in process_passages(pipeline, passages, events=emit if ev is not None else None):
                if outcome.result is not None and lane is not None:
                    outcome = dataclasses.replace(outcome, result=dataclasses.replace(outcome.result, lane=lane))
                outcomes.append(outcome)
                fh.write(json.dumps(outcome.as_json()) + "\n")
                fh.flush()
                if outcome.result is not None:
                    if save_shots is not None:
                        shots += _save_shots(outcome.result, save_shots)
                    if poster is not None:
                        try:
                            poster.put(outcome.result)
                        except ValueError as exc:  # a lane or passage_id no outbox key can hold
                            logger.error("passage %s not posted: %s", outcome.result.passage_id, exc)
                bar(len(outcomes), len(passages))
        report = poster.drain(drain_s) if poster is not None else None
    finally:
        if poster is not None:
            poster.close()
        stack.close()
    failed = sum(1 for o in outcomes if o.result is None)
    if table:
        _print_table(summary_table(outcomes))
    typer.echo(f"{len(outcomes)} passages, {failed} with errors: {out}", err=True)
    if save_shots is not None:
        typer.echo(f"{shots} best shots saved under {save_shots}", err=True)
    if report is not None:
        _report_post(report, run_outbox_path(settings.data_dir))
    if outcomes and failed == len(outcomes):
        typer.echo("error: every passage failed; nothing was processed", err=True)
        raise typer.Exit(1)
    if report is not None and report.rejected:
        typer.echo(f"error: the service rejected {report.rejected} record(s) (kept in the outbox)", err=True)
        raise typer.Exit(1)


@outbox_app.command("flush")
def outbox_flush(
    ctx: typer.Context,
    post: Annotated[str, typer.Option("--post", help="Records service URL.")],
    api_key_env: ApiKeyEnvOption = "LANEFACE_LANE_API_KEY",
    api_key_file: ApiKeyFileOption = None,
    drain_s: DrainOption = 30.0,
) -> None:
    """Deliver what `laneface run --post` left pending in the data dir's outbox; exit 1 if some is still
    pending or was rejected."""
    from laneface.edge.post import run_outbox_path

    poster = _open_poster(ctx, post, api_key_env, api_key_file, True)
    try:
        report = poster.drain(drain_s)
    finally:
        poster.close()
    _report_post(report, run_outbox_path(settings_of(ctx).data_dir))
    if report.pending or report.rejected:
        raise typer.Exit(1)


@outbox_app.command("status")
def outbox_status(ctx: typer.Context) -> None:
    """Counts of the data dir's `run --post` outbox by state, the oldest pending record's age, rejections."""
    from laneface.edge.outbox import read_summary
    from laneface.edge.post import run_outbox_path

    emit_json(read_summary(run_outbox_path(settings_of(ctx).data_dir)).as_json())
