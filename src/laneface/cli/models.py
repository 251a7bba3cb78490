"""`laneface models list|pull`."""

from __future__ import annotations

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
        str | None, typer.Option("--base-url", help="Base URL of a model mirror (env LANEFACE_MODELS__BASE_URL).")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Download even if a verified file is present.")] = False,
) -> None:
    """Download model files into the models directory, verifying sha256 before keeping them."""
    settings = settings_of(ctx)
    url = base_url or settings.models.base_url
    if not url:
        raise ConfigError("no base URL: pass --base-url or set LANEFACE_MODELS__BASE_URL")
    store = store_of(ctx)
    for name in names:
        located = store.pull(name, url, force=force)
        typer.echo(f"{name}: {located.path} (sha256 verified)")
