"""`laneface bench gallery` (vector index configurations on synthetic templates) and `laneface bench onen`
(open-set 1:N on LFW: FNIR at FPIR)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.common import emit_json, settings_of, store_of
from laneface.errors import ConfigError

__all__ = ["bench_gallery_command", "bench_onen_command"]

log = logging.getLogger(__name__)


def _ints(text: str, name: str) -> list[int]:
    try:
        values = [int(v) for v in text.split(",") if v.strip()]
    except ValueError:
        raise ConfigError(f"{name} must be comma-separated integers, got {text!r}") from None
    if not values or min(values) < 1:
        raise ConfigError(f"{name} must list positive integers, got {text!r}")
    return values


def bench_gallery_command(
    ctx: typer.Context,
    size: Annotated[int, typer.Option("--size", "-n", min=1, help="Gallery size (templates).")] = 100_000,
    dim: Annotated[int, typer.Option("--dim", "-d", min=2, help="Template dimension.")] = 128,
    indexes: Annotated[
        str, typer.Option("--indexes", help="Comma-separated: exact, flat, hnsw, ivfpq, milvus (needs --milvus-uri).")
    ] = "exact,flat,hnsw,ivfpq",
    queries: Annotated[int, typer.Option("--queries", min=10, help="Single-query latency: mated probes.")] = 1000,
    exact_queries: Annotated[
        int, typer.Option("--exact-queries", min=10, help="Single-query latency probes for exact search (slow).")
    ] = 200,
    batch: Annotated[int, typer.Option("--batch", min=10, help="Probes in the batch throughput/recall run.")] = 2000,
    hnsw_m: Annotated[int, typer.Option("--hnsw-m", min=4)] = 32,
    ef_construction: Annotated[int, typer.Option("--ef-construction", min=8)] = 80,
    ef_search: Annotated[
        str, typer.Option("--ef-search", help="HNSW efSearch values, comma-separated.")
    ] = "128,256,512",
    nprobe: Annotated[str, typer.Option("--nprobe", help="IVF-PQ nprobe values, comma-separated.")] = "32,128",
    threads: Annotated[int, typer.Option("--threads", min=1, help="Threads for build and batch search.")] = 2,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    index_cache: Annotated[
        Path | None, typer.Option("--index-cache", help="Keep built HNSW/IVF-PQ indexes here for reruns.")
    ] = None,
    milvus_uri: Annotated[
        str, typer.Option("--milvus-uri", help="Milvus server (http://host:port) for the 'milvus' index kind.")
    ] = "",
    milvus_pid: Annotated[
        int | None, typer.Option("--milvus-pid", help="PID of that server's milvus process: its CPU and RSS.")
    ] = None,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the JSON list to this file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON list.")] = False,
) -> None:
    """Index configurations on synthetic clustered templates with mated probes: build time, memory, p50/p99
    single-query latency (1 thread), batch throughput, recall@1 against exact search; and the exact scan
    against this machine's memory bandwidth."""
    from laneface.evaluation.bench_gallery import bench_gallery, results_as_json

    settings_of(ctx)  # settings are loaded (not used: the benchmark needs no model or data)
    kinds = [k.strip() for k in indexes.split(",") if k.strip()]
    unknown = sorted(set(kinds) - {"exact", "flat", "hnsw", "ivfpq", "milvus"})
    if unknown:
        raise ConfigError(f"unknown index kind(s) {', '.join(unknown)}; choose from exact, flat, hnsw, ivfpq, milvus")
    if "milvus" in kinds and not milvus_uri:
        raise ConfigError("--indexes milvus needs --milvus-uri http://host:port (a Milvus server)")
    results, bw = bench_gallery(
        size,
        dim,
        kinds=kinds,
        latency_queries=queries,
        exact_latency_queries=exact_queries,
        batch_queries=batch,
        hnsw_m=hnsw_m,
        ef_construction=ef_construction,
        ef_search=_ints(ef_search, "--ef-search"),
        nprobe=_ints(nprobe, "--nprobe"),
        batch_threads=threads,
        build_threads=threads,
        seed=seed,
        index_cache=index_cache,
        milvus_uri=milvus_uri,
        milvus_pid=milvus_pid,
    )
    rows = results_as_json(results, bw)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    if as_json:
        emit_json(rows)
        return
    typer.echo(
        f"memory bandwidth: read {bw.read_gb_s_1thread_cpu} GB/s (1 thread, CPU time; wall {bw.read_gb_s_1thread}), "
        f"copy {bw.copy_gb_s_1thread} GB/s (1 thread), {bw.copy_gb_s_2threads} GB/s (2 threads); "
        f"load average {bw.load_avg_1min}"
    )
    header = f"{'index':48} {'recall@1':>8} {'p50 ms':>8} {'p99 ms':>8} {'cpu p50':>8} {'cpu p99':>8} "
    typer.echo(header + f"{'batch q/s':>10} {'memory MB':>10} {'build s':>8}")
    for r in results:
        typer.echo(
            f"{r.index:48} {r.recall_at_1:8.4f} {r.p50_ms:8.2f} {r.p99_ms:8.2f} {r.cpu_p50_ms:8.2f} "
            f"{r.cpu_p99_ms:8.2f} {r.batch_qps:10.1f} {r.memory_mb:10.1f} {r.build_s:8.1f}"
        )
    for r in results:
        if r.server_cpu_ms_per_query is not None:
            typer.echo(f"{r.index}: server CPU {r.server_cpu_ms_per_query} ms per query (single queries)")
    for r in results:
        if r.ratio_to_bound is not None:
            typer.echo(
                f"{r.index}: scans {r.scan_gb_s_cpu} GB/s; bandwidth bound {r.bound_ms_cpu} ms per query, "
                f"measured {r.cpu_p50_ms} ms (CPU time) = {r.ratio_to_bound}x the bound"
            )


def bench_onen_command(
    ctx: typer.Context,
    lfw_dir: Annotated[Path, typer.Option("--lfw-dir", help="LFW deep-funneled image root.")],
    detector: Annotated[str, typer.Option("--detector", "-d", help="Detector name or 'auto'.")] = "auto",
    embedder: Annotated[str | None, typer.Option("--embedder", "-e", help="Embedder (default: settings).")] = None,
    identities: Annotated[
        int | None, typer.Option("--identities", min=10, help="Seeded sample of identities (slow embedders).")
    ] = None,
    seed: Annotated[int, typer.Option("--seed")] = 0,
    cache: Annotated[
        Path | None, typer.Option("--cache", help="Template cache (.npz); resumes an interrupted run.")
    ] = None,
    keep_label_errors: Annotated[
        bool,
        typer.Option(
            "--keep-label-errors",
            help="Keep the images of laneface/data/lfw_errata.toml (people under two names), left out by default.",
        ),
    ] = False,
    out: Annotated[Path | None, typer.Option("--out", help="Also write the JSON result to this file.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    sizes: Annotated[
        str | None,
        typer.Option(
            "--sizes",
            help="Also FNIR at FPIR 1e-3 at these gallery sizes (e.g. 1000,10000,100000,1000000): real LFW "
            "samples below LFW's size, LFW plus synthetic identities scoring as its impostors do above it.",
        ),
    ] = None,
) -> None:
    """Open-set 1:N on LFW: gallery = first image of every identity, probes = the other images (mated, and
    non-mated with their own identity's entry left out); FNIR at FPIR 1e-3 and 1e-2, rank-1 rate; with
    --sizes, the same at other gallery sizes (laneface.evaluation.onen_scale)."""
    from laneface.detection.factory import build_detector
    from laneface.embedding.factory import build_embedder
    from laneface.evaluation.lfw_embeddings import embed_lfw, without_label_errors
    from laneface.evaluation.onen import lfw_open_set, select_lfw_files
    from laneface.gallery.thresholds import load_thresholds
    from laneface.progress import progress_bar

    settings = settings_of(ctx)
    store = store_of(ctx)
    det = build_detector(detector, store, settings.detection)
    emb = build_embedder(embedder or settings.embedding.embedder, store, settings.embedding)
    files = select_lfw_files(lfw_dir, identities=identities, seed=seed)
    with progress_bar(f"LFW templates {emb.name}", True) as bar:
        templates = embed_lfw(lfw_dir, files, det, emb, cache=cache, progress=bar)
    sample = f"{identities} identities" if identities else "all"
    if not keep_label_errors:
        templates, removed = without_label_errors(templates)
        sample += f", {removed} images of lfw_errata.toml left out"
    table = load_thresholds(settings.data_dir)
    shipped = table.sets.get(emb.model_version)
    result = lfw_open_set(templates, thresholds=shipped, sample=sample)
    data = result.as_json()
    if sizes is not None:
        from laneface.evaluation.onen_scale import fnir_by_gallery_size
        from laneface.gallery.calibration import cross_identity_tail

        try:
            wanted = [int(float(x)) for x in sizes.split(",") if x.strip()]
        except ValueError:
            raise typer.BadParameter(f"a comma-separated list of gallery sizes, got {sizes!r}") from None
        if not wanted or min(wanted) < 10 or max(wanted) > 10**9:
            raise typer.BadParameter("gallery sizes between 10 and 10^9", param_hint="--sizes")
        tail = cross_identity_tail(templates.vectors, templates.identities, templates.acquired)
        data["by_gallery_size"] = fnir_by_gallery_size(templates, tail, wanted, seed=seed)
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    if as_json:
        emit_json(data)
        return
    typer.echo(result.summary())
    if "by_gallery_size" in data:
        scale = data["by_gallery_size"]
        for p in scale["points"]:
            typer.echo(
                f"gallery {p['gallery_size']:>9,} ({p['real_identities']:,} real): FNIR {100 * p['fnir']:.1f} % at "
                f"FPIR {scale['target_fpir']:g} (threshold {p['threshold']:.3f}, FMR per comparison "
                f"{p['impostor_fmr']:.2g}{', fitted tail' if p['extrapolated'] else ''})"
            )
        check = scale["check"]
        typer.echo(
            f"model check, full gallery: predicted from 1,000 identities FNIR "
            f"{100 * check['predicted_from_1000']['fnir']:.1f} % (threshold "
            f"{check['predicted_from_1000']['threshold']:.3f}), measured {100 * check['measured']['fnir']:.1f} % "
            f"({check['measured']['threshold']:.3f})"
        )
