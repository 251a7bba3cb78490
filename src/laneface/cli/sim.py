"""`laneface sim`: render simulated passages with ground truth and a gallery manifest."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.common import emit_json

__all__ = ["rig_command", "sim_app", "sim_command"]

log = logging.getLogger(__name__)

DEFAULT_LFW = Path("../shared/data/lfw/lfw-deepfunneled")


def _variant_names() -> str:
    from laneface.sim.variants import VARIANTS

    return ", ".join(VARIANTS)


def _variant_table() -> str:
    from laneface.sim.variants import VARIANTS

    return "\n\n".join(f"{v.name}: {v.description}" for v in VARIANTS.values())


_VARIANT_NAMES = _variant_names()


sim_app = typer.Typer(help="Lane simulator: render passages (this command with --out) or plan camera rigs (rig).")


@sim_app.callback(invoke_without_command=True)
def sim_command(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="Output directory (passages, manifest.csv, gallery/); required.")
    ] = None,
    passages: Annotated[int, typer.Option("--passages", min=1, help="Number of passages to render.")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Seed: the same seed renders the same passages.")] = 0,
    lfw_dir: Annotated[
        Path, typer.Option("--lfw-dir", help="LFW deep-funneled root (faces and document photos).")
    ] = DEFAULT_LFW,
    distractors: Annotated[
        int | None,
        typer.Option("--distractors", min=0, help="Documents of people who never travel (default: one per traveller)."),
    ] = None,
    inbound_share: Annotated[
        float, typer.Option("--inbound-share", min=0.0, max=1.0, help="Share of inbound passages.")
    ] = 0.6,
    night_share: Annotated[
        float, typer.Option("--night-share", min=0.0, max=1.0, help="Share of night (infrared) passages.")
    ] = 0.25,
    variant: Annotated[
        list[str] | None,
        typer.Option(
            "--variant",
            help=f"Scene variant: {_VARIANT_NAMES} (default base; repeatable: variants that change different "
            "parameters compose; what each changes: above).",
        ),
    ] = None,
    scenario: Annotated[
        str | None,
        typer.Option(
            "--scenario",
            help="Lane operations: a scenario file (TOML) or a built-in name (two-zone): inbound = an approach "
            "then a booth stop with booth cameras and prompts, outbound = a drive-through. Its shares replace "
            "--inbound-share and --night-share. Without it, one drive-by zone as before.",
        ),
    ] = None,
    decoys: Annotated[
        float,
        typer.Option(
            "--decoys",
            min=0.0,
            max=1.0,
            help="Share of vehicles carrying a face that is not a traveller's: a print on a shirt, a photo or "
            "phone held up, a sticker on the windshield, or a dog or cat on an empty seat (default none).",
        ),
    ] = 0.0,
    history: Annotated[
        bool,
        typer.Option(
            "--history",
            help="Outbound passages get a plate read, documents read by RFID and a history of earlier "
            "crossings (commuters, visitors, arrivals elsewhere; the scenario's [population]) written to "
            "history.jsonl: `laneface records import history.jsonl` seeds the ledger (after `gallery enroll`).",
        ),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Render passages (passage.json + cam_<name>.mp4 + ground_truth.json) and a gallery manifest.csv."""
    if ctx.invoked_subcommand is not None:
        return
    if out is None:
        raise typer.BadParameter("the output directory is required", param_hint="--out")
    import cv2

    from laneface.progress import progress_bar
    from laneface.sim.scenario import load_scenario
    from laneface.sim.variants import resolve_variants
    from laneface.sim.writer import simulate

    names = tuple(variant or ())
    resolve_variants(names)  # an unknown name fails before anything is written
    lanes = None if scenario is None else load_scenario(scenario)  # so does a bad scenario
    cv2.setNumThreads(1)
    with progress_bar("sim passages", total=passages) as bar:
        rendered = 0

        def progress(message: str) -> None:
            nonlocal rendered
            rendered += 1
            log.info(message)
            bar(rendered, passages)

        summary = simulate(
            out,
            passages,
            seed,
            lfw_dir,
            distractors=distractors,
            inbound_share=inbound_share,
            night_share=night_share,
            variants=names,
            scenario=lanes,
            decoy_share=decoys,
            history=history,
            progress=progress,
        )
    if as_json:
        emit_json(summary.__dict__)
        return
    typer.echo(
        f"{summary.passages} passages, {summary.occupants} occupants, {summary.documents} documents "
        f"({summary.distractors} distractors) in {summary.seconds:.1f} s ({summary.seconds_per_passage:.2f} s per "
        f"passage){f', {summary.decoys} decoys' if summary.decoys else ''} -> {summary.out}"
    )


sim_command.__doc__ = f"{sim_command.__doc__}\n\nScene variants (--variant):\n\n{_variant_table()}"


@sim_app.command("rig")
def rig_command(
    scenario: Annotated[str, typer.Option("--scenario", help="Scenario file (TOML) or built-in name (two-zone).")],
    passages: Annotated[int, typer.Option("--passages", min=1, help="Passages of the seed to plan on.")] = 20,
    seed: Annotated[int, typer.Option("--seed", help="Seed of the passages.")] = 2026,
    lfw_dir: Annotated[Path, typer.Option("--lfw-dir", help="LFW deep-funneled root (the faces).")] = DEFAULT_LFW,
    target: Annotated[
        float,
        typer.Option("--target", min=0.0, max=1.0, help="Share of vehicles whose every occupant is capturable."),
    ] = 0.9,
    top: Annotated[int, typer.Option("--top", min=1, help="Rigs listed per zone, cheapest first.")] = 12,
    as_json: Annotated[bool, typer.Option("--json", help="Print every rig of every zone as JSON.")] = False,
) -> None:
    """Compare camera placements and resolutions per zone of a scenario: the capture ceiling each rig allows
    (vehicles whose every occupant some camera could capture, from the ground truth alone), its cameras,
    pixels per second and estimated CPU; recommend the cheapest rig that reaches --target. The booth is
    planned on top of the approach's installed rig."""
    import dataclasses

    import cv2

    from laneface.progress import progress_bar
    from laneface.sim.rig import plan_scenario
    from laneface.sim.scenario import load_scenario

    lanes = load_scenario(scenario)
    cv2.setNumThreads(1)
    with progress_bar("rig passages", total=passages) as bar:
        done = 0

        def progress(message: str) -> None:
            nonlocal done
            done += 1
            log.info(message)
            bar(done, passages)

        plans = plan_scenario(lanes, lfw_dir, passages, seed, target=target, progress=progress)
    if as_json:
        emit_json(
            {"scenario": lanes.name, "seed": seed, "target": target, "zones": [dataclasses.asdict(p) for p in plans]}
        )
        return
    for plan in plans:
        typer.echo(f"zone {plan.zone} ({plan.passages} passages):")
        for o in plan.options[:top]:
            mark = " <- recommended" if o is plan.recommended else ""
            names = dict.fromkeys(p.removesuffix(" left").removesuffix(" right") for p in o.placements)
            typer.echo(
                f"  {o.cameras} cameras {o.resolution[0]}x{o.resolution[1]} @ {o.fps:g} fps, "
                f"{o.pixels_per_s / 1e6:.1f} Mpx/s, ~{o.cpu_s_per_s:.2f} CPU s/s: vehicles {100 * o.ceiling:.1f} %, "
                f"occupants {100 * o.occupants:.1f} % [{'; '.join(names)}]{mark}"
            )
        if plan.recommended is None:
            best = max(plan.options, key=lambda o: o.ceiling)
            typer.echo(
                f"  no rig reaches {100 * target:.0f} %; the best: {100 * best.ceiling:.1f} % ({best.cameras} cameras)"
            )
