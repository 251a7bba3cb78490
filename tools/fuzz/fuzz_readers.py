"""Coverage-guided fuzzing (atheris / libFuzzer) of the readers of untrusted input, for long runs outside CI.

CI runs the bounded hypothesis suite (tests/integration/test_fuzz_readers.py); this harness is for hours-long
runs. atheris is not a dependency of laneface: install it beside it (``pip install atheris``, a manylinux wheel
for CPython 3.11), then::

    python tools/fuzz/fuzz_readers.py image   -max_total_time=600 corpus/image/
    python tools/fuzz/fuzz_readers.py passage -max_total_time=600 corpus/passage/
    python tools/fuzz/fuzz_readers.py video   -max_total_time=600 -timeout=20 corpus/video/

Arguments after the target go to libFuzzer (``-help=1`` lists them). A call may return a value or raise a
:class:`laneface.errors.LanefaceError`; any other exception is a finding (libFuzzer writes the input to
``crash-<sha1>`` and stops), and so is a call slower than ``-timeout`` seconds.
"""

from __future__ import annotations

import contextlib
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

import atheris

with atheris.instrument_imports():
    from laneface.capture.frames import VideoFileSource
    from laneface.capture.passage import passage_id_of, read_passage
    from laneface.errors import LanefaceError
    from laneface.imageio import ImageLimits, decode_image

LIMITS = ImageLimits(max_bytes=1 << 20, max_pixels=1_000_000, max_side=4000)
SCRATCH = Path(tempfile.mkdtemp(prefix="laneface-atheris-"))


def fuzz_image(data: bytes) -> None:
    with contextlib.suppress(LanefaceError):
        decode_image(data, limits=LIMITS, source="atheris")


def fuzz_passage(data: bytes) -> None:
    directory = SCRATCH / "passage"
    directory.mkdir(exist_ok=True)
    (directory / "cam_front.mp4").write_bytes(b"\0" * 16)
    (directory / "passage.json").write_bytes(data)
    passage_id_of(directory)
    with contextlib.suppress(LanefaceError):
        read_passage(directory)


def fuzz_video(data: bytes) -> None:
    path = SCRATCH / "video.mp4"
    path.write_bytes(data)
    try:
        for count, _frame in enumerate(VideoFileSource(path, "front", 10.0).frames()):
            if count > 100:
                break
    except LanefaceError:
        pass


TARGETS: dict[str, Callable[[bytes], None]] = {"image": fuzz_image, "passage": fuzz_passage, "video": fuzz_video}


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{','.join(TARGETS)}}} [libFuzzer options] [corpus dir]")
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
