"""Identification of a vehicle's occupants: 1:few against the documents read in the lane, then 1:N.

1. **1:few.** When documents were read, each captured occupant is compared with every enrolled one of
   them (:meth:`Matcher.one_to_few`, threshold at ``target_fmr / n``). Occupants and documents are then
   paired by a maximum-weight assignment (Hungarian) on the score matrix, where a pair's weight is its
   margin over the threshold and pairs below the threshold are not allowed: one document is never given
   to two occupants, and a contested document goes to the pairing that explains the vehicle best.
2. **1:N.** Captured occupants left without a document (a document not read, an outbound passage with
   no document) are searched in the whole gallery (:meth:`Matcher.one_to_n`, threshold at the target
   FPIR for the gallery's size), the most confident search first; documents already given to an
   occupant of the vehicle are skipped, so a document is never given twice there either.

An occupant without a template (no face passed the quality profile) is ``not_captured`` and not compared.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from laneface.matching import Matcher
from laneface.tracking.assignment import max_weight_assignment
from laneface.types import Decision, Template

__all__ = ["Decision", "IdentifyMode", "OccupantMatch", "assign_documents", "identify"]

IdentifyMode = Literal["one_to_few", "one_to_n"]


@dataclass(frozen=True)
class OccupantMatch:
    """The identification of one occupant. ``doc_id`` is set only for a match; ``score`` is the best
    score of the mode that decided (``None`` when nothing was compared); ``threshold`` that mode's.
    ``few_scores`` are the occupant's scores against each enrolled document read in the lane (1:few,
    ``(doc_id, score)``, best first; empty when no document was compared), kept for audit and for
    measuring the 1:few operating point."""

    decision: Decision
    doc_id: str | None = None
    score: float | None = None
    mode: IdentifyMode | None = None
    threshold: float | None = None
    few_scores: tuple[tuple[str, float], ...] = ()


NOT_CAPTURED = OccupantMatch("not_captured")


def assign_documents(scores: npt.NDArray[np.float64], thresholds: npt.NDArray[np.float64]) -> list[tuple[int, int]]:
    """The 1:few decision of one vehicle: ``(occupant row, document column)`` pairs of ``scores`` (occupants x
    documents, ``-inf`` where not compared) by a maximum-weight assignment where a pair's weight is its margin
    over its row's threshold (``thresholds``, one per row) and a pair below the threshold is not allowed."""
    margins = scores - thresholds[:, None]
    allowed = margins >= 0.0
    return max_weight_assignment(np.where(allowed, margins + 1e-6, 0.0), allowed)


def _one_to_few(
    matcher: Matcher, templates: Sequence[Template | None], documents: Sequence[str]
) -> tuple[dict[int, OccupantMatch], dict[int, tuple[tuple[str, float], ...]]]:
    """The matches the assignment gives, and every compared score, by occupant index."""
    captured = [i for i, t in enumerate(templates) if t is not None]
    results = {i: matcher.one_to_few(templates[i], documents) for i in captured}  # type: ignore[arg-type]
    few = {i: tuple((c.doc_id, float(c.score)) for c in r.candidates) for i, r in results.items()}
    docs = sorted({c.doc_id for r in results.values() for c in r.candidates})
    if not captured or not docs:
        return {}, few
    col = {d: k for k, d in enumerate(docs)}
    scores = np.full((len(captured), len(docs)), -np.inf)
    thresholds = np.zeros(len(captured))
    for row, i in enumerate(captured):
        thresholds[row] = results[i].threshold
        for c in results[i].candidates:
            scores[row, col[c.doc_id]] = c.score
    out: dict[int, OccupantMatch] = {}
    for row, k in assign_documents(scores, thresholds):
        i = captured[row]
        out[i] = OccupantMatch(
            "match", docs[k], float(scores[row, k]), "one_to_few", float(thresholds[row]), few_scores=few[i]
        )
    return out, few


def identify(
    matcher: Matcher, templates: Sequence[Template | None], documents: Sequence[str], *, k: int = 10
) -> list[OccupantMatch]:
    """One :class:`OccupantMatch` per template (``None`` = occupant not captured), in the same order."""
    documents = list(dict.fromkeys(documents))
    assigned: dict[int, OccupantMatch] = {}
    few: dict[int, tuple[tuple[str, float], ...]] = {}
    if documents:
        assigned, few = _one_to_few(matcher, templates, documents)
    taken = {m.doc_id for m in assigned.values()}
    leftovers = [i for i, t in enumerate(templates) if t is not None and i not in assigned]
    threshold = matcher.one_to_n_threshold() if leftovers else 0.0
    searches = {
        i: matcher.one_to_n(templates[i], k + len(taken)).candidates  # type: ignore[arg-type]
        for i in leftovers
    }

    def first_free(i: int) -> tuple[str, float] | None:
        for c in searches[i]:
            if c.doc_id not in taken:
                return c.doc_id, c.score
        return None

    out: dict[int, OccupantMatch] = dict(assigned)
    pending = list(leftovers)
    while pending:
        options = {i: first_free(i) for i in pending}
        i = max(pending, key=lambda j: (options[j][1] if options[j] is not None else -np.inf, -j))  # type: ignore[index]
        pending.remove(i)
        option = options[i]
        seen = few.get(i, ())
        if option is None:
            out[i] = OccupantMatch("no_match", None, None, "one_to_n", threshold, few_scores=seen)
        elif option[1] >= threshold:
            out[i] = OccupantMatch("match", option[0], option[1], "one_to_n", threshold, few_scores=seen)
            taken.add(option[0])
        else:
            out[i] = OccupantMatch("no_match", None, option[1], "one_to_n", threshold, few_scores=seen)
    return [out.get(i, NOT_CAPTURED) for i in range(len(templates))]
