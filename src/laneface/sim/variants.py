"""Scene variants of the lane simulator: documented parameter changes applied on top of the base scenes.

A variant never changes how the base scenes are drawn: :func:`laneface.sim.writer.scenes` draws every
passage as the base does (the same vehicles, occupants and behaviours for the same seed) and the variant then
overrides some of the scene's parameters (:meth:`Variant.apply_scene`), some of each camera's degradations
(:meth:`Variant.apply_effects`, drawn from a generator of their own so that the base draws stay as they
are) and the camera rig (:attr:`Variant.rig`). ``base`` overrides nothing: its output is byte for byte the
simulator's output without variants. Two exceptions to "the same scene": a variant that sets ``night``
changes the occupants drawn after the first one whose draw depends on the time of day (nobody wears
sunglasses at night), and the start times (hours of the day or of the night).

:data:`VARIANTS` is the one table of variants (``laneface sim --help`` lists it). Several variants compose
(``--variant night-ir --variant heavy-tint``) when they set different parameters.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace
from typing import TYPE_CHECKING

from laneface.errors import ConfigError
from laneface.sim.geometry import Rig

if TYPE_CHECKING:
    import numpy as np

    from laneface.sim.degrade import CameraEffects
    from laneface.sim.scene import PassageScene

__all__ = ["BASE", "IR_TINT_LOSS", "VARIANTS", "Variant", "describe_variants", "resolve_variants"]

Range = tuple[float, float]

# tint films absorb far less of the illuminator's near infrared than of daylight: at night a film keeps this
# share of the loss it has by day (the base scenes' rear windows: 0.25-0.7 by day, 0.6-0.9 at night)
IR_TINT_LOSS = 0.4


@dataclass(frozen=True)
class Variant:
    """A named set of parameter changes; ``None`` (or the rig's defaults) keeps the base scenes' value."""

    name: str
    description: str
    # every passage at night under the infrared illuminator (True) or by day (False); None: --night-share
    night: bool | None = None
    seconds: Range | None = None  # passage length (the base: 3.0-4.5 s at 10 fps)
    approach_share: float | None = None  # share of the passage the vehicle moves (the base: 0.6, then it stands)
    blur_scale: float | None = None  # motion blur lengths times this (the base: 0-6 px)
    rear_tint: Range | None = None  # daylight transmission of the rear windows, rows 2-3 (the base: 0.25-0.7)
    front_tint: Range | None = None  # ... of the front side windows (the base: clear)
    shield_tint: Range | None = None  # ... of the windshield (the base: clear)
    glare: Range | None = None  # sun glare peak on every camera's glass by day (the base: front, 45 %, 0.35-0.95)
    glare_size: float | None = None  # glare spot size relative to the base's
    reflection: Range | None = None  # opacity of the scene mirrored in the glass by day (the base: 0.08-0.35)
    rig: Rig = field(default_factory=Rig)

    def overrides(self) -> dict[str, object]:
        """The parameters this variant sets (name -> value)."""
        out: dict[str, object] = {}
        for f in fields(self):
            if f.name in ("name", "description"):
                continue
            value = getattr(self, f.name)
            if f.name == "rig":
                out.update({f"rig.{k.name}": getattr(value, k.name) for k in fields(Rig) if _rig_set(value, k.name)})
            elif value is not None:
                out[f.name] = value
        return out

    def apply_scene(self, scene: PassageScene, rng: np.random.Generator) -> PassageScene:
        """``scene`` (drawn as the base draws it) with this variant's scene parameters (``night`` is not one:
        it decides how the occupants are drawn, see :func:`laneface.sim.writer.scenes`)."""
        changes: dict[str, object] = {}
        if self.seconds is not None:
            lo, hi = (round(s * scene.fps) for s in self.seconds)
            changes["frames"] = int(rng.integers(lo, hi + 1))
        if self.approach_share is not None:
            changes["approach_share"] = self.approach_share
        return replace(scene, **changes) if changes else scene  # type: ignore[arg-type]

    def apply_effects(self, fx: CameraEffects, camera: str, rng: np.random.Generator) -> CameraEffects:
        """One camera's degradations (drawn as the base draws them) with this variant's changes."""
        changes: dict[str, object] = {}
        if self.blur_scale is not None:
            changes["blur_px"] = round(fx.blur_px * self.blur_scale)
        # a variant makes the glass darker and the glare stronger, never the reverse of what the base drew
        for key, span in (("tint", self.rear_tint), ("front_tint", self.front_tint), ("shield_tint", self.shield_tint)):
            if span is not None and not (key == "tint" and camera == "front"):  # it sees no rear window
                day = float(rng.uniform(*span))
                changes[key] = min(float(getattr(fx, key)), 1.0 - IR_TINT_LOSS * (1.0 - day) if fx.night else day)
        if not fx.night:  # glare and reflections come from the sun and the sky
            if self.glare is not None:
                changes["glare"] = max(fx.glare, float(rng.uniform(*self.glare)))
            if self.glare_size is not None:
                changes["glare_size"] = self.glare_size
            if self.reflection is not None:
                changes["reflection"] = max(fx.reflection, float(rng.uniform(*self.reflection)))
        return replace(fx, **changes) if changes else fx  # type: ignore[arg-type]


def _rig_set(rig: Rig, name: str) -> bool:
    return bool(getattr(rig, name) != getattr(Rig(), name))


BASE = Variant("base", "the base scenes, unchanged: the scenes every default was chosen on")

VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        BASE,
        Variant(
            "night-ir",
            "every passage at night under the infrared illuminator: greyscale, IR-lit faces, dark cabin, noise",
            night=True,
        ),
        Variant(
            "heavy-tint",
            "heavily tinted glass: rear windows 10-25 %, front side windows 25-45 %, windshield 60-80 % "
            "transmission by day",
            rear_tint=(0.10, 0.25),
            front_tint=(0.25, 0.45),
            shield_tint=(0.60, 0.80),
        ),
        Variant(
            "fast",
            "fast vehicles: passages of 1.0-1.5 s, the vehicle moving all along, twice the motion blur",
            seconds=(1.0, 1.5),
            approach_share=1.0,
            blur_scale=2.0,
        ),
        Variant(
            "far",
            "cameras twice as far along their lines of sight: the same view angles, faces about half the size",
            rig=Rig(distance_scale=2.0),
        ),
        Variant(
            "glare",
            "every passage by day with strong sun glare (twice the spot size) and reflections on every camera's glass",
            night=False,
            glare=(0.7, 1.0),
            glare_size=2.0,
            reflection=(0.3, 0.55),
        ),
        Variant("low-res", "cameras of 640x360 instead of 960x540 (the same field of view)", rig=Rig(size=(640, 360))),
        Variant(
            "camera-height",
            "cameras mounted 0.9 m higher (front 3.0 m instead of 2.1 m, sides 2.5 m), aimed at the same points",
            rig=Rig(raise_m=0.9),
        ),
    )
}


def describe_variants() -> str:
    """One line per variant: its name and what it changes."""
    return "\n".join(f"{v.name}: {v.description}" for v in VARIANTS.values())


def resolve_variants(names: list[str] | tuple[str, ...]) -> Variant:
    """The variant made of ``names`` (applied together, named in the table's order: ``night-ir+fast``; none
    or only ``base`` = the base scenes).

    Raises :class:`ConfigError` for an unknown name (listing the known ones) or for two variants that set
    the same parameter to different values."""
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        known = ", ".join(VARIANTS)
        raise ConfigError(f"unknown scene variant(s) {', '.join(map(repr, unknown))}; known variants: {known}")
    picked = [v for v in VARIANTS.values() if v.name in names and v is not BASE]  # in the table's order
    if not picked:
        return BASE
    if len(picked) == 1:
        return picked[0]
    merged: dict[str, object] = {}
    rig: dict[str, object] = {}
    for v in picked:
        for key, value in v.overrides().items():
            target, k = (rig, key[4:]) if key.startswith("rig.") else (merged, key)
            if k in target and target[k] != value:
                raise ConfigError(f"scene variants {', '.join(x.name for x in picked)} disagree on {key}")
            target[k] = value
    name = "+".join(v.name for v in picked)
    return Variant(name, "; ".join(v.description for v in picked), rig=Rig(**rig), **merged)  # type: ignore[arg-type]
