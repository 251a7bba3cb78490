"""Lane operations for the simulator: a scenario file (TOML) that ``laneface sim --scenario`` reads.

A scenario says how vehicles go through the lane, zone by zone. Inbound: the **approach** (the lane's
camera rig of :mod:`.render`; the vehicle moves, stopping and going in the queue), then the **booth**
(the vehicle stands for a sampled dwell while booth cameras at window height, one aimed at each row,
look through the open driver window and the rear side windows; prompts ask the occupants to look at the
camera and take sunglasses off, and each occupant complies or not). Outbound: a **drive-through** past the
lane's rig at a sampled speed, optionally slowed down in a slow-down zone; no booth, no prompts.

Every key is optional; a missing key takes the default below (``laneface sim --scenario two-zone`` is
this file as shipped, ``src/laneface/data/scenario-two-zone.toml``). An unknown key, a wrong type or a
range whose ends are reversed is refused with the file, the key and what is allowed::

    name = "two-zone"
    inbound_share = 0.6           # share of inbound passages
    night_share = 0.25            # share of night (infrared) passages

    [inbound]
    approach_s = [4.0, 8.0]       # seconds in view of the approach cameras
    queue_stops = [0, 2]          # stop-and-go: number of stops in the queue (each 10-25 % of the approach)
    fps = 10                      # approach cameras
    dwell_s = [20.0, 90.0]        # booth stop
    booth_fps = 2                 # booth cameras (a standing vehicle: a low rate keeps rendering cheap)
    booth_side = "left"           # the booth's side of the vehicle (the driver's, left-hand traffic: "right")
    camera_height_m = 1.3         # booth cameras, above the road
    camera_distance_m = 1.0       # from the vehicle's side
    asleep_share = 0.06           # passengers (never the driver) asleep: head down, never comply
    glance_share = 0.5            # occupants who look at the booth now and then of their own accord

    [inbound.prompts]
    first_s = 6.0                 # automatic prompt this long after the stop ("none": no prompts)
    every_s = 15.0                # repeated while the vehicle stands ("none": once)
    comply = 0.8                  # per occupant, decided once: some never comply
    delay_s = [1.0, 4.0]          # from the prompt to the occupant turning to the camera
    hold_s = [2.0, 5.0]           # how long a complying occupant looks at the camera

    [outbound]
    speed_kmh = [10.0, 30.0]      # drive-through
    slowdown_share = 0.0          # share of passages through a slow-down zone ...
    slowdown_kmh = [5.0, 10.0]    # ... at this speed
    fps = 10

    [population]                  # laneface sim --history: what the ledger knows of departing vehicles
    commuter_share = 0.5          # vehicles that crossed before with the same plate and regulars ...
    regular_share = 0.85          # ... each passenger a regular with this share (the driver always is)
    trips = [6, 48]               # ... crossings in the history_days before
    history_days = 180.0
    visitor_share = 0.25          # vehicles that entered once, everybody together, 1-30 days before
    elsewhere_share = 0.5         # other occupants: entered without the vehicle (air, another car)
    other_port_share = 0.2        # a recorded arrival at another port (outside a region's open stays)
    background_stays = 0.5        # distractor documents with an open stay (never depart here)
    plate_read_share = 0.95       # the plate reader reads the plate ...
    lookalike_share = 0.05        # ... swapping a look-alike character (O/0) ...
    misread_share = 0.05          # ... or another one (finds no vehicle)
    rfid_share = 0.23             # occupants whose document is read at the drive-through
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from importlib import resources
from pathlib import Path
from typing import Any

from laneface.errors import ConfigError
from laneface.sim.population import Population

__all__ = [
    "BUILTIN_SCENARIOS",
    "InboundZones",
    "OutboundZone",
    "PromptRule",
    "Scenario",
    "load_scenario",
    "parse_scenario",
]

BUILTIN_SCENARIOS = ("two-zone", "departures")

Range = tuple[float, float]


@dataclass(frozen=True)
class PromptRule:
    """Prompts at the booth ("everyone look at the camera, remove sunglasses") and how occupants answer."""

    first_s: float | None = 6.0
    every_s: float | None = 15.0
    comply: float = 0.8
    delay_s: Range = (1.0, 4.0)
    hold_s: Range = (2.0, 5.0)

    def times(self, dwell_s: float) -> tuple[float, ...]:
        """Prompt times (seconds after the stop) within a stop of ``dwell_s``."""
        if self.first_s is None or self.first_s >= dwell_s:
            return ()
        out = [self.first_s]
        while self.every_s is not None and out[-1] + self.every_s < dwell_s:
            out.append(out[-1] + self.every_s)
        return tuple(out)


@dataclass(frozen=True)
class InboundZones:
    approach_s: Range = (4.0, 8.0)
    queue_stops: tuple[int, int] = (0, 2)
    fps: float = 10.0
    dwell_s: Range = (20.0, 90.0)
    booth_fps: float = 2.0
    booth_side: str = "left"
    camera_height_m: float = 1.3
    camera_distance_m: float = 1.0
    asleep_share: float = 0.06
    glance_share: float = 0.5
    prompts: PromptRule = field(default_factory=PromptRule)


@dataclass(frozen=True)
class OutboundZone:
    speed_kmh: Range = (10.0, 30.0)
    slowdown_share: float = 0.0
    slowdown_kmh: Range = (5.0, 10.0)
    fps: float = 10.0


@dataclass(frozen=True)
class Scenario:
    name: str = "two-zone"
    inbound_share: float = 0.6
    night_share: float = 0.25
    inbound: InboundZones = field(default_factory=InboundZones)
    outbound: OutboundZone = field(default_factory=OutboundZone)
    population: Population = field(default_factory=Population)

    def as_json(self) -> dict[str, object]:
        from dataclasses import asdict

        return asdict(self)


# -- reading ---------------------------------------------------------------------------------------------
_SHARES = {"inbound_share", "night_share", "asleep_share", "glance_share", "comply", "slowdown_share"} | {
    f.name for f in fields(Population) if f.name.endswith("_share") or f.name == "background_stays"
}
_POSITIVE = {"fps", "booth_fps", "camera_height_m", "camera_distance_m", "every_s", "history_days"}
_NON_NEGATIVE = {"first_s"}
_RANGES_POSITIVE = {"approach_s", "dwell_s", "speed_kmh", "slowdown_kmh", "hold_s"}
_RANGES_NON_NEGATIVE = {"delay_s"}
_LIMITS: dict[str, tuple[float, float]] = {  # what the renderer and the lane can take
    "fps": (1.0, 60.0),
    "booth_fps": (0.2, 60.0),
    "approach_s": (0.5, 60.0),
    "dwell_s": (1.0, 600.0),
    "speed_kmh": (1.0, 80.0),
    "slowdown_kmh": (1.0, 80.0),
    "camera_height_m": (0.5, 3.0),
    "camera_distance_m": (0.3, 5.0),
}


def _where(source: str, key: str) -> str:
    return f"{source}: {key}"


def _number(value: Any, source: str, key: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{_where(source, key)} must be a number, got {value!r}")
    number = float(value)
    if number != number or number in (float("inf"), float("-inf")):
        raise ConfigError(f"{_where(source, key)} must be a finite number, got {value!r}")
    if key in _SHARES and not 0.0 <= number <= 1.0:
        raise ConfigError(f"{_where(source, key)} is a share: it must be in [0, 1], got {value!r}")
    if key in _POSITIVE and number <= 0:
        raise ConfigError(f"{_where(source, key)} must be > 0, got {value!r}")
    if key in _NON_NEGATIVE and number < 0:
        raise ConfigError(f"{_where(source, key)} must be >= 0, got {value!r}")
    lo, hi = _LIMITS.get(key, (float("-inf"), float("inf")))
    if not lo <= number <= hi:
        raise ConfigError(f"{_where(source, key)} must be in [{lo:g}, {hi:g}], got {value!r}")
    return number


def _range(value: Any, source: str, key: str) -> Range:
    if not isinstance(value, list) or len(value) != 2:
        raise ConfigError(f"{_where(source, key)} must be a range [low, high], got {value!r}")
    lo, hi = (_number(v, source, key) for v in value)
    if lo > hi:
        raise ConfigError(f"{_where(source, key)}: the low end {lo:g} is above the high end {hi:g}")
    if key in _RANGES_POSITIVE and lo <= 0:
        raise ConfigError(f"{_where(source, key)} must be above 0, got {value!r}")
    if key in _RANGES_NON_NEGATIVE and lo < 0:
        raise ConfigError(f"{_where(source, key)} must not be negative, got {value!r}")
    return (lo, hi)


def _section(obj: Mapping[str, Any], cls: type, source: str, prefix: str) -> dict[str, Any]:
    """Keyword arguments of ``cls`` from the TOML table ``obj`` (nested tables handled by the caller)."""
    known = {f.name: f for f in fields(cls)}
    unknown = sorted(set(obj) - set(known))
    if unknown:
        raise ConfigError(
            f"{source}: unknown key {prefix}{unknown[0]!r}; known keys{' of [' + prefix[:-1] + ']' if prefix else ''}: "
            + ", ".join(sorted(known))
        )
    out: dict[str, Any] = {}
    for key, value in obj.items():
        where = prefix + key
        default = known[key].default
        if key in ("inbound", "outbound", "prompts", "population"):
            if not isinstance(value, dict):
                raise ConfigError(f"{_where(source, where)} must be a table [{where}], got {value!r}")
            continue
        if key == "name":
            if not isinstance(value, str) or not value.strip():
                raise ConfigError(f"{_where(source, where)} must be a non-empty string, got {value!r}")
            out[key] = value
        elif key == "booth_side":
            if value not in ("left", "right"):
                raise ConfigError(f"{_where(source, where)} must be 'left' or 'right', got {value!r}")
            out[key] = value
        elif key == "queue_stops":
            if (
                not isinstance(value, list)
                or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                or not 0 <= value[0] <= value[1] <= 5
            ):
                raise ConfigError(f"{_where(source, where)} must be [low, high] whole numbers, 0 <= low <= high <= 5")
            out[key] = (int(value[0]), int(value[1]))
        elif key == "trips":
            if (
                not isinstance(value, list)
                or len(value) != 2
                or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
                or not 1 <= value[0] <= value[1] <= 200
            ):
                raise ConfigError(f"{_where(source, where)} must be [low, high] whole numbers, 1 <= low <= high <= 200")
            out[key] = (int(value[0]), int(value[1]))
        elif key in ("first_s", "every_s") and value == "none":
            out[key] = None
        elif isinstance(default, tuple):
            out[key] = _range(value, source, key)
        else:
            out[key] = _number(value, source, key)
    return out


def parse_scenario(obj: Mapping[str, Any], source: str = "scenario") -> Scenario:
    """A :class:`Scenario` from a parsed TOML document; ``source`` names it in errors."""
    top = _section(obj, Scenario, source, "")
    inbound_obj = obj.get("inbound", {})
    inbound = _section(inbound_obj, InboundZones, source, "inbound.")
    prompts = _section(inbound_obj.get("prompts", {}), PromptRule, source, "inbound.prompts.")
    outbound = _section(obj.get("outbound", {}), OutboundZone, source, "outbound.")
    population = _section(obj.get("population", {}), Population, source, "population.")
    mix = Population(**population)
    if mix.commuter_share + mix.visitor_share > 1.0 or mix.lookalike_share + mix.misread_share > 1.0:
        raise ConfigError(
            f"{source}: population.commuter_share + visitor_share and lookalike_share + misread_share "
            "must each be at most 1"
        )
    return Scenario(
        **top,
        inbound=InboundZones(**inbound, prompts=PromptRule(**prompts)),
        outbound=OutboundZone(**outbound),
        population=mix,
    )


def load_scenario(name_or_path: str | Path) -> Scenario:
    """The built-in scenario of that name (:data:`BUILTIN_SCENARIOS`) or the scenario file at that path."""
    text: str
    source = str(name_or_path)
    if str(name_or_path) in BUILTIN_SCENARIOS:
        text = resources.files("laneface").joinpath("data", f"scenario-{name_or_path}.toml").read_text("utf-8")
    else:
        path = Path(name_or_path)
        if not path.is_file():
            raise ConfigError(
                f"scenario {source!r}: no such file, and not a built-in scenario ({', '.join(BUILTIN_SCENARIOS)})"
            )
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise ConfigError(f"{source}: cannot be read as UTF-8 text ({exc})") from None
    try:
        obj = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    return parse_scenario(obj, source)
