"""Matching a probe template against the gallery: 1:1 (verify), 1:few (a candidate list), 1:N (top-k).

Every decision compares the best score with a threshold calibrated for the gallery's model version
(:mod:`laneface.gallery.thresholds`): **a score equal to the threshold matches** (``score >= threshold``),
the rule of :mod:`laneface.gallery.scores`. Thresholds:

* verify: the threshold at ``policy.target_fmr``;
* 1:few with n enrolled candidates: a non-mated probe gets n chances, so the threshold is the one at
  ``target_fmr / n``, which keeps the probe's false-positive rate at or below ``target_fmr`` whatever the
  number of documents presented in the vehicle (``one_to_few_threshold(n)``);
* 1:N: the threshold at ``policy.target_fpir`` for the gallery's current size
  (:meth:`~laneface.gallery.thresholds.ThresholdSet.at_fpir`);
* a ledger candidate list of n enrolled documents (the people seen in a vehicle before, the travellers with
  an open stay): the threshold at ``policy.target_list_fpir`` for a gallery of n (``list_threshold(n)``);
  a list too large for the calibration is decided at the strictest threshold the calibration holds.

Scores in verify and 1:few are exact (stored templates); 1:N uses the vector index (approximate for HNSW
and IVF-PQ: see its recall). Templates of another model version are refused
(:class:`~laneface.errors.ModelVersionMismatchError`), and so is a threshold set of another
model version than the gallery's.

Ties between candidates with the same score are broken by doc_id (ascending) in 1:few; in 1:N the index
decides (the exact index also breaks ties by its vector id).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import numpy.typing as npt

from laneface.errors import CalibrationRangeError, ConfigError, ModelVersionMismatchError
from laneface.gallery.store import Candidate, Gallery
from laneface.gallery.thresholds import ThresholdSet, load_thresholds
from laneface.types import MatchDecision, Template

__all__ = ["MatchPolicy", "MatchResult", "Matcher", "Mode"]

Mode = Literal["verify", "one_to_few", "one_to_n"]


@dataclass(frozen=True)
class MatchPolicy:
    """Target error rates the thresholds are chosen for."""

    target_fmr: float = 1e-4  # verify, 1:few
    target_fpir: float = 1e-3  # 1:N
    duplicate_fmr: float = 1e-5  # enrolment duplicate check
    target_list_fpir: float = 1e-3  # a ledger candidate list, at its own size

    def __post_init__(self) -> None:
        for name in ("target_fmr", "target_fpir", "duplicate_fmr", "target_list_fpir"):
            v = getattr(self, name)
            if not 0.0 < v < 1.0:
                raise ConfigError(f"{name} must lie in (0, 1), got {v}")


@dataclass(frozen=True)
class MatchResult:
    """The outcome of one comparison or search.

    ``doc_id`` and ``score`` are those of the best candidate (``None`` when there was none to compare);
    ``decision`` is "match" when ``score >= threshold``. ``candidates`` lists the ranked candidates that
    were compared (1:few, 1:N), for audit. ``missing`` names 1:few doc_ids that are not enrolled.
    """

    mode: Mode
    decision: MatchDecision
    doc_id: str | None
    score: float | None
    threshold: float
    model_version: str
    candidates: tuple[Candidate, ...] = ()
    missing: tuple[str, ...] = ()

    @property
    def matched(self) -> bool:
        return self.decision == "match"


KEEP_LIST = 256  # a list this long is kept stacked between passages (a vehicle's lists are shorter)


def _decide(score: float | None, threshold: float) -> MatchDecision:
    return "match" if score is not None and score >= threshold else "no_match"


class Matcher:
    """Decisions for one gallery at thresholds of its model version."""

    def __init__(self, gallery: Gallery, thresholds: ThresholdSet, policy: MatchPolicy | None = None) -> None:
        if thresholds.model_version != gallery.model_version:
            raise ModelVersionMismatchError(
                f"thresholds of {thresholds.model_version!r} cannot be used with the gallery of "
                f"{gallery.model_version!r}"
            )
        self.gallery = gallery
        self.thresholds = thresholds
        self.policy = policy or MatchPolicy()
        # long lists (the open stays) are asked again passage after passage: their templates, stacked, per
        # (doc_ids, gallery generation)
        self._lists: dict[tuple[tuple[str, ...], str | None], tuple[list[str], npt.NDArray[np.float64]]] = {}

    @classmethod
    def for_gallery(cls, gallery: Gallery, data_dir: Path | None, policy: MatchPolicy | None = None) -> Matcher:
        """Thresholds of ``gallery.model_version`` from ``data_dir/thresholds.json`` or the shipped ones
        (:class:`~laneface.errors.UncalibratedModelError` when there are none)."""
        return cls(gallery, load_thresholds(data_dir).get(gallery.model_version), policy)

    def with_policy(self, policy: MatchPolicy) -> Matcher:
        """This matcher's gallery and thresholds deciding at ``policy`` (the matcher itself when it already does)."""
        return self if policy == self.policy else Matcher(self.gallery, self.thresholds, policy)

    @property
    def verify_threshold(self) -> float:
        return self.thresholds.at_fmr(self.policy.target_fmr)

    def one_to_few_threshold(self, n_candidates: int) -> float:
        """Threshold at ``target_fmr / n``: a non-mated probe compared with n documents stays at or below
        ``target_fmr`` of false positives (union bound)."""
        return self.thresholds.at_fmr(self.policy.target_fmr / max(1, n_candidates))

    def one_to_n_threshold(self) -> float:
        return self.thresholds.at_fpir(self.policy.target_fpir, max(1, len(self.gallery)))

    def list_threshold(self, n_candidates: int) -> float:
        """Threshold of a candidate list of ``n`` enrolled documents: ``target_list_fpir`` at a gallery of n
        (the strictest calibrated threshold when n is beyond the calibration)."""
        try:
            return self.thresholds.at_fpir(self.policy.target_list_fpir, max(1, n_candidates))
        except CalibrationRangeError:
            return self.thresholds.at_fmr(self.thresholds.min_fmr)

    def list_scores(
        self, templates: Sequence[Template], doc_ids: Sequence[str]
    ) -> tuple[list[str], npt.NDArray[np.float64]]:
        """Exact scores of ``templates`` (rows) against the enrolled ones of ``doc_ids`` (columns, in the order
        of the returned doc_ids; documents not enrolled are left out)."""
        for t in templates:
            self.gallery.check(t)
        docs, gallery = self._list_templates(tuple(dict.fromkeys(doc_ids)))
        if not docs or not templates:
            return docs, np.zeros((len(templates), len(docs)))
        probes = np.stack([t.vector for t in templates]).astype(np.float64)
        return docs, probes @ gallery.T

    def _list_templates(self, wanted: tuple[str, ...]) -> tuple[list[str], npt.NDArray[np.float64]]:
        """The enrolled ones of ``wanted``, sorted, and their templates stacked; kept for lists of at least
        :data:`KEEP_LIST` documents until the gallery changes."""
        key = (wanted, self.gallery.generation) if len(wanted) >= KEEP_LIST else None
        if key is not None and key in self._lists:
            return self._lists[key]
        refs = self.gallery.templates(list(wanted))
        docs = sorted(refs)
        stacked = np.stack([refs[d].vector for d in docs]).astype(np.float64) if docs else np.zeros((0, 0))
        if key is not None:
            self._lists = {k: v for k, v in self._lists.items() if k[0] != wanted and k[1] == key[1]}
            while len(self._lists) >= 2:
                del self._lists[next(iter(self._lists))]
            self._lists[key] = (docs, stacked)
        return docs, stacked

    def verify(self, template: Template, doc_id: str) -> MatchResult:
        """1:1 against the template enrolled for ``doc_id``
        (:class:`~laneface.errors.DocumentNotFoundError` when it is not enrolled)."""
        self.gallery.check(template)
        threshold = self.verify_threshold
        reference = self.gallery.template(doc_id)
        score = float(np.dot(template.vector, reference.vector))
        return MatchResult("verify", _decide(score, threshold), doc_id, score, threshold, self.gallery.model_version)

    def one_to_few(self, template: Template, doc_ids: Sequence[str]) -> MatchResult:
        """Best of the enrolled documents among ``doc_ids`` (e.g. the documents presented in one vehicle)."""
        self.gallery.check(template)
        wanted = list(dict.fromkeys(doc_ids))
        refs = self.gallery.templates(wanted)
        threshold = self.one_to_few_threshold(len(refs))
        missing = tuple(d for d in wanted if d not in refs)
        scored = sorted(((-float(np.dot(template.vector, t.vector)), d) for d, t in refs.items()))
        candidates = tuple(Candidate(d, -s, r + 1) for r, (s, d) in enumerate(scored))
        return self._result("one_to_few", candidates, threshold, missing)

    def one_to_n(self, template: Template, k: int = 10) -> MatchResult:
        """Search the whole gallery; the best of the top ``k`` decides."""
        self.gallery.check(template)
        threshold = self.one_to_n_threshold()
        return self._result("one_to_n", tuple(self.gallery.search(template, k)), threshold)

    def _result(
        self, mode: Mode, candidates: tuple[Candidate, ...], threshold: float, missing: tuple[str, ...] = ()
    ) -> MatchResult:
        """The decision on the best of ``candidates`` (ranked, best first; none when empty)."""
        best = candidates[0] if candidates else None
        score = best.score if best else None
        return MatchResult(
            mode,
            _decide(score, threshold),
            best.doc_id if best else None,
            score,
            threshold,
            self.gallery.model_version,
            candidates,
            missing,
        )
