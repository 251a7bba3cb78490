"""Gallery: the enrolled documents of one model version, their templates and a vector index over them.

Layout of the embedded default, under the data directory::

    DIR/gallery/<model version>/gallery.sqlite   metadata + templates (the source of truth)
    DIR/gallery/<model version>/index/           FAISS (or exact numpy) index files, generations

One gallery per model version: templates of different versions are never compared, and a migration to
a new recognizer enrols into a new gallery beside the old one. With ``backend="milvus"`` the vectors live
in a Milvus collection instead of ``index/`` (``milvus_uri``: a server, or a local ``.db`` file for
Milvus Lite); the SQLite file stays the metadata store.

Writes are ordered so that an interruption never loses or duplicates anything: the metadata transaction
commits first, then the index is updated; the embedded index is flushed every ``checkpoint_every``
writes and on :meth:`Gallery.close`, and :meth:`Gallery.reconcile` (run on open for the embedded
backends) brings the index back in line with the metadata after a crash.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Literal

import numpy as np

from laneface.errors import DocumentNotFoundError, GalleryError, ModelVersionMismatchError
from laneface.gallery.faiss_index import FaissConfig
from laneface.gallery.index import VectorIndex
from laneface.gallery.metadata import (
    SCHEMA_VERSION,
    DocumentRecord,
    DuplicateFlag,
    EnrolmentFailure,
    MetadataStore,
    flag_requirement,
)
from laneface.types import Template, TemplateBatch

__all__ = ["Candidate", "Gallery", "GalleryConfig", "GalleryInfo", "flag_counts", "gallery_dir", "list_galleries"]

Backend = Literal["faiss", "exact", "milvus"]


@dataclass(frozen=True)
class GalleryConfig:
    """Which vector index a gallery uses. ``backend`` is fixed when the gallery is created."""

    backend: Backend = "faiss"
    faiss: FaissConfig = field(default_factory=FaissConfig)
    milvus_uri: str = ""  # "http://milvus:19530" or "/path/gallery.db" (Milvus Lite)
    milvus_token: str = ""
    milvus_index_type: str = "HNSW"
    checkpoint_every: int = 1000  # flush the embedded index every N writes


@dataclass(frozen=True)
class Candidate:
    """One search result: a document, its comparison score (cosine) and its rank (1 = best)."""

    doc_id: str
    score: float
    rank: int


@dataclass(frozen=True)
class GalleryInfo:
    model_version: str
    path: Path
    documents: int
    failures: int
    duplicate_flags: int
    backend: str
    index: str
    flagged: int = 0  # enrolled documents with at least one quality flag
    common_flags: tuple[tuple[str, int], ...] = ()  # (requirement, documents), commonest first


def flag_counts(records: Sequence[DocumentRecord], top: int = 5) -> tuple[tuple[str, int], ...]:
    """The ``top`` commonest flagged requirements among ``records`` with the number of documents each."""
    counts = Counter(req for r in records for req in {flag_requirement(f) for f in r.quality_flags})
    return tuple(counts.most_common(top))


def _slug(model_version: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+@-]", "_", model_version) or "_"


def gallery_dir(data_dir: Path, model_version: str) -> Path:
    """Where the gallery of ``model_version`` lives under ``data_dir``."""
    return data_dir / "gallery" / _slug(model_version)


def _milvus_collection(model_version: str) -> str:
    digest = hashlib.sha256(model_version.encode()).hexdigest()[:10]
    return "laneface_" + re.sub(r"[^A-Za-z0-9_]", "_", model_version)[:40] + "_" + digest


def list_galleries(data_dir: Path) -> list[GalleryInfo]:
    """Every gallery under ``data_dir``."""
    out: list[GalleryInfo] = []
    for db in sorted((data_dir / "gallery").glob("*/gallery.sqlite")):
        meta = MetadataStore(db)
        try:
            flagged = meta.flagged_documents()
            out.append(
                GalleryInfo(
                    model_version=meta.get_meta("model_version") or "?",
                    path=db.parent,
                    documents=meta.count(),
                    failures=len(meta.failures()),
                    duplicate_flags=len(meta.duplicate_flags()),
                    backend=meta.get_meta("backend") or "?",
                    index=meta.get_meta("index_description") or "",
                    flagged=len(flagged),
                    common_flags=flag_counts(flagged),
                )
            )
        finally:
            meta.close()
    return out


class Gallery:
    """Enrolled documents of one model version. Use :meth:`open`; close it (or use ``with``)."""

    def __init__(self, root: Path, model_version: str, meta: MetadataStore, config: GalleryConfig) -> None:
        self.root = root
        self.model_version = model_version
        self.config = config
        self._meta = meta
        self._index: VectorIndex | None = None
        self._dim: int | None = None
        self._writes = 0
        dim = meta.get_meta("dim")
        if dim is not None:
            self._dim = int(dim)
            self._index = self._open_index(self._dim)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls, data_dir: Path, model_version: str, *, config: GalleryConfig | None = None, create: bool = True
    ) -> Gallery:
        """The gallery of ``model_version`` under ``data_dir`` (created empty when absent and ``create``).

        Raises :class:`ModelVersionMismatchError` when the directory holds another model version's
        gallery, :class:`GalleryError` when ``config.backend`` differs from the one it was created with.
        """
        if not model_version:
            raise GalleryError("a gallery needs a model version")
        root = gallery_dir(data_dir, model_version)
        db = root / "gallery.sqlite"
        if not db.is_file() and not create:
            raise GalleryError(f"no gallery for model {model_version!r} under {data_dir}; enrol documents first")
        meta = MetadataStore(db)
        stored_version = meta.get_meta("model_version")
        stored_backend = meta.get_meta("backend")
        if stored_version is not None and stored_version != model_version:
            meta.close()
            raise ModelVersionMismatchError(
                f"{root} holds the gallery of model {stored_version!r}, not {model_version!r}"
            )
        if config is None:
            config = GalleryConfig()
            if stored_backend == "exact":
                config = GalleryConfig(backend="exact")
            elif stored_backend == "milvus":
                config = GalleryConfig(backend="milvus")
        elif stored_backend is not None and stored_backend != config.backend:
            meta.close()
            raise GalleryError(
                f"the gallery of {model_version!r} was created with backend {stored_backend!r}, not {config.backend!r}"
            )
        if stored_version is None:
            meta.set_meta({"model_version": model_version, "backend": config.backend, "schema_version": SCHEMA_VERSION})
        gallery = cls(root, model_version, meta, config)
        if config.backend != "milvus":
            gallery.reconcile()
        return gallery

    def _open_index(self, dim: int) -> VectorIndex:
        c = self.config
        if c.backend == "faiss":
            from laneface.gallery.faiss_index import FaissIndex

            return FaissIndex.open(self.root / "index", dim, c.faiss)
        if c.backend == "exact":
            from laneface.gallery.exact import ExactIndex

            return ExactIndex.open(self.root / "index", dim)
        from laneface.gallery.milvus_index import MilvusIndex

        uri = c.milvus_uri or str(self.root / "milvus.db")
        return MilvusIndex(
            uri, _milvus_collection(self.model_version), dim, index_type=c.milvus_index_type, token=c.milvus_token
        )

    def _ensure_index(self, dim: int) -> VectorIndex:
        if self._index is None:
            self._meta.set_meta({"dim": str(dim)})
            self._dim = dim
            self._index = self._open_index(dim)
        elif dim != self._dim:
            raise ModelVersionMismatchError(
                f"template has {dim} dimensions, the gallery of {self.model_version!r} has {self._dim}"
            )
        return self._index

    def reconcile(self) -> tuple[int, int]:
        """Bring the index in line with the metadata (after a crash between the two writes).
        Returns (vectors added, vectors removed)."""
        if self._index is None:
            return 0, 0
        want = self._meta.vec_ids()
        have = self._index.ids()
        missing = np.setdiff1d(want, have, assume_unique=True)
        extra = np.setdiff1d(have, want, assume_unique=True)
        if extra.size:
            self._index.remove(extra)
        for start in range(0, missing.size, 10_000):
            ids, vecs = self._meta.templates_by_vec_id(missing[start : start + 10_000].tolist())
            if ids.size:
                self._index.add(ids, vecs)
        if missing.size or extra.size:
            self._index.flush()
        return int(missing.size), int(extra.size)

    # ------------------------------------------------------------------ reading
    @property
    def dim(self) -> int | None:
        return self._dim

    @property
    def index_description(self) -> str:
        return self._index.description if self._index is not None else "(empty)"

    def __len__(self) -> int:
        return self._meta.count()

    def check(self, template: Template) -> None:
        """Raise :class:`ModelVersionMismatchError` unless ``template`` may be compared with this gallery."""
        if template.model_version != self.model_version:
            raise ModelVersionMismatchError(
                f"template of model {template.model_version!r} cannot be compared with the gallery of "
                f"{self.model_version!r}"
            )
        if self._dim is not None and template.dim != self._dim:
            raise ModelVersionMismatchError(
                f"template has {template.dim} dimensions, the gallery of {self.model_version!r} has {self._dim}"
            )

    def document(self, doc_id: str) -> DocumentRecord | None:
        return self._meta.document(doc_id)

    def failure(self, doc_id: str) -> EnrolmentFailure | None:
        return self._meta.failure(doc_id)

    def failures(self) -> list[EnrolmentFailure]:
        return self._meta.failures()

    def duplicate_flags(self, doc_id: str | None = None) -> list[DuplicateFlag]:
        return self._meta.duplicate_flags(doc_id)

    def flagged_documents(self) -> list[DocumentRecord]:
        """Enrolled documents whose photo has quality flags (requirements of the profile not met)."""
        return self._meta.flagged_documents()

    def iter_templates(self) -> Iterator[tuple[str, Template]]:
        """Every enrolled (doc_id, template), in doc_id order, read in batches."""
        for record, vector in self._meta.iter_documents():
            yield record.doc_id, Template(vector, self.model_version)

    def templates(self, doc_ids: Sequence[str]) -> dict[str, Template]:
        """Stored templates of the enrolled ``doc_ids`` (absent ones are left out)."""
        return {d: Template(v, self.model_version) for d, v in self._meta.templates(list(doc_ids)).items()}

    def template(self, doc_id: str) -> Template:
        found = self.templates([doc_id])
        if doc_id not in found:
            raise DocumentNotFoundError(f"document {doc_id!r} is not enrolled in the gallery of {self.model_version!r}")
        return found[doc_id]

    def search(self, template: Template, k: int = 10) -> list[Candidate]:
        """The ``k`` enrolled documents most similar to ``template``, best first."""
        return self.search_batch(TemplateBatch(template.vector.reshape(1, -1), template.model_version), k)[0]

    def search_batch(self, templates: TemplateBatch, k: int = 10) -> list[list[Candidate]]:
        if templates.model_version != self.model_version:
            raise ModelVersionMismatchError(
                f"templates of model {templates.model_version!r} cannot be compared with the gallery of "
                f"{self.model_version!r}"
            )
        if len(templates) == 0:
            return []
        if self._index is None or len(self._index) == 0:
            return [[] for _ in range(len(templates))]
        if templates.vectors.shape[1] != self._dim:
            raise ModelVersionMismatchError(
                f"templates have {templates.vectors.shape[1]} dimensions, the gallery has {self._dim}"
            )
        hits = self._index.search(templates.vectors, k)
        names = self._meta.doc_ids_of(hits.ids.ravel().tolist())
        out: list[list[Candidate]] = []
        for ids, scores in zip(hits.ids, hits.scores, strict=True):
            row = [(names.get(int(i)), float(s)) for i, s in zip(ids, scores, strict=True) if i >= 0]
            out.append([Candidate(d, s, r + 1) for r, (d, s) in enumerate((d, s) for d, s in row if d is not None)])
        return out

    # ------------------------------------------------------------------ writing
    def enrol(
        self,
        doc_id: str,
        template: Template,
        *,
        image: str = "",
        image_sha256: str = "",
        doc_type: str = "",
        citizenship: str = "",
        attributes: Mapping[str, str] | None = None,
        quality_unified: float | None = None,
        note: str = "",
        duplicate_flags: Sequence[DuplicateFlag] = (),
        quality_flags: Sequence[str] = (),
        policy: str = "",
    ) -> DocumentRecord:
        """Add ``doc_id`` with ``template``, replacing the template it had (re-enrolment)."""
        if not doc_id:
            raise GalleryError("doc_id must not be empty")
        self.check(template)
        index = self._ensure_index(template.dim)
        record = DocumentRecord(
            doc_id=doc_id,
            vec_id=-1,
            image=image,
            image_sha256=image_sha256,
            doc_type=doc_type,
            citizenship=citizenship,
            attributes=dict(attributes or {}),
            quality_unified=quality_unified,
            note=note,
            quality_flags=tuple(quality_flags),
            policy=policy,
        )
        vec_id, old = self._meta.put_document(record, template.vector, duplicate_flags)
        if old is not None:
            index.remove([old])
        index.add([vec_id], template.vector.reshape(1, -1))
        self._wrote()
        stored = self._meta.document(doc_id)
        assert stored is not None
        return stored

    def record_failure(
        self, doc_id: str, *, image: str, image_sha256: str, reason: str, profile: str, policy: str = ""
    ) -> None:
        """Record a failure to enrol ``doc_id``; a template it had is removed from the gallery."""
        old = self._meta.put_failure(EnrolmentFailure(doc_id, image, image_sha256, reason, profile, "", policy))
        if old is not None and self._index is not None:
            self._index.remove([old])
            self._wrote()

    def remove(self, doc_id: str) -> bool:
        """Remove ``doc_id`` (its template, failure record and flags); False when it was not there."""
        old = self._meta.delete_document(doc_id)
        if old is not None and self._index is not None:
            self._index.remove([old])
            self._wrote()
        return old is not None

    def _wrote(self) -> None:
        self._writes += 1
        if self._writes >= self.config.checkpoint_every:
            self.flush()

    def flush(self) -> None:
        """Make the index durable (the metadata is committed on every write)."""
        if self._index is not None:
            self._index.flush()
            self._meta.set_meta({"index_description": self._index.description})
        self._writes = 0

    def close(self) -> None:
        try:
            if self._index is not None:
                self.flush()
                self._index.close()
        finally:
            self._meta.close()

    def __enter__(self) -> Gallery:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
