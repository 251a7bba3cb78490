"""Where a lane's ledger candidate lists come from: a :class:`CandidateSource` answers a :class:`CandidateQuery`.

The lane pipeline asks once per passage (and again when what it knows of the passage changes: a plate or
documents read later) and hands the lists to :func:`~laneface.pipeline.identify.identify`, which decides
each at a threshold for its size. The records' ledger is the source in the product
(:class:`laneface.records.candidates.LedgerCandidates`); tests use a mapping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from laneface.pipeline.identify import CandidateList, ListStage
from laneface.plates import PlateRead
from laneface.types import Direction

__all__ = ["CandidateQuery", "CandidateSource", "FixedCandidates"]


@dataclass(frozen=True)
class CandidateQuery:
    """What a lane knows of a passage when it asks for lists: ``stages`` are those it wants, in order."""

    lane: str
    direction: Direction
    started_at: datetime
    plate: PlateRead | None
    stages: tuple[ListStage, ...]


class CandidateSource(Protocol):
    def lists(self, query: CandidateQuery) -> Sequence[CandidateList]:
        """The lists of ``query.stages``, in that order (a stage with nothing to offer is left out)."""
        ...


@dataclass(frozen=True)
class FixedCandidates:
    """The same lists for every passage (tests, a lane handed its lists by the centre)."""

    given: tuple[CandidateList, ...]

    def lists(self, query: CandidateQuery) -> Sequence[CandidateList]:
        by_stage = {c.stage: c for c in self.given}
        return [by_stage[s] for s in query.stages if s in by_stage]
