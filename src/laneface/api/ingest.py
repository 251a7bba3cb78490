"""Passage results into the data directory's own records database, in process (no HTTP):
``laneface records import results.jsonl`` and :func:`store_results` (``laneface demo``).

A result becomes the same body a lane posts (:func:`laneface.edge.mapping.line_body`), is validated by the
same schema as ``POST /v1/passages`` (:class:`~laneface.api.schemas.passages.PassageCreate`, from those JSON
bytes) and is stored by :meth:`RecordsService.submit_passage`: idempotent on (lane, passage_id), so importing
a file again stores nothing new (``already``); the same key with another body is a ``conflict``.

Best shots: a JSON line has no image; ``shots_dir`` (what ``laneface run --save-shots DIR`` wrote) gives them,
at :func:`~laneface.edge.mapping.shot_file` (``DIR/<lane>/<passage_id>/<occupant_id>.jpg``); an occupant
without a file there is stored without an image.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, cast

from pydantic import ValidationError

from laneface.api.schemas.passages import PassageCreate
from laneface.edge.mapping import encode_body, line_body, passage_body, shot_file
from laneface.errors import IdempotencyConflictError, InputError, InvalidResultsError
from laneface.records.audit import Actor

if TYPE_CHECKING:
    from laneface.pipeline.result import PassageLine, PassageResult
    from laneface.records.service import RecordsService

__all__ = [
    "IMPORT_ACTOR",
    "ErrorEntry",
    "ImportReport",
    "ResultsFile",
    "import_results_file",
    "read_results",
    "store_lines",
    "store_results",
]

logger = logging.getLogger(__name__)

IMPORT_ACTOR = Actor("records-import", "system")
_LINE_KEYS = ("passage_id", "lane", "direction", "occupants", "occupant_count", "complete_capture", "model_version")


@dataclass(frozen=True)
class ErrorEntry:
    """A passage that was not stored: its line (0 for an in-process result), passage_id, lane and why."""

    line: int
    passage_id: str | None
    lane: str | None
    error: str


@dataclass
class ImportReport:
    """``imported``: keys (lane/passage_id) stored now; ``already``: stored before with the same body;
    ``conflicts``: stored before with another body; ``refused``: bodies the records refused (a bad image);
    ``failed``: ``laneface run`` error lines (passages that were never processed); ``images``: best shots sent."""

    imported: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    conflicts: list[ErrorEntry] = field(default_factory=list)
    refused: list[ErrorEntry] = field(default_factory=list)
    failed: list[ErrorEntry] = field(default_factory=list)
    images: int = 0

    def as_json(self) -> dict[str, object]:
        def entries(items: list[ErrorEntry]) -> list[dict[str, object]]:
            return [{"line": e.line, "passage_id": e.passage_id, "lane": e.lane, "error": e.error} for e in items]

        return {
            "imported": len(self.imported),
            "already": len(self.already),
            "images": self.images,
            "conflicts": entries(self.conflicts),
            "refused": entries(self.refused),
            "failed": entries(self.failed),
        }


@dataclass(frozen=True)
class ResultsFile:
    """A ``laneface run`` JSON Lines file, read and checked: ``(line number, line)`` of each processed passage
    and the error lines."""

    path: Path
    passages: tuple[tuple[int, PassageLine], ...]
    errors: tuple[ErrorEntry, ...]


def _bad(path: Path, n: int, message: str) -> InvalidResultsError:
    return InvalidResultsError(f"{path}: line {n}: {message}")


def read_results(path: Path) -> ResultsFile:
    """Read every line of ``path`` first, so a malformed line (:class:`InvalidResultsError` with its number)
    stops the import before anything is stored. Blank lines are skipped."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidResultsError(f"{path}: cannot be read ({exc.__class__.__name__}: {exc})") from None
    passages: list[tuple[int, PassageLine]] = []
    errors: list[ErrorEntry] = []
    for n, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            obj = json.loads(raw)
        except (ValueError, RecursionError) as exc:
            raise _bad(path, n, f"not a JSON object ({exc})") from None
        if not isinstance(obj, dict):
            raise _bad(path, n, f"must hold a JSON object, got {type(obj).__name__}")
        if "error" in obj:
            pid = obj.get("passage_id")
            errors.append(ErrorEntry(n, pid if isinstance(pid, str) else None, None, str(obj["error"])))
            continue
        missing = [k for k in (*_LINE_KEYS, "started_at") if k not in obj]
        if missing == ["started_at"]:
            raise _bad(path, n, "no 'started_at' (written by an older `laneface run`: run the passages again)")
        if missing:
            raise _bad(path, n, f"not a `laneface run` line: missing {', '.join(map(repr, missing))}")
        line = cast("PassageLine", obj)
        try:
            _validated(line_body(line))
        except (InputError, KeyError, TypeError, ValueError) as exc:
            raise _bad(path, n, str(exc)) from None
        passages.append((n, line))
    return ResultsFile(path, tuple(passages), tuple(errors))


def _validated(body: dict[str, object]) -> PassageCreate:
    """The body checked as ``POST /v1/passages`` checks it: from its JSON bytes."""
    try:
        return PassageCreate.model_validate_json(encode_body(body))
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise InputError(f"{where}: {first['msg']}") from None


def _store(records: RecordsService, body: dict[str, object], where: int, report: ImportReport, actor: Actor) -> None:
    pid, lane = str(body.get("passage_id")), str(body.get("lane"))
    key = f"{lane}/{pid}"
    try:
        passage = _validated(body)
        receipt, created = records.submit_passage(passage.to_submission(), actor)
    except IdempotencyConflictError as exc:
        report.conflicts.append(ErrorEntry(where, pid, lane, str(exc)))
        logger.warning("%s: %s", key, exc)
        return
    except InputError as exc:
        report.refused.append(ErrorEntry(where, pid, lane, str(exc)))
        logger.warning("%s refused: %s", key, exc)
        return
    (report.imported if created else report.already).append(key)
    occupants = body.get("occupants")
    if created and isinstance(occupants, list):
        report.images += sum(1 for o in occupants if isinstance(o, dict) and "best_shot_jpeg_b64" in o)
    logger.info("%s: crossing %d (%s)", key, receipt.crossing_id, "stored" if created else "already stored")


def store_results(
    records: RecordsService,
    results: Iterable[PassageResult],
    *,
    images: bool = True,
    actor: Actor = IMPORT_ACTOR,
) -> ImportReport:
    """Store lane pipeline results in the records (the body a lane would post, best shots when ``images``)."""
    report = ImportReport()
    for result in results:
        _store(records, passage_body(result, result.started_at, images=images), 0, report, actor)
    return report


def _jpegs(line: PassageLine, shots_dir: Path | None) -> dict[int, bytes]:
    if shots_dir is None:
        return {}
    out: dict[int, bytes] = {}
    for o in line["occupants"]:
        try:
            path = shot_file(shots_dir, line["lane"], line["passage_id"], o["occupant_id"])
        except ValueError:
            return {}
        if path.is_file():
            try:
                out[o["occupant_id"]] = path.read_bytes()
            except OSError as exc:
                raise InputError(f"best shot {path} cannot be read ({exc.__class__.__name__}: {exc})") from None
    return out


def store_lines(
    records: RecordsService,
    results: ResultsFile,
    *,
    shots_dir: Path | None = None,
    actor: Actor = IMPORT_ACTOR,
    progress: Callable[[int, int | None], None] | None = None,
) -> ImportReport:
    """Store the passages of a read results file; its error lines go to ``failed``."""
    report = ImportReport(failed=list(results.errors))
    total = len(results.passages)
    for done, (n, line) in enumerate(results.passages, start=1):
        try:
            jpegs = _jpegs(line, shots_dir)
        except InputError as exc:  # an unreadable best shot: this passage is refused, the others go on
            report.refused.append(ErrorEntry(n, line["passage_id"], line["lane"], str(exc)))
            logger.warning("%s/%s refused: %s", line["lane"], line["passage_id"], exc)
        else:
            _store(records, line_body(line, jpegs), n, report, actor)
        if progress is not None:
            progress(done, total)
    return report


def import_results_file(
    records: RecordsService,
    path: Path,
    *,
    shots_dir: Path | None = None,
    actor: Actor = IMPORT_ACTOR,
    progress: Callable[[int, int | None], None] | None = None,
) -> ImportReport:
    """:func:`read_results` then :func:`store_lines`."""
    return store_lines(records, read_results(path), shots_dir=shots_dir, actor=actor, progress=progress)
