"""Synthetic clustered templates with mated probes, for benchmarks at any size.

Model (cosines are those of the expected values; D is large enough for the noise to be near-orthogonal):

* ``clusters`` random unit centres (think demographic groups);
* identity i = unit(sqrt(w)·centre + sqrt(1-w)·unit(noise)): two identities of one cluster have cosine
  about ``w = within_cluster`` (0.25), of different clusters about 0;
* a template of identity i = unit(identity + s·unit(noise)) with ``s = sqrt(1/genuine - 1)``: two templates
  of one identity have cosine about ``genuine`` (0.65, like a good recognizer on document photos);
* the gallery holds one template per identity; a mated probe is a new template of an enrolled identity.

This is harder for approximate search than real templates (many impostors sit at similar distances), and
easy for exact identification (the mate nearly always ranks first), which is what a benchmark of the
index, not of the recognizer, wants.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

__all__ = ["SyntheticGallery", "clustered_templates"]

F32 = npt.NDArray[np.float32]


@dataclass(frozen=True, eq=False)
class SyntheticGallery:
    vectors: F32  # (n, d) gallery templates, L2-normalised
    probes: F32  # (q, d) mated probes
    mates: npt.NDArray[np.int64]  # (q,) gallery row of each probe's identity


def _unit(x: F32) -> F32:
    out: F32 = x / np.linalg.norm(x, axis=1, keepdims=True)
    return out


def clustered_templates(
    n: int,
    dim: int,
    *,
    n_probes: int = 2000,
    clusters: int = 1024,
    within_cluster: float = 0.25,
    genuine: float = 0.65,
    seed: int = 0,
    chunk: int = 100_000,
) -> SyntheticGallery:
    if n < 1 or dim < 2:
        raise ValueError("n must be positive and dim at least 2")
    rng = np.random.default_rng(seed)
    centres = _unit(rng.standard_normal((clusters, dim), dtype=np.float32))
    a, b = math.sqrt(within_cluster), math.sqrt(1.0 - within_cluster)
    s = math.sqrt(1.0 / genuine - 1.0)
    mates = np.sort(rng.choice(n, size=min(n_probes, n), replace=False)).astype(np.int64)
    vectors = np.empty((n, dim), np.float32)
    probes = np.empty((mates.size, dim), np.float32)
    for start in range(0, n, chunk):
        stop = min(n, start + chunk)
        m = stop - start
        ident = _unit(a * centres[rng.integers(0, clusters, m)] + b * _unit(rng.standard_normal((m, dim), np.float32)))
        vectors[start:stop] = _unit(ident + s * _unit(rng.standard_normal((m, dim), np.float32)))
        sel = (mates >= start) & (mates < stop)
        if sel.any():
            rows = mates[sel] - start
            noise = _unit(rng.standard_normal((rows.size, dim), np.float32))
            probes[np.flatnonzero(sel)] = _unit(ident[rows] + s * noise)
    return SyntheticGallery(vectors, probes, mates)
