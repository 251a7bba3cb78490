"""`laneface bench service`: concurrent simulated lanes against the records service on loopback."""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.common import emit_json

__all__ = ["bench_service_command"]

log = logging.getLogger(__name__)


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def bench_service_command(
    lanes: Annotated[int, typer.Option("--lanes", min=1, max=1000, help="Concurrent simulated lanes.")] = 20,
    duration: Annotated[
        float, typer.Option("--duration", min=1.0, help="Seconds of posting (passages in flight are then drained).")
    ] = 60.0,
    rate: Annotated[
        float,
        typer.Option(
            "--rate", min=0.001, help="Passages per second per lane (a real lane: one every 10-30 s, 0.03-0.1)."
        ),
    ] = 0.1,
    max_rate: Annotated[
        bool,
        typer.Option("--max-rate", help="Each lane posts again as soon as it is acknowledged (saturation point)."),
    ] = False,
    warmup: Annotated[
        float,
        typer.Option(
            "--warmup", min=0.0, help="First seconds left out of rate and latency (the service opening connections)."
        ),
    ] = 5.0,
    occupants: Annotated[
        int, typer.Option("--occupants", min=1, max=64, help="Occupants per passage: 1 to this many (uniform).")
    ] = 7,
    templates: Annotated[
        bool, typer.Option("--templates", help="Also send a 512-d template per captured occupant.")
    ] = False,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            help="Records database of the service (postgresql+psycopg://...); default: SQLite in the work dir.",
        ),
    ] = None,
    work_dir: Annotated[
        Path | None,
        typer.Option("--work-dir", help="Data directory of the service, kept afterwards (default: a temporary one)."),
    ] = None,
    timeout: Annotated[float, typer.Option("--timeout", min=0.1, help="Seconds per request before a retry.")] = 10.0,
    p99_target: Annotated[
        float, typer.Option("--p99-target-ms", min=1.0, help="Post latency target for 'sustained'.")
    ] = 200.0,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Start the service (`laneface serve`, its own process) on a loopback port and drive concurrent lanes
    against it: sustained passages/s, post latency percentiles, errors and retries, and afterwards every
    acknowledged passage looked up in the database (lost and duplicated records must be 0; exit status 1
    otherwise)."""
    from laneface.evaluation.bench_service import run_service_bench
    from laneface.evaluation.service_load import LaneLoad

    logging.getLogger("httpx").setLevel(logging.WARNING)  # not a line per request with -v
    load = LaneLoad(
        lanes=lanes,
        duration_s=duration,
        rate_per_lane_hz=None if max_rate else rate,
        warmup_s=warmup,
        max_occupants=occupants,
        templates=templates,
        seed=seed,
        timeout_s=timeout,
    )
    if work_dir is not None:
        report = run_service_bench(
            load, work_dir=work_dir, database_url=database_url, p99_target_ms=p99_target, progress=log.info
        )
    else:
        with tempfile.TemporaryDirectory(prefix="laneface-bench-service-") as tmp:
            report = run_service_bench(
                load, work_dir=Path(tmp), database_url=database_url, p99_target_ms=p99_target, progress=log.info
            )
    if as_json:
        emit_json(report.as_json())
    else:
        mode = "max rate" if report.rate_per_lane_hz is None else f"{report.rate_per_lane_hz:g} passages/s each"
        offered = "" if report.offered_passages_per_s is None else f" (offered {report.offered_passages_per_s:g})"
        post, rec = report.post_latency, report.records
        typer.echo(
            f"{report.lanes} lanes, {mode}, {report.duration_s:.0f} s ({report.warmup_s:g} s warm-up) on "
            f"{report.database}: "
            f"{report.passages_per_s:.2f} passages/s{offered}, {report.occupants_per_s:.1f} occupants/s"
        )
        typer.echo(
            f"post latency p50 {_ms(post.p50_ms)}, p95 {_ms(post.p95_ms)}, p99 {_ms(post.p99_ms)}, "
            f"max {_ms(post.max_ms)} (target p99 <= {report.p99_target_ms:g} ms)"
        )
        errors = ", ".join(f"{k} {v}" for k, v in report.errors.items()) or "none"
        typer.echo(
            f"errors: {errors} | retries {report.retries} | replays {report.replays} | "
            f"unacknowledged {report.unacknowledged} | given up {report.given_up}"
        )
        typer.echo(
            f"records: {rec.acknowledged} acknowledged, {rec.found} found, lost {rec.lost}, "
            f"duplicates {rec.duplicates}, mismatched {rec.mismatched}"
        )
        cpu = report.service_cpu_ms_per_passage
        typer.echo(
            f"service CPU {'-' if cpu is None else f'{cpu:.1f} ms'} per passage; load average (1 min) "
            f"{report.load_average_1m_before} -> {report.load_average_1m_after} on {report.cpu_count} CPUs"
        )
        if report.sustained is not None:
            typer.echo(f"sustained: {'yes' if report.sustained else 'no'}")
    if not report.records.ok:
        raise typer.Exit(1)
