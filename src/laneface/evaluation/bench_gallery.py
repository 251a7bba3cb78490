"""``laneface bench gallery``: index configurations on synthetic clustered templates.

Per configuration: build time, memory (serialised index size, and the process RSS growth during the
build), single-query latency (p50/p99 over ``latency_queries`` mated probes, one at a time, one thread),
batch throughput (all probes in one call, ``batch_threads`` threads), recall@1 (share of probes whose
top-1 equals exact search's top-1) and mated rank-1 (share whose top-1 is the probe's mate).

``kinds`` may include ``milvus``: HNSW (same M, efConstruction and efSearch values as FAISS) in a collection
of the Milvus server at ``milvus_uri``, built by the server (``build_s``: insert, flush, index build and
load), searched with consistency ``Bounded`` (a Strong search waits for the server's time tick). Its CPU
time per query is the client's only; give ``milvus_pid`` (the ``milvus`` server process) to add the
server's CPU per query (``server_cpu_ms_per_query``, from /proc) and its RSS as ``memory_mb``.

For the exact configurations the single-query scan is compared with this machine's memory bandwidth:
one query reads the whole gallery (n x d x 4 bytes), so its time cannot be below ``bytes / bandwidth``.
The bandwidth is measured like STREAM "copy" (numpy ``copyto`` of a 1 GiB array; bytes read + written),
with one thread and with two.
"""

from __future__ import annotations

import contextlib
import ctypes
import gc
import glob
import json
import logging
import os
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from laneface.evaluation.synthetic_gallery import SyntheticGallery, clustered_templates
from laneface.gallery.exact import ExactIndex
from laneface.gallery.faiss_index import FaissConfig, FaissIndex
from laneface.gallery.index import VectorIndex
from laneface.gallery.milvus_index import MilvusIndex

__all__ = [
    "BandwidthResult",
    "IndexBenchResult",
    "bench_gallery",
    "exact_top1",
    "measure_bandwidth",
    "results_as_json",
    "threads",
]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BandwidthResult:
    """Memory bandwidth in GB/s (1e9 bytes/s). ``read``: a dot product of two 512 MiB float32 halves of
    one array (bytes read / time); ``copy``: ``copyto`` of a 1 GiB array (bytes read + written / time).
    ``*_cpu`` divide by the thread's CPU time instead of wall time, which removes the time the thread
    waited for a core on a loaded machine (memory stalls still count)."""

    read_gb_s_1thread: float
    read_gb_s_1thread_cpu: float
    copy_gb_s_1thread: float
    copy_gb_s_1thread_cpu: float
    copy_gb_s_2threads: float
    array_mb: float
    load_avg_1min: float | None


@dataclass(frozen=True)
class IndexBenchResult:
    index: str
    size: int
    dim: int
    build_s: float
    memory_mb: float  # serialised index (+ id arrays)
    rss_delta_mb: float | None  # process RSS growth while building
    p50_ms: float  # wall clock
    p99_ms: float
    mean_ms: float
    cpu_p50_ms: float  # thread CPU time (excludes waiting for a core on a loaded machine)
    cpu_p99_ms: float
    batch_qps: float
    batch_threads: int
    recall_at_1: float
    mated_rank1: float
    latency_queries: int
    batch_queries: int
    load_avg_1min: float | None = None
    build_cached: bool = False  # build_s was measured when the cached index was built
    scan_gb_s_cpu: float | None = None  # exact only: gallery bytes / cpu_p50
    bound_ms_cpu: float | None = None  # exact only: gallery bytes / 1-thread read bandwidth (CPU time)
    ratio_to_bound: float | None = None  # cpu_p50 / bound_ms_cpu
    server_cpu_ms_per_query: float | None = None  # milvus with a pid: server CPU over the latency run / queries


# ---------------------------------------------------------------------------------------------- threads
def _openblas() -> Any:
    import numpy

    libs = glob.glob(os.path.join(os.path.dirname(numpy.__file__), "..", "numpy.libs", "libscipy_openblas*.so"))
    for path in libs:
        lib = ctypes.CDLL(path)
        for name in ("scipy_openblas_set_num_threads64_", "openblas_set_num_threads"):
            if hasattr(lib, name):
                return getattr(lib, name)
    return None


@contextlib.contextmanager
def threads(n: int) -> Iterator[None]:
    """Run faiss (OpenMP) and numpy's OpenBLAS with ``n`` threads inside the block."""
    import faiss

    before = faiss.omp_get_max_threads()
    setter = _openblas()
    faiss.omp_set_num_threads(n)
    if setter is not None:
        setter(n)
    try:
        yield
    finally:
        faiss.omp_set_num_threads(before)
        if setter is not None:
            setter(os.cpu_count() or 1)


def _rss_bytes() -> int | None:
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------- measures
def _load_avg() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _best(fn: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall time and best thread CPU time of ``repeats`` calls, in seconds."""
    wall, cpu = float("inf"), float("inf")
    for _ in range(repeats):
        t, c = time.perf_counter(), time.thread_time()
        fn()
        wall, cpu = min(wall, time.perf_counter() - t), min(cpu, time.thread_time() - c)
    return wall, max(cpu, 1e-9)


def measure_bandwidth(mb: int = 1024, repeats: int = 5) -> BandwidthResult:
    """Best-of-``repeats`` read and copy bandwidth of an ``mb`` MiB float32 array (see BandwidthResult)."""
    n = mb * (1 << 20) // 4
    src = np.ones(n, np.float32)
    dst = np.empty_like(src)
    np.copyto(dst, src)  # fault the pages in
    half = n // 2
    with threads(1):
        read_wall, read_cpu = _best(lambda: np.dot(src[:half], src[half:]), repeats)
        copy_wall, copy_cpu = _best(lambda: np.copyto(dst, src), repeats)
    parts = [(src[:half], dst[:half]), (src[half:], dst[half:])]
    with ThreadPoolExecutor(2) as pool:
        two_wall, _ = _best(lambda: list(pool.map(lambda p: np.add(p[0], 0.0, out=p[1]), parts)), repeats)
    gb = src.nbytes / 1e9
    return BandwidthResult(
        read_gb_s_1thread=round(gb / read_wall, 2),
        read_gb_s_1thread_cpu=round(gb / read_cpu, 2),
        copy_gb_s_1thread=round(2 * gb / copy_wall, 2),
        copy_gb_s_1thread_cpu=round(2 * gb / copy_cpu, 2),
        copy_gb_s_2threads=round(2 * gb / two_wall, 2),
        array_mb=float(mb),
        load_avg_1min=_load_avg(),
    )


def exact_top1(
    vectors: npt.NDArray[np.float32], queries: npt.NDArray[np.float32], block: int = 64
) -> npt.NDArray[np.int64]:
    """Row index of the best gallery vector per query (ground truth)."""
    out = np.empty(len(queries), np.int64)
    for start in range(0, len(queries), block):
        out[start : start + block] = np.argmax(queries[start : start + block] @ vectors.T, axis=1)
    return out


def _proc_cpu_s(pid: int | None) -> float | None:
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc; None when unknown."""
    if pid is None:
        return None
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rfind(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _proc_rss_bytes(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def _latencies(
    index: VectorIndex, probes: npt.NDArray[np.float32], k: int
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """Wall-clock and thread-CPU milliseconds of each single-query search."""
    wall = np.empty(len(probes))
    cpu = np.empty(len(probes))
    for i in range(len(probes)):
        c = time.thread_time_ns()
        t = time.perf_counter_ns()
        index.search(probes[i : i + 1], k)
        wall[i] = (time.perf_counter_ns() - t) / 1e6
        cpu[i] = (time.thread_time_ns() - c) / 1e6
    return wall, cpu


@dataclass(frozen=True)
class _Config:
    name: str
    build: Callable[[Path | None], VectorIndex]  # (where a faiss index is saved, if anywhere)
    variants: Sequence[tuple[str, Callable[[VectorIndex], None]]]  # (label, set search params)
    exact: bool
    cache_key: str | None  # faiss configurations that are worth caching between runs


def _configs(
    dim: int,
    hnsw_m: int,
    ef_construction: int,
    ef_search: Sequence[int],
    nprobe: Sequence[int],
    kinds: Sequence[str],
    milvus_uri: str = "",
    collection: str = "",
) -> list[_Config]:
    def noop(_: VectorIndex) -> None:
        return None

    def ef(v: int) -> Callable[[VectorIndex], None]:
        def apply(ix: VectorIndex) -> None:
            if isinstance(ix, FaissIndex):
                ix.set_search_params(ef_search=v)

        return apply

    def npb(v: int) -> Callable[[VectorIndex], None]:
        def apply(ix: VectorIndex) -> None:
            if isinstance(ix, FaissIndex):
                ix.set_search_params(nprobe=v)

        return apply

    def milvus_ef(v: int) -> Callable[[VectorIndex], None]:
        def apply(ix: VectorIndex) -> None:
            if isinstance(ix, MilvusIndex):
                ix.set_search_params(ef=v)

        return apply

    def milvus_build(_: Path | None) -> VectorIndex:
        from pymilvus import MilvusClient

        client = MilvusClient(uri=milvus_uri)
        if client.has_collection(collection):
            client.drop_collection(collection)
        client.close()
        build = {"M": hnsw_m, "efConstruction": ef_construction}
        return MilvusIndex(milvus_uri, collection, dim, build_params=build, consistency="Bounded")

    out: list[_Config] = []
    if "exact" in kinds:
        out.append(_Config("exact-numpy", lambda _: ExactIndex(dim), [("exact-numpy", noop)], True, None))
    if "flat" in kinds:
        flat = FaissConfig(kind="flat")
        out.append(_Config("faiss-flat", lambda _: FaissIndex(dim, flat), [("faiss-flat", noop)], True, None))
    if "hnsw" in kinds:
        cfg = FaissConfig(kind="hnsw", hnsw_m=hnsw_m, ef_construction=ef_construction)
        variants = [(f"faiss-hnsw(M={hnsw_m},efC={ef_construction},efSearch={v})", ef(v)) for v in ef_search]
        out.append(
            _Config(
                "faiss-hnsw",
                lambda p: FaissIndex(dim, cfg, path=p),
                variants,
                False,
                f"hnsw-M{hnsw_m}-efC{ef_construction}",
            )
        )
    if "ivfpq" in kinds:
        cfg_pq = FaissConfig(kind="ivfpq")
        variants = [(f"faiss-ivfpq(m={dim // 4}x8bit,nprobe={v})", npb(v)) for v in nprobe]
        out.append(_Config("faiss-ivfpq", lambda p: FaissIndex(dim, cfg_pq, path=p), variants, False, "ivfpq"))
    if "milvus" in kinds:
        if not milvus_uri:
            raise ValueError("the milvus configuration needs milvus_uri")
        variants = [(f"milvus-hnsw(M={hnsw_m},efC={ef_construction},ef={v})", milvus_ef(v)) for v in ef_search]
        out.append(_Config("milvus-hnsw", milvus_build, variants, False, None))
    return out


def _build(
    config: _Config, ids: npt.NDArray[np.int64], data: SyntheticGallery, build_threads: int, cache: Path | None
) -> tuple[VectorIndex, float, float | None, bool]:
    """(index, build seconds, RSS growth in bytes, whether it came from the cache)."""
    path = cache / config.cache_key if cache is not None and config.cache_key is not None else None
    if path is not None and (path / "build.json").is_file():
        cached = FaissIndex.open(path)
        if len(cached) == len(ids):
            return cached, float(json.loads((path / "build.json").read_text())["build_s"]), None, True
    gc.collect()
    rss0 = _rss_bytes()
    t = time.perf_counter()
    with threads(build_threads):
        index = config.build(path)
        index.add(ids, data.vectors)
        if isinstance(index, MilvusIndex):  # a Milvus server builds its index in the background
            index.wait_indexed()
    build_s = time.perf_counter() - t
    rss1 = _rss_bytes()
    if path is not None:
        index.flush()
        (path / "build.json").write_text(json.dumps({"build_s": build_s}))
    rss = None if rss0 is None or rss1 is None else float(rss1 - rss0)
    return index, build_s, rss, False


def bench_gallery(
    size: int,
    dim: int,
    *,
    kinds: Sequence[str] = ("exact", "flat", "hnsw", "ivfpq"),
    latency_queries: int = 1000,
    exact_latency_queries: int = 200,
    batch_queries: int = 2000,
    k: int = 10,
    hnsw_m: int = 32,
    ef_construction: int = 80,
    ef_search: Sequence[int] = (128, 256, 512),
    nprobe: Sequence[int] = (32, 128),
    batch_threads: int = 2,
    build_threads: int = 2,
    seed: int = 0,
    index_cache: Path | None = None,
    data: SyntheticGallery | None = None,
    bandwidth: BandwidthResult | None = None,
    milvus_uri: str = "",
    milvus_pid: int | None = None,
) -> tuple[list[IndexBenchResult], BandwidthResult]:
    """Benchmark every configuration of ``kinds`` on one synthetic gallery; see the module docstring.

    ``index_cache``: a directory where built HNSW/IVF-PQ indexes are kept (keyed by size, dim, seed and
    build parameters) so that a rerun with other search parameters skips the build; their ``build_s``
    is the one measured when they were built.
    """
    n_probes = max(latency_queries, batch_queries)
    t = time.perf_counter()
    data = data or clustered_templates(size, dim, n_probes=n_probes, seed=seed)
    log.info("synthetic gallery %d x %d in %.1f s", size, dim, time.perf_counter() - t)
    ids = np.arange(size, dtype=np.int64)
    with threads(build_threads):
        truth = exact_top1(data.vectors, data.probes)
    log.info("ground truth done")
    bw = bandwidth or measure_bandwidth()
    log.info("%s", bw)
    gallery_bytes = data.vectors.nbytes
    cache = index_cache / f"n{size}-d{dim}-seed{seed}" if index_cache is not None else None
    results: list[IndexBenchResult] = []
    collection = f"laneface_bench_n{size}_d{dim}_seed{seed}"
    for config in _configs(dim, hnsw_m, ef_construction, ef_search, nprobe, kinds, milvus_uri, collection):
        index, build_s, rss, cached = _build(config, ids, data, build_threads, cache)
        memory = index.memory_bytes() if isinstance(index, FaissIndex) else gallery_bytes + 8 * size
        server = config.name == "milvus-hnsw"
        if server:
            rss = None  # the client's RSS says nothing about the server's index
            server_rss = _proc_rss_bytes(milvus_pid) if milvus_pid is not None else None
            memory = server_rss if server_rss is not None else memory
        log.info("%s built in %.1f s%s", config.name, build_s, " (cached)" if cached else "")
        n_lat = exact_latency_queries if config.exact else latency_queries
        for label, set_params in config.variants:
            set_params(index)
            load = _load_avg()
            with threads(1):
                index.search(data.probes[:10], k)  # warm-up
                server_cpu0 = _proc_cpu_s(milvus_pid) if server else None
                wall, cpu = _latencies(index, data.probes[:n_lat], k)
                server_cpu1 = _proc_cpu_s(milvus_pid) if server else None
            with threads(batch_threads):
                t = time.perf_counter()
                hits = index.search(data.probes[:batch_queries], k)
                qps = batch_queries / (time.perf_counter() - t)
            top1 = hits.ids[:, 0]
            cpu50 = float(np.percentile(cpu, 50))
            bound = gallery_bytes / (bw.read_gb_s_1thread_cpu * 1e9) * 1e3 if config.exact else None
            res = IndexBenchResult(
                index=label,
                size=size,
                dim=dim,
                build_s=round(build_s, 2),
                memory_mb=round(memory / 1e6, 1),
                rss_delta_mb=None if rss is None else round(rss / 1e6, 1),
                p50_ms=round(float(np.percentile(wall, 50)), 3),
                p99_ms=round(float(np.percentile(wall, 99)), 3),
                mean_ms=round(float(wall.mean()), 3),
                cpu_p50_ms=round(cpu50, 3),
                cpu_p99_ms=round(float(np.percentile(cpu, 99)), 3),
                batch_qps=round(qps, 1),
                batch_threads=batch_threads,
                recall_at_1=round(float(np.mean(top1 == truth[:batch_queries])), 4),
                mated_rank1=round(float(np.mean(top1 == data.mates[:batch_queries])), 4),
                latency_queries=n_lat,
                batch_queries=batch_queries,
                load_avg_1min=load,
                build_cached=cached,
                scan_gb_s_cpu=round(gallery_bytes / (cpu50 / 1e3) / 1e9, 2) if config.exact else None,
                bound_ms_cpu=round(bound, 2) if bound is not None else None,
                ratio_to_bound=round(cpu50 / bound, 2) if bound else None,
                server_cpu_ms_per_query=(
                    round((server_cpu1 - server_cpu0) / n_lat * 1e3, 3)
                    if server_cpu0 is not None and server_cpu1 is not None
                    else None
                ),
            )
            log.info("%s", res)
            results.append(res)
        if isinstance(index, MilvusIndex):
            index.drop()
        index.close()
        del index
        gc.collect()
    return results, bw


def results_as_json(results: Sequence[IndexBenchResult], bw: BandwidthResult) -> list[dict[str, Any]]:
    """One dict per configuration; the bandwidth figures are repeated in each."""
    return [{**asdict(r), **{f"bandwidth_{k}": v for k, v in asdict(bw).items()}} for r in results]
