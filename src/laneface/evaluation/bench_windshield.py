"""`laneface bench windshield`: faces found behind real windshields in traffic-camera frames.

Dataset layout (YOLO): ``<root>/images/<stem>.jpg`` and ``<root>/labels/<stem>.txt``; each label line is
``class cx cy w h`` with the centre and size normalised to [0, 1] by the image width and height. Every
labelled box is a windshield of a moving vehicle, so every one of them has a driver behind it.

For each frame the detector runs on each windshield region, enlarged by ``margin`` (a share of the box
width and height on every side, so a head at the edge of the glass is not cut), via
:func:`laneface.detection.regions.detect_in_regions`, keeping faces cut by a region's edge. A face
belongs to the windshield whose (unenlarged) box contains the face box centre. A windshield *has a face*
when at least one face belongs to it.
Timing is the wall time of the detection calls of one frame (crop, detection, merge), on the calling
thread; image decoding is not counted.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from laneface.detection.base import FaceDetector
from laneface.errors import ConfigError, InvalidDatasetError
from laneface.types import FaceDetections

__all__ = [
    "IMAGE_SUFFIXES",
    "EnhancedInput",
    "WindshieldBenchResult",
    "WindshieldFrame",
    "bench_windshields",
    "clahe_gamma",
    "load_windshield_dataset",
    "parse_yolo_labels",
]

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


@dataclass(frozen=True)
class WindshieldFrame:
    """One frame and its label file (boxes are converted to pixels once the image size is known)."""

    image_path: Path
    label_path: Path


def parse_yolo_labels(path: Path, width: int, height: int) -> npt.NDArray[np.float32]:
    """Boxes (N, 4) pixel xyxy from a YOLO label file; a file with no lines gives zero boxes.

    Raises InvalidDatasetError for a missing file, a line without 5 fields, a non-number, a centre outside
    [0, 1], a width or height not in (0, 1], or an image size that is not positive.
    """
    if width <= 0 or height <= 0:
        raise InvalidDatasetError(f"image size must be positive for {path}, got {width}x{height}")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InvalidDatasetError(f"label file {path} does not exist") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise InvalidDatasetError(f"label file {path} cannot be read: {exc}") from None
    boxes: list[list[float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        fields = line.split()
        if len(fields) != 5:
            raise InvalidDatasetError(f"{path} line {number}: expected 'class cx cy w h', got {len(fields)} fields")
        try:
            _cls, cx, cy, bw, bh = (float(f) for f in fields)
        except ValueError:
            raise InvalidDatasetError(f"{path} line {number}: not a number in {line.strip()!r}") from None
        if not (0.0 <= cx <= 1.0 and 0.0 <= cy <= 1.0):
            raise InvalidDatasetError(f"{path} line {number}: centre ({cx}, {cy}) is outside [0, 1]")
        if not (0.0 < bw <= 1.0 and 0.0 < bh <= 1.0):
            raise InvalidDatasetError(f"{path} line {number}: size ({bw}, {bh}) must lie in (0, 1]")
        x0, x1 = max(0.0, (cx - bw / 2) * width), min(float(width), (cx + bw / 2) * width)
        y0, y1 = max(0.0, (cy - bh / 2) * height), min(float(height), (cy + bh / 2) * height)
        boxes.append([x0, y0, x1, y1])
    return np.asarray(boxes, dtype=np.float32).reshape(-1, 4)


def load_windshield_dataset(root: Path) -> list[WindshieldFrame]:
    """Frames of ``root/images`` paired with ``root/labels/<stem>.txt``, sorted by file name."""
    images_dir, labels_dir = root / "images", root / "labels"
    if not images_dir.is_dir() or not labels_dir.is_dir():
        raise InvalidDatasetError(f"{root} must hold the folders images/ and labels/ (YOLO layout)")
    images = sorted(p for p in images_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not images:
        raise InvalidDatasetError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {images_dir}")
    frames = []
    for image in images:
        label = labels_dir / (image.stem + ".txt")
        if not label.is_file():
            raise InvalidDatasetError(f"image {image.name} has no label file {label}")
        frames.append(WindshieldFrame(image, label))
    return frames


def _enlarge(boxes: npt.NDArray[np.float32], margin: float, width: int, height: int) -> npt.NDArray[np.float32]:
    w = boxes[:, 2] - boxes[:, 0]
    h = boxes[:, 3] - boxes[:, 1]
    out = np.stack(
        [
            np.maximum(0.0, boxes[:, 0] - margin * w),
            np.maximum(0.0, boxes[:, 1] - margin * h),
            np.minimum(float(width), boxes[:, 2] + margin * w),
            np.minimum(float(height), boxes[:, 3] + margin * h),
        ],
        axis=1,
    )
    return np.asarray(out, dtype=np.float32).reshape(-1, 4)


def faces_per_box(faces_xyxy: npt.NDArray[np.float32], boxes_xyxy: npt.NDArray[np.float32]) -> list[int]:
    """For each box, how many face boxes have their centre inside it (a face counts for the first such box)."""
    counts = [0] * len(boxes_xyxy)
    for f in faces_xyxy:
        cx, cy = (f[0] + f[2]) / 2, (f[1] + f[3]) / 2
        for i, b in enumerate(boxes_xyxy):
            if b[0] <= cx <= b[2] and b[1] <= cy <= b[3]:
                counts[i] += 1
                break
    return counts


def _annotate(
    image_rgb: npt.NDArray[np.uint8],
    boxes: npt.NDArray[np.float32],
    counts: Sequence[int],
    faces: npt.NDArray[np.float32],
) -> npt.NDArray[np.uint8]:
    import cv2

    out = np.ascontiguousarray(image_rgb.copy())
    for b, n in zip(boxes, counts, strict=True):
        colour = (0, 200, 0) if n else (230, 0, 0)
        cv2.rectangle(out, (int(b[0]), int(b[1])), (int(b[2]), int(b[3])), colour, 2)
        cv2.putText(out, f"{n} face(s)", (int(b[0]), max(12, int(b[1]) - 4)), 0, 0.5, colour, 1, cv2.LINE_AA)
    for f in faces:
        cv2.rectangle(out, (int(f[0]), int(f[1])), (int(f[2]), int(f[3])), (255, 255, 0), 1)
    return out


Localise = Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.float32]]
Enhance = Callable[[npt.NDArray[np.uint8]], npt.NDArray[np.uint8]]


def clahe_gamma(
    image_rgb: npt.NDArray[np.uint8], *, target_mean: float = 110.0, clip_limit: float = 2.0, tile_px: int = 24
) -> npt.NDArray[np.uint8]:
    """Exposure and local-contrast correction of a windshield crop, whatever its brightness: the lane's
    :func:`~laneface.detection.enhance.enhance_dark` (gamma towards ``target_mean``, brightening only, then
    CLAHE on the luma) with the bench's smaller tiles. Any ``image -> image`` callable can be passed to
    :func:`bench_windshields` instead.
    """
    from laneface.config import EnhanceSettings
    from laneface.detection.enhance import enhance_dark

    params = EnhanceSettings(below_mean=255.0, target_mean=target_mean, clip_limit=clip_limit, tile_px=tile_px)
    return enhance_dark(image_rgb, params)


class EnhancedInput:
    """A FaceDetector running ``base`` on ``enhance(image)`` (boxes stay in the given image's pixels)."""

    def __init__(self, base: FaceDetector, enhance: Enhance) -> None:
        self.base = base
        self.enhance = enhance
        self.name = base.name

    def detect(self, image_rgb: npt.NDArray[np.uint8]) -> FaceDetections:
        return self.base.detect(self.enhance(image_rgb))


@dataclass(frozen=True)
class WindshieldBenchResult:
    """Units: shares in [0, 1], times in milliseconds per frame (median and mean over frames).

    ``regions`` says where faces were searched: "labels" (the labelled boxes: an oracle localiser) or
    "localised" (boxes from a localiser that never sees the labels). In both cases a labelled windshield
    has a face when a found face's centre lies inside its labelled box. ``faces_elsewhere`` counts faces
    found in searched regions but outside every labelled box (other vehicles, or false faces).
    ``cpu_ms_*`` is the calling thread's CPU time (``time.process_time``), localisation included.
    """

    detector: str
    frames: int
    windshields: int
    windshields_with_face: int
    share_with_face: float
    faces_per_windshield: float  # mean over windshields
    faces_histogram: dict[str, int]  # "0", "1", "2", "3+" -> windshields
    median_face_width_px: float | None  # width of the found face boxes, original image pixels
    ms_per_frame_median: float
    ms_per_frame_mean: float
    margin: float
    regions: str = "labels"
    faces_elsewhere: int = 0
    cpu_ms_per_frame_mean: float = 0.0
    localised_boxes: int | None = None  # boxes the localiser returned, all frames
    localised_matched: int | None = None  # labelled windshields with a localised box of IoU >= 0.5
    misses: list[str] = field(default_factory=list)  # image file names with a windshield without a face

    @property
    def localiser_recall(self) -> float | None:
        if self.localised_matched is None:
            return None
        return self.localised_matched / self.windshields

    def as_json(self) -> dict[str, object]:
        from dataclasses import asdict

        data = asdict(self)
        data["misses"] = len(self.misses)
        data["localiser_recall"] = self.localiser_recall
        return data


def bench_windshields(
    detector: FaceDetector,
    frames: Sequence[WindshieldFrame],
    *,
    margin: float = 0.1,
    max_face_share: float | None = None,
    localise: Localise | None = None,
    enhance: Enhance | None = None,
    save_examples: Path | None = None,
    max_examples: int = 12,
    save_found: Path | None = None,
    progress: Callable[[str], None] | None = None,
) -> WindshieldBenchResult:
    """Run ``detector`` on every windshield of ``frames``; see the module docstring for the definitions.

    ``localise`` (image -> boxes (N, 4) pixel xyxy) replaces the labelled boxes as search regions;
    ``enhance`` (image -> image) corrects each region crop before detection. ``max_face_share`` drops faces
    wider than that share of the frame's widest searched region (implausibly large boxes). ``save_found``
    writes one enlarged crop per labelled windshield with a face, faces drawn, to check them by eye.
    """
    from laneface.detection.regions import detect_in_regions
    from laneface.evaluation.windshield_localiser import box_iou
    from laneface.imageio import read_image

    if margin < 0 or margin > 1:
        raise ConfigError(f"margin must lie in [0, 1], got {margin}")
    if max_face_share is not None and not 0 < max_face_share <= 1:
        raise ConfigError(f"max_face_share must lie in (0, 1], got {max_face_share}")
    det: FaceDetector = detector if enhance is None else EnhancedInput(detector, enhance)
    counts_all: list[int] = []
    widths: list[float] = []
    times_ms: list[float] = []
    cpu_ms: list[float] = []
    misses: list[str] = []
    elsewhere = 0
    n_localised = n_matched = 0
    failures: list[tuple[Path, npt.NDArray[np.float32], list[int], npt.NDArray[np.float32]]] = []
    for i, frame in enumerate(frames):
        image = read_image(frame.image_path)
        h, w = image.shape[:2]
        boxes = parse_yolo_labels(frame.label_path, w, h)
        if len(boxes) == 0:
            continue
        t0, c0 = time.perf_counter(), time.process_time()
        regions = boxes if localise is None else np.asarray(localise(image), np.float32).reshape(-1, 4)
        if len(regions):
            dets = detect_in_regions(det, image, _enlarge(regions, margin, w, h), cut_faces="keep")
            faces = dets.boxes_xyxy
            if max_face_share is not None:
                widest = float((regions[:, 2] - regions[:, 0]).max())
                faces = faces[(faces[:, 2] - faces[:, 0]) <= max_face_share * widest]
        else:
            faces = np.zeros((0, 4), np.float32)
        times_ms.append((time.perf_counter() - t0) * 1000.0)
        cpu_ms.append((time.process_time() - c0) * 1000.0)
        if localise is not None:
            n_localised += len(regions)
            if len(regions):
                n_matched += int((box_iou(boxes, regions).max(axis=1) >= 0.5).sum())
        counts = faces_per_box(faces, boxes)
        elsewhere += len(faces) - sum(counts)
        counts_all.extend(counts)
        widths.extend(float(b[2] - b[0]) for b in faces)
        if save_found is not None and max(counts) > 0:
            _save_found(save_found, frame.image_path, image, boxes, counts, faces, margin)
        if min(counts) == 0:
            misses.append(frame.image_path.name)
            failures.append((frame.image_path, boxes, counts, faces))
        if progress is not None and (i + 1) % 100 == 0:
            progress(f"{i + 1}/{len(frames)} frames")
    if not counts_all:
        raise InvalidDatasetError("no labelled windshield in the dataset")
    if save_examples is not None and failures:
        _save_examples(failures, save_examples, max_examples)
    hist = {"0": 0, "1": 0, "2": 0, "3+": 0}
    for n in counts_all:
        hist[str(n) if n < 3 else "3+"] += 1
    with_face = sum(1 for n in counts_all if n > 0)
    return WindshieldBenchResult(
        detector=detector.name,
        frames=len(times_ms),
        windshields=len(counts_all),
        windshields_with_face=with_face,
        share_with_face=with_face / len(counts_all),
        faces_per_windshield=float(np.mean(counts_all)),
        faces_histogram=hist,
        median_face_width_px=float(np.median(widths)) if widths else None,
        ms_per_frame_median=float(np.median(times_ms)),
        ms_per_frame_mean=float(np.mean(times_ms)),
        margin=margin,
        regions="labels" if localise is None else "localised",
        faces_elsewhere=elsewhere,
        cpu_ms_per_frame_mean=float(np.mean(cpu_ms)),
        localised_boxes=None if localise is None else n_localised,
        localised_matched=None if localise is None else n_matched,
        misses=misses,
    )


def _save_found(
    out: Path,
    path: Path,
    image: npt.NDArray[np.uint8],
    boxes: npt.NDArray[np.float32],
    counts: Sequence[int],
    faces: npt.NDArray[np.float32],
    margin: float,
    zoom: float = 3.0,
) -> None:
    """One crop per labelled windshield with a face, enlarged ``zoom`` times, its faces drawn in yellow."""
    import cv2

    out.mkdir(parents=True, exist_ok=True)
    h, w = image.shape[:2]
    for k, (region, n) in enumerate(zip(_enlarge(boxes, margin, w, h), counts, strict=True)):
        if n == 0:
            continue
        x0, y0, x1, y1 = (int(v) for v in region)
        crop = cv2.resize(image[y0:y1, x0:x1], None, fx=zoom, fy=zoom, interpolation=cv2.INTER_CUBIC)
        patches = []
        for f in faces:
            a = ((f[0] - x0) * zoom, (f[1] - y0) * zoom, (f[2] - x0) * zoom, (f[3] - y0) * zoom)
            cv2.rectangle(crop, (int(a[0]), int(a[1])), (int(a[2]), int(a[3])), (255, 255, 0), 2)
            # the face with one face size of context on every side, 160 px high, to judge it by eye
            fw, fh = f[2] - f[0], f[3] - f[1]
            px0, py0 = int(max(0, f[0] - fw)), int(max(0, f[1] - fh))
            px1, py1 = int(min(w, f[2] + fw)), int(min(h, f[3] + fh))
            if px1 - px0 >= 2 and py1 - py0 >= 2:
                patch = image[py0:py1, px0:px1]
                patches.append(cv2.resize(patch, (max(1, round(160 * patch.shape[1] / patch.shape[0])), 160)))
        cv2.imwrite(str(out / f"found_{path.stem[:40]}_{k}.png"), cv2.cvtColor(crop, cv2.COLOR_RGB2BGR))
        if patches:
            strip = np.hstack(patches)
            cv2.imwrite(str(out / f"faces_{path.stem[:40]}_{k}.png"), cv2.cvtColor(strip, cv2.COLOR_RGB2BGR))


def _save_examples(
    failures: Sequence[tuple[Path, npt.NDArray[np.float32], list[int], npt.NDArray[np.float32]]],
    out: Path,
    max_examples: int,
) -> None:
    """Write up to ``max_examples`` annotated failures, spread evenly over the (sorted) failure list."""
    import cv2

    from laneface.imageio import read_image

    out.mkdir(parents=True, exist_ok=True)
    picks = np.unique(np.linspace(0, len(failures) - 1, num=min(max_examples, len(failures))).round().astype(int))
    for k in picks:
        path, boxes, counts, faces = failures[int(k)]
        annotated = _annotate(read_image(path), boxes, counts, faces)
        cv2.imwrite(str(out / f"miss_{int(k):03d}_{path.stem[:40]}.png"), cv2.cvtColor(annotated, cv2.COLOR_RGB2BGR))
