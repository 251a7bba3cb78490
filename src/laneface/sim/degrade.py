"""What the lane's cameras do to the picture: tinted rear glass, windshield glare and reflections,
exposure, night infrared, motion blur, sensor noise and JPEG compression (the video codec adds its own).

Parameters are drawn once per camera and passage (:func:`sample_effects`); :class:`Degrader` applies
them frame by frame. Everything is seeded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from laneface.sim.geometry import FRAME_H, FRAME_W

__all__ = ["CameraEffects", "Degrader", "sample_effects"]

PAD = 64  # margin of the sliding glare, reflection and noise layers


@dataclass(frozen=True)
class CameraEffects:
    night: bool  # near-infrared: grey, noisy, cabin lit by the illuminator
    gain: float  # exposure multiplier
    gamma: float
    glare: float  # peak strength of the sun's glare on the glass, 0 = none
    reflection: float  # opacity of the scene reflected in the glass
    tint: float  # transmission of tinted rear windows (1 = clear)
    blur_px: int  # motion blur length
    blur_angle_deg: float
    noise_sigma: float
    jpeg_quality: int | None
    # set by scene variants only (:mod:`.variants`); left out of the JSON at these defaults
    shield_tint: float = 1.0  # transmission of the windshield
    front_tint: float = 1.0  # transmission of the front side windows (row 1)
    glare_size: float = 1.0  # size of the glare spot relative to the base scenes'

    def as_json(self) -> dict[str, object]:
        from dataclasses import asdict

        out = {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}
        for key, default in _VARIANT_DEFAULTS.items():
            if out[key] == default:
                del out[key]
        return out


_VARIANT_DEFAULTS = {"shield_tint": 1.0, "front_tint": 1.0, "glare_size": 1.0}


def sample_effects(rng: np.random.Generator, camera: str, night: bool) -> CameraEffects:
    front = camera == "front"
    return CameraEffects(
        night=night,
        gain=float(rng.uniform(0.75, 1.35)) if not night else float(rng.uniform(0.9, 1.3)),
        gamma=float(rng.uniform(0.8, 1.25)),
        glare=float(rng.uniform(0.35, 0.95)) if (front and not night and rng.random() < 0.45) else 0.0,
        reflection=float(rng.uniform(0.08, 0.35)) if not night else float(rng.uniform(0.0, 0.08)),
        tint=1.0 if front else (float(rng.uniform(0.25, 0.7)) if not night else float(rng.uniform(0.6, 0.9))),
        blur_px=int(rng.choice([0, 0, 2, 3, 4, 6])),
        blur_angle_deg=float(rng.uniform(70, 110)) if front else float(rng.uniform(-20, 20)),
        noise_sigma=float(rng.uniform(2, 7)) if not night else float(rng.uniform(8, 16)),
        jpeg_quality=int(rng.integers(30, 80)) if rng.random() < 0.35 else None,
    )


def _smooth_field(rng: np.random.Generator, cells: tuple[int, int], size: tuple[int, int]) -> npt.NDArray[np.float32]:
    import cv2

    small = rng.random(size=(cells[1], cells[0])).astype(np.float32)
    return np.asarray(cv2.resize(small, size, interpolation=cv2.INTER_CUBIC), dtype=np.float32)


class Degrader:
    """Applies one camera's :class:`CameraEffects` to its frames; layers slide with the vehicle."""

    def __init__(
        self, effects: CameraEffects, rng: np.random.Generator, size: tuple[int, int] = (FRAME_W, FRAME_H)
    ) -> None:
        import cv2

        self.fx = effects
        self.size = size
        big = (size[0] + 2 * PAD, size[1] + 2 * PAD)
        tile = rng.standard_normal(size=(256, 256, 3), dtype=np.float32) * effects.noise_sigma
        reps = (-(-big[1] // 256), -(-big[0] // 256), 1)
        noise = np.tile(tile, reps)[: big[1], : big[0]]  # a 256-px tile: invisible once encoded
        self.noise_pos = np.clip(noise, 0, 255).astype(np.uint8)
        self.noise_neg = np.clip(-noise, 0, 255).astype(np.uint8)
        self.offsets = rng.integers(0, 2 * PAD, size=(64, 2))
        small = np.zeros((big[1] // 4, big[0] // 4), np.float32)  # drawn at quarter size, then enlarged
        if effects.glare > 0:
            cx, cy = int(rng.integers(PAD, big[0] - PAD)) // 4, int(rng.integers(PAD, big[1] // 2)) // 4
            axes = (int(rng.integers(30, 80)), int(rng.integers(12, 35)))
            if effects.glare_size != 1.0:
                axes = (round(axes[0] * effects.glare_size), round(axes[1] * effects.glare_size))
            cv2.ellipse(small, (cx, cy), axes, float(rng.uniform(-30, 30)), 0, 360, 1.0, -1)
            for _ in range(int(rng.integers(1, 4))):  # streaks
                x = int(rng.integers(0, small.shape[1]))
                end = (x + int(rng.integers(-50, 50)), small.shape[0])
                cv2.line(small, (x, 0), end, 0.6, int(rng.integers(2, 10)))
            small = np.asarray(cv2.GaussianBlur(small, (0, 0), 9), dtype=np.float32)
            small *= effects.glare / max(1e-6, float(small.max()))
        self.glare = np.asarray(cv2.resize(small, big, interpolation=cv2.INTER_LINEAR), dtype=np.float32)
        sky = _smooth_field(rng, (12, 7), big)  # the sky and buildings mirrored in the glass
        bars = np.zeros((1, big[0]), np.float32)  # poles and trees: soft vertical bands
        for _ in range(int(rng.integers(2, 6))):
            x, w = int(rng.integers(0, big[0])), int(rng.integers(6, 40))
            bars[0, x : x + w] = float(rng.uniform(-0.5, 0.5))
        bars = np.asarray(cv2.GaussianBlur(bars, (0, 0), 6), dtype=np.float32)
        self.reflection = np.clip((0.75 * sky + bars) * 255, 0, 255).astype(np.float32)
        lut = np.clip(((np.arange(256) / 255.0) ** effects.gamma) * 255 * effects.gain, 0, 255)
        self.lut = lut.astype(np.uint8)

    def apply(
        self,
        frame_rgb: npt.NDArray[np.uint8],
        window_mask: npt.NDArray[np.uint8],
        tint_mask: npt.NDArray[np.uint8] | None,
        index: int,
        t: float,
        shield_mask: npt.NDArray[np.uint8] | None = None,
    ) -> npt.NDArray[np.uint8]:
        """The degraded frame ``index`` (time share ``t``); ``frame_rgb`` is not modified.

        ``tint_mask`` marks the rear windows (rows 2-3), ``shield_mask`` the windshield; the rest of
        ``window_mask`` is the front side windows."""
        import cv2

        fx = self.fx
        fw, fh = self.size
        out = frame_rgb.copy()
        x, y, w, h = cv2.boundingRect(window_mask)
        front_glass = fx.shield_tint < 1.0 or fx.front_tint < 1.0
        if w > 0 and h > 0 and (fx.tint < 1.0 or fx.glare > 0 or fx.reflection > 0 or front_glass):
            # every glass effect is out = in * keep + add (per pixel, same for the three channels):
            # tint scales, a reflection mixes in the mirrored scene, glare mixes in white
            roi = (slice(y, y + h), slice(x, x + w))
            win = window_mask[roi].astype(np.float32) * (1.0 / 255.0)
            keep = np.ones((h, w), np.float32)
            add = np.zeros((h, w), np.float32)
            if tint_mask is not None and fx.tint < 1.0:
                keep -= tint_mask[roi].astype(np.float32) * ((1.0 - fx.tint) / 255.0)
            if front_glass:
                keep -= self._front_glass(window_mask[roi], tint_mask, shield_mask, roi)
            shift = int(t * PAD * 1.5) % (2 * PAD)
            if fx.reflection > 0:
                r = win * fx.reflection
                keep *= 1.0 - 0.5 * r
                add += r * self.reflection[shift + y : shift + y + h, PAD + x : PAD + x + w]
            if fx.glare > 0:
                gy = PAD // 2 + shift // 2 + y
                g = win * self.glare[gy : gy + h, PAD + x : PAD + x + w]
                keep *= 1.0 - g
                add = add * (1.0 - g) + 255.0 * g
            # in * keep + add == blend of in (weight keep) and colour add / (1 - keep) (weight 1 - keep)
            rest = np.maximum(1.0 - keep, 1e-4)
            colour = _u8(np.clip(add / rest, 0, 255))
            colour3 = _u8(cv2.cvtColor(colour, cv2.COLOR_GRAY2RGB))
            part = np.ascontiguousarray(out[roi])
            out[roi] = _u8(cv2.blendLinear(part, colour3, np.ascontiguousarray(keep), np.ascontiguousarray(rest)))
        if fx.night:
            grey = _u8(cv2.cvtColor(out, cv2.COLOR_RGB2GRAY))
            small = cv2.resize(window_mask, (fw // 8, fh // 8), interpolation=cv2.INTER_AREA)
            lit = _u8(cv2.resize(small, (fw, fh), interpolation=cv2.INTER_LINEAR))  # soft edges
            boost = _u8(cv2.multiply(grey, lit, scale=0.4 / 255.0))
            grey = _u8(cv2.addWeighted(grey, 1.0, boost, 1.0, 10.0))
            out = _u8(cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB))
        out = _u8(cv2.LUT(out, self.lut))
        if fx.blur_px >= 2:
            vertical = 45 <= abs(fx.blur_angle_deg) % 180 <= 135
            out = _u8(cv2.blur(out, (1, fx.blur_px) if vertical else (fx.blur_px, 1)))
        ox, oy = (int(v) for v in self.offsets[index % len(self.offsets)])
        out = _u8(cv2.add(out, self.noise_pos[oy : oy + fh, ox : ox + fw]))
        out = _u8(cv2.subtract(out, self.noise_neg[oy : oy + fh, ox : ox + fw]))
        if fx.jpeg_quality is not None:
            ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, fx.jpeg_quality])
            if ok:
                out = _u8(cv2.imdecode(buf, cv2.IMREAD_UNCHANGED))
        return np.ascontiguousarray(out, dtype=np.uint8)

    def _front_glass(
        self,
        window: npt.NDArray[np.uint8],
        tint_mask: npt.NDArray[np.uint8] | None,
        shield_mask: npt.NDArray[np.uint8] | None,
        roi: tuple[slice, slice],
    ) -> npt.NDArray[np.float32]:
        """Transmission lost through the windshield and the front side windows, per pixel of ``roi``."""
        import cv2

        fx = self.fx
        shield = shield_mask[roi] if shield_mask is not None else np.zeros_like(window)
        side = _u8(cv2.subtract(window, shield))  # saturating: anti-aliased edges stay in [0, 255]
        if tint_mask is not None:
            side = _u8(cv2.subtract(side, tint_mask[roi]))
        lost = shield.astype(np.float32) * ((1.0 - fx.shield_tint) / 255.0)
        lost += side.astype(np.float32) * ((1.0 - fx.front_tint) / 255.0)
        return np.asarray(lost, dtype=np.float32)


def _u8(a: object) -> npt.NDArray[np.uint8]:
    return np.asarray(a, dtype=np.uint8)
