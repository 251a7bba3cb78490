"""Travellers with a history (``laneface sim --history``): what the ledger knows of a departing vehicle.

The scenes are drawn as always; for each **outbound** passage this module then decides, by a generator of
its own (so the rendered frames stay those of the same seed without a history), what crossed before:

* a **commuter** vehicle (``commuter_share``) crossed ``trips`` times in the ``history_days`` before, with
  the same plate and its **regulars** (each occupant but the driver is one with ``regular_share``; the
  rest are guests), the last crossing inbound;
* a **visitor** vehicle (``visitor_share``) entered once, all its occupants together, 1-30 days before;
* any other vehicle, and a commuter vehicle's guests, have no vehicle history; each of its occupants entered
  without it (flew in, another car) with ``elsewhere_share``, else the ledger knows nothing of them.

A recorded arrival is at this port (lanes ``PORT_LANES``) or, with ``other_port_share``, at another port
(``OTHER_LANES``: outside a region-limited open-stays list). ``background_stays`` of the distractor
documents (people who never depart here) also have an open stay, so that list holds more than the
departing. The lane's plate reader reads a plate with ``plate_read_share``; a read swaps a character for a
look-alike with ``lookalike_share`` (the plate key still finds it) and for another character with
``misread_share`` (it finds nothing); ``rfid_share`` of the occupants' documents are read at the
drive-through (passport cards, enhanced licences).

The history is written as ``laneface run`` lines (``history.jsonl``: each past crossing with its
occupants matched to their documents), so ``laneface records import history.jsonl`` seeds the ledger
after ``gallery enroll`` has recorded the documents. What each default is based on: ``docs/simulator.md``.
"""

from __future__ import annotations

import string
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from laneface.plates import plate_key
from laneface.sim.scene import PassageScene

__all__ = [
    "HISTORY_FILE",
    "OTHER_LANES",
    "PORT_LANES",
    "History",
    "Population",
    "plan_history",
    "shift_history",
]

HISTORY_FILE = "history.jsonl"
PORT_LANES = ("PAC-IN1", "PAC-IN2")  # this port's inbound lanes (the outbound passages' lane is the sim's own)
OTHER_LANES = ("ATL-IN1", "AIR-YVR")  # arrivals elsewhere: another land port, an airport
HISTORY_MODEL = "ledger-history"  # model_version of the history lines: no template was ever made
_LOOKALIKE = {"O": "0", "0": "O", "D": "0", "I": "1", "1": "I", "B": "8", "8": "B", "S": "5", "5": "S", "Z": "2",
              "2": "Z", "G": "6", "6": "G", "Q": "0", "L": "1"}  # fmt: skip
# a misread: a character the plate key does not fold into the same one (so it finds no vehicle)
_OTHER = {c: [d for d in string.ascii_uppercase + string.digits if plate_key(d) != plate_key(c)]
          for c in string.ascii_uppercase + string.digits}  # fmt: skip


@dataclass(frozen=True)
class Population:
    """The mix of departing vehicles and what the ledger knows of them (a scenario's ``[population]``)."""

    commuter_share: float = 0.5
    regular_share: float = 0.85
    visitor_share: float = 0.25
    elsewhere_share: float = 0.5
    other_port_share: float = 0.2
    trips: tuple[int, int] = (6, 48)
    history_days: float = 180.0
    background_stays: float = 0.5
    plate_read_share: float = 0.95
    lookalike_share: float = 0.05
    misread_share: float = 0.05
    rfid_share: float = 0.23


@dataclass(frozen=True)
class History:
    """What :func:`plan_history` decides for one outbound passage."""

    scene: PassageScene  # with the documents read at the drive-through
    plate: dict[str, Any] | None  # the passage.json "plate" (None: no read)
    crossings: tuple[dict[str, Any], ...]  # history lines (``laneface run`` format)
    truth: dict[str, Any]  # ground_truth.json "population"


def _plate(rng: np.random.Generator) -> str:
    letters = "".join(string.ascii_uppercase[int(i)] for i in rng.integers(0, 26, size=3))
    return f"{letters} {int(rng.integers(100, 1000))}"


def _read(rng: np.random.Generator, text: str, pop: Population) -> dict[str, Any] | None:
    if rng.random() >= pop.plate_read_share:
        return None
    chars = list(text)
    slots = [k for k, c in enumerate(chars) if c != " "]
    u = rng.random()
    confidence = float(rng.uniform(0.7, 0.99))
    if u < pop.misread_share:
        k = slots[int(rng.integers(0, len(slots)))]
        options = _OTHER[chars[k]]
        chars[k] = options[int(rng.integers(0, len(options)))]
        confidence = float(rng.uniform(0.5, 0.9))
    elif u < pop.misread_share + pop.lookalike_share:
        swappable = [k for k in slots if chars[k] in _LOOKALIKE]
        if swappable:
            k = swappable[int(rng.integers(0, len(swappable)))]
            chars[k] = _LOOKALIKE[chars[k]]
    return {"text": "".join(chars), "region": "BC", "confidence": round(confidence, 3)}


def _at(started: datetime, days_before: float) -> datetime:
    return (started - timedelta(days=days_before)).replace(microsecond=0)


def crossing_line(
    passage_id: str, lane: str, direction: str, at: datetime, docs: Sequence[str], plate: str | None
) -> dict[str, Any]:
    """A confirmed past crossing as a ``laneface run`` line: each occupant matched to its document."""
    occupants: list[dict[str, Any]] = [
        {
            "occupant_id": n + 1,
            "row": None,
            "quality": 0.0,
            "quality_passed": True,
            "match": {"doc_id": d, "score": None, "decision": "match", "mode": None, "threshold": None,
                      "few_scores": [], "stage": "documents", "list_size": len(docs)},
            "cameras": [],
            "tracks": 0,
            "best_shot": None,
        }
        for n, d in enumerate(docs)
    ]  # fmt: skip
    line: dict[str, Any] = {
        "passage_id": passage_id,
        "occupant_count": len(docs),
        "complete_capture": True,
        "occupants": occupants,
        "timing_s": None,
        "cpu_s": None,
        "video_s": None,
        "frames_processed": 0,
        "lane": lane,
        "direction": direction,
        "documents": list(docs),
        "model_version": HISTORY_MODEL,
        "started_at": at.astimezone(UTC).isoformat(),
    }
    if plate is not None:
        line["plate"] = {"text": plate, "region": "BC", "confidence": 1.0}
    return line


def plan_history(rng: np.random.Generator, scene: PassageScene, pop: Population) -> History:
    """The history, plate read and documents read of one outbound ``scene``."""
    started = datetime.fromisoformat(scene.started_at.replace("Z", "+00:00"))
    plate = _plate(rng)
    u = rng.random()
    kind = "commuter" if u < pop.commuter_share else "visitor" if u < pop.commuter_share + pop.visitor_share else "none"
    docs = {o.occupant_id: o.doc_id for o in scene.occupants}
    category: dict[int, str] = {}
    lines: list[dict[str, Any]] = []
    tag = scene.passage_id
    if kind == "commuter":
        regulars = [o.occupant_id for n, o in enumerate(scene.occupants) if n == 0 or rng.random() < pop.regular_share]
        trips = int(rng.integers(pop.trips[0], pop.trips[1] + 1))
        days = np.sort(rng.uniform(1.0 / 24.0, pop.history_days, size=trips))  # days before, latest first
        for k, before in enumerate(days):
            direction = "inbound" if k % 2 == 0 else "outbound"
            lane = PORT_LANES[int(rng.integers(0, len(PORT_LANES)))] if direction == "inbound" else scene.lane
            lines.append(
                crossing_line(
                    f"H-{tag}-{k:02d}", lane, direction, _at(started, float(before)), [docs[o] for o in regulars], plate
                )
            )
        category.update({o: "regular" for o in regulars})
    elif kind == "visitor":
        before = float(rng.uniform(1.0, 30.0))
        lane = _arrival_lane(rng, pop)
        lines.append(crossing_line(f"H-{tag}-00", lane, "inbound", _at(started, before), list(docs.values()), plate))
        category.update({o: "visitor" if lane in PORT_LANES else "visitor_other_port" for o in docs})
    for o in scene.occupants:
        if o.occupant_id in category:
            continue
        if rng.random() < pop.elsewhere_share:
            lane = _arrival_lane(rng, pop)
            at = _at(started, float(rng.uniform(1.0, 60.0)))
            lines.append(crossing_line(f"H-{tag}-p{o.occupant_id}", lane, "inbound", at, [o.doc_id], None))
            category[o.occupant_id] = "entered_elsewhere" if lane in PORT_LANES else "entered_other_port"
        else:
            category[o.occupant_id] = "unknown"
    read = _read(rng, plate, pop)
    documents = tuple(o.doc_id for o in scene.occupants if rng.random() < pop.rfid_share)
    truth = {
        "vehicle": kind,
        "plate": plate,
        "plate_read": read,
        "occupants": {str(k): v for k, v in sorted(category.items())},
    }
    return History(replace(scene, documents=documents), read, tuple(lines), truth)


def _arrival_lane(rng: np.random.Generator, pop: Population) -> str:
    if rng.random() < pop.other_port_share:
        return OTHER_LANES[int(rng.integers(0, len(OTHER_LANES)))]
    return PORT_LANES[int(rng.integers(0, len(PORT_LANES)))]


def background_stays(
    rng: np.random.Generator, doc_ids: Sequence[str], pop: Population, first: datetime
) -> list[dict[str, Any]]:
    """Open stays of people who do not depart in this run (``background_stays`` of ``doc_ids``), arriving in
    the 60 days before ``first``."""
    lines = []
    for n, d in enumerate(doc_ids):
        if rng.random() < pop.background_stays:
            lane = _arrival_lane(rng, pop)
            at = _at(first, float(rng.uniform(1.0, 60.0)))
            lines.append(crossing_line(f"H-bg-{n:05d}", lane, "inbound", at, [d], None))
    return lines


def shift_history(lines: Sequence[dict[str, Any]], moves: dict[str, timedelta]) -> list[dict[str, Any]]:
    """The history with each passage's crossings moved as the passage was (``moves``: passage_id -> shift;
    the people who do not depart move with the earliest departure)."""
    default = min(moves.values(), default=timedelta(0), key=abs)
    out = []
    for line in lines:
        pid = str(line["passage_id"])
        owner = pid[2:].rsplit("-", 1)[0] if pid.startswith("H-") else ""
        at = datetime.fromisoformat(str(line["started_at"])) + moves.get(owner, default)
        out.append({**line, "started_at": at.isoformat()})
    return out
