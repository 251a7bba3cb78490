"""Validation profiles (named lists of requirements) and the raw-to-scalar mappings, read from TOML.

The shipped configuration is ``laneface/data/quality_profiles.toml`` (its comments explain every limit).
A user file with the same layout is applied on top of it: ``[mappings.NAME]`` tables are merged key by
key, ``[profiles.NAME]`` tables replace or add whole profiles (``extends = "OTHER"`` starts from another
profile's requirements). Any malformed file raises :class:`~laneface.errors.ConfigError` naming the file.

A requirement is met when the value satisfies ``min <= value <= max`` (either bound optional; a value equal
to a bound meets it). A measure that failed to assess, or has no scalar when the requirement is on the
scalar, does not meet it.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from laneface.errors import ConfigError
from laneface.quality.base import MeasureResult
from laneface.quality.mapping import SigmoidMapping

__all__ = [
    "Profile",
    "QualityConfig",
    "Requirement",
    "load_mappings",
    "load_profiles",
    "load_quality_config",
]

SHIPPED_FILE = "quality_profiles.toml"


def _fmt(x: float) -> str:
    return f"{x:.4g}"


def _fmt_value(x: float) -> str:
    return f"{x:.1f}" if abs(x) >= 10 else f"{x:.3g}"


@dataclass(frozen=True)
class Requirement:
    """``min <= value <= max`` on a measure's raw value or scalar (``on``)."""

    measure: str
    on: Literal["raw", "scalar"] = "raw"
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        if self.min is None and self.max is None:
            raise ValueError(f"requirement on {self.measure!r} needs min and/or max")
        for bound in (self.min, self.max):
            if bound is not None and not math.isfinite(bound):
                raise ValueError(f"requirement on {self.measure!r} has a non-finite bound")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"requirement on {self.measure!r} has min > max")

    @property
    def key(self) -> tuple[str, str]:
        return (self.measure, self.on)

    def describe(self) -> str:
        """The requirement as text: ``"yaw >= -5"``, ``"-5 <= yaw <= 5"``, ``"sharpness scalar >= 50"``."""
        subject = self.measure if self.on == "raw" else f"{self.measure} scalar"
        lo, hi = self.min, self.max
        if lo is not None and hi is not None:
            return f"{_fmt(lo)} <= {subject} <= {_fmt(hi)}"
        if lo is not None:
            return f"{subject} >= {_fmt(lo)}"
        return f"{subject} <= {_fmt(hi if hi is not None else math.inf)}"

    def check(self, result: MeasureResult | None) -> str | None:
        """``None`` when met, else the reason: ``"inter_eye_distance >= 90 (got 41.2)"``."""
        if result is None:
            return f"{self.describe()} (not measured)"
        if result.status != "ok":
            why = f": {result.reason}" if result.reason else ""
            return f"{self.describe()} (failure to assess{why})"
        value = result.raw if self.on == "raw" else result.scalar
        if value is None:
            return f"{self.describe()} (no {self.on} value)"
        if (self.min is not None and value < self.min) or (self.max is not None and value > self.max):
            return f"{self.describe()} (got {_fmt_value(value)})"
        return None


@dataclass(frozen=True)
class Profile:
    """A named set of validation requirements."""

    name: str
    requirements: tuple[Requirement, ...]
    description: str = ""

    def evaluate(self, measures: Mapping[str, MeasureResult]) -> tuple[str, ...]:
        """The requirements not met by ``measures`` (empty when the face passes), in profile order."""
        failed = (req.check(measures.get(req.measure)) for req in self.requirements)
        return tuple(f for f in failed if f is not None)


@dataclass(frozen=True)
class QualityConfig:
    """Mappings by measure name and profiles by profile name."""

    mappings: Mapping[str, SigmoidMapping]
    profiles: Mapping[str, Profile]

    def profile(self, name: str) -> Profile:
        try:
            return self.profiles[name]
        except KeyError:
            raise ConfigError(f"unknown quality profile {name!r}; known: {', '.join(sorted(self.profiles))}") from None


def _read_toml(source: str, text: str) -> dict[str, Any]:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    unknown = set(data) - {"mappings", "profiles"}
    if unknown:
        raise ConfigError(f"{source}: unknown top-level keys {sorted(unknown)}; expected [mappings.*], [profiles.*]")
    for key in ("mappings", "profiles"):
        if not isinstance(data.get(key, {}), dict):
            raise ConfigError(f"{source}: {key} must be a table of tables")
    return data


def _shipped_text() -> str:
    from importlib.resources import files

    return files("laneface").joinpath("data", SHIPPED_FILE).read_text(encoding="utf-8")


def _user_text(user_file: Path) -> str:
    try:
        return Path(user_file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read quality profiles file {user_file}: {exc}") from None


def _parse_requirements(source: str, profile: str, table: Any) -> list[Requirement]:
    if not isinstance(table, dict):
        raise ConfigError(f"{source}: profiles.{profile}.requirements must be a table")
    out: list[Requirement] = []
    for measure, spec in table.items():
        for item in spec if isinstance(spec, list) else [spec]:
            where = f"{source}: profiles.{profile}.requirements.{measure}"
            if not isinstance(item, dict):
                raise ConfigError(f"{where} must be a table like {{ min = 20 }}")
            unknown = set(item) - {"min", "max", "on"}
            if unknown:
                raise ConfigError(f"{where}: unknown keys {sorted(unknown)}; allowed: min, max, on")
            on = item.get("on", "raw")
            if on not in ("raw", "scalar"):
                raise ConfigError(f"{where}: on must be 'raw' or 'scalar', got {on!r}")
            bounds = {k: item.get(k) for k in ("min", "max")}
            if any(v is not None and (isinstance(v, bool) or not isinstance(v, int | float)) for v in bounds.values()):
                raise ConfigError(f"{where}: min and max must be numbers")
            try:
                out.append(
                    Requirement(
                        measure,
                        on,
                        None if bounds["min"] is None else float(bounds["min"]),
                        None if bounds["max"] is None else float(bounds["max"]),
                    )
                )
            except ValueError as exc:
                raise ConfigError(f"{where}: {exc}") from None
    return out


def _merge(base: list[Requirement], extra: list[Requirement]) -> tuple[Requirement, ...]:
    replaced = {r.key for r in extra}
    return tuple([r for r in base if r.key not in replaced] + extra)


def _apply(config: QualityConfig, source: str, data: dict[str, Any]) -> QualityConfig:
    mappings = dict(config.mappings)
    raw_mappings: dict[str, Any] = {}
    for name, table in data.get("mappings", {}).items():
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: mappings.{name} must be a table")
        old = config.mappings.get(name)
        merged = {} if old is None else {k: v for k, v in vars(old).items() if v is not None}
        merged.update(table)
        raw_mappings[name] = merged
    for name, table in raw_mappings.items():
        try:
            mappings[name] = SigmoidMapping.from_dict(table)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"{source}: mappings.{name}: {exc}") from None
    profiles = dict(config.profiles)
    for name, table in data.get("profiles", {}).items():
        if not isinstance(table, dict):
            raise ConfigError(f"{source}: profiles.{name} must be a table")
        unknown = set(table) - {"description", "requirements", "extends"}
        if unknown:
            raise ConfigError(f"{source}: profiles.{name}: unknown keys {sorted(unknown)}")
        description = table.get("description", "")
        if not isinstance(description, str):
            raise ConfigError(f"{source}: profiles.{name}.description must be a string")
        own = _parse_requirements(source, name, table.get("requirements", {}))
        base: list[Requirement] = []
        if "extends" in table:
            parent = profiles.get(table["extends"]) if isinstance(table["extends"], str) else None
            if parent is None:
                raise ConfigError(f"{source}: profiles.{name} extends unknown profile {table['extends']!r}")
            base = list(parent.requirements)
            description = description or parent.description
        requirements = _merge(base, own)
        if not requirements:
            raise ConfigError(f"{source}: profiles.{name} has no requirements")
        profiles[name] = Profile(name, requirements, description)
    return QualityConfig(mappings, profiles)


def load_quality_config(user_file: Path | None = None) -> QualityConfig:
    """The shipped mappings and profiles, with ``user_file`` (if given) applied on top."""
    config = _apply(QualityConfig({}, {}), f"<shipped {SHIPPED_FILE}>", _read_toml(SHIPPED_FILE, _shipped_text()))
    if user_file is not None:
        config = _apply(config, str(user_file), _read_toml(str(user_file), _user_text(user_file)))
    return config


def load_profiles(user_file: Path | None = None) -> dict[str, Profile]:
    """Profiles by name: the shipped ``document``, ``vehicle``, ``lenient`` plus or replaced by ``user_file``'s."""
    return dict(load_quality_config(user_file).profiles)


def load_mappings(user_file: Path | None = None) -> dict[str, SigmoidMapping]:
    """Raw-to-scalar mappings by measure name, shipped ones merged with ``user_file``'s."""
    return dict(load_quality_config(user_file).mappings)
