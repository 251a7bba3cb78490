"""Identification of a vehicle's occupants in stages, each a candidate list decided at a threshold for its size.

1. **documents** (1:few) against the documents read in the lane (:meth:`Matcher.one_to_few`, threshold at
   ``target_fmr / n``). Occupants and documents are paired by a maximum-weight assignment (Hungarian) on the
   score matrix, where a pair's weight is its margin over the threshold and pairs below the threshold are
   not allowed: one document is never given to two occupants, and a contested document goes to the
   pairing that explains the vehicle best.
2. **ledger lists** (:class:`CandidateList`, in the order given): the people seen in this vehicle before
   (``vehicle``, from its plate) and the travellers with an open stay (``open_stays``, entered and not
   left). Each is decided like the documents, by assignment, at the threshold of its own size at
   ``target_list_fpir`` (:meth:`Matcher.list_threshold`): a list of 4 needs far less than the whole gallery.
3. **gallery** (1:N, last): occupants still without a document are searched in the whole gallery
   (:meth:`Matcher.one_to_n`, threshold at the target FPIR for the gallery's size), the most confident
   search first.

Only occupants left without a document go on to the next stage, and a document (or, where a list names
them, its holder: a traveller with a passport and a card) given to one occupant of the vehicle is never
given to another. Each match records its ``stage`` and ``list_size``; an occupant matched nowhere carries
the last stage it went through, with its best score there.

An occupant without a template (no face passed the quality profile) is ``not_captured`` and not compared.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import numpy.typing as npt

from laneface.matching import Matcher
from laneface.tracking.assignment import max_weight_assignment
from laneface.types import Decision, Template

__all__ = [
    "LIST_STAGES",
    "STAGES",
    "CandidateList",
    "Decision",
    "IdentifyMode",
    "ListStage",
    "OccupantMatch",
    "Stage",
    "assign_documents",
    "identify",
]

IdentifyMode = Literal["one_to_few", "one_to_n"]
Stage = Literal["documents", "vehicle", "open_stays", "gallery"]
"""Where a match was found: the documents read in the lane, a ledger list, the whole gallery."""
ListStage = Literal["vehicle", "open_stays"]
STAGES: tuple[Stage, ...] = ("documents", "vehicle", "open_stays", "gallery")
LIST_STAGES: tuple[ListStage, ...] = ("vehicle", "open_stays")


@dataclass(frozen=True)
class CandidateList:
    """The documents a ledger stage compares a vehicle's occupants with. ``persons`` maps a doc_id to its
    holder, so that a traveller with two documents is matched once per vehicle (a doc_id it leaves out is its
    own holder)."""

    stage: ListStage
    doc_ids: tuple[str, ...]
    persons: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class OccupantMatch:
    """The identification of one occupant. ``doc_id`` is set only for a match; ``score`` is the best
    score of the mode that decided (``None`` when nothing was compared); ``threshold`` that mode's.
    ``few_scores`` are the occupant's scores against each enrolled document read in the lane (1:few,
    ``(doc_id, score)``, best first; empty when no document was compared), kept for audit and for
    measuring the 1:few operating point. ``stage`` is the stage that decided (the last one compared for a
    ``no_match``) and ``list_size`` the enrolled documents it held (the gallery's size for 1:N)."""

    decision: Decision
    doc_id: str | None = None
    score: float | None = None
    mode: IdentifyMode | None = None
    threshold: float | None = None
    few_scores: tuple[tuple[str, float], ...] = ()
    stage: Stage | None = None
    list_size: int | None = None


NOT_CAPTURED = OccupantMatch("not_captured")


def assign_documents(scores: npt.NDArray[np.float64], thresholds: npt.NDArray[np.float64]) -> list[tuple[int, int]]:
    """The 1:few decision of one vehicle: ``(occupant row, document column)`` pairs of ``scores`` (occupants x
    documents, ``-inf`` where not compared) by a maximum-weight assignment where a pair's weight is its margin
    over its row's threshold (``thresholds``, one per row) and a pair below the threshold is not allowed."""
    margins = scores - thresholds[:, None]
    allowed = margins >= 0.0
    return max_weight_assignment(np.where(allowed, margins + 1e-6, 0.0), allowed)


def assign_holders(
    scores: npt.NDArray[np.float64], thresholds: npt.NDArray[np.float64], holders: Sequence[str]
) -> list[tuple[int, int]]:
    """:func:`assign_documents` where two columns of one holder (``holders[k]``) are never both given: of a
    holder's pairs the best scoring stays, and the rows that lose one are assigned again among the columns of
    holders not yet given (until nothing changes)."""
    pairs: list[tuple[int, int]] = []
    rows, cols = np.arange(scores.shape[0]), np.arange(scores.shape[1])
    while rows.size and cols.size:
        found = assign_documents(scores[np.ix_(rows, cols)], thresholds[rows])
        found = sorted(((int(rows[r]), int(cols[k])) for r, k in found), key=lambda rk: -scores[rk])
        held = {holders[k] for _, k in pairs}
        kept = []
        for r, k in found:
            if holders[k] not in held:
                held.add(holders[k])
                kept.append((r, k))
        pairs.extend(kept)
        if len(kept) == len(found):
            break
        done = {r for r, _ in pairs}
        rows = np.array([r for r in rows.tolist() if r not in done], dtype=np.int64)
        cols = np.array([k for k in cols.tolist() if holders[k] not in held], dtype=np.int64)
    return pairs


def _one_to_few(
    matcher: Matcher,
    templates: Sequence[Template | None],
    documents: Sequence[str],
    person_of: Callable[[str], str] = str,
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
    for row, k in assign_holders(scores, thresholds, [person_of(d) for d in docs]):
        i = captured[row]
        out[i] = OccupantMatch(
            "match",
            docs[k],
            float(scores[row, k]),
            "one_to_few",
            float(thresholds[row]),
            few_scores=few[i],
            stage="documents",
            list_size=len(docs),
        )
    return out, few


def _one_list(
    matcher: Matcher,
    templates: Sequence[Template | None],
    pending: Sequence[int],
    stage: CandidateList,
    is_free: Callable[[str], bool],
    person_of: Callable[[str], str],
) -> tuple[dict[int, OccupantMatch], dict[int, OccupantMatch]]:
    """One ledger list: ``(matches, no_matches)`` by occupant index (an assignment at the list's threshold;
    two documents of one holder are never both given)."""
    wanted = [d for d in dict.fromkeys(stage.doc_ids) if is_free(d)]
    docs, scores = matcher.list_scores([templates[i] for i in pending], wanted)  # type: ignore[misc]
    if not docs:
        return {}, {}
    threshold = matcher.list_threshold(len(docs))
    matched: dict[int, OccupantMatch] = {}
    for row, k in assign_holders(scores, np.full(len(pending), threshold), [person_of(d) for d in docs]):
        i = pending[row]
        matched[i] = OccupantMatch(
            "match", docs[k], float(scores[row, k]), "one_to_few", threshold, stage=stage.stage, list_size=len(docs)
        )
    missed = {
        i: OccupantMatch(
            "no_match",
            None,
            float(scores[row].max()),
            "one_to_few",
            threshold,
            stage=stage.stage,
            list_size=len(docs),
        )
        for row, i in enumerate(pending)
        if i not in matched
    }
    return matched, missed


def identify(
    matcher: Matcher,
    templates: Sequence[Template | None],
    documents: Sequence[str],
    *,
    k: int = 10,
    lists: Sequence[CandidateList] = (),
    gallery: bool = True,
) -> list[OccupantMatch]:
    """One :class:`OccupantMatch` per template (``None`` = occupant not captured), in the same order: the
    documents read, then ``lists`` in their order, then (``gallery``) the whole gallery."""
    documents = list(dict.fromkeys(documents))
    persons: dict[str, str] = {}
    for lst in lists:
        persons.update(lst.persons)

    def person_of(doc_id: str) -> str:
        return persons.get(doc_id, doc_id)

    assigned: dict[int, OccupantMatch] = {}
    few: dict[int, tuple[tuple[str, float], ...]] = {}
    if documents:
        assigned, few = _one_to_few(matcher, templates, documents, person_of)
    held = {person_of(m.doc_id) for m in assigned.values() if m.doc_id is not None}
    taken = {m.doc_id for m in assigned.values() if m.doc_id is not None}
    last: dict[int, OccupantMatch] = {}  # the last stage's no_match of each occupant still without a document

    for lst in lists:
        pending = [i for i, t in enumerate(templates) if t is not None and i not in assigned]
        if not pending:
            break
        matched, missed = _one_list(matcher, templates, pending, lst, lambda d: person_of(d) not in held, person_of)
        for i, m in matched.items():
            assigned[i] = m
            held.add(person_of(m.doc_id))  # type: ignore[arg-type]
            taken.add(m.doc_id)  # type: ignore[arg-type]
        last.update(missed)

    out: dict[int, OccupantMatch] = {i: replace(m, few_scores=few.get(i, ())) for i, m in assigned.items()}
    leftovers = [i for i, t in enumerate(templates) if t is not None and i not in assigned]
    if not gallery:
        for i in leftovers:
            out[i] = replace(last.get(i, OccupantMatch("no_match", None, None, None, None)), few_scores=few.get(i, ()))
        return [out.get(i, NOT_CAPTURED) for i in range(len(templates))]

    threshold = matcher.one_to_n_threshold() if leftovers else 0.0
    size = len(matcher.gallery)
    searches = {
        i: matcher.one_to_n(templates[i], k + len(taken)).candidates  # type: ignore[arg-type]
        for i in leftovers
    }

    def first_free(i: int) -> tuple[str, float] | None:
        for c in searches[i]:
            if c.doc_id not in taken and person_of(c.doc_id) not in held:
                return c.doc_id, c.score
        return None

    pending = list(leftovers)
    while pending:
        options = {i: first_free(i) for i in pending}
        i = max(pending, key=lambda j: (options[j][1] if options[j] is not None else -np.inf, -j))  # type: ignore[index]
        pending.remove(i)
        option = options[i]
        seen = few.get(i, ())
        if option is not None and option[1] >= threshold:
            out[i] = OccupantMatch(
                "match", option[0], option[1], "one_to_n", threshold, few_scores=seen, stage="gallery", list_size=size
            )
            taken.add(option[0])
            held.add(person_of(option[0]))
        else:
            score = None if option is None else option[1]
            out[i] = OccupantMatch(
                "no_match", None, score, "one_to_n", threshold, few_scores=seen, stage="gallery", list_size=size
            )
    return [out.get(i, NOT_CAPTURED) for i in range(len(templates))]
