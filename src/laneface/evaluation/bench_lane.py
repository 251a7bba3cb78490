"""`laneface bench lane`: lane pipeline results scored against the simulator's ground truth.

Inputs are plain JSON dicts, so the scoring runs without the pipeline: one *result* per passage as written
by ``laneface run`` (``{"passage_id", "occupant_count", "complete_capture", "occupants": [{"occupant_id",
"row", "quality", "quality_passed", "match": {"doc_id", "score", "decision"}}], "timing_s"}``, or
``{"passage_id", "error"}``) and the passage's ``ground_truth.json`` (``{"passage_id", "direction",
"documents", "frames", "fps", "occupants": [{"occupant_id", "row", "seat", "doc_id", ...}]}``).

Mapping pipeline occupants to true occupants, per passage, in this order:

0. *by best shot*: a pipeline occupant whose ``best_shot`` (``camera``, ``frame_index``, ``box_xyxy``)
   overlaps a true face of that camera and frame in the ground truth (``cameras.<name>.frames``, IoU at
   least :data:`BEST_SHOT_MIN_IOU`) is mapped to that face's occupant, each true occupant once (an occupant
   that matched that person's document first, then the largest overlap). This is the appearance truth: a
   match to a fellow passenger's document is a false match, and a pipeline occupant whose best shot shows
   a true occupant mapped already is spurious (a double count);
1. *by document*: a pipeline occupant whose decision is ``"match"`` with the ``doc_id`` of a true occupant
   not yet mapped is mapped to that occupant (for results without a best shot, a match to a fellow
   passenger's document counts as correct);
2. *by row*: the remaining pipeline occupants (ascending ``occupant_id``) are mapped to the remaining true
   occupants of the same row (in seat order L, M, R);
3. *by count*: what remains of both is paired in order, the true occupants sorted by row then seat and the
   pipeline occupants by row (``null`` last) then ``occupant_id``.

Before all of these, a pipeline occupant whose best shot overlaps a *decoy* of that camera and frame
(``cameras.<name>.decoys``: a printed face or a pet the simulator planted) at least as much as any true face
is a *false occupant*: it is never mapped, and counts as spurious.

Pipeline occupants left over are *spurious* (counted only through false matches and the occupant
count); true occupants left over are not captured.

Definitions (per true occupant unless said otherwise):

* *captured*: its mapped pipeline occupant has ``quality_passed`` true;
* *correctly identified*: its mapped pipeline occupant has decision ``"match"`` and the true ``doc_id``;
* *false match*: a pipeline occupant (mapped or spurious) with decision ``"match"`` and a ``doc_id`` that is
  not its true occupant's; the rate divides their number by the number of true occupants;
* *identified of captured*: the share of captured true occupants that are correctly identified (what
  recognition does with the faces the lane kept, apart from capture);
* *complete capture* (per vehicle): every true occupant captured;
* *count exact* (per vehicle): ``occupant_count`` equals the number of true occupants;
* a passage whose result is missing or has an ``"error"`` counts with no occupants found.

What the cameras allowed (the ceiling of capture, from the ground truth alone, whatever the pipeline did):
a true occupant is *capturable* when some face of it in some frame of some camera meets
:class:`CapturableRule` (by default the pose and inter-eye distance limits of the ``vehicle`` quality
profile, and at least 85 % of the face unoccluded and inside the frame). The report gives the capturable
share by row, the share of vehicles whose occupants are all capturable (the ceiling of complete capture)
and the share of capturable occupants the pipeline captured. Ground truth without ``cameras`` leaves these
``None``.

Lanes with capture zones (ground truth with ``zones``, results with ``captured_at_s``): per zone, what was
reached *by its end* (that zone and the ones before it): the share of true occupants captured by then (the
pipeline's capture time of the mapped occupant, at most the zone's end), the share of vehicles completely
captured by then, and the capturable ceiling from the cameras of those zones alone. *From the booth stop to
complete capture*: per passage with a ``booth`` zone whose true occupants were all captured, the seconds from
the stop to the last one's capture time (0 when all were captured on the approach); median and 90th
percentile, and the count of passages with a stop that were not completely captured.

1:few operating curve (:func:`few_operating_curve`): from every occupant's ``match.few_scores`` (its score
against each document read in the lane), the 1:few stage is decided again at fixed thresholds by the
pipeline's own rule (:func:`~laneface.pipeline.identify.assign_documents`); per threshold, the share
of true occupants given their own document and the share given another one (false matches, spurious
occupants included; a spurious occupant whose best shot shows a true occupant counts as that person, so a
second occupant made of one person that takes this person's document is not a false match). It shows
where the calibrated threshold sits for lane images; the 1:N fallback is not part of it.

Modes: *1:few* = inbound passages with at least one document read; *1:N* = every other passage (outbound,
no document). Speed: total ``timing_s`` (wall clock) and total ``cpu_s`` (process CPU time: a shared or virtual
machine's stolen time is not in it) divided by the duration of the passages (frames / fps, or the end of the
last zone; the cameras of a zone record at the same time, so one second of passage = one second of video
per camera).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from laneface.errors import InvalidDatasetError
from laneface.geometry import iou
from laneface.sim.capturable import CapturableRule

__all__ = [
    "CapturableRule",
    "FewOperatingPoint",
    "LaneBenchReport",
    "ModeReport",
    "OccupantOutcome",
    "StopTimes",
    "ZoneReport",
    "capturable_occupants",
    "decoy_occupants",
    "decoys_shown",
    "few_operating_curve",
    "find_passages",
    "load_truth",
    "map_occupants",
    "score_passages",
    "truth_seconds",
    "write_row_chart",
]

SEAT_ORDER = {"L": 0, "M": 1, "R": 2}
BEST_SHOT_MIN_IOU = 0.3
FEW_THRESHOLDS = (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95)
MODES = ("1:few", "1:N", "all")


def capturable_occupants(
    truth: Mapping[str, Any], rule: CapturableRule | None = None, zones: frozenset[str] | None = None
) -> set[int] | None:
    """Ids of the true occupants with a face that ``rule`` accepts in some frame of some camera (of those
    ``zones``, when given); ``None`` when the ground truth has no per-frame faces (``cameras``)."""
    rule = rule or CapturableRule()
    cameras = truth.get("cameras")
    if not isinstance(cameras, Mapping) or not cameras:
        return None
    found: set[int] = set()
    for cam in cameras.values():
        if zones is not None and (cam or {}).get("zone") not in zones:
            continue
        for frame in (cam or {}).get("frames") or []:
            for face in frame:
                if int(face["occupant_id"]) not in found and rule.accepts(face):
                    found.add(int(face["occupant_id"]))
    return found


@dataclass(frozen=True)
class OccupantOutcome:
    """One true occupant after mapping."""

    passage_id: str
    occupant_id: int
    row: int
    doc_id: str
    pipeline_occupant: int | None
    captured: bool
    identified: bool
    false_match: bool
    capturable: bool | None = None  # None: the ground truth does not say
    stage: str | None = None  # the candidate list that decided the occupant's match (documents ... gallery)
    category: str | None = None  # ``sim --history``: what the ledger knew of the occupant (regular, visitor, ...)


@dataclass(frozen=True)
class ZoneReport:
    """What was reached by the end of one capture zone (and the zones before it), over the passages that
    have that zone."""

    zone: str
    passages: int
    occupants: int
    capture_rate: float | None  # captured (by the pipeline's capture time) by the end of the zone
    complete_capture_rate: float | None
    capturable_rate: float | None  # the cameras of this zone and the zones before it allowed it
    complete_capturable_rate: float | None
    captured_of_capturable_rate: float | None


@dataclass(frozen=True)
class StopTimes:
    """Seconds from the booth stop until every true occupant was captured, over the passages with a stop
    whose occupants were all captured; the others are counted apart."""

    passages: int  # with a stop
    complete: int
    median_s: float | None
    p90_s: float | None


@dataclass(frozen=True)
class ModeReport:
    """Scores of one mode; rates are shares in [0, 1] (None when there is nothing to divide by)."""

    mode: str
    passages: int
    occupants: int
    errors: int  # passages without a usable result
    capture_by_row: dict[str, float | None]  # "1", "2", "3" -> share captured
    occupants_by_row: dict[str, int]
    capture_rate: float | None
    complete_capture_rate: float | None
    claimed_complete_rate: float | None  # share of passages the pipeline called complete
    count_exact_rate: float | None
    correct_identification_rate: float | None
    false_matches: int
    false_match_rate: float | None  # false matches / true occupants
    spurious_occupants: int
    # the ceiling the cameras allowed (module docstring); None where the ground truth has no frames
    capturable_by_row: dict[str, float | None] | None = None
    capturable_rate: float | None = None
    complete_capturable_rate: float | None = None  # vehicles whose occupants are all capturable
    captured_of_capturable_rate: float | None = None
    identified_of_captured_rate: float | None = None
    zones: dict[str, ZoneReport] | None = None  # lanes with capture zones, in the passages' order of zones
    stop_to_complete: StopTimes | None = None
    decoys: int = 0  # planted (printed faces, pets)
    decoys_shown: int = 0  # with at least half of the face visible in some frame of some camera
    false_occupants: int = 0  # pipeline occupants made of a decoy (module docstring)
    # per deciding stage (documents, vehicle, open_stays, gallery): true occupants identified, false matches
    by_stage: dict[str, dict[str, int]] | None = None
    # ``sim --history``: per ledger category, occupants, captured, identified and false matches
    by_category: dict[str, dict[str, int]] | None = None


@dataclass(frozen=True)
class FewOperatingPoint:
    """The 1:few stage decided again at ``threshold``: shares of the 1:few passages' true occupants."""

    threshold: float
    identified: int
    false_matches: int
    occupants: int
    identification_rate: float | None
    false_match_rate: float | None


@dataclass(frozen=True)
class LaneBenchReport:
    modes: dict[str, ModeReport]
    processing_s: float
    video_s: float
    processing_per_video_s: float | None  # seconds of processing per second of passage (all cameras)
    few_curve: tuple[FewOperatingPoint, ...] = ()
    cpu_s: float | None = None  # process CPU seconds (None when a result does not carry ``cpu_s``)
    cpu_per_video_s: float | None = None  # the same per second of passage: what one core spends

    def as_json(self) -> dict[str, Any]:
        return {
            "modes": {k: asdict(v) for k, v in self.modes.items()},
            "few_operating_curve": [asdict(p) for p in self.few_curve],
            "processing_s": round(self.processing_s, 3),
            "video_s": round(self.video_s, 3),
            "processing_per_video_s": self.processing_per_video_s,
            "cpu_s": None if self.cpu_s is None else round(self.cpu_s, 3),
            "cpu_per_video_s": self.cpu_per_video_s,
        }


def _seat_key(o: Mapping[str, Any]) -> tuple[int, int, int]:
    seat = str(o.get("seat", ""))
    return int(o["row"]), SEAT_ORDER.get(seat[-1:], 3), int(o["occupant_id"])


def _match(o: Mapping[str, Any]) -> tuple[str | None, str]:
    m = o.get("match") or {}
    return m.get("doc_id"), str(m.get("decision", "not_captured"))


def _best_shot_pairs(found: Sequence[Mapping[str, Any]], truth: Mapping[str, Any]) -> list[tuple[float, int, int]]:
    """(IoU, pipeline occupant id, true occupant id) for every best shot that overlaps a true face."""
    cameras = truth.get("cameras")
    pairs: list[tuple[float, int, int]] = []
    if not isinstance(cameras, Mapping):
        return pairs
    for o in found:
        shot = o.get("best_shot")
        if not isinstance(shot, Mapping) or not {"camera", "frame_index", "box_xyxy"} <= set(shot):
            continue
        frames = (cameras.get(str(shot["camera"])) or {}).get("frames") or []
        k = int(shot["frame_index"])
        if not 0 <= k < len(frames):
            continue
        box = [float(v) for v in shot["box_xyxy"]]
        for face in frames[k]:
            v = iou(box, [float(x) for x in face["box_xyxy"]])
            if v >= BEST_SHOT_MIN_IOU:
                pairs.append((v, int(o["occupant_id"]), int(face["occupant_id"])))
    return pairs


def decoy_occupants(result: Mapping[str, Any], truth: Mapping[str, Any]) -> list[int]:
    """Pipeline occupants whose best shot shows a decoy at least as well as any true face (module docstring)."""
    cameras = truth.get("cameras")
    out: list[int] = []
    if not isinstance(cameras, Mapping) or not truth.get("decoys"):
        return out
    for o in result.get("occupants", []):
        shot = o.get("best_shot")
        if not isinstance(shot, Mapping) or not {"camera", "frame_index", "box_xyxy"} <= set(shot):
            continue
        cam = cameras.get(str(shot["camera"])) or {}
        k = int(shot["frame_index"])
        decoys, faces = cam.get("decoys") or [], cam.get("frames") or []
        if not 0 <= k < len(decoys):
            continue
        box = [float(v) for v in shot["box_xyxy"]]
        on_decoy = max((iou(box, [float(x) for x in d["box_xyxy"]]) for d in decoys[k]), default=0.0)
        on_face = (
            max((iou(box, [float(x) for x in f["box_xyxy"]]) for f in faces[k]), default=0.0) if k < len(faces) else 0.0
        )
        if on_decoy >= BEST_SHOT_MIN_IOU and on_decoy >= on_face:
            out.append(int(o["occupant_id"]))
    return out


def decoys_shown(truth: Mapping[str, Any], min_visible: float = 0.5) -> int:
    """Planted decoys with at least ``min_visible`` of their face showing in some frame of some camera."""
    seen: set[int] = set()
    for cam in (truth.get("cameras") or {}).values():
        for frame in cam.get("decoys") or []:
            seen.update(int(d["decoy_id"]) for d in frame if float(d["visible"]) >= min_visible)
    return len(seen)


def map_occupants(result: Mapping[str, Any], truth: Mapping[str, Any]) -> tuple[dict[int, int], list[int]]:
    """True occupant id -> pipeline occupant id, and the spurious pipeline occupant ids (module docstring),
    false occupants (decoys) among them."""
    true_occ = sorted(truth["occupants"], key=_seat_key)
    found = sorted(result.get("occupants", []), key=lambda o: int(o["occupant_id"]))
    mapping: dict[int, int] = {}
    free = {int(o["occupant_id"]): o for o in found}
    decoyed = decoy_occupants(result, truth)
    for pid in decoyed:
        free.pop(pid)
    true_ids = {int(t["occupant_id"]) for t in true_occ}
    pairs = [x for x in _best_shot_pairs(found, truth) if x[2] in true_ids]
    doc_of = {int(t["occupant_id"]): str(t["doc_id"]) for t in true_occ}
    matched = {int(o["occupant_id"]): _match(o) for o in found}

    def right_document(pid: int, tid: int) -> bool:
        return matched[pid] == (doc_of[tid], "match")

    # of two occupants showing one person, the one that matched that person's document first
    for _, pid, tid in sorted(pairs, key=lambda x: (not right_document(x[1], x[2]), -x[0], x[1], x[2])):
        if pid in free and tid not in mapping:
            mapping[tid] = pid
            free.pop(pid)
    # a best shot of someone already mapped: a second occupant made of the same person (spurious)
    duplicates = sorted({pid for _, pid, _ in pairs if pid in free})
    for pid in duplicates:
        free.pop(pid)
    by_doc = {str(t["doc_id"]): int(t["occupant_id"]) for t in true_occ}
    for o in found:
        if int(o["occupant_id"]) not in free:
            continue
        doc, decision = _match(o)
        if decision == "match" and doc in by_doc and by_doc[doc] not in mapping:
            mapping[by_doc[doc]] = int(o["occupant_id"])
            free.pop(int(o["occupant_id"]))
    for t in true_occ:  # by row
        tid = int(t["occupant_id"])
        if tid in mapping:
            continue
        same_row = [pid for pid, o in free.items() if o.get("row") is not None and int(o["row"]) == int(t["row"])]
        if same_row:
            mapping[tid] = same_row[0]
            free.pop(same_row[0])
    rest = sorted(free.values(), key=lambda o: (o.get("row") is None, o.get("row") or 0, int(o["occupant_id"])))
    for t in true_occ:  # by count
        tid = int(t["occupant_id"])
        if tid not in mapping and rest:
            mapping[tid] = int(rest.pop(0)["occupant_id"])
    return mapping, sorted([int(o["occupant_id"]) for o in rest] + duplicates + decoyed)


def _result_id(result: Mapping[str, Any]) -> str:
    """The passage a result line is about: its passage_id, or (an error line whose passage.json could not be
    read) the name of its directory, which is the passage_id of a simulated passage."""
    pid = result.get("passage_id")
    if pid is None and result.get("passage_dir"):
        return Path(str(result["passage_dir"])).name
    return str(pid)


def _mode_of(truth: Mapping[str, Any]) -> str:
    return "1:few" if truth.get("direction") == "inbound" and truth.get("documents") else "1:N"


def _rate(num: int, den: int) -> float | None:
    return num / den if den else None


def truth_seconds(truth: Mapping[str, Any]) -> float:
    """The passage's duration: the end of its last zone, or (one zone) its frames / fps."""
    zones = truth.get("zones")
    if isinstance(zones, list) and zones:
        return float(zones[-1]["end_s"])
    return float(truth.get("frames", 0)) / float(truth.get("fps", 10.0) or 10.0)


def _percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(len(ordered) - 1, int(k) + 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def _zone_counts(
    truth: Mapping[str, Any], outcomes: Sequence[OccupantOutcome], found: Mapping[int, Mapping[str, Any]]
) -> list[tuple[str, int, int, bool, int, bool, int]]:
    """Per zone of the passage (in order): (zone, occupants, captured by its end, all captured, capturable by
    its end, all capturable, capturable and captured)."""
    out = []
    seen: set[str] = set()
    for zone in truth.get("zones") or []:
        name, end = str(zone["zone"]), float(zone["end_s"])
        seen.add(name)
        able = capturable_occupants(truth, zones=frozenset(seen)) or set()
        cap = [
            x.captured
            and x.pipeline_occupant is not None
            and (found[x.pipeline_occupant].get("captured_at_s") if x.pipeline_occupant in found else None) is not None
            and float(found[x.pipeline_occupant]["captured_at_s"]) <= end + 1e-6
            for x in outcomes
        ]
        ok = [x.occupant_id in able for x in outcomes]
        out.append(
            (
                name,
                len(outcomes),
                sum(cap),
                all(cap),
                sum(ok),
                all(ok),
                sum(c and a for c, a in zip(cap, ok, strict=True)),
            )
        )
    return out


def _stop_to_complete(
    truth: Mapping[str, Any], outcomes: Sequence[OccupantOutcome], found: Mapping[int, Mapping[str, Any]]
) -> tuple[bool, float | None]:
    """(the passage has a booth stop, seconds from it until its last true occupant was captured or None)."""
    stop = next((float(z["start_s"]) for z in truth.get("zones") or [] if z.get("zone") == "booth"), None)
    if stop is None:
        return False, None
    times = []
    for x in outcomes:
        o = found.get(x.pipeline_occupant) if x.pipeline_occupant is not None else None
        if not x.captured or o is None or o.get("captured_at_s") is None:
            return True, None
        times.append(float(o["captured_at_s"]))
    return True, (max(0.0, max(times) - stop) if times else None)


def score_passages(results: Iterable[Mapping[str, Any]], truths: Sequence[Mapping[str, Any]]) -> LaneBenchReport:
    """Score ``results`` (any order; extra ones are ignored) against ``truths`` (one per passage)."""
    by_id: dict[str, Mapping[str, Any]] = {}
    for r in results:
        by_id[_result_id(r)] = r
    acc: dict[str, dict[str, Any]] = {
        m: {
            "passages": 0,
            "errors": 0,
            "occ": 0,
            "cap": 0,
            "complete": 0,
            "claimed": 0,
            "count": 0,
            "ident": 0,
            "cap_ident": 0,
            "false": 0,
            "spurious": 0,
            "row_n": {},
            "row_cap": {},
            "row_able": {},
            "able": 0,
            "able_cap": 0,
            "all_able": 0,
            "able_known": True,
            "zones": {},
            "stops": 0,
            "stop_times": [],
            "decoys": 0,
            "decoys_shown": 0,
            "false_occ": 0,
            "stages": {},
            "cats": {},
        }
        for m in MODES
    }
    processing = video = cpu = 0.0
    cpu_known = True
    for truth in truths:
        pid = str(truth["passage_id"])
        result = by_id.get(pid)
        bad = result is None or "error" in result
        res: Mapping[str, Any] = {} if bad or result is None else result
        mapping, spurious = map_occupants(res, truth) if not bad else ({}, [])
        false_occ = len(decoy_occupants(res, truth)) if not bad else 0
        planted, shown = len(truth.get("decoys") or []), decoys_shown(truth)
        found = {int(o["occupant_id"]): o for o in res.get("occupants", [])}
        able = capturable_occupants(truth)
        categories = (truth.get("population") or {}).get("occupants") or {}
        outcomes = []
        for t in truth["occupants"]:
            pid_o = mapping.get(int(t["occupant_id"]))
            o = found.get(pid_o) if pid_o is not None else None
            doc, decision = _match(o) if o is not None else (None, "not_captured")
            outcomes.append(
                OccupantOutcome(
                    passage_id=pid,
                    occupant_id=int(t["occupant_id"]),
                    row=int(t["row"]),
                    doc_id=str(t["doc_id"]),
                    pipeline_occupant=pid_o,
                    captured=bool(o is not None and o.get("quality_passed")),
                    identified=decision == "match" and doc == t["doc_id"],
                    false_match=decision == "match" and doc != t["doc_id"],
                    capturable=None if able is None else int(t["occupant_id"]) in able,
                    stage=(o.get("match") or {}).get("stage") if o is not None and decision == "match" else None,
                    category=categories.get(str(t["occupant_id"])),
                )
            )
        # a match given to an occupant the vehicle did not hold: a false match, counted at its stage
        spurious_stages = [
            str((found[s].get("match") or {}).get("stage")) for s in spurious if _match(found[s])[1] == "match"
        ]
        processing += float(res.get("timing_s", 0.0) or 0.0)
        if isinstance(res.get("cpu_s"), int | float):
            cpu += float(res["cpu_s"])
        elif not bad:
            cpu_known = False
        video += truth_seconds(truth)
        zone_counts = _zone_counts(truth, outcomes, found) if not bad else []
        has_stop, stop_time = _stop_to_complete(truth, outcomes, found) if not bad else (False, None)
        for mode in (_mode_of(truth), "all"):
            a = acc[mode]
            a["passages"] += 1
            a["errors"] += bad
            a["occ"] += len(outcomes)
            a["cap"] += sum(x.captured for x in outcomes)
            a["complete"] += all(x.captured for x in outcomes)
            a["claimed"] += bool(res.get("complete_capture", False))
            a["count"] += (not bad) and int(res.get("occupant_count", -1)) == len(outcomes)
            a["ident"] += sum(x.identified for x in outcomes)
            a["cap_ident"] += sum(x.identified and x.captured for x in outcomes)
            a["false"] += sum(x.false_match for x in outcomes) + len(spurious_stages)
            a["spurious"] += len(spurious)
            a["decoys"] += planted
            a["decoys_shown"] += shown
            a["false_occ"] += false_occ
            a["able_known"] = a["able_known"] and able is not None
            a["able"] += sum(bool(x.capturable) for x in outcomes)
            a["able_cap"] += sum(bool(x.capturable) and x.captured for x in outcomes)
            a["all_able"] += all(x.capturable for x in outcomes)
            for name, occ, cap, complete, able_n, all_able, able_cap in zone_counts:
                z = a["zones"].setdefault(name, [0, 0, 0, 0, 0, 0, 0])
                for k, v in enumerate((1, occ, cap, complete, able_n, all_able, able_cap)):
                    z[k] += int(v)
            a["stops"] += has_stop
            if stop_time is not None:
                a["stop_times"].append(stop_time)
            for stage in spurious_stages:
                a["stages"].setdefault(stage, {"identified": 0, "false_matches": 0})["false_matches"] += 1
            for x in outcomes:
                if x.stage is not None:
                    st = a["stages"].setdefault(x.stage, {"identified": 0, "false_matches": 0})
                    st["identified"] += x.identified
                    st["false_matches"] += x.false_match
                if x.category is not None:
                    c = a["cats"].setdefault(
                        x.category, {"occupants": 0, "captured": 0, "identified": 0, "false_matches": 0}
                    )
                    c["occupants"] += 1
                    c["captured"] += x.captured
                    c["identified"] += x.identified
                    c["false_matches"] += x.false_match
                key = str(x.row)
                a["row_n"][key] = a["row_n"].get(key, 0) + 1
                a["row_cap"][key] = a["row_cap"].get(key, 0) + x.captured
                a["row_able"][key] = a["row_able"].get(key, 0) + bool(x.capturable)
    modes = {}
    for mode, a in acc.items():
        rows = sorted(a["row_n"])
        known = bool(a["able_known"] and a["passages"])
        modes[mode] = ModeReport(
            mode=mode,
            passages=a["passages"],
            occupants=a["occ"],
            errors=a["errors"],
            capture_by_row={r: _rate(a["row_cap"][r], a["row_n"][r]) for r in rows},
            occupants_by_row={r: a["row_n"][r] for r in rows},
            capture_rate=_rate(a["cap"], a["occ"]),
            complete_capture_rate=_rate(a["complete"], a["passages"]),
            claimed_complete_rate=_rate(a["claimed"], a["passages"]),
            count_exact_rate=_rate(a["count"], a["passages"]),
            correct_identification_rate=_rate(a["ident"], a["occ"]),
            false_matches=a["false"],
            false_match_rate=_rate(a["false"], a["occ"]),
            spurious_occupants=a["spurious"],
            capturable_by_row={r: _rate(a["row_able"][r], a["row_n"][r]) for r in rows} if known else None,
            capturable_rate=_rate(a["able"], a["occ"]) if known else None,
            complete_capturable_rate=_rate(a["all_able"], a["passages"]) if known else None,
            captured_of_capturable_rate=_rate(a["able_cap"], a["able"]) if known else None,
            identified_of_captured_rate=_rate(a["cap_ident"], a["cap"]),
            zones={
                name: ZoneReport(
                    zone=name,
                    passages=z[0],
                    occupants=z[1],
                    capture_rate=_rate(z[2], z[1]),
                    complete_capture_rate=_rate(z[3], z[0]),
                    capturable_rate=_rate(z[4], z[1]),
                    complete_capturable_rate=_rate(z[5], z[0]),
                    captured_of_capturable_rate=_rate(z[6], z[4]),
                )
                for name, z in a["zones"].items()
            }
            or None,
            stop_to_complete=StopTimes(
                passages=a["stops"],
                complete=len(a["stop_times"]),
                median_s=_percentile(a["stop_times"], 0.5),
                p90_s=_percentile(a["stop_times"], 0.9),
            )
            if a["stops"]
            else None,
            decoys=a["decoys"],
            decoys_shown=a["decoys_shown"],
            false_occupants=a["false_occ"],
            by_stage=dict(sorted(a["stages"].items())) or None,
            by_category=dict(sorted(a["cats"].items())) or None,
        )
    return LaneBenchReport(
        modes=modes,
        processing_s=processing,
        video_s=video,
        processing_per_video_s=(processing / video) if video > 0 else None,
        few_curve=few_operating_curve(by_id.values(), truths),
        cpu_s=cpu if cpu_known else None,
        cpu_per_video_s=(cpu / video) if cpu_known and video > 0 else None,
    )


def few_operating_curve(
    results: Iterable[Mapping[str, Any]],
    truths: Sequence[Mapping[str, Any]],
    thresholds: Sequence[float] = FEW_THRESHOLDS,
) -> tuple[FewOperatingPoint, ...]:
    """The 1:few stage decided again at each of ``thresholds`` (module docstring), on the 1:few passages."""
    import numpy as np

    from laneface.pipeline.identify import assign_documents

    by_id = {_result_id(r): r for r in results}
    vehicles: list[list[tuple[dict[str, float], str | None]]] = []
    occupants = 0
    for truth in truths:
        if _mode_of(truth) != "1:few":
            continue
        occupants += len(truth["occupants"])
        result = by_id.get(str(truth["passage_id"]))
        if result is None or "error" in result:
            continue
        mapping, _ = map_occupants(result, truth)
        doc_of = {int(t["occupant_id"]): str(t["doc_id"]) for t in truth["occupants"]}
        # a spurious occupant whose best shot shows someone (a second occupant made of one person) carries
        # that person's document: given it, the person is identified (once: a document goes to one occupant)
        true_doc: dict[int, str] = {}
        for _, pid, tid in sorted(_best_shot_pairs(result.get("occupants", []), truth), reverse=True):
            if tid in doc_of:
                true_doc.setdefault(pid, doc_of[tid])
        for tid, pid in mapping.items():
            true_doc[pid] = doc_of[tid]
        rows = []
        for o in result.get("occupants", []):
            scores = {str(c["doc_id"]): float(c["score"]) for c in (o.get("match") or {}).get("few_scores", [])}
            if scores:
                rows.append((scores, true_doc.get(int(o["occupant_id"]))))
        vehicles.append(rows)
    points = []
    for thr in thresholds:
        ok = false = 0
        for rows in vehicles:
            docs = sorted({d for scores, _ in rows for d in scores})
            if not docs:
                continue
            matrix = np.array([[scores.get(d, -np.inf) for d in docs] for scores, _ in rows])
            for row, k in assign_documents(matrix, np.full(len(rows), thr)):
                if docs[k] == rows[row][1]:
                    ok += 1
                else:
                    false += 1
        points.append(FewOperatingPoint(thr, ok, false, occupants, _rate(ok, occupants), _rate(false, occupants)))
    return tuple(points)


def find_passages(root: Path) -> list[Path]:
    """Passage folders under ``root`` that hold both passage.json and ground_truth.json, sorted."""
    if not root.is_dir():
        raise InvalidDatasetError(f"{root} is not a directory of simulated passages")
    dirs = sorted(p.parent for p in root.glob("*/ground_truth.json") if (p.parent / "passage.json").is_file())
    if not dirs:
        raise InvalidDatasetError(f"no passages (folders with passage.json and ground_truth.json) under {root}")
    return dirs


def load_truth(passage_dir: Path) -> dict[str, Any]:
    """The ground truth of a simulated passage, checked for the fields the scoring uses."""
    import json

    path = passage_dir / "ground_truth.json"
    try:
        truth = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InvalidDatasetError(f"cannot read {path}: {exc}") from None
    if not isinstance(truth, dict) or "passage_id" not in truth or not isinstance(truth.get("occupants"), list):
        raise InvalidDatasetError(f"{path} lacks passage_id or occupants")
    for o in truth["occupants"]:
        if not isinstance(o, dict) or not {"occupant_id", "row", "doc_id"} <= set(o):
            raise InvalidDatasetError(f"{path}: every occupant needs occupant_id, row and doc_id")
    return truth


def write_row_chart(report: LaneBenchReport, path: Path) -> Path:
    """Bar chart of the capture rate by row, one bar group per mode."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 4.2))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    rows = sorted({r for m in report.modes.values() for r in m.capture_by_row})
    width = 0.8 / len(MODES)
    for k, mode in enumerate(MODES):
        m = report.modes[mode]
        values = [m.capture_by_row.get(r) or 0.0 for r in rows]
        xs = [i + (k - (len(MODES) - 1) / 2) * width for i in range(len(rows))]
        bars = ax.bar(xs, values, width, label=f"{mode} ({m.occupants} occupants)")
        for b, r in zip(bars, rows, strict=True):
            n = m.occupants_by_row.get(r, 0)
            ax.annotate(f"n={n}", (b.get_x() + b.get_width() / 2, b.get_height()), ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(rows)), [f"row {r}" for r in rows])
    ax.set_ylim(0, 1.08)
    ax.set_ylabel("occupants captured (quality-passing best shot)")
    ax.axhline(0.95, color="grey", lw=0.8, ls="--")
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Capture rate by row")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(str(path), dpi=110)
    return path
