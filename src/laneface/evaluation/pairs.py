"""Reader for the LFW View-2 ``pairs.txt`` format.

The first line holds two whitespace-separated integers ``FOLDS N`` (``10\\t300`` in the official
file). Then, for each fold in turn, come ``N`` mated lines ``name idx1 idx2`` followed by ``N``
non-mated lines ``name1 idx1 name2 idx2``. The fold of a pair follows from its position.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from laneface.errors import InvalidDatasetError

__all__ = ["Pair", "PairsFile", "lfw_image_path", "one_fold", "parse_pairs"]


@dataclass(frozen=True)
class Pair:
    """One comparison of image ``index_a`` of ``name_a`` with image ``index_b`` of ``name_b``.

    ``mated`` is True when both images show the same person. ``fold`` counts from 0.
    """

    name_a: str
    index_a: int
    name_b: str
    index_b: int
    mated: bool
    fold: int


@dataclass(frozen=True)
class PairsFile:
    """A parsed pairs file: ``folds`` folds of ``per_fold`` mated and ``per_fold`` non-mated pairs."""

    folds: int
    per_fold: int
    pairs: tuple[Pair, ...]


def _valid_name(name: str) -> bool:
    return name not in {".", ".."} and "/" not in name and "\\" not in name


def lfw_image_path(root: Path, name: str, index: int) -> Path:
    """Return ``root/name/name_{index:04d}.jpg``, the LFW path of image ``index`` of ``name``.

    Raises:
        InvalidDatasetError: ``name`` is empty or could leave ``root`` (``.``, ``..``, a path
            separator), or ``index`` is below 1.
    """
    if not name or not _valid_name(name):
        raise InvalidDatasetError(f"invalid LFW person name {name!r}: it must be a plain directory name")
    if index < 1:
        raise InvalidDatasetError(f"invalid LFW image index {index} for {name!r}: indices start at 1")
    return Path(root) / name / f"{name}_{index:04d}.jpg"


def _index(token: str, where: str) -> int:
    try:
        value = int(token)
    except ValueError:
        raise InvalidDatasetError(f"{where}: image index {token!r} is not an integer") from None
    if value < 1:
        raise InvalidDatasetError(f"{where}: image index {value} must be 1 or more")
    return value


def _name(token: str, where: str) -> str:
    if not _valid_name(token):
        raise InvalidDatasetError(f"{where}: {token!r} is not a valid person name")
    return token


def _parse_header(line: str, where: str) -> tuple[int, int]:
    fields = line.split()
    if len(fields) != 2:
        raise InvalidDatasetError(f"{where}: header must be two integers 'FOLDS PAIRS_PER_FOLD', got {line.strip()!r}")
    try:
        folds, per_fold = int(fields[0]), int(fields[1])
    except ValueError:
        raise InvalidDatasetError(f"{where}: header must be two integers, got {line.strip()!r}") from None
    if folds < 1 or per_fold < 1:
        raise InvalidDatasetError(f"{where}: header numbers must be 1 or more, got {folds} and {per_fold}")
    return folds, per_fold


def _parse_pair(line: str, mated: bool, fold: int, where: str) -> Pair:
    fields = line.split()
    if mated:
        if len(fields) != 3:
            raise InvalidDatasetError(
                f"{where}: mated pair of fold {fold + 1} needs 3 fields 'name idx1 idx2', got {len(fields)}"
            )
        name = _name(fields[0], where)
        return Pair(name, _index(fields[1], where), name, _index(fields[2], where), True, fold)
    if len(fields) != 4:
        raise InvalidDatasetError(
            f"{where}: non-mated pair of fold {fold + 1} needs 4 fields 'name1 idx1 name2 idx2', got {len(fields)}"
        )
    return Pair(
        _name(fields[0], where),
        _index(fields[1], where),
        _name(fields[2], where),
        _index(fields[3], where),
        False,
        fold,
    )


def parse_pairs(path: Path | str) -> PairsFile:
    """Parse an LFW View-2 pairs file (see the module docstring for the format).

    Blank lines at the end of the file are ignored; anywhere else they are an error.

    Raises:
        InvalidDatasetError: the file cannot be read, or is malformed (header, field count,
            non-integer index, fewer or more lines than the header announces); the message
            names the file and the line.
    """
    file = Path(path)
    try:
        lines = file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidDatasetError(f"cannot read pairs file {file}: {exc}") from exc
    while lines and not lines[-1].strip():
        lines.pop()
    if not lines:
        raise InvalidDatasetError(f"{file}:1: pairs file is empty, expected a header 'FOLDS PAIRS_PER_FOLD'")
    folds, per_fold = _parse_header(lines[0], f"{file}:1")
    expected = folds * 2 * per_fold
    body = lines[1:]
    if len(body) > expected:
        raise InvalidDatasetError(
            f"{file}:{expected + 2}: more lines than the header announces ({folds} folds x {2 * per_fold} pairs)"
        )
    if len(body) < expected:
        raise InvalidDatasetError(
            f"{file}:{len(lines) + 1}: file ends after {len(body)} pairs, "
            f"the header announces {expected} ({folds} folds x {2 * per_fold} pairs)"
        )
    pairs = tuple(
        _parse_pair(line, mated=pos % (2 * per_fold) < per_fold, fold=pos // (2 * per_fold), where=f"{file}:{pos + 2}")
        for pos, line in enumerate(body)
    )
    return PairsFile(folds=folds, per_fold=per_fold, pairs=pairs)


def one_fold(pairs_file: PairsFile, fold: int = 0, limit: int | None = None) -> PairsFile:
    """Fold ``fold`` (from 0) as a one-fold PairsFile; ``limit`` keeps its first ``limit // 2`` mated and
    first ``limit // 2`` non-mated pairs (a quick check), balanced as the fold is."""
    if not 0 <= fold < pairs_file.folds:
        raise InvalidDatasetError(f"fold {fold} does not exist: the pairs file has folds 0..{pairs_file.folds - 1}")
    per = pairs_file.per_fold if limit is None else min(pairs_file.per_fold, limit // 2)
    if per < 1:
        raise InvalidDatasetError(f"a check needs at least 2 pairs (one mated, one non-mated), got {limit}")
    chosen = [p for p in pairs_file.pairs if p.fold == fold]
    mated = [p for p in chosen if p.mated][:per]
    nonmated = [p for p in chosen if not p.mated][:per]
    return PairsFile(
        folds=1,
        per_fold=per,
        pairs=tuple(Pair(p.name_a, p.index_a, p.name_b, p.index_b, p.mated, 0) for p in mated + nonmated),
    )
