"""Records commands: `purge`, `db upgrade|downgrade|current`, `keys generate|rotate`, `ledger ...`.

Heavy imports (SQLAlchemy, Alembic) happen inside the commands, so `laneface --help` stays fast.
"""

from __future__ import annotations

import os
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from laneface.cli.common import emit_json, settings_of
from laneface.errors import ConfigError

if TYPE_CHECKING:
    from laneface.records.service import RecordsService

__all__ = ["db_app", "keys_app", "ledger_app", "purge_command"]

db_app = typer.Typer(help="Records database schema (Alembic migrations shipped in the package).", no_args_is_help=True)
keys_app = typer.Typer(help="Encryption keys of face images and templates at rest.", no_args_is_help=True)
ledger_app = typer.Typer(help="Entry/exit ledger: document history, stays and statistics.", no_args_is_help=True)


def _service(ctx: typer.Context, *, cipher: bool = False, prepare: bool = True) -> RecordsService:
    from laneface.records.service import RecordsService, build_cipher

    settings = settings_of(ctx)
    service = RecordsService.open(settings, build_cipher(settings) if cipher else None)
    if prepare:
        service.prepare_schema()
    return service


def purge_command(
    ctx: typer.Context,
    now: Annotated[
        str | None, typer.Option("--now", help="Purge as of this ISO 8601 instant with offset (default: now).")
    ] = None,
) -> None:
    """Delete expired face images and templates per the retention rules (and all of opted-out travellers)."""
    from laneface.records.clock import parse_instant

    instant = parse_instant(now) if now else None
    service = _service(ctx)
    try:
        report = service.purge(now=instant)
    finally:
        service.close()
    emit_json(
        {"now": report.now.isoformat(), "opted_out": report.opted_out, "expired": report.expired, "total": report.total}
    )


@db_app.command("upgrade")
def db_upgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Option("--revision", help="Target revision (default: head).")] = "head",
) -> None:
    """Upgrade the records database schema (creates it on an empty database)."""
    from laneface.records import migrate

    service = _service(ctx, prepare=False)
    try:
        migrate.upgrade(service.engine, revision)
        typer.echo(f"records database at revision {migrate.current_revision(service.engine)}")
    finally:
        service.close()


@db_app.command("downgrade")
def db_downgrade(
    ctx: typer.Context,
    revision: Annotated[str, typer.Option("--revision", help="Target revision: 'base' drops every table.")],
) -> None:
    """Downgrade the records database schema (data in dropped tables is lost)."""
    from laneface.records import migrate

    service = _service(ctx, prepare=False)
    try:
        migrate.downgrade(service.engine, revision)
        typer.echo(f"records database at revision {migrate.current_revision(service.engine) or 'base'}")
    finally:
        service.close()


@db_app.command("current")
def db_current(ctx: typer.Context) -> None:
    """Show the schema revision of the records database and the one this laneface needs."""
    from laneface.records import migrate

    service = _service(ctx, prepare=False)
    try:
        emit_json({"current": migrate.current_revision(service.engine), "head": migrate.head_revision()})
    finally:
        service.close()


def _write_secret(path: Path, text: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise ConfigError(f"{path} exists: choose another file (keys are never overwritten)") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text + "\n")


@keys_app.command("generate")
def keys_generate(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the key to this new file (mode 0600) instead of stdout.")
    ] = None,
) -> None:
    """Make a new encryption key (base64 of 32 random bytes) for privacy.encryption_key."""
    from laneface.records.crypto import generate_key

    key = generate_key()
    if out is None:
        typer.echo(key)
    else:
        _write_secret(out, key)
        typer.echo(f"new key written to {out}")


@keys_app.command("rotate")
def keys_rotate(
    ctx: typer.Context,
    new_key_file: Annotated[
        Path, typer.Option("--new-key-file", help="File holding the new key (from `laneface keys generate --out`).")
    ],
) -> None:
    """Re-encrypt every stored face image and template with a new key; then the old key may be removed."""
    from laneface.records.crypto import BlobCipher, parse_key

    try:
        new_key = parse_key(new_key_file.read_text(encoding="ascii"), name=str(new_key_file))
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {new_key_file}: {exc.__class__.__name__}") from None
    privacy = settings_of(ctx).privacy
    service = _service(ctx, cipher=True)
    try:
        old = service.cipher
        old_keys = [parse_key(k.get_secret_value()) for k in (privacy.previous_encryption_keys)]
        if privacy.encryption_key is not None:
            old_keys.append(parse_key(privacy.encryption_key.get_secret_value()))
        report = service.rotate_key(BlobCipher(new_key, old_keys))
    finally:
        service.close()
    emit_json(asdict(report) | {"old_key_id": old.current_key_id})
    typer.echo(
        "done: set LANEFACE_PRIVACY__ENCRYPTION_KEY to the new key; the old key is no longer needed"
        if report.remaining_other_keys == 0
        else "some blobs still use other keys: run the rotation again",
        err=True,
    )


@ledger_app.command("history")
def ledger_history(ctx: typer.Context, doc_id: Annotated[str, typer.Argument(help="Document identifier.")]) -> None:
    """Confirmed arrivals and departures of one document."""
    service = _service(ctx)
    try:
        emit_json(asdict(service.document_history(doc_id)))
    finally:
        service.close()


@ledger_app.command("stays")
def ledger_stays(
    ctx: typer.Context,
    traveller_ref: Annotated[str, typer.Argument(help="Traveller reference (default: the doc_id at enrolment).")],
    at: Annotated[str | None, typer.Option("--at", help="Evaluate at this ISO 8601 instant (default: now).")] = None,
) -> None:
    """Stays of a traveller, with the admission period of each document type and any overstay."""
    from laneface.records.clock import parse_instant

    service = _service(ctx)
    try:
        emit_json(asdict(service.traveller_stays(traveller_ref, parse_instant(at) if at else None)))
    finally:
        service.close()


@ledger_app.command("stats")
def ledger_stats(
    ctx: typer.Context,
    since: Annotated[str, typer.Option("--since", help="ISO 8601 instant (inclusive).")],
    until: Annotated[str, typer.Option("--until", help="ISO 8601 instant (exclusive).")],
    by: Annotated[str, typer.Option("--by", help="Comma-separated: day,lane,direction,citizenship,doc_type.")] = "day",
) -> None:
    """Passages, occupants, capture rate and confirmations per group."""
    from laneface.records.clock import parse_instant
    from laneface.records.stats import GROUP_KEYS, GroupKey

    keys: list[GroupKey] = []
    for name in (p.strip() for p in by.split(",") if p.strip()):
        match = next((k for k in GROUP_KEYS if k == name), None)
        if match is None:
            raise ConfigError(f"--by: unknown group {name!r} (use {', '.join(GROUP_KEYS)})")
        keys.append(match)
    service = _service(ctx)
    try:
        rows = service.stats(since=parse_instant(since), until=parse_instant(until), group_by=keys)
    finally:
        service.close()
    emit_json(
        [
            {
                **r.group,
                "passages": r.passages,
                "occupants": r.occupants,
                "captured": r.captured,
                "capture_rate": r.capture_rate,
                "quality_passed": r.quality_passed,
                "confirmations": r.confirmations,
            }
            for r in rows
        ]
    )
