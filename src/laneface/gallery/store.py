"""Gallery: the enrolled documents of one model version, their templates and a vector index over them.

Layout of the embedded default, under the data directory::

    DIR/gallery/<model version>/gallery.sqlite   metadata + templates (the source of truth)
    DIR/gallery/<model version>/index/           FAISS (or exact numpy) index files, generations

One gallery per model version: templates of different versions are never compared, and a migration to
a new recognizer enrols into a new gallery beside the old one. With ``backend="milvus"`` the vectors live
in a Milvus collection instead of ``index/`` (``milvus_uri``: a server, or a local ``.db`` file for
Milvus Lite). With ``metadata_url`` the metadata lives in a database shared by several processes (service
replicas, lanes) instead of ``gallery.sqlite``; each process with an embedded index keeps that index in its
own directory and catches up with the others' writes before it searches (:meth:`Gallery.refresh`).

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
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Literal

import numpy as np

from laneface.errors import ConfigError, DocumentNotFoundError, GalleryError, ModelVersionMismatchError
from laneface.gallery.faiss_index import FaissConfig
from laneface.gallery.index import VectorIndex
from laneface.gallery.metadata import (
    SCHEMA_VERSION,
    DocumentRecord,
    DuplicateFlag,
    EnrolmentFailure,
    MetadataStore,
    flag_requirement,
    shared_galleries,
)
from laneface.types import Template, TemplateBatch

if TYPE_CHECKING:
    from laneface.config import Settings

__all__ = [
    "Candidate",
    "Gallery",
    "GalleryConfig",
    "GalleryInfo",
    "flag_counts",
    "gallery_config",
    "gallery_dir",
    "list_galleries",
]

Backend = Literal["faiss", "exact", "milvus"]


@dataclass(frozen=True)
class GalleryConfig:
    """Which vector index a gallery uses and where its metadata lives. ``backend`` is fixed when the gallery
    is created (``None``: the one it was created with, FAISS for a new gallery)."""

    backend: Backend | None = None
    faiss: FaissConfig = field(default_factory=FaissConfig)
    milvus_uri: str = ""  # "http://milvus:19530" or "/path/gallery.db" (Milvus Lite); "": the one it was created with
    milvus_token: str = ""
    milvus_index_type: str = "HNSW"
    checkpoint_every: int = 1000  # flush the embedded index every N writes
    # a database shared by replicas and lanes (SQLAlchemy URL); "": gallery.sqlite in the gallery's directory
    metadata_url: str = ""


def gallery_config(settings: Settings) -> GalleryConfig:
    """The gallery configuration of ``settings.gallery`` (``metadata_url = "records"``: the records database)."""
    g = settings.gallery
    url = g.metadata_url
    if url == "records":
        url = settings.database_url
        if url.startswith("sqlite"):  # the records write around a gallery enrolment: one SQLite file can't take both
            raise ConfigError(
                "gallery.metadata_url = 'records' needs a server database for the records (PostgreSQL); "
                "with SQLite records give the gallery a file of its own, e.g. sqlite:////srv/laneface/gallery.db"
            )
    token = g.milvus_token.get_secret_value() if g.milvus_token is not None else ""
    return GalleryConfig(backend=g.backend, milvus_uri=g.milvus_uri, milvus_token=token, metadata_url=url)


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
    metadata: str = ""  # the shared database holding its metadata ("": gallery.sqlite in ``path``)


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


def list_galleries(data_dir: Path, config: GalleryConfig | None = None) -> list[GalleryInfo]:
    """Every gallery :meth:`Gallery.open` can reach: those in the shared database ``config.metadata_url``
    names, else those under ``data_dir``."""
    found: list[tuple[Path, str, str]]  # (directory, shared database URL or "", model version)
    if config is not None and config.metadata_url:
        found = [(gallery_dir(data_dir, v), config.metadata_url, v) for v in shared_galleries(config.metadata_url)]
    else:
        found = [(db.parent, "", "") for db in sorted((data_dir / "gallery").glob("*/gallery.sqlite"))]
    out: list[GalleryInfo] = []
    for root, url, version in found:
        meta = MetadataStore.open_shared(url, version) if url else MetadataStore.open_file(root / "gallery.sqlite")
        try:
            flagged = meta.flagged_documents()
            out.append(
                GalleryInfo(
                    model_version=meta.get_meta("model_version") or "?",
                    path=root,
                    documents=meta.count(),
                    failures=len(meta.failures()),
                    duplicate_flags=len(meta.duplicate_flags()),
                    backend=meta.get_meta("backend") or "?",
                    index=meta.get_meta("index_description") or "",
                    flagged=len(flagged),
                    common_flags=flag_counts(flagged),
                    metadata=meta.where if url else "",
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
        self._seen: str | None = None  # the metadata generation this process's index was last brought in line with
        self._sync: tuple[int, int] | None = None  # (next vec_id, removal seq) its index has taken in
        dim = meta.get_meta("dim")
        if dim is not None:
            self._dim = int(dim)
            self._index = self._open_index(self._dim)

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls, data_dir: Path, model_version: str, *, config: GalleryConfig | None = None, create: bool = True
    ) -> Gallery:
        """The gallery of ``model_version`` under ``data_dir`` (created empty when absent and ``create``); its
        metadata in ``config.metadata_url`` when that names a shared database.

        Raises :class:`ModelVersionMismatchError` when the directory holds another model version's
        gallery, :class:`GalleryError` when ``config.backend`` differs from the one it was created with.
        """
        if not model_version:
            raise GalleryError("a gallery needs a model version")
        config = config or GalleryConfig()
        root = gallery_dir(data_dir, model_version)
        if config.metadata_url:
            meta = MetadataStore.open_shared(config.metadata_url, model_version)
            where = f"in {meta.where}"
        else:
            db = root / "gallery.sqlite"
            if not db.is_file() and not create:
                raise GalleryError(f"no gallery for model {model_version!r} under {data_dir}; enrol documents first")
            meta = MetadataStore.open_file(db)
            where = f"under {data_dir}"
        try:
            stored_version = meta.get_meta("model_version")
            stored_backend = meta.get_meta("backend")
            if stored_version is None and not create:
                raise GalleryError(f"no gallery for model {model_version!r} {where}; enrol documents first")
            if stored_version is not None and stored_version != model_version:
                raise ModelVersionMismatchError(
                    f"{root} holds the gallery of model {stored_version!r}, not {model_version!r}"
                )
            if config.backend is not None and stored_backend is not None and stored_backend != config.backend:
                raise GalleryError(
                    f"the gallery of {model_version!r} was created with backend {stored_backend!r}, "
                    f"not {config.backend!r}"
                )
            backend = config.backend or stored_backend or "faiss"
            milvus_uri = config.milvus_uri or meta.get_meta("milvus_uri") or ""
            config = replace(config, backend=backend, milvus_uri=milvus_uri)  # type: ignore[arg-type]
            first: dict[str, str] = {}
            if stored_version is None:
                first = {"model_version": model_version, "backend": backend, "schema_version": SCHEMA_VERSION}
            if backend == "milvus" and config.milvus_uri and config.milvus_uri != meta.get_meta("milvus_uri"):
                first["milvus_uri"] = config.milvus_uri  # so a later open without a URI reaches the same server
            if first:
                meta.set_meta(first)
        except BaseException:
            meta.close()
            raise
        gallery = cls(root, model_version, meta, config)
        gallery._seen = meta.generation()  # read before the index is brought in line: later writes are seen
        gallery._sync = meta.sync_point()
        if backend != "milvus":
            gallery.reconcile()
        return gallery

    def _open_index(self, dim: int) -> VectorIndex:
        c = self.config
        if c.backend == "exact":
            from laneface.gallery.exact import ExactIndex

            return ExactIndex.open(self.root / "index", dim)
        if c.backend == "milvus":
            from laneface.gallery.milvus_index import MilvusIndex

            uri = c.milvus_uri or str(self.root / "milvus.db")
            return MilvusIndex(
                uri, _milvus_collection(self.model_version), dim, index_type=c.milvus_index_type, token=c.milvus_token
            )
        from laneface.gallery.faiss_index import FaissIndex

        return FaissIndex.open(self.root / "index", dim, c.faiss)

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

    def reconcile(self, *, flush: bool = True) -> tuple[int, int]:
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
        if flush and (missing.size or extra.size):
            self._index.flush()
        return int(missing.size), int(extra.size)

    def refresh(self) -> bool:
        """Take in what other processes wrote since this one last looked (another replica's enrolments and
        removals, on a shared metadata database or the same file): the index opens once the first template
        fixes the dimension, and an embedded index takes in the templates enrolled and the vec_ids removed
        since (the whole metadata is compared only when the removal log no longer reaches back that far).
        One small read when nothing changed; :meth:`search_batch` and :meth:`enrol` call it. Returns whether
        anything had changed."""
        generation = self._meta.generation()
        if generation == self._seen:
            return False
        whole = False
        if self._index is None:
            dim = self._meta.get_meta("dim")
            if dim is not None:
                self._dim = int(dim)
                self._index = self._open_index(self._dim)
                whole = True  # files of an earlier run may hold anything
        if self.config.backend != "milvus" and self._index is not None:  # a Milvus collection is itself shared
            self._catch_up(whole)
        self._seen = generation
        return True

    def _catch_up(self, whole: bool) -> None:
        assert self._index is not None
        changes = None if whole or self._sync is None else self._meta.changes_since(*self._sync)
        if changes is None:
            sync = self._meta.sync_point()
            self.reconcile(flush=False)  # the index files are a cache of the metadata: flushed on close
            self._sync = sync
            return
        ids, vecs, gone, seq = changes
        if ids.size:  # added first: a vec_id is never reused, so one enrolled and removed since goes again below
            self._index.add(ids, vecs)
        if gone.size:
            self._index.remove(gone)
        self._sync = (int(ids.max()) + 1 if ids.size else self._sync[0], seq)  # type: ignore[index]

    def _after_write(self) -> None:
        """Our own write moved the generation on: when nothing else had, the index is still in line."""
        before, after = self._meta.last_write
        if before == self._seen:
            self._seen = after
        self._wrote()

    # ------------------------------------------------------------------ reading
    @property
    def generation(self) -> str | None:
        """Changes with every write to the gallery, by any process (``None`` before the first)."""
        return self._meta.generation()

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
        self.refresh()
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
        self.refresh()
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
        self._after_write()
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
        self._after_write()

    def remove(self, doc_id: str) -> bool:
        """Remove ``doc_id`` (its template, failure record and flags); False when it was not there."""
        old = self._meta.delete_document(doc_id)
        if old is not None and self._index is not None:
            self._index.remove([old])
        self._after_write()
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
