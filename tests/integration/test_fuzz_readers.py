"""Fuzzing the readers of untrusted input with hypothesis, for a bounded time: images (bytes), videos and frame
folders (files), passage directories (``passage.json``).

Each call either returns a correct value or raises the reader's specific :class:`~laneface.errors.LanefaceError`
subclass (never a bare ``ValueError``, ``KeyError``, ``OSError``, ``RecursionError`` or ``cv2.error``), and never
hangs: a call slower than the hypothesis deadline fails, a hung one is stopped by the module's pytest timeout.

Inputs: random bytes; valid seed files (JPEG, PNG, GIF, TIFF, WebP, BMP, PPM; MPEG-4 and MJPEG videos) with
random byte flips, insertions, deletions, truncations and 32-bit values written over them; headers declaring
huge dimensions; random JSON documents and valid passage.json documents with fields replaced by random values
or hostile paths. About a minute on 2 cores; ``LANEFACE_FUZZ_SCALE=N`` runs N times as many examples.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import string
import struct
import tempfile
import zlib
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from laneface.capture.frames import IMAGE_SUFFIXES, FrameFolderSource, VideoFileSource
from laneface.capture.passage import Passage, passage_id_of, read_passage
from laneface.errors import ImageTooLargeError, InvalidImageError, InvalidPassageError, InvalidVideoError
from laneface.imageio import ImageLimits, decode_image

pytestmark = pytest.mark.timeout(300)

SCALE = max(1, int(os.environ.get("LANEFACE_FUZZ_SCALE", "1") or 1))
LIMITS = ImageLimits(max_bytes=1 << 20, max_pixels=1_000_000, max_side=4000)


def fuzz(examples: int) -> Any:
    return settings(
        max_examples=examples * SCALE,
        deadline=timedelta(seconds=10),
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.large_base_example],
    )


# seeds ------------------------------------------------------------------------------------------------------------
def _image_seeds() -> dict[str, bytes]:
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (12, 16, 3), dtype=np.uint8)
    seeds: dict[str, bytes] = {}
    for name, image, fmt, options in (
        ("jpeg", Image.fromarray(rgb), "JPEG", {}),
        ("png", Image.fromarray(rgb), "PNG", {}),
        ("png-rgba", Image.fromarray(np.dstack([rgb, rgb[..., :1]])), "PNG", {}),
        ("png-16bit", Image.fromarray(rgb[..., 0].astype(np.uint16) * 257), "PNG", {}),
        ("gif", Image.fromarray(rgb).convert("P"), "GIF", {}),
        ("tiff", Image.fromarray(rgb), "TIFF", {}),
        ("tiff-deflate", Image.fromarray(rgb), "TIFF", {"compression": "tiff_deflate"}),
        ("webp", Image.fromarray(rgb), "WEBP", {}),
        ("bmp", Image.fromarray(rgb), "BMP", {}),
        ("ppm", Image.fromarray(rgb), "PPM", {}),
    ):
        buf = io.BytesIO()
        image.save(buf, fmt, **options)
        seeds[name] = buf.getvalue()
    return seeds


IMAGE_SEEDS = _image_seeds()


def _video_seeds(directory: Path) -> dict[str, bytes]:
    import cv2

    rng = np.random.default_rng(1)
    seeds: dict[str, bytes] = {}
    for name, fourcc, suffix in (("mp4v", "mp4v", ".mp4"), ("mjpg", "MJPG", ".avi")):
        path = directory / f"seed{suffix}"
        writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), 10, (48, 32))
        for _ in range(5):
            writer.write(rng.integers(0, 256, (32, 48, 3), dtype=np.uint8))
        writer.release()
        if path.is_file() and path.stat().st_size:
            seeds[name + suffix] = path.read_bytes()
    return seeds


@pytest.fixture(scope="module")
def scratch() -> Iterator[Path]:
    """One directory for the module (hypothesis examples reuse it; function-scoped tmp_path would be shared)."""
    path = Path(tempfile.mkdtemp(prefix="laneface-fuzz-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def video_seeds(scratch: Path) -> dict[str, bytes]:
    seeds = _video_seeds(scratch)
    if not seeds:
        pytest.skip("OpenCV writes no MPEG-4 or MJPEG video here")
    return seeds


# mutations --------------------------------------------------------------------------------------------------------
_SPECIAL_U32 = (0, 1, 0x7F, 0x80, 0xFF, 0xFFFF, 0x10000, 0x7FFFFFFF, 0x80000000, 0xFFFFFFFF)
mutation = st.tuples(
    st.sampled_from(("flip", "insert", "delete", "truncate", "u32")),
    st.integers(min_value=0, max_value=1 << 20),
    st.binary(min_size=1, max_size=16),
    st.sampled_from(_SPECIAL_U32),
)


def mutate(data: bytes, mutations: list[tuple[str, int, bytes, int]]) -> bytes:
    out = bytearray(data)
    for op, at, chunk, value in mutations:
        pos = at % (len(out) + 1)
        if op == "flip" and out:
            out[pos % len(out)] ^= chunk[0] or 0xFF
        elif op == "insert":
            out[pos:pos] = chunk
        elif op == "delete":
            del out[pos : pos + len(chunk) * 4]
        elif op == "truncate":
            del out[pos:]
        elif op == "u32":
            out[pos : pos + 4] = struct.pack("<I" if chunk[0] & 1 else ">I", value)
    return bytes(out)


# images -----------------------------------------------------------------------------------------------------------
def check_image(data: bytes) -> None:
    try:
        image = decode_image(data, limits=LIMITS, source="fuzz")
    except InvalidImageError:
        return
    assert isinstance(image, np.ndarray) and image.dtype == np.uint8
    assert image.ndim == 3 and image.shape[2] == 3 and image.flags.c_contiguous
    height, width = image.shape[:2]
    assert 0 < width <= LIMITS.max_side and 0 < height <= LIMITS.max_side
    assert width * height <= LIMITS.max_pixels


@fuzz(300)
@given(st.binary(max_size=2048))
def test_image_random_bytes(data: bytes) -> None:
    check_image(data)


@fuzz(4000)
@given(st.sampled_from(sorted(IMAGE_SEEDS)), st.lists(mutation, min_size=1, max_size=8))
def test_image_mutated(seed: str, mutations: list[tuple[str, int, bytes, int]]) -> None:
    check_image(mutate(IMAGE_SEEDS[seed], mutations))


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")


def _jpeg(width: int, height: int) -> bytes:
    data = bytearray(IMAGE_SEEDS["jpeg"])
    sof = data.find(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def _gif(width: int, height: int) -> bytes:
    data = bytearray(IMAGE_SEEDS["gif"])
    data[6:10] = struct.pack("<HH", width, height)  # logical screen
    descriptor = data.find(b"\x2c", 13)
    data[descriptor + 5 : descriptor + 9] = struct.pack("<HH", width, height)
    return bytes(data)


def _bmp(width: int, height: int) -> bytes:
    data = bytearray(IMAGE_SEEDS["bmp"])
    data[18:26] = struct.pack("<ii", width, height)
    return bytes(data)


def _ppm(width: int, height: int) -> bytes:
    return f"P6\n{width} {height}\n255\n".encode() + b"\x80" * 96


def _tiff(width: int, height: int) -> bytes:
    entries = [(256, 4, width), (257, 4, height), (258, 3, 8), (259, 3, 1), (262, 3, 1), (273, 4, 8 + 2 + 7 * 12 + 4)]
    entries += [(278, 4, height), (279, 4, 64)]
    ifd = struct.pack("<H", len(entries)) + b"".join(struct.pack("<HHII", t, k, 1, v) for t, k, v in entries)
    return b"II*\x00" + struct.pack("<I", 8) + ifd + b"\0\0\0\0" + b"\x80" * 64


def _webp(width: int, height: int) -> bytes:
    vp8x = b"\0\0\0\0" + (width - 1).to_bytes(3, "little") + (height - 1).to_bytes(3, "little")
    body = b"WEBP" + b"VP8X" + struct.pack("<I", len(vp8x)) + vp8x
    return b"RIFF" + struct.pack("<I", len(body)) + body


HEADERS = {"png": _png, "jpeg": _jpeg, "gif": _gif, "bmp": _bmp, "ppm": _ppm, "tiff": _tiff, "webp": _webp}
SIDE_BITS = {"png": 31, "jpeg": 16, "gif": 16, "bmp": 31, "ppm": 31, "tiff": 32, "webp": 24}


@fuzz(600)
@given(st.sampled_from(sorted(HEADERS)), st.data())
def test_image_huge_declared_dimensions(fmt: str, data: st.DataObject) -> None:
    big = st.integers(min_value=LIMITS.max_side + 1, max_value=(1 << SIDE_BITS[fmt]) - 1)
    small = st.integers(min_value=1, max_value=64)
    width, height = data.draw(st.tuples(big, small) | st.tuples(small, big) | st.tuples(big, big))
    with pytest.raises(InvalidImageError) as refused:
        decode_image(HEADERS[fmt](width, height), limits=LIMITS, source="fuzz")
    # libwebp itself refuses a canvas over 16383 px before the size is known: corrupt, not too large
    expected = InvalidImageError if fmt == "webp" else ImageTooLargeError
    assert isinstance(refused.value, expected), f"{fmt} {width}x{height}: {refused.value!r}"


# videos and frame folders -----------------------------------------------------------------------------------------
def check_video(path: Path, stride: int) -> None:
    try:
        source = VideoFileSource(path, "front", 10.0)
        last = -1
        for count, frame in enumerate(source.frames(stride)):
            assert frame.image_rgb.dtype == np.uint8 and frame.image_rgb.ndim == 3 and frame.image_rgb.shape[2] == 3
            assert frame.index > last and frame.index % stride == 0
            last = frame.index
            if count > 200:
                break
    except InvalidVideoError:
        return


@fuzz(400)
@given(st.binary(max_size=4096), st.sampled_from([".mp4", ".avi", ".mkv", ""]))
def test_video_random_bytes(scratch: Path, data: bytes, suffix: str) -> None:
    path = scratch / f"random{suffix}"
    path.write_bytes(data)
    check_video(path, 1)


@fuzz(1500)
@given(st.data(), st.lists(mutation, min_size=1, max_size=6), st.integers(min_value=1, max_value=3))
def test_video_mutated(
    scratch: Path,
    video_seeds: dict[str, bytes],
    data: st.DataObject,
    mutations: list[tuple[str, int, bytes, int]],
    stride: int,
) -> None:
    name = data.draw(st.sampled_from(sorted(video_seeds)))
    path = scratch / f"mutated{Path(name).suffix}"
    path.write_bytes(mutate(video_seeds[name], mutations))
    check_video(path, stride)


frame_file = st.tuples(
    st.sampled_from(sorted(IMAGE_SUFFIXES | {".txt", ""})),
    st.sampled_from(sorted(IMAGE_SEEDS)),
    st.lists(mutation, max_size=3),
)


@fuzz(500)
@given(st.lists(frame_file, max_size=4), st.integers(min_value=1, max_value=3))
def test_frame_folder(scratch: Path, files: list[tuple[str, str, list[Any]]], stride: int) -> None:
    folder = scratch / "frames"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for i, (suffix, seed, mutations) in enumerate(files):
        (folder / f"{i:03d}{suffix}").write_bytes(mutate(IMAGE_SEEDS[seed], mutations))
    try:
        source = FrameFolderSource(folder, "side", 10.0, limits=LIMITS)
        indexes = [frame.index for frame in source.frames(stride)]
    except InvalidVideoError:
        return
    assert indexes == list(range(0, len(source.files), stride))


# passage.json -----------------------------------------------------------------------------------------------------
VALID_PASSAGE: dict[str, Any] = {
    "passage_id": "P-1",
    "lane": "L1",
    "direction": "inbound",
    "started_at": "2026-11-22T15:04:05Z",
    "documents": ["DOC-1"],
    "cameras": {"front": {"file": "cam_front.mp4", "view": "front", "fps": 10}, "side": {"view": "left", "fps": 10}},
}
HOSTILE_PATHS = [
    "cam_front.mp4",
    "cam_side",
    "../outside.mp4",
    "/etc/passwd",
    "cam_side/../cam_front.mp4",
    "cam_side/../../x",
    "a\x00b",
    "\ud800.mp4",
    "x" * 300,
    "y/" * 2000,
    "",
    ".",
    "..",
    "~",
    "cam_front.mp4\n",
]
json_scalar = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.integers(min_value=10**300, max_value=10**310)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(HOSTILE_PATHS)
)
json_value = st.recursive(
    json_scalar,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=12,
)
camera_name = st.text(alphabet=string.ascii_letters + string.digits + "_-.", min_size=1, max_size=8) | st.text(
    max_size=300
)
camera_spec = st.fixed_dictionaries(
    {},
    optional={
        "file": st.sampled_from(HOSTILE_PATHS) | json_value,
        "view": st.sampled_from(["front", "left", ""]) | json_value,
        "fps": st.sampled_from([10, 0, -1, 1e309, 10**400, True, "10"]) | json_value,
    },
)


@st.composite
def mutated_passage(draw: st.DrawFn) -> dict[str, Any]:
    doc = json.loads(json.dumps(VALID_PASSAGE))
    for key in draw(st.lists(st.sampled_from(sorted(VALID_PASSAGE)), max_size=3, unique=True)):
        if draw(st.booleans()):
            del doc[key]
        else:
            doc[key] = draw(json_value)
    if draw(st.booleans()):
        doc["cameras"] = draw(st.dictionaries(camera_name, camera_spec | json_value, max_size=3))
    return doc


def _encode(doc: object) -> bytes:
    return json.dumps(doc).encode("utf-8", "surrogatepass")


passage_bytes = st.one_of(
    json_value.map(_encode),
    mutated_passage().map(_encode),
    st.binary(max_size=512),
    st.integers(min_value=1, max_value=50_000).map(lambda n: b"[" * n + b"]" * n),
    st.integers(min_value=1, max_value=50_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n),
    st.integers(min_value=4000, max_value=20_000).map(lambda n: b'{"passage_id": ' + b"7" * n + b"}"),
    st.sampled_from([b"\xef\xbb\xbf{}", b"\xff\xfe{\x00}\x00", b"", b"null", b'{"passage_id": "\\ud800"}']),
)


@pytest.fixture(scope="module")
def passage_dir(scratch: Path) -> Path:
    import cv2

    directory = scratch / "passage"
    (directory / "cam_side").mkdir(parents=True)
    Image.new("RGB", (16, 12), (90, 90, 90)).save(directory / "cam_side" / "000.png")
    writer = cv2.VideoWriter(str(directory / "cam_front.mp4"), cv2.VideoWriter_fourcc(*"mp4v"), 10, (48, 32))
    writer.write(np.zeros((32, 48, 3), np.uint8))
    writer.release()
    return directory


def test_the_valid_passage_reads(passage_dir: Path) -> None:
    (passage_dir / "passage.json").write_text(json.dumps(VALID_PASSAGE), encoding="utf-8")
    passage = read_passage(passage_dir)
    assert [c.name for c in passage.cameras] == ["front", "side"]


def _with_camera(spec: dict[str, Any], name: str = "front") -> bytes:
    return _encode({**VALID_PASSAGE, "cameras": {name: spec}})


# what fuzzing found (each crashed the reader with the exception named, before the fix in capture/passage.py)
FOUND = {
    "RecursionError: arrays nested 100000 deep": b"[" * 100_000 + b"]" * 100_000,
    "ValueError: a 5000-digit integer": b'{"passage_id": ' + b"7" * 5000 + b"}",
    "OverflowError: fps of 400 digits": _with_camera({"file": "cam_front.mp4", "fps": 10**400}),
    "ValueError: NUL byte in a camera file": _with_camera({"file": "a\x00b", "fps": 10}),
    "UnicodeEncodeError: lone surrogate in a camera file": _with_camera({"file": "\ud800.mp4", "fps": 10}),
    "OSError ENAMETOOLONG: camera file of 300 characters": _with_camera({"file": "x" * 300, "fps": 10}),
    "OSError ENAMETOOLONG: camera name of 300 characters": _with_camera({"fps": 10}, name="x" * 300),
}


@pytest.mark.parametrize("data", FOUND.values(), ids=FOUND.keys())
def test_passage_json_found_by_fuzzing(passage_dir: Path, data: bytes) -> None:
    (passage_dir / "passage.json").write_bytes(data)
    with pytest.raises((InvalidPassageError, InvalidVideoError)):
        read_passage(passage_dir)
    passage_id_of(passage_dir)


@fuzz(2500)
@given(passage_bytes)
def test_passage_json(passage_dir: Path, data: bytes) -> None:
    (passage_dir / "passage.json").write_bytes(data)
    pid = passage_id_of(passage_dir)
    assert pid is None or (isinstance(pid, str) and pid)
    try:
        passage = read_passage(passage_dir)
    except (InvalidPassageError, InvalidVideoError):
        return
    assert isinstance(passage, Passage)
    assert passage.passage_id == pid and passage.lane.strip()
    assert passage.direction in ("inbound", "outbound")
    root = passage_dir.resolve()
    for camera in passage.cameras:
        assert camera.path.is_relative_to(root) and camera.path.exists()
        assert 0 < camera.fps <= 1000 and camera.view
