"""Tests of laneface.imageio: every image is crafted in memory with Pillow/numpy."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from laneface import imageio
from laneface.errors import (
    ConfigError,
    CorruptImageError,
    EmptyImageError,
    ImageTooLargeError,
    InvalidImageError,
    UnsupportedImageError,
)
from laneface.imageio import ImageLimits, decode_image, encode_png, read_image

GREY = 128


def _save(img: Image.Image, fmt: str, **params: Any) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **params)
    return buf.getvalue()


def _noise(h: int, w: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=(h, w, 3), dtype=np.uint8)


def _smooth(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.stack([xx * 255 // (w - 1), yy * 255 // (h - 1), np.full_like(xx, 90)], axis=2).astype(np.uint8)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _png_header_only(width: int, height: int) -> bytes:
    """A tiny 1-bit greyscale PNG whose header claims ``width`` x ``height`` pixels."""
    ihdr = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", ihdr)
        + _png_chunk(b"IDAT", zlib.compress(b"\0" * 64))
        + _png_chunk(b"IEND", b"")
    )


def _assert_rgb(arr: np.ndarray, h: int, w: int) -> None:
    assert isinstance(arr, np.ndarray)
    assert arr.dtype == np.uint8
    assert arr.shape == (h, w, 3)
    assert arr.flags.c_contiguous


# --- valid images ------------------------------------------------------------------------------------


def test_png_round_trip_is_exact() -> None:
    rgb = _noise(17, 23)
    out = decode_image(_save(Image.fromarray(rgb), "PNG"))
    _assert_rgb(out, 17, 23)
    np.testing.assert_array_equal(out, rgb)


def test_encode_png_round_trip_is_exact() -> None:
    rgb = _noise(9, 31, seed=3)
    np.testing.assert_array_equal(decode_image(encode_png(rgb)), rgb)


def test_encode_png_rejects_wrong_arrays() -> None:
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), np.float32))


def test_jpeg_round_trip_is_close() -> None:
    rgb = _smooth(48, 64)
    out = decode_image(_save(Image.fromarray(rgb), "JPEG", quality=95))
    _assert_rgb(out, 48, 64)
    assert np.abs(out.astype(int) - rgb.astype(int)).mean() < 3.0


@pytest.mark.parametrize(("fmt", "params"), [("BMP", {}), ("TIFF", {}), ("WEBP", {"lossless": True}), ("PPM", {})])
def test_other_accepted_formats_are_exact(fmt: str, params: dict[str, Any]) -> None:
    rgb = _noise(11, 13, seed=5)
    np.testing.assert_array_equal(decode_image(_save(Image.fromarray(rgb), fmt, **params)), rgb)


def test_grayscale_png_gives_three_equal_channels() -> None:
    grey = np.arange(60, dtype=np.uint8).reshape(6, 10) * 4
    out = decode_image(_save(Image.fromarray(grey), "PNG"))
    _assert_rgb(out, 6, 10)
    for c in range(3):
        np.testing.assert_array_equal(out[:, :, c], grey)


def test_pgm_greyscale() -> None:
    grey = np.array([[0, 100], [200, 255]], dtype=np.uint8)
    out = decode_image(_save(Image.fromarray(grey), "PPM"))
    np.testing.assert_array_equal(out[:, :, 1], grey)


def test_one_bit_image() -> None:
    img = Image.new("1", (4, 2), 0)
    img.putpixel((1, 0), 1)
    out = decode_image(_save(img, "PNG"))
    assert out[0, 1].tolist() == [255, 255, 255]
    assert out[0, 0].tolist() == [0, 0, 0]


def test_sixteen_bit_png_is_scaled_not_clipped() -> None:
    a = np.array([[65535, 32768, 0, 257]], dtype=np.uint16)
    data = _save(Image.fromarray(a), "PNG")
    assert Image.open(io.BytesIO(data)).mode.startswith("I")
    out = decode_image(data)
    _assert_rgb(out, 1, 4)
    assert out[0, 0].tolist() == [255, 255, 255]
    assert abs(int(out[0, 1, 0]) - 128) <= 1
    assert out[0, 2, 0] == 0
    assert out[0, 3, 0] == 1  # 257 / 65535 * 255 = 1, a clip would give 255


def test_sixteen_bit_big_endian_tiff() -> None:
    a = np.array([[65535, 32768, 0]], dtype=">u2")
    img = Image.fromarray(a)
    assert img.mode == "I;16B"
    out = decode_image(_save(img, "TIFF"))
    assert out[0, :, 2].tolist() == [255, 128, 0]


def test_sixteen_bit_pgm() -> None:
    data = b"P5\n2 1\n65535\n" + struct.pack(">HH", 65535, 32768)
    out = decode_image(data)
    assert out[0, :, 0].tolist() == [255, 128]


def test_thirty_two_bit_int_tiff() -> None:
    a = np.array([[2**31 - 1, 2**30, 0, -7]], dtype=np.int32)
    out = decode_image(_save(Image.fromarray(a), "TIFF"))
    assert out[0, :, 0].tolist() == [255, 128, 0, 0]


def test_float_tiff() -> None:
    a = np.array([[1.0, 0.5, 0.0, np.nan]], dtype=np.float32)
    out = decode_image(_save(Image.fromarray(a), "TIFF"))
    assert out[0, :, 0].tolist() == [255, 128, 0, 0]


def test_rgba_transparent_pixels_become_mid_grey() -> None:
    rgba = np.zeros((2, 3, 4), np.uint8)
    rgba[..., 0] = 255  # red everywhere
    rgba[0, 0, 3] = 0  # fully transparent
    rgba[0, 1, 3] = 255  # opaque
    rgba[0, 2, 3] = 128  # half
    rgba[1, :, 3] = 255
    out = decode_image(_save(Image.fromarray(rgba), "PNG"))
    _assert_rgb(out, 2, 3)
    assert out[0, 0].tolist() == [GREY, GREY, GREY]
    assert out[0, 1].tolist() == [255, 0, 0]
    assert out[0, 2].tolist() == [192, 64, 64]  # 255*128/255 + 128*127/255 ~ 191.7, 128*127/255 ~ 63.7


def test_la_image() -> None:
    img = Image.new("LA", (2, 1), (10, 255))
    img.putpixel((1, 0), (10, 0))
    out = decode_image(_save(img, "PNG"))
    assert out[0, 0].tolist() == [10, 10, 10]
    assert out[0, 1].tolist() == [GREY, GREY, GREY]


def test_palette_with_transparency() -> None:
    img = Image.new("P", (3, 1), 0)
    img.putpalette([255, 0, 0, 0, 255, 0] + [0, 0, 0] * 254)
    img.putpixel((1, 0), 1)
    img.putpixel((2, 0), 1)
    data = _save(img, "PNG", transparency=1)
    out = decode_image(data)
    assert out[0, 0].tolist() == [255, 0, 0]
    assert out[0, 1].tolist() == [GREY, GREY, GREY]
    assert out[0, 2].tolist() == [GREY, GREY, GREY]


def test_palette_without_transparency() -> None:
    img = Image.new("P", (2, 1), 0)
    img.putpalette([0, 0, 255, 10, 20, 30] + [0, 0, 0] * 254)
    img.putpixel((1, 0), 1)
    out = decode_image(_save(img, "PNG"))
    assert out[0].tolist() == [[0, 0, 255], [10, 20, 30]]


def test_cmyk_jpeg() -> None:
    img = Image.new("CMYK", (32, 16), (0, 0, 0, 0))  # white
    img.paste((0, 255, 255, 0), (0, 0, 16, 16))  # red on the left half
    data = _save(img, "JPEG", quality=95)
    assert Image.open(io.BytesIO(data)).mode == "CMYK"
    out = decode_image(data)
    _assert_rgb(out, 16, 32)
    assert np.abs(out[8, 4].astype(int) - [255, 0, 0]).max() < 12
    assert np.abs(out[8, 28].astype(int) - [255, 255, 255]).max() < 12


def test_multi_frame_gif_gives_first_frame() -> None:
    frames = [Image.new("RGB", (4, 4), c) for c in [(255, 0, 0), (0, 0, 255)]]
    data = _save(frames[0], "GIF", save_all=True, append_images=frames[1:])
    assert getattr(Image.open(io.BytesIO(data)), "n_frames", 1) == 2
    out = decode_image(data)
    _assert_rgb(out, 4, 4)
    assert out[2, 2].tolist() == [255, 0, 0]


def test_multi_page_tiff_gives_first_page() -> None:
    pages = [Image.new("RGB", (3, 2), c) for c in [(0, 255, 0), (9, 9, 9)]]
    out = decode_image(_save(pages[0], "TIFF", save_all=True, append_images=pages[1:]))
    assert out[1, 2].tolist() == [0, 255, 0]


# --- EXIF orientation --------------------------------------------------------------------------------


def _marked(width: int = 40, height: int = 20) -> Image.Image:
    """Blue image with a 10x10 red block in its stored top-left corner."""
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[..., 2] = 255
    rgb[:10, :10] = (255, 0, 0)
    return Image.fromarray(rgb)


def _exif(orientation: int) -> Image.Exif:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return exif


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_exif_orientation_6_rotates_clockwise(fmt: str) -> None:
    out = decode_image(_save(_marked(), fmt, exif=_exif(6)))
    _assert_rgb(out, 40, 20)  # transposed shape
    # a 90 degree clockwise turn moves the stored top-left corner to the top-right
    assert np.abs(out[5, 15].astype(int) - [255, 0, 0]).max() < 40
    assert np.abs(out[5, 4].astype(int) - [0, 0, 255]).max() < 40
    assert np.abs(out[35, 5].astype(int) - [0, 0, 255]).max() < 40


@pytest.mark.parametrize("orientation", range(1, 9))
def test_every_exif_orientation_matches_pillow(orientation: int) -> None:
    from PIL import ImageOps

    img = _marked(12, 10)
    data = _save(img, "PNG", exif=_exif(orientation))
    expected = np.asarray(ImageOps.exif_transpose(Image.open(io.BytesIO(data))).convert("RGB"))
    np.testing.assert_array_equal(decode_image(data), expected)


@pytest.mark.parametrize("exif", [b"Exif\x00\x00garbage-not-a-tiff-header", b"Exif\x00\x00MM\x00*\x00\x00\xff\xff\xff"])
def test_invalid_exif_falls_back_to_stored_orientation(exif: bytes) -> None:
    data = _save(_marked(), "JPEG", exif=exif)
    out = decode_image(data)
    _assert_rgb(out, 20, 40)
    assert np.abs(out[5, 5].astype(int) - [255, 0, 0]).max() < 40


def test_out_of_range_orientation_is_ignored() -> None:
    out = decode_image(_save(_marked(), "PNG", exif=_exif(42)))
    _assert_rgb(out, 20, 40)
    assert out[5, 5].tolist() == [255, 0, 0]


# --- invalid data ------------------------------------------------------------------------------------


def test_zero_bytes_is_empty_image_error() -> None:
    with pytest.raises(EmptyImageError, match=r"upload\.jpg"):
        decode_image(b"", source="upload.jpg")


def test_garbage_is_corrupt() -> None:
    garbage = np.random.default_rng(1).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    with pytest.raises(CorruptImageError, match=r"junk\.bin"):
        decode_image(garbage, source="junk.bin")


def test_not_bytes_is_invalid() -> None:
    with pytest.raises(InvalidImageError, match="bytes"):
        decode_image("not bytes")  # type: ignore[arg-type]


def test_truncated_jpeg_is_corrupt() -> None:
    data = _save(Image.fromarray(_noise(64, 64)), "JPEG", quality=90)
    with pytest.raises(CorruptImageError, match=r"cut\.jpg"):
        decode_image(data[: len(data) // 2], source="cut.jpg")


def test_truncated_png_is_corrupt() -> None:
    data = _save(Image.fromarray(_noise(64, 64)), "PNG")
    with pytest.raises(CorruptImageError):
        decode_image(data[: len(data) // 2])
    with pytest.raises(CorruptImageError):
        decode_image(data[:40])  # inside the header chunks


def _pillow_non_oserror_cases() -> dict[str, bytes]:
    """Corrupt inputs on which Pillow raises ValueError/SyntaxError rather than OSError."""
    rgb = _noise(8, 8)
    png = bytearray(_save(Image.fromarray(rgb), "PNG"))
    short_ihdr = bytearray(png)
    short_ihdr[11] = 1  # IHDR length 13 -> 1
    broken = bytearray(png)
    i = png.index(b"IDAT") - 4
    broken[i : i + 4] = struct.pack(">I", struct.unpack(">I", png[i : i + 4])[0] - 10)  # next chunk misaligned
    bmp = bytearray(_save(Image.fromarray(rgb), "BMP"))
    bmp[30] = 2  # RLE4 compression with 24 bits per pixel
    tif = bytearray(_save(Image.fromarray(np.full((4, 4), 40000, np.uint16)), "TIFF"))
    tif[12] = 10  # ImageWidth stored as SRATIONAL
    return {
        "ppm_no_data": b"P6\n8 8\n2",
        "png_short_ihdr": bytes(short_ihdr[:43]),
        "png_broken_chunk": bytes(broken),
        "bmp_bad_raw_mode": bytes(bmp),
        "tiff_bad_width_type": bytes(tif),
    }


@pytest.mark.parametrize("name", sorted(_pillow_non_oserror_cases()))
def test_pillow_value_and_syntax_errors_become_corrupt(name: str) -> None:
    data = _pillow_non_oserror_cases()[name]
    with pytest.raises(CorruptImageError, match=name):
        decode_image(data, source=name)


@pytest.mark.parametrize(("width", "height"), [(0, 5), (5, 0), (0, 0)])
def test_zero_size_dimensions_are_corrupt(width: int, height: int) -> None:
    with pytest.raises(CorruptImageError):
        decode_image(_png_header_only(width, height))
    with pytest.raises(CorruptImageError):
        decode_image(f"P5\n{width} {height}\n255\n".encode())


@pytest.mark.parametrize("fmt", ["TGA", "PCX", "ICO"])
def test_format_pillow_reads_but_we_refuse_is_unsupported(fmt: str) -> None:
    with pytest.raises(UnsupportedImageError, match=fmt):
        decode_image(_save(Image.new("RGB", (8, 8)), fmt), source="x")


# --- limits ------------------------------------------------------------------------------------------


def test_header_with_huge_dimensions_is_refused_before_decoding() -> None:
    data = _png_header_only(9000, 9000)  # 81 Mpx > 64 Mpx default, under Pillow's own bomb thresholds
    assert len(data) < 200
    with pytest.raises(ImageTooLargeError, match="9000x9000"):
        decode_image(data)


def test_side_over_limit_is_refused() -> None:
    with pytest.raises(ImageTooLargeError, match="side"):
        decode_image(_png_header_only(25_000, 10))


def test_pillow_decompression_bomb_is_too_large() -> None:
    generous = ImageLimits(max_pixels=10**12, max_side=10**7)
    with pytest.raises(ImageTooLargeError, match="bomb"):
        decode_image(_png_header_only(30_000, 30_000), limits=generous)  # Pillow's bomb error
    with pytest.raises(ImageTooLargeError, match="bomb"):
        decode_image(_png_header_only(10_000, 10_000), limits=generous)  # Pillow's bomb warning


def test_lowered_pixel_limit() -> None:
    data = _save(Image.new("RGB", (20, 20)), "PNG")
    with pytest.raises(ImageTooLargeError, match="400"):
        decode_image(data, limits=ImageLimits(max_pixels=100))
    _assert_rgb(decode_image(data, limits=ImageLimits(max_pixels=400)), 20, 20)


def test_bytes_over_limit() -> None:
    data = _save(Image.new("RGB", (20, 20)), "PNG")
    with pytest.raises(ImageTooLargeError, match="bytes"):
        decode_image(data, limits=ImageLimits(max_bytes=len(data) - 1), source="big.png")
    _assert_rgb(decode_image(data, limits=ImageLimits(max_bytes=len(data))), 20, 20)


@pytest.mark.parametrize("field", ["max_bytes", "max_pixels", "max_side"])
@pytest.mark.parametrize("value", [0, -1, True, 1.5])
def test_invalid_limits_are_config_errors(field: str, value: object) -> None:
    with pytest.raises(ConfigError, match=field):
        ImageLimits(**{field: value})  # type: ignore[arg-type]


# --- read_image --------------------------------------------------------------------------------------


def test_read_image_valid_file(tmp_path: Path) -> None:
    rgb = _noise(5, 7)
    path = tmp_path / "ok.png"
    path.write_bytes(encode_png(rgb))
    np.testing.assert_array_equal(read_image(path), rgb)
    np.testing.assert_array_equal(read_image(str(path)), rgb)


def test_read_image_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.jpg"
    with pytest.raises(InvalidImageError, match="not found") as info:
        read_image(path)
    assert str(path) in str(info.value)


def test_read_image_directory(tmp_path: Path) -> None:
    with pytest.raises(InvalidImageError, match="directory") as info:
        read_image(tmp_path)
    assert str(tmp_path) in str(info.value)


def test_read_image_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.png"
    path.write_bytes(b"")
    with pytest.raises(EmptyImageError, match=r"empty\.png"):
        read_image(path)


def test_read_image_checks_size_before_reading(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "big.png"
    path.write_bytes(encode_png(_noise(32, 32)))

    def no_open(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was opened before its size was checked")

    monkeypatch.setattr(imageio, "open", no_open, raising=False)
    with pytest.raises(ImageTooLargeError, match=r"big\.png"):
        read_image(path, limits=ImageLimits(max_bytes=100))


# --- property tests ----------------------------------------------------------------------------------


def _check_result_or_error(data: bytes) -> None:
    try:
        out = decode_image(data, limits=ImageLimits(max_pixels=4_000_000, max_side=4_000))
    except InvalidImageError:
        return
    assert out.dtype == np.uint8
    assert out.ndim == 3
    assert out.shape[2] == 3
    assert out.shape[0] > 0
    assert out.shape[1] > 0
    assert out.flags.c_contiguous


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_decode_or_raise_invalid_image(data: bytes) -> None:
    _check_result_or_error(data)


_SEEDS = [
    _save(Image.fromarray(_noise(8, 8)), "PNG"),
    _save(Image.fromarray(_noise(8, 8)), "JPEG"),
    _save(Image.fromarray(_noise(8, 8)), "GIF"),
    _save(Image.fromarray(_noise(8, 8)), "BMP"),
    _save(Image.fromarray(_noise(8, 8)), "TIFF"),
    _save(Image.fromarray(_noise(8, 8)), "WEBP"),
    _save(Image.fromarray(_noise(8, 8)), "PPM"),
    _save(Image.fromarray(np.full((4, 4), 40000, np.uint16)), "PNG"),
]


@st.composite
def _mutated_images(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(_SEEDS)))
    for _ in range(draw(st.integers(0, 8))):
        data[draw(st.integers(0, len(data) - 1))] = draw(st.integers(0, 255))
    cut = draw(st.integers(1, len(data)))
    return bytes(data[:cut])


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_mutated_images())
def test_mutated_images_decode_or_raise_invalid_image(data: bytes) -> None:
    _check_result_or_error(data)
