"""Enrolment manifests: CSV with a header ``doc_id,image,doc_type,citizenship`` (any order, more columns
allowed and kept as attributes). ``image`` is a path relative to the CSV's folder (absolute paths are
accepted). The file is read as UTF-8 (a byte-order mark is ignored).

A header without a required column is a :class:`~laneface.errors.ManifestError` (nothing is
enrolled). A row that cannot be used (empty ``doc_id`` or ``image``, more fields than the header) is
returned with ``problem`` set: the enrolment records it as a failure, it is never dropped silently.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from laneface.errors import ManifestError

__all__ = ["REQUIRED_COLUMNS", "ManifestRow", "count_rows", "read_manifest"]

REQUIRED_COLUMNS = ("doc_id", "image", "doc_type", "citizenship")


@dataclass(frozen=True)
class ManifestRow:
    line: int  # line number in the file (the header is line 1)
    doc_id: str
    image: str  # as written in the CSV
    image_path: Path  # resolved against the CSV's folder
    doc_type: str
    citizenship: str
    attributes: Mapping[str, str] = field(default_factory=dict)  # the other columns
    problem: str | None = None


def _open(path: Path) -> Iterator[tuple[int, list[str]]]:
    try:
        with path.open(newline="", encoding="utf-8-sig") as fh:
            reader = csv.reader(fh)
            for fields in reader:
                yield reader.line_num, fields
    except FileNotFoundError:
        raise ManifestError(f"manifest {path} not found") from None
    except UnicodeDecodeError as exc:
        raise ManifestError(f"manifest {path} is not UTF-8 text: {exc}") from None
    except csv.Error as exc:
        raise ManifestError(f"manifest {path} is not valid CSV: {exc}") from None


def read_manifest(path: Path) -> Iterator[ManifestRow]:
    """Rows of the manifest, in file order (blank lines skipped)."""
    rows = _open(path)
    header_line = next(rows, None)
    if header_line is None:
        raise ManifestError(f"manifest {path} is empty: it needs a header {','.join(REQUIRED_COLUMNS)}")
    header = [h.strip() for h in header_line[1]]
    missing = [c for c in REQUIRED_COLUMNS if c not in header]
    if missing:
        raise ManifestError(
            f"manifest {path} lacks column(s) {', '.join(missing)}; the header must name "
            f"{','.join(REQUIRED_COLUMNS)} (more columns are allowed)"
        )
    dupes = sorted({h for h in header if header.count(h) > 1})
    if dupes:
        raise ManifestError(f"manifest {path} names column(s) {', '.join(dupes)} more than once")
    base = path.parent
    for line, fields in rows:
        if not any(f.strip() for f in fields):
            continue
        values = {h: (fields[i].strip() if i < len(fields) else "") for i, h in enumerate(header)}
        problem = None
        if len(fields) > len(header):
            problem = f"line {line} has {len(fields)} fields, the header has {len(header)}"
        elif not values["doc_id"]:
            problem = f"line {line} has no doc_id"
        elif not values["image"]:
            problem = f"line {line} has no image path"
        image = values["image"]
        yield ManifestRow(
            line=line,
            doc_id=values["doc_id"],
            image=image,
            image_path=(base / image) if image else base,
            doc_type=values["doc_type"],
            citizenship=values["citizenship"],
            attributes={h: v for h, v in values.items() if h not in REQUIRED_COLUMNS},
            problem=problem,
        )


def count_rows(path: Path) -> int:
    """Number of non-blank data rows (for a progress bar)."""
    return sum(1 for _ in read_manifest(path))
