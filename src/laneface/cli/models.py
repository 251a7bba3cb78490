"""`laneface models list|pull|check`."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.common import emit_json, settings_of, store_of
from laneface.errors import ChecksumError, ConfigError

models_app = typer.Typer(help="List, verify and download model files.", no_args_is_help=True)


@models_app.command("list")
def list_models(
    ctx: typer.Context,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Every known model: kind, licence and use, and where its file was found (checksum verified)."""
    store = store_of(ctx)
    rows = []
    for spec in store.specs:
        found = store.find(spec.name)
        status, where = "missing", ""
        if found is not None:
            where = str(found.path)
            try:
                store.verify(found)
                status = "ok"
            except ChecksumError:
                status = "BAD CHECKSUM"
        rows.append(
            {
                "name": spec.name,
                "version": spec.version,
                "kind": spec.kind,
                "licence": spec.licence,
                "use": spec.use,
                "status": status,
                "path": where,
                "upstream_url": spec.upstream_url or "",
            }
        )
    if as_json:
        emit_json(rows)
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title="laneface models")
    for col in ("name", "version", "kind", "licence", "use", "status", "path"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(*(str(r[c]) for c in ("name", "version", "kind", "licence", "use", "status", "path")))
    Console(width=200).print(table)


@models_app.command("pull")
def pull(
    ctx: typer.Context,
    names: Annotated[list[str], typer.Argument(help="Model names (see `laneface models list`).")],
    base_url: Annotated[
        str | None,
        typer.Option(
            "--base-url",
            help="Base URL of a model mirror (env LANEFACE_MODELS__BASE_URL); default: each model's official "
            "upstream location.",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Download even if a verified file is present.")] = False,
) -> None:
    """Download model files into the models directory, verifying sha256 before keeping them: from a mirror
    (--base-url) or, without one, from each model's official upstream location (`models list --json`)."""
    settings = settings_of(ctx)
    url = base_url or settings.models.base_url or None
    store = store_of(ctx)
    for name in names:
        located = store.pull(name, url, force=force)
        typer.echo(f"{name}: {located.path} (sha256 verified)")


def _default_pairs(lfw_dir: Path) -> Path:
    """``pairs.txt`` inside the LFW image root or beside it (the layout of the LFW download)."""
    for candidate in (lfw_dir / "pairs.txt", lfw_dir.parent / "pairs.txt"):
        if candidate.is_file():
            return candidate
    raise ConfigError(f"no pairs.txt in or beside {lfw_dir}: pass --pairs FILE (LFW View-2 pairs)")


@models_app.command("check")
def check(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Model name (built-in or from --model-specs), a detector or embedder.")],
    image: Annotated[
        Path | None, typer.Option("--image", help="Detector: image to detect faces in (default: a blank image).")
    ] = None,
    lfw_dir: Annotated[
        Path | None,
        typer.Option("--lfw-dir", help="LFW image root: verification accuracy on one fold, thresholds calibrated."),
    ] = None,
    pairs: Annotated[
        Path | None, typer.Option("--pairs", help="LFW View-2 pairs file (default: pairs.txt in or beside --lfw-dir).")
    ] = None,
    fold: Annotated[int, typer.Option("--fold", min=0, help="Fold of the pairs file, from 0.")] = 0,
    limit: Annotated[
        int | None, typer.Option("--limit", min=2, help="Only the fold's first N pairs (half mated): a quick check.")
    ] = None,
    detector: Annotated[
        str | None, typer.Option("--detector", "-d", help="With --lfw-dir, checking an embedder: its detector.")
    ] = None,
    embedder: Annotated[
        str | None, typer.Option("--embedder", "-e", help="With --lfw-dir, checking a detector: its embedder.")
    ] = None,
    write_thresholds: Annotated[
        bool, typer.Option("--write-thresholds/--no-write-thresholds", help="With --lfw-dir: store the thresholds.")
    ] = True,
    out: Annotated[
        Path | None, typer.Option("--out", help="Thresholds file to update (default: <data dir>/thresholds.json).")
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Load NAME, run it once and check its output (embedder: a batch of templates of the spec's dimension;
    detector: decodes an image); with --lfw-dir, verify one fold of LFW pairs and write calibrated thresholds
    for the embedder's model version, so matching with it works at once. A failed check exits non-zero."""
    from laneface.detection.factory import build_detector
    from laneface.embedding.factory import build_embedder
    from laneface.evaluation.model_check import check_model, check_on_lfw
    from laneface.gallery.thresholds import THRESHOLDS_FILE, save_threshold_set
    from laneface.imageio import read_image
    from laneface.progress import progress_bar

    settings = settings_of(ctx)
    store = store_of(ctx)
    spec = store.spec(name)
    if lfw_dir is None and (pairs is not None or limit is not None or detector or embedder):
        raise ConfigError("--pairs, --limit, --detector and --embedder need --lfw-dir")
    if image is not None and spec.kind != "detector":
        raise ConfigError("--image is for detectors")
    report: dict[str, object] = {}
    result = check_model(name, store, settings, image_rgb=None if image is None else read_image(image))
    report["check"] = asdict(result)
    lines = [
        f"{result.name} ({result.kind}, {result.model_version}): OK",
        f"  file {result.path}",
        f"  loaded in {result.load_seconds:.2f} s, ran in {result.run_seconds:.2f} s: {result.output}",
    ]
    if lfw_dir is not None:
        if spec.kind == "detector":
            det = build_detector(name, store, settings.detection)
            emb = build_embedder(embedder or settings.embedding.embedder, store, settings.embedding)
        else:
            det = build_detector(detector or settings.detection.detector, store, settings.detection)
            emb = build_embedder(name, store, settings.embedding)
        pairs_path = pairs or _default_pairs(lfw_dir)
        with progress_bar(f"LFW fold {fold}", progress) as bar:
            lfw = check_on_lfw(lfw_dir, pairs_path, det, emb, fold=fold, limit=limit, progress=bar)
        r, ts = lfw.result, lfw.thresholds
        report["lfw"] = {**asdict(r), "fta_files": len(r.fta_files)}
        lines.append(
            f"  LFW fold {fold}: {r.pairs} pairs, {r.images} images ({r.fta_images} without a face), accuracy "
            f"{r.accuracy_mean:.2%} (threshold fitted on the fold), EER {r.eer:.2%}; detector {r.detector}, "
            f"embedder {r.embedder}"
        )
        at = ", ".join(f"FMR {f:g}: {t:.4f}" for f, t in ts.fmr if f in (1e-2, 1e-3, 1e-4, 1e-5))
        lines.append(f"  thresholds of {ts.model_version} from {ts.comparisons:,} impostor comparisons: {at}")
        if write_thresholds:
            target = save_threshold_set(ts, out or settings.data_dir / THRESHOLDS_FILE)
            report["thresholds_file"] = str(target)
            lines.append(f"  written to {target}")
    if as_json:
        emit_json(report)
        return
    for line in lines:
        typer.echo(line)
