"""`laneface eval lfw`."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.common import emit_json, settings_of, store_of

eval_app = typer.Typer(help="Evaluate recognition accuracy on public datasets.", no_args_is_help=True)
log = logging.getLogger(__name__)


@eval_app.command("lfw")
def lfw(
    ctx: typer.Context,
    lfw_dir: Annotated[Path, typer.Option("--lfw-dir", help="LFW image root (Name/Name_0001.jpg).")],
    pairs: Annotated[Path, typer.Option("--pairs", help="Pairs file in the official View-2 format.")],
    detector: Annotated[str, typer.Option("--detector", "-d", help="Detector name or 'auto'.")] = "auto",
    embedder: Annotated[str, typer.Option("--embedder", "-e", help="Recognizer model name.")] = "dlib-resnet",
    out: Annotated[Path, typer.Option("--out", help="Directory for the JSON result and DET plot.")] = Path("out/lfw"),
    templates: Annotated[
        Path | None,
        typer.Option(
            "--templates",
            help="Score templates computed before (the .npz cache of `bench onen` / `calibrate --lfw-dir`) "
            "instead of detecting and embedding; -d/-e are then taken from the file.",
        ),
    ] = None,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Processes that detect and embed (one core each).")
    ] = 1,
) -> None:
    """LFW verification: 10-fold accuracy, TAR at FAR 1e-3/1e-2, EER and failures to acquire; JSON + DET PNG."""
    from dataclasses import asdict

    from laneface.detection.factory import build_detector
    from laneface.embedding.factory import build_embedder
    from laneface.evaluation.lfw import StackRecipe, evaluate_lfw, evaluate_lfw_templates, write_result
    from laneface.progress import progress_bar

    if templates is not None:
        from laneface.errors import InvalidDatasetError
        from laneface.evaluation.lfw_embeddings import LfwEmbeddings

        try:
            cached = LfwEmbeddings.load(templates)
        except (OSError, ValueError, KeyError) as exc:
            raise InvalidDatasetError(f"{templates} is not a template cache of `bench onen`: {exc}") from None
        result, curve = evaluate_lfw_templates(
            lfw_dir,
            pairs,
            cached.files,
            cached.vectors,
            cached.acquired,
            detector=cached.detector,
            model_version=cached.model_version,
        )
    else:
        settings = settings_of(ctx)
        store = store_of(ctx)
        det = build_detector(detector, store, settings.detection)
        emb = build_embedder(embedder, store, settings.embedding)
        with progress_bar(f"LFW {det.name} + {emb.name}") as bar:
            result, curve = evaluate_lfw(
                lfw_dir,
                pairs,
                det,
                emb,
                progress=bar,
                workers=workers,
                recipe=StackRecipe(detector, embedder, settings),
            )
    json_path, png = write_result(result, curve, out)
    summary = asdict(result)
    summary.pop("fta_files")
    summary["json"] = str(json_path)
    summary["det_plot"] = str(png)
    emit_json(summary)
