"""CPU cost of one gallery shared by processes (``[gallery] metadata_url``): what a process with its own FAISS
index pays per search to look for other processes' writes, and per search after another process enrolled.

    python tools/bench_shared_gallery.py URL [--documents N] [--dim D] [--dir DIR]

URL: the shared metadata database (``sqlite:////tmp/g/gallery.db``, ``postgresql+psycopg://...``; it should
be empty). Two Gallery objects on two directories stand for two replicas; CPU seconds of this process (the
database server's own CPU is not counted).
"""

from __future__ import annotations

import argparse
import resource
import tempfile
from pathlib import Path

import numpy as np

from laneface.gallery.store import Gallery, GalleryConfig
from laneface.types import Template

MODEL = "bench-shared@v1"


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url")
    ap.add_argument("--documents", type=int, default=20_000)
    ap.add_argument("--dim", type=int, default=128)
    ap.add_argument("--dir", type=Path, default=None)
    args = ap.parse_args()
    root = args.dir or Path(tempfile.mkdtemp(prefix="bench-shared-"))
    n, foreign = args.documents, 100
    v = np.random.default_rng(0).standard_normal((n + foreign, args.dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    config = GalleryConfig(metadata_url=args.url)
    with Gallery.open(root / "a", MODEL, config=config) as a:
        c0 = _cpu()
        for i in range(n):
            a.enrol(f"D{i}", Template(v[i], MODEL))
        print(f"enrol: {(_cpu() - c0) / n * 1000:.2f} ms CPU per document ({n} documents, {args.dim}-d)")
    with Gallery.open(root / "a", MODEL, config=config) as a, Gallery.open(root / "b", MODEL, config=config) as b:
        probe = Template(v[5], MODEL)
        b.search(probe, 10)
        looks = b.refresh

        def timed(label: str) -> float:
            c0 = _cpu()
            for _ in range(300):
                b.search(probe, 10)
            ms = (_cpu() - c0) / 300 * 1000
            print(f"search, {label}: {ms:.2f} ms CPU")
            return ms

        with_look = timed("looking for other processes' writes (none)")
        b.refresh = lambda: False  # type: ignore[method-assign]
        without = timed("not looking")
        b.refresh = looks  # type: ignore[method-assign]
        print(f"  the look costs {with_look - without:.2f} ms CPU per search")
        after: list[float] = []
        for j in range(foreign):
            a.enrol(f"N{j}", Template(v[n + j], MODEL))
            if j % 2:
                a.remove(f"D{j}")
            c0 = _cpu()
            hit = b.search(Template(v[n + j], MODEL), 1)[0]
            after.append((_cpu() - c0) * 1000)
            assert hit.doc_id == f"N{j}", hit
        print(
            f"search after the other replica enrolled (and removed): mean {np.mean(after):.2f} ms CPU "
            f"({foreign} searches)"
        )


if __name__ == "__main__":
    main()
