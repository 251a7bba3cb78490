"""The gallery's metadata database (SQLAlchemy Core): the source of truth. Its own SQLite file by default, or
tables prefixed per model version in a database shared by several processes (``[gallery] metadata_url``).

Every enrolled document has one row in ``documents`` with its template (float32 bytes) and the
``vec_id`` under which the vector index holds it. A new ``vec_id`` is allocated on every (re-)enrolment,
so the index can always be reconciled with this table (``Gallery.reconcile``): ids the index lacks are
added from the stored templates, ids it has in excess are removed. Failures to enrol and duplicate flags
have their own tables. Each enrolment is one transaction (resumable after interruption). Every write also
moves ``gallery_meta.generation`` on and logs the vec_ids it takes out in ``removed_vectors`` (an additive
table, created on open), so another process's index catches up from what changed (:meth:`changes_since`).

Schema versions (``gallery_meta.schema_version``), upgraded in place when a store opens, one step each:

* ``1``: documents, failures to enrol, duplicate flags;
* ``2``: ``documents.quality_flags`` (JSON list of the profile requirements an enrolled photo does not meet,
  see :func:`flag_requirement`) and ``policy`` on documents and failures (the enrolment policy a row was
  decided under, e.g. ``"flag:document"``; empty for rows written before).

A file of a newer schema than this code knows is refused (:class:`~laneface.errors.GalleryError`).
"""

from __future__ import annotations

import hashlib
import json
import secrets
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    create_engine,
    delete,
    event,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError, OperationalError

from laneface.errors import GalleryError

__all__ = [
    "SCHEMA_VERSION",
    "DocumentRecord",
    "DuplicateFlag",
    "EnrolmentFailure",
    "MetadataStore",
    "flag_requirement",
    "shared_galleries",
    "shared_prefix",
]

SCHEMA_VERSION = "2"


@dataclass(frozen=True)
class _Tables:
    """The tables of one gallery: unprefixed in a gallery's own SQLite file, prefixed per model version in a
    shared database (``lfg_<digest>_documents`` beside the records' tables)."""

    md: MetaData
    meta: Table
    documents: Table
    failures: Table
    duplicates: Table
    removed: Table


def _tables(prefix: str = "") -> _Tables:
    md = MetaData()
    return _Tables(
        md=md,
        meta=Table(
            prefix + "gallery_meta", md, Column("key", String, primary_key=True), Column("value", Text, nullable=False)
        ),
        documents=Table(
            prefix + "documents",
            md,
            Column("doc_id", String, primary_key=True),
            Column("vec_id", Integer, nullable=False, unique=True),
            Column("image", Text, nullable=False, default=""),
            Column("image_sha256", String, nullable=False, default=""),
            Column("doc_type", String, nullable=False, default=""),
            Column("citizenship", String, nullable=False, default=""),
            Column("attributes", Text, nullable=False, default="{}"),
            Column("template", LargeBinary, nullable=False),
            Column("quality_unified", Float, nullable=True),
            Column("note", Text, nullable=False, default=""),
            Column("enrolled_at", String, nullable=False),
            Column("quality_flags", Text, nullable=False, default="[]"),
            Column("policy", String, nullable=False, default=""),
        ),
        failures=Table(
            prefix + "enrolment_failures",
            md,
            Column("doc_id", String, primary_key=True),
            Column("image", Text, nullable=False, default=""),
            Column("image_sha256", String, nullable=False, default=""),
            Column("reason", Text, nullable=False),
            Column("profile", String, nullable=False, default=""),
            Column("failed_at", String, nullable=False),
            Column("policy", String, nullable=False, default=""),
        ),
        duplicates=Table(
            prefix + "duplicate_flags",
            md,
            Column("id", Integer, primary_key=True, autoincrement=True),
            Column("doc_id", String, nullable=False, index=True),
            Column("other_doc_id", String, nullable=False, index=True),
            Column("score", Float, nullable=False),
            Column("threshold", Float, nullable=False),
            Column("flagged_at", String, nullable=False),
        ),
        removed=Table(  # vec_ids taken out of the gallery, in order: other processes' indexes catch up from it
            prefix + "removed_vectors",
            md,
            Column("seq", Integer, primary_key=True, autoincrement=True),
            Column("vec_id", Integer, nullable=False),
        ),
    )


_registry_md = MetaData()
registry = Table(  # the galleries of a shared database, one row per model version
    "laneface_galleries",
    _registry_md,
    Column("model_version", String, primary_key=True),
    Column("prefix", String, nullable=False, unique=True),
    Column("created_at", String, nullable=False),
)


def shared_prefix(model_version: str) -> str:
    """The table prefix of ``model_version``'s gallery in a shared database (short enough for PostgreSQL's
    63-character names, the same on every replica)."""
    return "lfg_" + hashlib.sha256(model_version.encode()).hexdigest()[:12] + "_"


def flag_requirement(flag: str) -> str:
    """The requirement a quality flag names, without the measured value: ``"inter_eye_distance >= 90 (got
    41.2)"`` -> ``"inter_eye_distance >= 90"`` (flags are :meth:`laneface.quality.profiles.Requirement.check`
    texts: the requirement, then its detail in parentheses)."""
    return flag.split(" (", 1)[0]


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass(frozen=True)
class DocumentRecord:
    """One enrolled document (without its template)."""

    doc_id: str
    vec_id: int
    image: str
    image_sha256: str
    doc_type: str
    citizenship: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    quality_unified: float | None = None
    note: str = ""
    enrolled_at: str = ""
    quality_flags: tuple[str, ...] = ()  # requirements of the profile the photo does not meet
    policy: str = ""  # the enrolment policy it was admitted under ("" before schema 2)


@dataclass(frozen=True)
class EnrolmentFailure:
    """A failure to enrol (FTE): the document is not in the gallery, and why."""

    doc_id: str
    image: str
    image_sha256: str
    reason: str
    profile: str
    failed_at: str
    policy: str = ""  # the enrolment policy it failed under ("" before schema 2)


@dataclass(frozen=True)
class DuplicateFlag:
    """``doc_id``'s face matched ``other_doc_id``'s template at ``score >= threshold`` (one person, two
    documents)."""

    doc_id: str
    other_doc_id: str
    score: float
    threshold: float
    flagged_at: str = ""


def _doc(row: Any) -> DocumentRecord:
    return DocumentRecord(
        doc_id=row.doc_id,
        vec_id=int(row.vec_id),
        image=row.image,
        image_sha256=row.image_sha256,
        doc_type=row.doc_type,
        citizenship=row.citizenship,
        attributes=json.loads(row.attributes or "{}"),
        quality_unified=row.quality_unified,
        note=row.note,
        enrolled_at=row.enrolled_at,
        quality_flags=tuple(json.loads(row.quality_flags or "[]")),
        policy=row.policy,
    )


def _failure(row: Any) -> EnrolmentFailure:
    return EnrolmentFailure(row.doc_id, row.image, row.image_sha256, row.reason, row.profile, row.failed_at, row.policy)


def _upgrade_1_to_2(conn: Any, t: _Tables) -> None:
    docs, fails = t.documents.name, t.failures.name
    conn.exec_driver_sql(f"ALTER TABLE {docs} ADD COLUMN quality_flags TEXT NOT NULL DEFAULT '[]'")
    conn.exec_driver_sql(f"ALTER TABLE {docs} ADD COLUMN policy VARCHAR NOT NULL DEFAULT ''")
    conn.exec_driver_sql(f"ALTER TABLE {fails} ADD COLUMN policy VARCHAR NOT NULL DEFAULT ''")


_UPGRADES = {"1": ("2", _upgrade_1_to_2)}  # from version: (to version, step)

GENERATION = "generation"  # gallery_meta key: bumped by every write, so a reader sees that its index is stale
_NEXT_VEC_ID = "next_vec_id"
_REMOVALS_KEPT = 100_000  # removal log rows kept for readers catching up
_PRUNE_EVERY = 1_000  # vec_ids allocated between prunings of the removal log


class MetadataStore:
    """The metadata of one gallery (one model version): its own SQLite file (:meth:`open_file`, the embedded
    default) or tables in a shared database (:meth:`open_shared`, e.g. the records' PostgreSQL), where several
    service replicas and lanes read and write one gallery. Writers are serialised by a row lock on the
    gallery's write counter, so two processes never allocate one ``vec_id`` twice."""

    def __init__(self, engine: Engine, tables: _Tables, where: str) -> None:
        self._engine = engine
        self._t = tables
        self.where = where  # for messages: the file, or the database without its password
        self.last_write: tuple[str | None, str | None] = (None, None)  # generation before and after the last write
        try:
            try:
                self._create()
            except DBAPIError:  # another replica created the tables at the same moment: look again
                time.sleep(0.2)
                self._create()
        except Exception:
            engine.dispose()
            raise

    def _create(self) -> None:
        self._upgrade()
        self._t.md.create_all(self._engine)
        with self._begin() as conn:
            if conn.execute(select(self._t.meta.c.key).where(self._t.meta.c.key == _NEXT_VEC_ID)).first() is None:
                top = conn.execute(select(func.max(self._t.documents.c.vec_id))).scalar_one_or_none()
                conn.execute(
                    insert(self._t.meta).values(key=_NEXT_VEC_ID, value=str(0 if top is None else int(top) + 1))
                )

    @classmethod
    def open_file(cls, path: Path) -> MetadataStore:
        """The gallery's own SQLite file (created when absent)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(_sqlite_engine(f"sqlite:///{path}"), _tables(), str(path))

    @classmethod
    def open_shared(cls, url: str, model_version: str) -> MetadataStore:
        """``model_version``'s tables in the database at ``url`` (created when absent, and registered in
        ``laneface_galleries`` so :func:`shared_galleries` lists them)."""
        engine = _engine(url)
        where = engine.url.render_as_string(hide_password=True)
        try:
            store = cls(engine, _tables(shared_prefix(model_version)), where)
        except OperationalError as exc:
            raise GalleryError(f"cannot use the gallery database {where} (gallery.metadata_url): {exc.orig}") from exc
        try:
            store._register(model_version)
        except Exception:
            store.close()
            raise
        return store

    def _register(self, model_version: str) -> None:
        _registry_md.create_all(self._engine)
        try:
            with self._begin() as conn:
                known = conn.execute(
                    select(registry.c.prefix).where(registry.c.model_version == model_version)
                ).scalar_one_or_none()
                if known is None:
                    conn.execute(
                        insert(registry).values(
                            model_version=model_version, prefix=shared_prefix(model_version), created_at=_now()
                        )
                    )
        except IntegrityError:  # another replica registered it at the same moment
            pass

    def _upgrade(self) -> None:
        """Bring a store of an older schema to :data:`SCHEMA_VERSION`, one step per transaction."""
        while True:
            version = self.get_meta("schema_version") if self._has_meta() else None
            if version is None or version == SCHEMA_VERSION:
                return  # a new store is created at the current schema (the gallery records its version)
            if version not in _UPGRADES:
                raise GalleryError(
                    f"{self.where} has gallery schema {version!r}; this laneface reads up to {SCHEMA_VERSION!r}"
                )
            target, step = _UPGRADES[version]
            with self._begin() as conn:
                step(conn, self._t)
                conn.execute(delete(self._t.meta).where(self._t.meta.c.key == "schema_version"))
                conn.execute(insert(self._t.meta).values(key="schema_version", value=target))

    def _has_meta(self) -> bool:
        return bool(inspect(self._engine).has_table(self._t.meta.name))

    def close(self) -> None:
        self._engine.dispose()

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        meta = self._t.meta
        with self._engine.connect() as conn:
            value = conn.execute(select(meta.c.value).where(meta.c.key == key)).scalar_one_or_none()
        return None if value is None else str(value)

    def set_meta(self, values: Mapping[str, str]) -> None:
        with self._begin() as conn:
            for key, value in values.items():
                _put_meta(conn, self._t.meta, key, value)

    def generation(self) -> str | None:
        """Changes with every write to the documents (``None`` before the first): a replica whose index was
        brought in line at another generation reconciles before it searches."""
        return self.get_meta(GENERATION)

    # ------------------------------------------------------------------ documents
    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(self._t.documents)).scalar_one())

    def document(self, doc_id: str) -> DocumentRecord | None:
        docs = self._t.documents
        with self._engine.connect() as conn:
            row = conn.execute(select(docs).where(docs.c.doc_id == doc_id)).first()
        return None if row is None else _doc(row)

    def failure(self, doc_id: str) -> EnrolmentFailure | None:
        fails = self._t.failures
        with self._engine.connect() as conn:
            row = conn.execute(select(fails).where(fails.c.doc_id == doc_id)).first()
        return None if row is None else _failure(row)

    def failures(self) -> list[EnrolmentFailure]:
        fails = self._t.failures
        with self._engine.connect() as conn:
            rows = conn.execute(select(fails).order_by(fails.c.doc_id)).all()
        return [_failure(r) for r in rows]

    def flagged_documents(self) -> list[DocumentRecord]:
        """Enrolled documents with at least one quality flag, in doc_id order."""
        docs = self._t.documents
        with self._engine.connect() as conn:
            rows = conn.execute(select(docs).where(docs.c.quality_flags != "[]").order_by(docs.c.doc_id)).all()
        return [_doc(r) for r in rows]

    def duplicate_flags(self, doc_id: str | None = None) -> list[DuplicateFlag]:
        dups = self._t.duplicates
        stmt = select(dups).order_by(dups.c.id)
        if doc_id is not None:
            stmt = stmt.where(or_(dups.c.doc_id == doc_id, dups.c.other_doc_id == doc_id))
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [DuplicateFlag(r.doc_id, r.other_doc_id, float(r.score), float(r.threshold), r.flagged_at) for r in rows]

    def templates(self, doc_ids: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        docs = self._t.documents
        out: dict[str, npt.NDArray[np.float32]] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(doc_ids), 500):
                chunk = list(doc_ids[start : start + 500])
                rows = conn.execute(select(docs.c.doc_id, docs.c.template).where(docs.c.doc_id.in_(chunk))).all()
                out.update({r.doc_id: np.frombuffer(r.template, dtype="<f4").copy() for r in rows})
        return out

    def templates_by_vec_id(self, vec_ids: Iterable[int]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        docs = self._t.documents
        wanted = [int(v) for v in vec_ids]
        ids: list[int] = []
        vecs: list[npt.NDArray[np.float32]] = []
        with self._engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    select(docs.c.vec_id, docs.c.template).where(docs.c.vec_id.in_(wanted[start : start + 500]))
                ).all()
                for r in rows:
                    ids.append(int(r.vec_id))
                    vecs.append(np.frombuffer(r.template, dtype="<f4"))
        return np.array(ids, np.int64), (np.stack(vecs).astype(np.float32) if vecs else np.zeros((0, 0), np.float32))

    def vec_ids(self) -> npt.NDArray[np.int64]:
        docs = self._t.documents
        with self._engine.connect() as conn:
            rows = conn.execute(select(docs.c.vec_id).order_by(docs.c.vec_id)).scalars().all()
        return np.array(rows, np.int64)

    def sync_point(self) -> tuple[int, int]:
        """(next vec_id, last removal seq): what an index brought in line now has seen."""
        meta, removed = self._t.meta, self._t.removed
        with self._engine.connect() as conn:
            raw = conn.execute(select(meta.c.value).where(meta.c.key == _NEXT_VEC_ID)).scalar_one_or_none()
            top = conn.execute(select(func.max(removed.c.seq))).scalar_one_or_none()
        return (0 if raw is None else int(raw)), (0 if top is None else int(top))

    def changes_since(
        self, next_vec_id: int, removal_seq: int
    ) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32], npt.NDArray[np.int64], int] | None:
        """What an index that saw up to ``(next_vec_id, removal_seq)`` (:meth:`sync_point`) lacks: vec_ids and
        templates enrolled since, vec_ids removed since, and the new removal seq. ``None`` when the removal
        log no longer reaches back that far (the reader reconciles whole)."""
        t = self._t
        with self._engine.connect() as conn:
            first = conn.execute(select(func.min(t.removed.c.seq))).scalar_one_or_none()
            if first is not None and int(first) > removal_seq + 1:
                return None
            rows = conn.execute(
                select(t.removed.c.seq, t.removed.c.vec_id)
                .where(t.removed.c.seq > removal_seq)
                .order_by(t.removed.c.seq)
            ).all()
            added = conn.execute(
                select(t.documents.c.vec_id, t.documents.c.template)
                .where(t.documents.c.vec_id >= next_vec_id)
                .order_by(t.documents.c.vec_id)
            ).all()
        gone = np.array([int(r.vec_id) for r in rows], np.int64)
        ids = np.array([int(r.vec_id) for r in added], np.int64)
        vecs = (
            np.stack([np.frombuffer(r.template, dtype="<f4") for r in added]).astype(np.float32)
            if added
            else np.zeros((0, 0), np.float32)
        )
        return ids, vecs, gone, (int(rows[-1].seq) if rows else removal_seq)

    def doc_ids_of(self, vec_ids: Iterable[int]) -> dict[int, str]:
        docs = self._t.documents
        wanted = sorted({int(v) for v in vec_ids if int(v) >= 0})
        if not wanted:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(select(docs.c.vec_id, docs.c.doc_id).where(docs.c.vec_id.in_(wanted))).all()
        return {int(r.vec_id): r.doc_id for r in rows}

    def iter_documents(self, batch: int = 10_000) -> Iterable[tuple[DocumentRecord, npt.NDArray[np.float32]]]:
        docs = self._t.documents
        last = ""
        while True:
            with self._engine.connect() as conn:
                rows = conn.execute(select(docs).where(docs.c.doc_id > last).order_by(docs.c.doc_id).limit(batch)).all()
            if not rows:
                return
            for r in rows:
                yield _doc(r), np.frombuffer(r.template, dtype="<f4").copy()
            last = rows[-1].doc_id

    # ------------------------------------------------------------------ writes (one transaction each)
    def _lock_writes(self, conn: Any) -> int:
        """Take the gallery's write lock (the counter row, locked until the transaction ends; SQLite's own
        write lock does the same there) and return the next free vec_id."""
        meta = self._t.meta
        raw = conn.execute(select(meta.c.value).where(meta.c.key == _NEXT_VEC_ID).with_for_update()).scalar_one()
        return int(raw)

    def _wrote(self, conn: Any, next_vec_id: int) -> None:
        meta = self._t.meta
        conn.execute(update(meta).where(meta.c.key == _NEXT_VEC_ID).values(value=str(next_vec_id)))
        if next_vec_id % _PRUNE_EVERY == 0:  # keep the removal log short; a reader that fell behind reconciles whole
            removed = self._t.removed
            top = conn.execute(select(func.max(removed.c.seq))).scalar_one_or_none()
            if top is not None:
                conn.execute(delete(removed).where(removed.c.seq <= int(top) - _REMOVALS_KEPT))
        before = conn.execute(select(meta.c.value).where(meta.c.key == GENERATION)).scalar_one_or_none()
        after = _new_generation()
        _put_meta(conn, meta, GENERATION, after)
        self.last_write = (None if before is None else str(before), after)

    def put_document(
        self,
        record: DocumentRecord,
        vector: npt.NDArray[np.float32],
        flags: Sequence[DuplicateFlag] = (),
    ) -> tuple[int, int | None]:
        """Insert or replace ``record.doc_id`` under a newly allocated vec_id (``record.vec_id`` is ignored);
        clears its failure row and stale duplicate flags, stores ``flags``. Returns (new vec_id, old vec_id)."""
        t = self._t
        now = _now()
        with self._begin() as conn:
            vec_id = self._lock_writes(conn)
            old = conn.execute(
                select(t.documents.c.vec_id).where(t.documents.c.doc_id == record.doc_id)
            ).scalar_one_or_none()
            values = {
                "vec_id": vec_id,
                "image": record.image,
                "image_sha256": record.image_sha256,
                "doc_type": record.doc_type,
                "citizenship": record.citizenship,
                "attributes": json.dumps(dict(record.attributes), sort_keys=True),
                "template": np.asarray(vector, dtype="<f4").tobytes(),
                "quality_unified": record.quality_unified,
                "note": record.note,
                "enrolled_at": now,
                "quality_flags": json.dumps(list(record.quality_flags)),
                "policy": record.policy,
            }
            if old is None:
                conn.execute(insert(t.documents).values(doc_id=record.doc_id, **values))
            else:
                conn.execute(update(t.documents).where(t.documents.c.doc_id == record.doc_id).values(**values))
                conn.execute(insert(t.removed).values(vec_id=int(old)))
            conn.execute(delete(t.failures).where(t.failures.c.doc_id == record.doc_id))
            self._delete_flags(conn, record.doc_id)
            for f in flags:
                conn.execute(
                    insert(t.duplicates).values(
                        doc_id=f.doc_id,
                        other_doc_id=f.other_doc_id,
                        score=f.score,
                        threshold=f.threshold,
                        flagged_at=now,
                    )
                )
            self._wrote(conn, vec_id + 1)
        return vec_id, (None if old is None else int(old))

    def put_failure(self, failure: EnrolmentFailure) -> int | None:
        """Record an FTE for ``doc_id``; a template it had is removed (the document's current photo could
        not be enrolled). Returns the vec_id that was removed, if any."""
        t = self._t
        with self._begin() as conn:
            next_id = self._lock_writes(conn)
            old = self._delete_document(conn, failure.doc_id)
            conn.execute(
                insert(t.failures).values(
                    doc_id=failure.doc_id,
                    image=failure.image,
                    image_sha256=failure.image_sha256,
                    reason=failure.reason,
                    profile=failure.profile,
                    failed_at=failure.failed_at or _now(),
                    policy=failure.policy,
                )
            )
            self._wrote(conn, next_id)
        return old

    def delete_document(self, doc_id: str) -> int | None:
        """Remove a document, its failure row and its flags; return its vec_id (None if absent)."""
        with self._begin() as conn:
            next_id = self._lock_writes(conn)
            old = self._delete_document(conn, doc_id)
            self._wrote(conn, next_id)
        return old

    def _delete_document(self, conn: Any, doc_id: str) -> int | None:
        t = self._t
        old = conn.execute(select(t.documents.c.vec_id).where(t.documents.c.doc_id == doc_id)).scalar_one_or_none()
        conn.execute(delete(t.documents).where(t.documents.c.doc_id == doc_id))
        conn.execute(delete(t.failures).where(t.failures.c.doc_id == doc_id))
        self._delete_flags(conn, doc_id)
        if old is None:
            return None
        conn.execute(insert(t.removed).values(vec_id=int(old)))
        return int(old)

    def _delete_flags(self, conn: Any, doc_id: str) -> None:
        dups = self._t.duplicates
        conn.execute(delete(dups).where(or_(dups.c.doc_id == doc_id, dups.c.other_doc_id == doc_id)))

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        """A write transaction. On SQLite it takes the write lock at once (``BEGIN IMMEDIATE``), so two
        processes on one file queue (``busy_timeout``) instead of failing on a lock upgrade."""
        if self._engine.dialect.name != "sqlite":
            with self._engine.begin() as conn:
                yield conn
            return
        with self._engine.connect() as conn:
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.rollback()
                raise
            conn.commit()


def _new_generation() -> str:
    return f"{time.time_ns():x}-{secrets.token_hex(4)}"


def _put_meta(conn: Any, meta: Table, key: str, value: str) -> None:
    if conn.execute(update(meta).where(meta.c.key == key).values(value=value)).rowcount == 0:
        conn.execute(insert(meta).values(key=key, value=value))


def _engine(url: str) -> Engine:
    """The engine of a shared metadata database (:class:`GalleryError` naming the setting when ``url`` is not one)."""
    try:
        if not url.startswith("sqlite"):
            return create_engine(url, pool_pre_ping=True)
        engine = _sqlite_engine(url)
    except (ArgumentError, NoSuchModuleError, ImportError) as exc:
        raise GalleryError(f"gallery.metadata_url {url!r} is not a database this laneface can open: {exc}") from exc
    if engine.url.database and engine.url.database != ":memory:":
        try:
            Path(engine.url.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GalleryError(f"cannot use the gallery database {url} (gallery.metadata_url): {exc}") from exc
    return engine


def _sqlite_engine(url: str) -> Engine:
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")  # a killed process loses nothing committed
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.close()

    return engine


def shared_galleries(url: str) -> list[str]:
    """The model versions with a gallery in the shared database at ``url``."""
    engine = _engine(url)
    try:
        if not inspect(engine).has_table(registry.name):
            return []
        with engine.connect() as conn:
            return [
                str(v)
                for v in conn.execute(select(registry.c.model_version).order_by(registry.c.model_version)).scalars()
            ]
    finally:
        engine.dispose()
