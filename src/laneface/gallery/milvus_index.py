"""MilvusIndex: the VectorIndex contract on a Milvus collection through pymilvus ``MilvusClient``.

``uri`` is a Milvus server or cluster (``http://milvus:19530``; production, see ``docs/scale.md``) or a
local file ending in ``.db``, which pymilvus serves with the embedded Milvus Lite (development and the
contract tests; slow: about 250 ms per query at 200k vectors, so it is never the default here).

One collection per gallery: ``id`` INT64 primary key (the gallery's vector id) and ``vector``
FLOAT_VECTOR(dim), metric IP, index ``HNSW`` by default (``IVF_PQ``, ``FLAT``, ``AUTOINDEX`` accepted).
``add`` is an upsert, ``remove`` a delete by primary key; Milvus compacts deleted rows itself.
Consistency ``Strong`` by default, so a search sees every earlier write (choose ``Bounded`` for
throughput when a second of staleness is acceptable). pymilvus is imported here only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from laneface.errors import IndexStateError
from laneface.gallery.index import IdArray, SearchHits, as_ids, as_queries, as_vectors, last_wins

__all__ = ["MilvusIndex"]

_DEFAULT_BUILD: dict[str, dict[str, int]] = {
    "HNSW": {"M": 32, "efConstruction": 128},
    "IVF_PQ": {"nlist": 4096, "m": 32, "nbits": 8},
    "FLAT": {},
    "AUTOINDEX": {},
}
_DEFAULT_SEARCH: dict[str, dict[str, int]] = {
    "HNSW": {"ef": 128},
    "IVF_PQ": {"nprobe": 32},
    "FLAT": {},
    "AUTOINDEX": {},
}
_PAGE = 16_384


class MilvusIndex:
    """A Milvus collection seen as a :class:`~laneface.gallery.index.VectorIndex`."""

    def __init__(
        self,
        uri: str,
        collection: str,
        dim: int | None = None,
        *,
        index_type: str = "HNSW",
        build_params: Mapping[str, int] | None = None,
        search_params: Mapping[str, int] | None = None,
        token: str = "",
        consistency: str = "Strong",
        client: Any = None,
    ) -> None:
        from pymilvus import DataType, MilvusClient

        index_type = index_type.upper()
        if index_type not in _DEFAULT_BUILD:
            raise IndexStateError(f"Milvus index type {index_type!r} not supported; use {', '.join(_DEFAULT_BUILD)}")
        self._client = client if client is not None else MilvusClient(uri=uri, token=token)
        self._collection = collection
        self._index_type = index_type
        self._search_params = dict(search_params or _DEFAULT_SEARCH[index_type])
        if self._client.has_collection(collection):
            fields = self._client.describe_collection(collection)["fields"]
            vec = next((f for f in fields if f["name"] == "vector"), None)
            if vec is None:
                raise IndexStateError(f"Milvus collection {collection!r} has no 'vector' field")
            found = int(vec["params"]["dim"])
            if dim is not None and found != dim:
                raise IndexStateError(f"Milvus collection {collection!r} has dimension {found}, expected {dim}")
            self._dim = found
            return
        if dim is None:
            raise IndexStateError(f"no Milvus collection {collection!r} at {uri} and no dimension given to create one")
        self._dim = int(dim)
        schema = self._client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.INT64, is_primary=True)
        schema.add_field("vector", DataType.FLOAT_VECTOR, dim=self._dim)
        params = self._client.prepare_index_params()
        params.add_index(
            field_name="vector",
            index_type=index_type,
            metric_type="IP",
            params=dict(build_params or _DEFAULT_BUILD[index_type]),
        )
        self._client.create_collection(collection, schema=schema, index_params=params, consistency_level=consistency)

    @property
    def dim(self) -> int:
        return self._dim

    @property
    def description(self) -> str:
        params = ",".join(f"{k}={v}" for k, v in self._search_params.items())
        return f"milvus-{self._index_type.lower()}({params})"

    def __len__(self) -> int:
        rows = self._client.query(self._collection, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def _existing(self, ids: IdArray) -> IdArray:
        found: list[int] = []
        for start in range(0, ids.size, _PAGE):
            chunk = ids[start : start + _PAGE].tolist()
            rows = self._client.query(self._collection, filter=f"id in {chunk}", output_fields=["id"])
            found.extend(int(r["id"]) for r in rows)
        return np.array(sorted(found), np.int64)

    def ids(self) -> IdArray:
        out: list[int] = []
        iterator = self._client.query_iterator(
            self._collection, batch_size=_PAGE, filter="id >= 0", output_fields=["id"]
        )
        try:
            while batch := iterator.next():
                out.extend(int(r["id"]) for r in batch)
        finally:
            iterator.close()
        return np.array(sorted(set(out)), np.int64)

    def add(self, ids: npt.ArrayLike, vectors: npt.ArrayLike) -> None:
        id_arr = as_ids(ids)
        vecs = as_vectors(vectors, self._dim, id_arr.size)
        id_arr, vecs = last_wins(id_arr, vecs)
        for start in range(0, id_arr.size, _PAGE):
            rows = [
                {"id": int(i), "vector": v.tolist()}
                for i, v in zip(id_arr[start : start + _PAGE], vecs[start : start + _PAGE], strict=True)
            ]
            self._client.upsert(self._collection, rows)

    def remove(self, ids: npt.ArrayLike) -> int:
        present = self._existing(np.unique(as_ids(ids)))
        for start in range(0, present.size, _PAGE):
            self._client.delete(self._collection, ids=present[start : start + _PAGE].tolist())
        return int(present.size)

    def search(self, queries: npt.ArrayLike, k: int) -> SearchHits:
        q = as_queries(queries, self._dim, k)
        out = SearchHits.empty(q.shape[0], k)
        if q.shape[0] == 0:
            return out
        results = self._client.search(
            self._collection,
            data=q.tolist(),
            limit=k,
            search_params={"metric_type": "IP", "params": self._search_params},
            output_fields=["id"],
        )
        for r, hits in enumerate(results):
            for j, hit in enumerate(list(hits)[:k]):
                out.ids[r, j] = int(hit["id"])
                out.scores[r, j] = float(hit["distance"])
        return out

    def flush(self) -> None:
        self._client.flush(self._collection)

    def set_search_params(self, **params: int) -> None:
        """Search parameters of later searches (``ef`` for HNSW, ``nprobe`` for IVF_PQ)."""
        self._search_params.update(params)

    def wait_indexed(self, timeout_s: float = 3600.0) -> None:
        """Flush, wait until the server has built the index over every row, then reload the collection so
        that searches use the built index (benchmarks; a server builds it in the background)."""
        import time

        self.flush()
        total = len(self)
        deadline = time.monotonic() + timeout_s
        while True:
            info = self._client.describe_index(self._collection, index_name="vector")
            if int(info.get("indexed_rows", 0)) >= total and int(info.get("pending_index_rows", 0)) == 0:
                break
            if time.monotonic() > deadline:
                raise IndexStateError(f"Milvus built the index over {info.get('indexed_rows')} of {total} rows")
            time.sleep(1.0)
        self._client.release_collection(self._collection)
        self._client.load_collection(self._collection)

    def close(self) -> None:
        self._client.close()

    def drop(self) -> None:
        """Delete the collection and everything in it."""
        self._client.drop_collection(self._collection)
