"""`laneface sim`: render simulated passages with ground truth and a gallery manifest."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.common import emit_json

__all__ = ["sim_command"]

log = logging.getLogger(__name__)

DEFAULT_LFW = Path("../shared/data/lfw/lfw-deepfunneled")


def _variant_names() -> str:
    from laneface.sim.variants import VARIANTS

    return ", ".join(VARIANTS)


def _variant_table() -> str:
    from laneface.sim.variants import VARIANTS

    return "\n\n".join(f"{v.name}: {v.description}" for v in VARIANTS.values())


_VARIANT_NAMES = _variant_names()


def sim_command(
    out: Annotated[Path, typer.Option("--out", help="Output directory (passages, manifest.csv, gallery/).")],
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
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON.")] = False,
) -> None:
    """Render passages (passage.json + cam_<name>.mp4 + ground_truth.json) and a gallery manifest.csv."""
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
            progress=progress,
        )
    if as_json:
        emit_json(summary.__dict__)
        return
    typer.echo(
        f"{summary.passages} passages, {summary.occupants} occupants, {summary.documents} documents "
        f"({summary.distractors} distractors) in {summary.seconds:.1f} s ({summary.seconds_per_passage:.2f} s per "
        f"passage) -> {summary.out}"
    )


sim_command.__doc__ = f"{sim_command.__doc__}\n\nScene variants (--variant):\n\n{_variant_table()}"
