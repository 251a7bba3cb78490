"""The gallery's metadata database (SQLite through SQLAlchemy Core): the source of truth.

Every enrolled document has one row in ``documents`` with its template (float32 bytes) and the
``vec_id`` under which the vector index holds it. A new ``vec_id`` is allocated on every (re-)enrolment,
so the index can always be reconciled with this table (``Gallery.reconcile``): ids the index lacks are
added from the stored templates, ids it has in excess are removed. Failures to enrol and duplicate flags
have their own tables. Each enrolment is one transaction (resumable after interruption).

Schema versions (``gallery_meta.schema_version``), upgraded in place when a store opens, one step each:

* ``1``: documents, failures to enrol, duplicate flags;
* ``2``: ``documents.quality_flags`` (JSON list of the profile requirements an enrolled photo does not meet,
  see :func:`flag_requirement`) and ``policy`` on documents and failures (the enrolment policy a row was
  decided under, e.g. ``"flag:document"``; empty for rows written before).

A file of a newer schema than this code knows is refused (:class:`~laneface.errors.GalleryError`).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import (
    Column,
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
    or_,
    select,
    update,
)

from laneface.errors import GalleryError

__all__ = ["SCHEMA_VERSION", "DocumentRecord", "DuplicateFlag", "EnrolmentFailure", "MetadataStore", "flag_requirement"]

SCHEMA_VERSION = "2"

_md = MetaData()
meta_table = Table("gallery_meta", _md, Column("key", String, primary_key=True), Column("value", Text, nullable=False))
documents = Table(
    "documents",
    _md,
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
)
failures = Table(
    "enrolment_failures",
    _md,
    Column("doc_id", String, primary_key=True),
    Column("image", Text, nullable=False, default=""),
    Column("image_sha256", String, nullable=False, default=""),
    Column("reason", Text, nullable=False),
    Column("profile", String, nullable=False, default=""),
    Column("failed_at", String, nullable=False),
    Column("policy", String, nullable=False, default=""),
)
duplicates = Table(
    "duplicate_flags",
    _md,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("doc_id", String, nullable=False, index=True),
    Column("other_doc_id", String, nullable=False, index=True),
    Column("score", Float, nullable=False),
    Column("threshold", Float, nullable=False),
    Column("flagged_at", String, nullable=False),
)


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


def _upgrade_1_to_2(conn: Any) -> None:
    conn.exec_driver_sql("ALTER TABLE documents ADD COLUMN quality_flags TEXT NOT NULL DEFAULT '[]'")
    conn.exec_driver_sql("ALTER TABLE documents ADD COLUMN policy VARCHAR NOT NULL DEFAULT ''")
    conn.exec_driver_sql("ALTER TABLE enrolment_failures ADD COLUMN policy VARCHAR NOT NULL DEFAULT ''")


_UPGRADES = {"1": ("2", _upgrade_1_to_2)}  # from version: (to version, step)


class MetadataStore:
    """The SQLite file of one gallery (one model version)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._engine: Engine = create_engine(f"sqlite:///{path}")

        @event.listens_for(self._engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")  # a killed process loses nothing committed
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        self._upgrade()
        _md.create_all(self._engine)

    def _upgrade(self) -> None:
        """Bring a file of an older schema to :data:`SCHEMA_VERSION`, one step per transaction."""
        while True:
            version = self.get_meta("schema_version") if self._has_meta() else None
            if version is None or version == SCHEMA_VERSION:
                return  # a new file is created at the current schema (the gallery records its version)
            if version not in _UPGRADES:
                self._engine.dispose()
                raise GalleryError(
                    f"{self.path} has gallery schema {version!r}; this laneface reads up to {SCHEMA_VERSION!r}"
                )
            target, step = _UPGRADES[version]
            with self._engine.begin() as conn:
                step(conn)
                conn.execute(delete(meta_table).where(meta_table.c.key == "schema_version"))
                conn.execute(insert(meta_table).values(key="schema_version", value=target))

    def _has_meta(self) -> bool:
        with self._engine.connect() as conn:
            found = conn.exec_driver_sql(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'gallery_meta'"
            ).first()
        return found is not None

    def close(self) -> None:
        self._engine.dispose()

    # ------------------------------------------------------------------ meta
    def get_meta(self, key: str) -> str | None:
        with self._engine.connect() as conn:
            value = conn.execute(select(meta_table.c.value).where(meta_table.c.key == key)).scalar_one_or_none()
        return None if value is None else str(value)

    def set_meta(self, values: Mapping[str, str]) -> None:
        with self._engine.begin() as conn:
            for key, value in values.items():
                conn.execute(delete(meta_table).where(meta_table.c.key == key))
                conn.execute(insert(meta_table).values(key=key, value=value))

    # ------------------------------------------------------------------ documents
    def count(self) -> int:
        with self._engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(documents)).scalar_one())

    def document(self, doc_id: str) -> DocumentRecord | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(documents).where(documents.c.doc_id == doc_id)).first()
        return None if row is None else _doc(row)

    def failure(self, doc_id: str) -> EnrolmentFailure | None:
        with self._engine.connect() as conn:
            row = conn.execute(select(failures).where(failures.c.doc_id == doc_id)).first()
        return None if row is None else _failure(row)

    def failures(self) -> list[EnrolmentFailure]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(failures).order_by(failures.c.doc_id)).all()
        return [_failure(r) for r in rows]

    def flagged_documents(self) -> list[DocumentRecord]:
        """Enrolled documents with at least one quality flag, in doc_id order."""
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(documents).where(documents.c.quality_flags != "[]").order_by(documents.c.doc_id)
            ).all()
        return [_doc(r) for r in rows]

    def duplicate_flags(self, doc_id: str | None = None) -> list[DuplicateFlag]:
        stmt = select(duplicates).order_by(duplicates.c.id)
        if doc_id is not None:
            stmt = stmt.where(or_(duplicates.c.doc_id == doc_id, duplicates.c.other_doc_id == doc_id))
        with self._engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return [DuplicateFlag(r.doc_id, r.other_doc_id, float(r.score), float(r.threshold), r.flagged_at) for r in rows]

    def templates(self, doc_ids: Sequence[str]) -> dict[str, npt.NDArray[np.float32]]:
        out: dict[str, npt.NDArray[np.float32]] = {}
        with self._engine.connect() as conn:
            for start in range(0, len(doc_ids), 500):
                chunk = list(doc_ids[start : start + 500])
                rows = conn.execute(
                    select(documents.c.doc_id, documents.c.template).where(documents.c.doc_id.in_(chunk))
                ).all()
                out.update({r.doc_id: np.frombuffer(r.template, dtype="<f4").copy() for r in rows})
        return out

    def templates_by_vec_id(self, vec_ids: Iterable[int]) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float32]]:
        wanted = [int(v) for v in vec_ids]
        ids: list[int] = []
        vecs: list[npt.NDArray[np.float32]] = []
        with self._engine.connect() as conn:
            for start in range(0, len(wanted), 500):
                rows = conn.execute(
                    select(documents.c.vec_id, documents.c.template).where(
                        documents.c.vec_id.in_(wanted[start : start + 500])
                    )
                ).all()
                for r in rows:
                    ids.append(int(r.vec_id))
                    vecs.append(np.frombuffer(r.template, dtype="<f4"))
        return np.array(ids, np.int64), (np.stack(vecs).astype(np.float32) if vecs else np.zeros((0, 0), np.float32))

    def vec_ids(self) -> npt.NDArray[np.int64]:
        with self._engine.connect() as conn:
            rows = conn.execute(select(documents.c.vec_id).order_by(documents.c.vec_id)).scalars().all()
        return np.array(rows, np.int64)

    def doc_ids_of(self, vec_ids: Iterable[int]) -> dict[int, str]:
        wanted = sorted({int(v) for v in vec_ids if int(v) >= 0})
        if not wanted:
            return {}
        with self._engine.connect() as conn:
            rows = conn.execute(
                select(documents.c.vec_id, documents.c.doc_id).where(documents.c.vec_id.in_(wanted))
            ).all()
        return {int(r.vec_id): r.doc_id for r in rows}

    def iter_documents(self, batch: int = 10_000) -> Iterable[tuple[DocumentRecord, npt.NDArray[np.float32]]]:
        last = ""
        while True:
            with self._engine.connect() as conn:
                rows = conn.execute(
                    select(documents).where(documents.c.doc_id > last).order_by(documents.c.doc_id).limit(batch)
                ).all()
            if not rows:
                return
            for r in rows:
                yield _doc(r), np.frombuffer(r.template, dtype="<f4").copy()
            last = rows[-1].doc_id

    # ------------------------------------------------------------------ writes (one transaction each)
    def put_document(
        self,
        record: DocumentRecord,
        vector: npt.NDArray[np.float32],
        flags: Sequence[DuplicateFlag] = (),
    ) -> tuple[int, int | None]:
        """Insert or replace ``record.doc_id`` under a newly allocated vec_id (``record.vec_id`` is ignored);
        clears its failure row and stale duplicate flags, stores ``flags``. Returns (new vec_id, old vec_id)."""
        now = _now()
        with self._engine.begin() as conn:
            old = conn.execute(
                select(documents.c.vec_id).where(documents.c.doc_id == record.doc_id)
            ).scalar_one_or_none()
            raw_next = conn.execute(
                select(meta_table.c.value).where(meta_table.c.key == "next_vec_id")
            ).scalar_one_or_none()
            vec_id = int(raw_next) if raw_next is not None else 0
            conn.execute(delete(meta_table).where(meta_table.c.key == "next_vec_id"))
            conn.execute(insert(meta_table).values(key="next_vec_id", value=str(vec_id + 1)))
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
                conn.execute(insert(documents).values(doc_id=record.doc_id, **values))
            else:
                conn.execute(update(documents).where(documents.c.doc_id == record.doc_id).values(**values))
            conn.execute(delete(failures).where(failures.c.doc_id == record.doc_id))
            conn.execute(
                delete(duplicates).where(
                    or_(duplicates.c.doc_id == record.doc_id, duplicates.c.other_doc_id == record.doc_id)
                )
            )
            for f in flags:
                conn.execute(
                    insert(duplicates).values(
                        doc_id=f.doc_id,
                        other_doc_id=f.other_doc_id,
                        score=f.score,
                        threshold=f.threshold,
                        flagged_at=now,
                    )
                )
        return vec_id, (None if old is None else int(old))

    def put_failure(self, failure: EnrolmentFailure) -> int | None:
        """Record an FTE for ``doc_id``; a template it had is removed (the document's current photo could
        not be enrolled). Returns the vec_id that was removed, if any."""
        with self._engine.begin() as conn:
            old = conn.execute(
                select(documents.c.vec_id).where(documents.c.doc_id == failure.doc_id)
            ).scalar_one_or_none()
            conn.execute(delete(documents).where(documents.c.doc_id == failure.doc_id))
            conn.execute(
                delete(duplicates).where(
                    or_(duplicates.c.doc_id == failure.doc_id, duplicates.c.other_doc_id == failure.doc_id)
                )
            )
            conn.execute(delete(failures).where(failures.c.doc_id == failure.doc_id))
            conn.execute(
                insert(failures).values(
                    doc_id=failure.doc_id,
                    image=failure.image,
                    image_sha256=failure.image_sha256,
                    reason=failure.reason,
                    profile=failure.profile,
                    failed_at=failure.failed_at or _now(),
                    policy=failure.policy,
                )
            )
        return None if old is None else int(old)

    def delete_document(self, doc_id: str) -> int | None:
        """Remove a document, its failure row and its flags; return its vec_id (None if absent)."""
        with self._engine.begin() as conn:
            old = conn.execute(select(documents.c.vec_id).where(documents.c.doc_id == doc_id)).scalar_one_or_none()
            conn.execute(delete(documents).where(documents.c.doc_id == doc_id))
            conn.execute(delete(failures).where(failures.c.doc_id == doc_id))
            conn.execute(
                delete(duplicates).where(or_(duplicates.c.doc_id == doc_id, duplicates.c.other_doc_id == doc_id))
            )
        return None if old is None else int(old)
