"""Read untrusted image bytes or files into laneface's image convention.

Every decoded image is returned as ``numpy.ndarray`` of ``uint8``, shape ``(H, W, 3)``, RGB, C-contiguous
(see :mod:`laneface.types`). Every failure is an :class:`~laneface.errors.InvalidImageError` subclass whose
message names the source and says what is wrong.

Conversion rules:

* EXIF orientation is applied, so the pixels are upright; an unreadable EXIF block is ignored;
* multi-frame files (GIF, TIFF, animated PNG/WebP) give their first frame;
* transparent pixels are composited onto a **mid-grey (128, 128, 128)** background: neither black nor
  white, so a cut-out face keeps contrast against its background whatever its skin tone or lighting;
* 16-bit samples are scaled by their bit depth (65535 -> 255), 32-bit integer samples by ``2**31 - 1``
  (negative values become 0); float samples are taken as ``[0, 1]`` intensities when all lie in that range
  and as ``[0, 255]`` values otherwise (NaN becomes 0).
"""

from __future__ import annotations

import io
import os
import stat
import warnings
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, UnidentifiedImageError

from laneface.errors import (
    ConfigError,
    CorruptImageError,
    EmptyImageError,
    ImageTooLargeError,
    InvalidImageError,
    UnsupportedImageError,
)

__all__ = ["ACCEPTED_FORMATS", "ImageLimits", "decode_image", "encode_png", "read_image"]

RgbImage = npt.NDArray[np.uint8]

#: Pillow format names accepted (PGM/PBM are reported as "PPM", camera multi-picture JPEG as "MPO").
ACCEPTED_FORMATS = frozenset({"JPEG", "MPO", "PNG", "BMP", "TIFF", "WEBP", "GIF", "PPM"})

_BACKGROUND = 128
_ORIENTATION_TAG = 0x0112
_TRANSPOSE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_90,
}


@dataclass(frozen=True)
class ImageLimits:
    """Upper bounds checked before an image is decoded (defence against oversized input and bombs)."""

    max_bytes: int = 50 * 1024 * 1024
    max_pixels: int = 64_000_000
    max_side: int = 20_000

    def __post_init__(self) -> None:
        for name in ("max_bytes", "max_pixels", "max_side"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
                raise ConfigError(f"ImageLimits.{name} must be a positive integer, got {value!r}")


_DEFAULT_LIMITS = ImageLimits()


def decode_image(data: bytes, *, limits: ImageLimits = _DEFAULT_LIMITS, source: str = "<bytes>") -> RgbImage:
    """Decode encoded image bytes (JPEG, PNG, BMP, TIFF, WebP, GIF, PPM/PGM) to an upright RGB uint8 array.

    ``source`` names the data in error messages (a file path, an upload name).
    """
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidImageError(f"{source}: image data must be bytes, got {type(data).__name__}")
    size = len(data)
    if size == 0:
        raise EmptyImageError(f"{source}: image data is empty (0 bytes)")
    if size > limits.max_bytes:
        raise ImageTooLargeError(f"{source}: image is {size} bytes, over the limit of {limits.max_bytes} bytes")
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=UserWarning, module=r"PIL\.")  # corrupt-metadata chatter
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as img:
                return _decode_opened(img, limits, source)
    except InvalidImageError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageTooLargeError(f"{source}: image has too many pixels (possible decompression bomb)") from exc
    except UnidentifiedImageError as exc:
        raise CorruptImageError(f"{source}: not a recognised image format, or the data is corrupt") from exc
    except MemoryError as exc:
        raise ImageTooLargeError(f"{source}: not enough memory to decode the image") from exc
    except Exception as exc:  # Pillow plugins raise many types (OSError, SyntaxError, struct.error, ...)
        raise CorruptImageError(f"{source}: image data is corrupt or truncated ({exc})") from exc


def read_image(path: str | os.PathLike[str], *, limits: ImageLimits = _DEFAULT_LIMITS) -> RgbImage:
    """Read and decode one image file; its size is checked against ``limits.max_bytes`` before reading."""
    source = os.fspath(path)
    try:
        st = os.stat(source)
    except FileNotFoundError as exc:
        raise InvalidImageError(f"{source}: image file not found") from exc
    except OSError as exc:
        raise InvalidImageError(f"{source}: cannot access image file ({exc.strerror or exc})") from exc
    if stat.S_ISDIR(st.st_mode):
        raise InvalidImageError(f"{source}: is a directory, not an image file")
    if not stat.S_ISREG(st.st_mode):
        raise InvalidImageError(f"{source}: is not a regular file")
    if st.st_size > limits.max_bytes:
        raise ImageTooLargeError(
            f"{source}: image file is {st.st_size} bytes, over the limit of {limits.max_bytes} bytes"
        )
    try:
        with open(source, "rb") as fh:
            data = fh.read(limits.max_bytes + 1)  # the file may have grown since stat()
    except OSError as exc:
        raise InvalidImageError(f"{source}: cannot read image file ({exc.strerror or exc})") from exc
    return decode_image(data, limits=limits, source=source)


def encode_png(image_rgb: RgbImage) -> bytes:
    """Encode a uint8 ``(H, W, 3)`` RGB array as PNG bytes (lossless)."""
    arr = np.asarray(image_rgb)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or 0 in arr.shape:
        raise ValueError(f"encode_png needs a non-empty uint8 (H, W, 3) array, got {arr.dtype} {arr.shape}")
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(arr)).save(buf, format="PNG")
    return buf.getvalue()


def encode_jpeg(image_rgb: RgbImage, *, height: int | None = None, quality: int = 85) -> bytes:
    """Encode a uint8 ``(H, W, 3)`` RGB array as JPEG, scaled to ``height`` pixels high (aspect kept) if given."""
    arr = np.asarray(image_rgb)
    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[2] != 3 or 0 in arr.shape:
        raise ValueError(f"encode_jpeg needs a non-empty uint8 (H, W, 3) array, got {arr.dtype} {arr.shape}")
    img = Image.fromarray(np.ascontiguousarray(arr))
    if height is not None and height != img.height:
        img = img.resize((max(1, round(img.width * height / img.height)), height), Image.Resampling.BILINEAR)
    buf = io.BytesIO()
    img.save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def _check_size(width: int, height: int, limits: ImageLimits, source: str) -> None:
    if width <= 0 or height <= 0:
        raise CorruptImageError(f"{source}: image has a zero or negative size ({width}x{height})")
    if width > limits.max_side or height > limits.max_side:
        raise ImageTooLargeError(
            f"{source}: image is {width}x{height} pixels, a side is over the limit of {limits.max_side}"
        )
    if width * height > limits.max_pixels:
        raise ImageTooLargeError(
            f"{source}: image is {width}x{height} = {width * height} pixels, over the limit of {limits.max_pixels}"
        )


def _decode_opened(img: Image.Image, limits: ImageLimits, source: str) -> RgbImage:
    fmt = img.format or "unknown"
    if fmt not in ACCEPTED_FORMATS:
        raise UnsupportedImageError(
            f"{source}: image format {fmt} is not accepted (use JPEG, PNG, BMP, TIFF, WebP, GIF or PPM/PGM)"
        )
    _check_size(img.width, img.height, limits, source)  # header only: nothing is decoded yet
    img.load()  # first frame; raises on truncated data as ImageFile.LOAD_TRUNCATED_IMAGES is left alone
    _check_size(img.width, img.height, limits, source)
    rgb = _to_rgb(img, fmt, source)
    return np.ascontiguousarray(_apply_orientation(img, rgb))


def _apply_orientation(img: Image.Image, rgb: RgbImage) -> RgbImage:
    try:
        orientation = img.getexif().get(_ORIENTATION_TAG)
    except Exception:  # invalid EXIF block: keep the stored orientation
        return rgb
    method = _TRANSPOSE_FOR_ORIENTATION.get(orientation) if isinstance(orientation, int) else None
    if method is None:
        return rgb
    return np.asarray(Image.fromarray(rgb).transpose(method), dtype=np.uint8)


def _to_rgb(img: Image.Image, fmt: str, source: str) -> RgbImage:
    mode = img.mode
    try:
        if mode.startswith("I;16") or mode in ("I", "F"):
            grey = _high_depth_to_u8(img, fmt)
            return np.repeat(grey[:, :, None], 3, axis=2)
        if mode == "RGB":
            return np.asarray(img, dtype=np.uint8)
        if img.has_transparency_data:
            return _composite(np.asarray(img.convert("RGBA"), dtype=np.uint8))
        return np.asarray(img.convert("RGB"), dtype=np.uint8)
    except (ValueError, TypeError, NotImplementedError) as exc:
        raise UnsupportedImageError(f"{source}: pixel layout {mode} cannot be converted to RGB ({exc})") from exc


def _composite(rgba: npt.NDArray[np.uint8]) -> RgbImage:
    colour = rgba[:, :, :3].astype(np.uint32)
    alpha = rgba[:, :, 3:].astype(np.uint32)
    out = (colour * alpha + _BACKGROUND * (255 - alpha) + 127) // 255
    return out.astype(np.uint8)


def _high_depth_to_u8(img: Image.Image, fmt: str) -> npt.NDArray[np.uint8]:
    arr = np.asarray(img)
    if img.mode == "F":
        values = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=255.0, neginf=0.0)
        if values.size and values.min() >= 0.0 and values.max() <= 1.0:
            values = values * 255.0
    else:
        full_scale = 65535.0
        if img.mode == "I" and fmt == "TIFF" and _tiff_bits(img) > 16:
            full_scale = float(2**31 - 1)
        values = arr.astype(np.float64) * (255.0 / full_scale)
    return np.clip(np.rint(values), 0, 255).astype(np.uint8)


def _tiff_bits(img: Image.Image) -> int:
    tags = getattr(img, "tag_v2", None)
    bits = tags.get(258) if tags is not None else None
    if isinstance(bits, tuple) and bits:
        bits = bits[0]
    return bits if isinstance(bits, int) else 16
