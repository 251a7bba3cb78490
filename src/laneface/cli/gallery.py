"""`laneface gallery ...` (enrol document photos, inspect, remove) and `laneface calibrate`."""

from __future__ import annotations

import contextlib
from dataclasses import asdict, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from laneface.cli.common import emit_json, settings_of, store_of
from laneface.config import Settings
from laneface.errors import ConfigError
from laneface.progress import progress_bar

if TYPE_CHECKING:
    from laneface.gallery.thresholds import ThresholdSet
    from laneface.records.enrolments import RecordsWriteReport
    from laneface.records.service import RecordsService

__all__ = ["calibrate_command", "gallery_app"]

gallery_app = typer.Typer(help="Enrol document photos into the gallery and inspect it.", no_args_is_help=True)


def _model_version_in(settings: Settings, model_version: str | None) -> str:
    """The given model version, or the only gallery's when there is exactly one."""
    from laneface.gallery.store import gallery_config, list_galleries

    if model_version:
        return model_version
    found = list_galleries(settings.data_dir, gallery_config(settings))
    if len(found) == 1:
        return found[0].model_version
    names = ", ".join(g.model_version for g in found) or "none"
    raise ConfigError(f"name the gallery with --model-version (galleries under {settings.data_dir}: {names})")


def _open_records(settings: Settings, insecure_dev: bool) -> tuple[RecordsService, str]:
    """The records database of the data dir (schema migrated), with the cipher that stores document photos;
    without a configured key (and without ``--insecure-dev``) the records are written without photos and the
    second value says why."""
    from laneface.records.service import RecordsService, build_cipher

    note = ""
    if settings.privacy.encryption_key is None and not insecure_dev:
        note = (
            "document photos are not stored for adjudication: privacy.encryption_key is not set "
            "(LANEFACE_PRIVACY__ENCRYPTION_KEY; `laneface keys generate` makes one; --insecure-dev for development), "
            "and photos stored earlier cannot be checked against the gallery's images, so they are removed"
        )
        cipher = None
    else:
        cipher = build_cipher(settings, dev_key=insecure_dev)
    records = RecordsService.open(settings, cipher)
    try:
        records.prepare_schema()
    except BaseException:
        records.close()
        raise
    return records, note


def _records_summary(report: RecordsWriteReport) -> dict[str, object]:
    return {
        "recorded": report.recorded,
        "photos_stored": report.photos_stored,
        "failures_audited": report.failures_audited,
        "problems": [{"doc_id": d, "reason": r} for d, r in report.problems],
    }


def _echo_records(report: RecordsWriteReport) -> None:
    typer.echo(
        f"records: {report.recorded} documents recorded ({report.photos_stored} photos stored), "
        f"{report.failures_audited} failures to enrol audited, {len(report.problems)} not recorded"
    )
    for doc_id, reason in report.problems:
        typer.echo(f"NOT RECORDED {doc_id}: {reason}")


_INSECURE_DEV = typer.Option(
    "--insecure-dev",
    help="Development only: without privacy.encryption_key, encrypt document photos with <data dir>/dev-encryption.key "
    "(the key `serve --insecure-dev` uses).",
)


@gallery_app.command("enroll")
def enroll(
    ctx: typer.Context,
    manifest: Annotated[
        Path, typer.Argument(help="CSV with columns doc_id,image,doc_type,citizenship (+ any others).")
    ],
    detector: Annotated[
        str | None, typer.Option("--detector", "-d", help="Detector (default: settings, 'auto').")
    ] = None,
    embedder: Annotated[str | None, typer.Option("--embedder", "-e", help="Embedder (default: settings).")] = None,
    profile: Annotated[
        str,
        typer.Option(
            "--profile", "-p", help="Quality profile whose requirements are checked; 'none' for no quality check."
        ),
    ] = "document",
    strict: Annotated[
        bool,
        typer.Option(
            "--strict", help="A requirement of the profile not met is a failure to enrol (default: a quality flag)."
        ),
    ] = False,
    profiles_file: Annotated[
        Path | None, typer.Option("--profiles-file", help="TOML overriding quality profiles/mappings.")
    ] = None,
    duplicate_threshold: Annotated[
        float | None,
        typer.Option("--duplicate-threshold", help="Score at or above which two documents are flagged."),
    ] = None,
    duplicate_fmr: Annotated[
        float, typer.Option("--duplicate-fmr", help="Without --duplicate-threshold: calibrated threshold at this FMR.")
    ] = 1e-5,
    multiple_faces: Annotated[
        str, typer.Option("--multiple-faces", help="'largest' (use it, note it) or 'fail' (FTE).")
    ] = "largest",
    retry_failures: Annotated[
        bool, typer.Option("--retry-failures", help="Retry rows that failed before on the same image.")
    ] = False,
    backend: Annotated[
        str, typer.Option("--backend", help="Vector index of a new gallery: faiss, exact, milvus.")
    ] = "",
    milvus_uri: Annotated[
        str | None, typer.Option("--milvus-uri", help="Milvus server URI or local .db file (backend milvus).")
    ] = None,
    progress: Annotated[bool, typer.Option("--progress/--no-progress", help="Progress bar on stderr.")] = True,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    insecure_dev: Annotated[bool, _INSECURE_DEV] = False,
) -> None:
    """Enrol the document photos of MANIFEST (image paths relative to it): a photo with one usable face is
    enrolled, the requirements of the profile it does not meet are stored as quality flags (--strict: a
    failure to enrol); no face, several faces of similar size or an unusable image are failures to enrol,
    recorded with their reason; re-enrolment replaces; duplicates flagged. Rerunning skips the documents
    already decided from the same image under the same policy. Exits 1 when rows were tried and none
    could be enrolled, with the commonest reasons on stderr. Each enrolled document
    is recorded in the records database (traveller: a traveller_ref column, else the doc_id; photo encrypted),
    each failure to enrol audited."""
    from laneface.detection.factory import build_detector
    from laneface.embedding.factory import build_embedder
    from laneface.gallery.enrol import Enroller, EnrolOptions, commonest_flags, commonest_reasons
    from laneface.gallery.manifest import count_rows, read_manifest
    from laneface.gallery.store import Gallery, gallery_config
    from laneface.gallery.thresholds import duplicate_threshold as calibrated_duplicate_threshold
    from laneface.imageio import ImageLimits
    from laneface.quality import QualityAssessor
    from laneface.records.enrolments import enrol_rows_with_records

    settings = settings_of(ctx)
    if multiple_faces not in ("largest", "fail"):
        raise ConfigError(f"--multiple-faces must be 'largest' or 'fail', got {multiple_faces!r}")
    if backend not in ("", "faiss", "exact", "milvus"):
        raise ConfigError(f"--backend must be faiss, exact or milvus, got {backend!r}")
    store = store_of(ctx)
    det = build_detector(detector or settings.detection.detector, store, settings.detection)
    emb = build_embedder(embedder or settings.embedding.embedder, store, settings.embedding)
    gate = None if profile == "none" else QualityAssessor.from_config(profile, user_file=profiles_file)
    threshold = duplicate_threshold
    if threshold is None:
        threshold, why_not = calibrated_duplicate_threshold(settings.data_dir, emb.model_version, duplicate_fmr)
        if threshold is None:
            typer.echo(f"warning: no duplicate check: {why_not}", err=True)
    config = gallery_config(settings)
    if backend or milvus_uri:  # the options override [gallery]
        config = replace(config, backend=backend or "milvus", milvus_uri=milvus_uri or config.milvus_uri)  # type: ignore[arg-type]
    options = EnrolOptions(
        profile=profile,
        policy="strict" if strict else "flag",
        duplicate_threshold=threshold,
        multiple_faces=multiple_faces,  # type: ignore[arg-type]
        retry_failures=retry_failures,
        image_limits=ImageLimits(max_bytes=settings.images.max_bytes, max_pixels=settings.images.max_pixels),
    )
    total = count_rows(manifest)  # checks the header before anything is created
    records, photos_note = _open_records(settings, insecure_dev)
    if photos_note:
        typer.echo(f"warning: {photos_note}", err=True)
    with (
        contextlib.closing(records),
        Gallery.open(settings.data_dir, emb.model_version, config=config) as gallery,
        progress_bar(f"enrol {manifest.name}", progress) as bar,
    ):
        enroller = Enroller(gallery, det, emb, gate, options)
        report, written = enrol_rows_with_records(
            enroller,
            records,
            read_manifest(manifest),
            store_photos=not photos_note,
            manifest=str(manifest),
            total=total,
            progress=bar,
        )
        size = len(gallery)
    reasons = commonest_reasons(report.details)
    failed_before = sum(1 for d in report.details if d.status == "skipped")
    held = report.enrolled + report.replaced + report.skipped - failed_before
    nothing = report.rows > 0 and held == 0  # a rerun over earlier failures enrols nothing either
    if as_json:
        emit_json(
            {
                **asdict(report),
                "gallery_size": size,
                "duplicate_threshold": threshold,
                "records": _records_summary(written),
            }
        )
    else:
        typer.echo(
            f"{report.rows} rows: enrolled {report.enrolled}, replaced {report.replaced} "
            f"({report.flagged} of them with quality flags), skipped {report.skipped}, "
            f"failed to enrol {report.failed}, invalid {report.invalid}, duplicate flags {report.duplicates} "
            f"(model {report.model_version}, profile {report.profile}, policy {report.policy}, "
            f"gallery {size} documents, {report.seconds:.1f} s)"
        )
        for d in report.details:
            if d.status in ("failed", "invalid"):
                typer.echo(f"FTE line {d.line} {d.doc_id or '(no doc_id)'}: {d.reason}")
            for f in d.duplicates:
                typer.echo(f"DUPLICATE {f.doc_id} ~ {f.other_doc_id}: score {f.score:.4f} >= {f.threshold:.4f}")
            if d.note:
                typer.echo(f"NOTE line {d.line} {d.doc_id}: {d.note}")
        flags = commonest_flags(report.details)
        if flags:
            typer.echo("commonest quality flags: " + "; ".join(f"{req} ({n})" for req, n in flags))
        _echo_records(written)
    if nothing:
        typer.echo(f"error: none of the {report.rows} rows could be enrolled; commonest reasons:", err=True)
        for reason, n in reasons:
            typer.echo(f"  {n:>6}  {reason}", err=True)
        raise typer.Exit(1)


@gallery_app.command("info")
def info(
    ctx: typer.Context,
    details: Annotated[
        bool,
        typer.Option("--details", help="List failures to enrol, duplicate flags and each flagged document's flags."),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Galleries under the data directory: model version, documents (how many with quality flags, the
    commonest flags), failures to enrol, duplicate flags."""
    from laneface.gallery.store import Gallery, gallery_config, list_galleries

    settings = settings_of(ctx)
    config = gallery_config(settings)
    galleries = list_galleries(settings.data_dir, config)
    out: list[dict[str, object]] = []
    for g in galleries:
        item: dict[str, object] = {**asdict(g), "path": str(g.path)}
        if details:
            with Gallery.open(settings.data_dir, g.model_version, config=config, create=False) as gallery:
                item["failures"] = [asdict(f) for f in gallery.failures()]
                item["duplicate_flags"] = [asdict(f) for f in gallery.duplicate_flags()]
                item["quality_flags"] = {d.doc_id: list(d.quality_flags) for d in gallery.flagged_documents()}
        out.append(item)
    if as_json:
        emit_json(out)
        return
    if not galleries:
        typer.echo(
            f"no gallery in {config.metadata_url}" if config.metadata_url else f"no gallery under {settings.data_dir}"
        )
    for g in galleries:
        typer.echo(
            f"{g.model_version}: {g.documents} documents ({g.flagged} with quality flags), {g.failures} failures "
            f"to enrol, {g.duplicate_flags} duplicate flags, backend {g.backend} {g.index} ({g.metadata or g.path})"
        )
        if g.common_flags:
            typer.echo("  commonest quality flags: " + "; ".join(f"{req} ({n})" for req, n in g.common_flags))
        if details:
            with Gallery.open(settings.data_dir, g.model_version, config=config, create=False) as gallery:
                for f in gallery.failures():
                    typer.echo(f"  FTE {f.doc_id}: {f.reason}")
                for d in gallery.duplicate_flags():
                    typer.echo(f"  DUPLICATE {d.doc_id} ~ {d.other_doc_id}: {d.score:.4f}")
                for doc in gallery.flagged_documents():
                    typer.echo(f"  FLAGS {doc.doc_id}: {'; '.join(doc.quality_flags)}")


@gallery_app.command("remove")
def remove(
    ctx: typer.Context,
    doc_ids: Annotated[list[str], typer.Argument(help="Documents to remove.")],
    model_version: Annotated[
        str | None, typer.Option("--model-version", help="Gallery (default: the only one).")
    ] = None,
) -> None:
    """Remove documents (template, failure record, duplicate flags) from a gallery; the records mark them no
    longer enrolled (their ledger history stays, their photo goes)."""
    from laneface.errors import RecordNotFoundError
    from laneface.gallery.store import Gallery, gallery_config
    from laneface.records.enrolments import CLI_ACTOR
    from laneface.records.service import RecordsService

    settings = settings_of(ctx)
    mv = _model_version_in(settings, model_version)
    records = RecordsService.open(settings, None)
    with (
        contextlib.closing(records),
        Gallery.open(settings.data_dir, mv, config=gallery_config(settings), create=False) as gallery,
    ):
        records.prepare_schema()
        for doc_id in doc_ids:
            removed = gallery.remove(doc_id)
            with contextlib.suppress(RecordNotFoundError):  # neither knows it: said below
                records.remove_document(doc_id, actor=CLI_ACTOR, removed_from_gallery=removed)
            typer.echo(f"{doc_id}: {'removed' if removed else 'not enrolled'}")


@gallery_app.command("sync-records")
def sync_records_command(
    ctx: typer.Context,
    model_version: Annotated[
        str | None, typer.Option("--model-version", help="Gallery (default: the only one).")
    ] = None,
    manifest: Annotated[
        Path | None,
        typer.Option("--manifest", help="Manifest the gallery was enrolled from: store the photos (same sha256)."),
    ] = None,
    insecure_dev: Annotated[bool, _INSECURE_DEV] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Record every document of a gallery in the records database (documents enrolled before `gallery enroll`
    wrote the records); idempotent."""
    from laneface.gallery.manifest import read_manifest
    from laneface.gallery.store import Gallery, gallery_config
    from laneface.records.enrolments import sync_records

    settings = settings_of(ctx)
    mv = _model_version_in(settings, model_version)
    # the key also shows a photo stored earlier to be the gallery's image (kept); without it none can be
    records, photos_note = _open_records(settings, insecure_dev)
    if photos_note:
        typer.echo(f"warning: {photos_note}", err=True)
    with (
        contextlib.closing(records),
        Gallery.open(settings.data_dir, mv, config=gallery_config(settings), create=False) as gallery,
    ):
        rows = read_manifest(manifest) if manifest is not None and not photos_note else ()
        report = sync_records(gallery, records, manifest_rows=rows)
    if as_json:
        emit_json(_records_summary(report))
    else:
        _echo_records(report)


def calibrate_command(
    ctx: typer.Context,
    lfw_dir: Annotated[
        Path | None, typer.Option("--lfw-dir", help="LFW image root: impostors = cross-identity pairs.")
    ] = None,
    pairs: Annotated[
        Path | None, typer.Option("--pairs", help="With --lfw-dir: use only the non-mated pairs of this file.")
    ] = None,
    from_gallery: Annotated[
        bool, typer.Option("--gallery", help="Impostors = cross-document pairs of an enrolled gallery.")
    ] = False,
    detector: Annotated[str | None, typer.Option("--detector", "-d", help="Detector (LFW).")] = None,
    embedder: Annotated[str | None, typer.Option("--embedder", "-e", help="Embedder (LFW).")] = None,
    model_version: Annotated[
        str | None, typer.Option("--model-version", help="Gallery to calibrate on (--gallery).")
    ] = None,
    searches: Annotated[
        int, typer.Option("--searches", min=10, help="--gallery: documents searched against all others.")
    ] = 2000,
    cache: Annotated[Path | None, typer.Option("--cache", help="LFW template cache (.npz).")] = None,
    identities: Annotated[
        int | None, typer.Option("--identities", min=10, help="LFW: seeded sample of identities (slow embedders).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of --identities and --searches samples.")] = 0,
    keep_label_errors: Annotated[
        bool,
        typer.Option(
            "--keep-label-errors",
            help="LFW: keep the images of laneface/data/lfw_errata.toml (people under two names), left out by default.",
        ),
    ] = False,
    out: Annotated[
        Path | None, typer.Option("--out", help="Thresholds file to update (default: <data dir>/thresholds.json).")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the thresholds as JSON.")] = False,
) -> None:
    """Thresholds per model version at target FMR (1:1, 1:few) and FPIR (1:N) from impostor scores, stored
    as data (JSON keyed by model version) that the matcher loads."""
    from laneface.gallery.thresholds import THRESHOLDS_FILE, save_threshold_set

    settings = settings_of(ctx)
    if (lfw_dir is None) == (not from_gallery):
        raise ConfigError("give exactly one source: --lfw-dir DIR [--pairs FILE] or --gallery")
    if pairs is not None and lfw_dir is None:
        raise ConfigError("--pairs needs --lfw-dir")
    ts: ThresholdSet
    if from_gallery:
        from laneface.gallery.calibration import calibrate_from_gallery
        from laneface.gallery.store import Gallery, gallery_config

        mv = _model_version_in(settings, model_version)
        with Gallery.open(settings.data_dir, mv, config=gallery_config(settings), create=False) as gallery:
            ts = calibrate_from_gallery(gallery, searches=searches, seed=seed)
    else:
        assert lfw_dir is not None
        ts = _calibrate_lfw(ctx, lfw_dir, pairs, detector, embedder, cache, identities, seed, keep_label_errors)
    target = save_threshold_set(ts, out or settings.data_dir / THRESHOLDS_FILE)
    if as_json:
        emit_json({ts.model_version: ts.as_json()})
        return
    typer.echo(f"{ts.model_version}: {ts.comparisons:,} impostor comparisons ({ts.source}) -> {target}")
    for fmr, t in ts.fmr:
        if fmr in (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7):
            typer.echo(f"  FMR {fmr:g}: threshold {t:.4f}")
    if ts.fpir is not None:
        for fpir, t in ts.fpir.points:
            if fpir in (1e-2, 1e-3):
                typer.echo(f"  FPIR {fpir:g} (gallery of {ts.fpir.gallery_size}): threshold {t:.4f}")


def _calibrate_lfw(
    ctx: typer.Context,
    lfw_dir: Path,
    pairs: Path | None,
    detector: str | None,
    embedder: str | None,
    cache: Path | None,
    identities: int | None,
    seed: int,
    keep_label_errors: bool = False,
) -> ThresholdSet:
    import numpy as np

    from laneface.detection.factory import build_detector
    from laneface.embedding.factory import build_embedder
    from laneface.evaluation.lfw_embeddings import embed_lfw, without_label_errors
    from laneface.evaluation.onen import calibrate_from_lfw, select_lfw_files
    from laneface.evaluation.pairs import lfw_image_path, parse_pairs
    from laneface.gallery.calibration import calibrate_from_pairs

    settings = settings_of(ctx)
    store = store_of(ctx)
    det = build_detector(detector or settings.detection.detector, store, settings.detection)
    emb = build_embedder(embedder or settings.embedding.embedder, store, settings.embedding)
    if pairs is None:
        files = select_lfw_files(lfw_dir, identities=identities, seed=seed)
        with progress_bar("LFW templates", True) as bar:
            templates = embed_lfw(lfw_dir, files, det, emb, cache=cache, progress=bar)
        sample = f" ({identities} identities, seed {seed})" if identities else ""
        if not keep_label_errors:
            templates, removed = without_label_errors(templates)
            sample += f", {removed} images of lfw_errata.toml left out"
        return calibrate_from_lfw(templates, f"LFW {lfw_dir.name}{sample}")
    nonmated = [p for p in parse_pairs(pairs).pairs if not p.mated]
    keys = sorted({(p.name_a, p.index_a) for p in nonmated} | {(p.name_b, p.index_b) for p in nonmated})
    files = [lfw_image_path(lfw_dir, n, i).relative_to(lfw_dir).as_posix() for n, i in keys]
    with progress_bar("LFW templates", True) as bar:
        templates = embed_lfw(lfw_dir, files, det, emb, cache=cache, progress=bar)
    row = {k: i for i, k in enumerate(keys)}
    scores = []
    for p in nonmated:
        a, b = row[(p.name_a, p.index_a)], row[(p.name_b, p.index_b)]
        if templates.acquired[a] and templates.acquired[b]:
            scores.append(float(templates.vectors[a] @ templates.vectors[b]))
    skipped = len(nonmated) - len(scores)
    return calibrate_from_pairs(
        np.array(scores, np.float32),
        emb.model_version,
        f"LFW non-mated pairs of {pairs.name} ({len(scores)} compared, {skipped} with a failure to acquire left out)",
    )
