"""What a passage tells the lane while it is processed: events, one JSON object each.

The pipeline looks at the occupants found so far every ``checkpoint_s`` of passage time (and once at the
end) and reports what changed. Every event has ``event``, ``passage_id``, ``lane``, ``t_s`` (passage time,
seconds) and ``zone`` (the zone the vehicle is in then, ``null`` for a lane with one zone)::

    {"event": "occupant_captured", ..., "occupant": 2, "row": 2, "cameras": ["booth2"], "quality": 71.3,
     "captured_at_s": 14.5, "capture_zone": "booth"}
    {"event": "occupant_identified", ..., "occupant": 2, "row": 2, "doc_id": "DOC-7", "score": 0.61,
     "mode": "one_to_few"}
    {"event": "seat_missing", ..., "seen_not_captured": [{"row": 3}], "documents_unmatched": 1}
    {"event": "prompt", ..., "source": "auto", "missing": 2}
    {"event": "prompt", ..., "source": "officer", "message": "remove_sunglasses"}
    {"event": "passage_complete", ..., "occupant_count": 3, "complete_capture": true, "stop_to_complete_s": 4.0}

``occupant`` numbers the occupants in the order they were first captured (the passage result's
``occupant_id`` orders them by row at the end, so the two may differ). ``seat_missing`` is reported at
the booth (from the stop on; at the end for a lane without a booth) whenever what is missing changes: the
occupants seen whose faces have not yet passed the quality profile, and the documents read in the lane that
no occupant has matched yet (each stands for a traveller not yet identified). With ``auto_prompt`` a
``prompt`` is given ``prompt_after_s`` after the stop while anything is missing, then every
``prompt_every_s``; an officer's prompt (:meth:`PassageStream.prompt`) is announced the same way, with no
``missing``; the passage result lists the prompts. With ``event_thumbnail_px``, ``occupant_captured`` carries
``thumbnail_jpeg_b64``, the best shot that many pixels high (for the service's booth view).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from laneface.imageio import encode_jpeg
from laneface.pipeline.result import MAX_PROMPTS, SCORE_DIGITS, SECONDS_DIGITS, PromptLine, finite

if TYPE_CHECKING:
    from laneface.capture.passage import Passage
    from laneface.config import LaneSettings
    from laneface.pipeline.identify import OccupantMatch
    from laneface.pipeline.lane import Occupant
    from laneface.pipeline.result import PassageResult

__all__ = ["EventSink", "PassageEvents"]

EventSink = Callable[[dict[str, Any]], None]


def _ignore(event: dict[str, Any]) -> None:
    """The sink of a passage whose events nobody reads (auto prompts still need the looks)."""


class PassageEvents:
    """Turns the looks at one passage's occupants into events for ``sink``."""

    def __init__(self, passage: Passage, sink: EventSink | None, lane: LaneSettings) -> None:
        self.passage, self.sink, self.lane = passage, sink or _ignore, lane
        self.captured: list[set[tuple[str, int]]] = []  # track members of each occupant announced as captured
        self.identified: dict[str, int] = {}  # doc_id -> occupant number
        self.missing: tuple[tuple[int | None, ...], int] | None = None
        self.prompts: list[PromptLine] = []

    def _emit(self, kind: str, t: float, **fields: Any) -> None:
        self.sink(
            {
                "event": kind,
                "passage_id": self.passage.passage_id,
                "lane": self.passage.lane,
                "t_s": finite(t, SECONDS_DIGITS),
                "zone": self.passage.zone_at(t),
                **fields,
            }
        )

    def _number(self, members: frozenset[tuple[str, int]]) -> int | None:
        for n, known in enumerate(self.captured, start=1):
            if known & members:
                known |= members  # the occupant's tracks so far: later looks may add cameras
                return n
        return None

    def update(self, t: float, people: Sequence[Occupant], matches: Sequence[OccupantMatch]) -> None:
        """A look at the occupants so far at passage time ``t``."""
        for person, match in zip(people, matches, strict=True):
            passed = person.best is not None and person.best.passed
            number = self._number(person.members)
            if passed and number is None:
                self.captured.append(set(person.members))
                number = len(self.captured)
                best = person.best
                extra: dict[str, Any] = {}
                if best is not None and self.lane.event_thumbnail_px:
                    jpeg = encode_jpeg(best.candidate.patch_rgb, height=self.lane.event_thumbnail_px)
                    extra["thumbnail_jpeg_b64"] = base64.b64encode(jpeg).decode("ascii")
                self._emit(
                    "occupant_captured",
                    t,
                    occupant=number,
                    row=person.row,
                    cameras=list(person.cameras),
                    quality=None if best is None else finite(best.unified, 2),
                    captured_at_s=finite(person.captured_at_s, SECONDS_DIGITS),
                    capture_zone=person.capture_zone,
                    **extra,
                )
            if number is not None and match.decision == "match" and match.doc_id not in self.identified:
                assert match.doc_id is not None
                self.identified[match.doc_id] = number
                self._emit(
                    "occupant_identified",
                    t,
                    occupant=number,
                    row=person.row,
                    doc_id=match.doc_id,
                    score=finite(match.score, SCORE_DIGITS),
                    mode=match.mode,
                )
        stop = self.passage.stop_s
        if stop is None or t < stop:
            return
        seen = tuple(p.row for p in people if not (p.best is not None and p.best.passed))
        unmatched = len(set(self.passage.documents) - set(self.identified))
        self._missing(t, seen, unmatched)
        missing = len(seen) + unmatched
        if self.lane.auto_prompt and missing and t >= stop + self.lane.prompt_after_s:
            last = self.prompts[-1]["at_s"] if self.prompts else None
            if (last is None or t >= last + self.lane.prompt_every_s) and len(self.prompts) < MAX_PROMPTS:
                self.prompts.append({"at_s": finite(t, SECONDS_DIGITS), "source": "auto", "missing": missing})
                self._emit("prompt", t, source="auto", missing=missing)

    def officer_prompt(self, t: float, message: str) -> None:
        """An officer prompted the occupants (the booth view) at passage time ``t``: listed and announced."""
        if len(self.prompts) < MAX_PROMPTS:
            self.prompts.append({"at_s": finite(t, SECONDS_DIGITS), "source": "officer", "missing": None})
            self.prompts[-1]["message"] = message
        self._emit("prompt", t, source="officer", message=message)

    def _missing(self, t: float, seen: tuple[int | None, ...], unmatched: int) -> None:
        state = (tuple(sorted(seen, key=lambda r: 99 if r is None else r)), unmatched)
        if state != self.missing and (seen or unmatched or self.missing is not None):
            self._emit(
                "seat_missing",
                t,
                seen_not_captured=[{"row": r} for r in state[0]],
                documents_unmatched=unmatched,
            )
        self.missing = state

    def finish(self, t: float, people: Sequence[Occupant], matches: Sequence[OccupantMatch]) -> None:
        """The last look, at the end of the passage (a lane without a booth reports what is missing now)."""
        self.update(t, people, matches)
        if self.passage.stop_s is None:
            seen = tuple(p.row for p in people if not (p.best is not None and p.best.passed))
            self._missing(t, seen, len(set(self.passage.documents) - set(self.identified)))

    def done(self, result: PassageResult) -> None:
        self._emit(
            "passage_complete",
            result.video_s,
            occupant_count=result.occupant_count,
            complete_capture=result.complete_capture,
            stop_to_complete_s=finite(result.stop_to_complete_s, SECONDS_DIGITS),
        )
