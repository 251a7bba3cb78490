"""Model specifications and verified loading of model files.

A :class:`ModelSpec` names one model file, the sha256 values of its accepted builds, its input size,
preprocessing and licence. :class:`ModelStore` finds a spec's file, in this order:

1. the models directory from settings/option (``LANEFACE_MODELS_DIR``),
2. the per-user data directory (``<user data dir>/laneface/models``, where ``models pull`` writes),
3. an installed PyPI package that ships it (``face_recognition_models``),

and verifies its sha256 before any backend reads it. Nothing is downloaded at run time: ``pull`` is an
explicit command that fetches from a configurable base URL (a mirror) or, without one, from the spec's
official upstream location (``upstream_url``), and verifies the checksum before keeping the file.
"""

from __future__ import annotations

import bz2
import hashlib
import importlib.util
import tomllib
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from laneface.errors import (
    ChecksumError,
    ConfigError,
    ModelDownloadError,
    ModelError,
    ModelNotFoundError,
    UnknownComponentError,
)

__all__ = [
    "BUILTIN_SPECS",
    "SPEC_BACKENDS",
    "LocatedModel",
    "ModelSpec",
    "ModelStore",
    "OnnxInput",
    "load_specs_file",
    "onnx_input",
    "onnx_log_severity",
    "onnx_session",
    "sha256_file",
]

Kind = Literal["detector", "embedder", "landmarks"]

#: the adapters that read a spec of each kind (``backend``): a detector spec names its family's decoder
SPEC_BACKENDS: dict[str, tuple[str, ...]] = {
    "detector": ("yunet", "retinaface", "scrfd", "dlib-mmod", "mtcnn"),
    "embedder": ("onnx-arcface", "dlib-resnet"),
    "landmarks": ("dlib-shape5",),
}


@dataclass(frozen=True)
class ModelSpec:
    """Everything laneface needs to know to use one model file safely."""

    name: str
    version: str
    kind: Kind
    backend: str  # which adapter reads it: "dlib-mmod", "dlib-shape5", "dlib-resnet", "yunet", "onnx-arcface", ...
    file: str  # path relative to a models directory
    sha256: tuple[str, ...]  # accepted builds of the same weights (lower-case hex)
    licence: str
    use: Literal["commercial", "evaluation-only"]
    input_size: tuple[int, int] | None = None  # (width, height)
    preprocessing: dict[str, object] = field(default_factory=dict)
    package: str | None = None  # PyPI distribution that ships the file, e.g. "face_recognition_models"
    package_file: str | None = None  # path inside that package
    remote_file: str | None = None  # path under the pull base URL (defaults to `file`)
    remote_sha256: str | None = None  # checksum of the remote file if it differs (compressed)
    upstream_url: str | None = None  # the publisher's URL of the remote file: what `pull` fetches without a base URL
    compression: Literal["bz2"] | None = None
    embedding_dim: int | None = None
    alignment: str | None = None  # alignment template name, for embedders
    score_threshold: float | None = None  # detectors: default score threshold (settings override it)
    nms_iou: float | None = None  # detectors: IoU above which overlapping boxes are merged
    description: str = ""

    @property
    def model_version(self) -> str:
        """Identifier stored with every template: templates of different versions are never compared."""
        return f"{self.name}@{self.version}+{self.sha256[0][:12]}"


@dataclass(frozen=True)
class LocatedModel:
    spec: ModelSpec
    path: Path
    source: str  # "directory", "package:<name>" or "download"


_ARCFACE_PRE: dict[str, object] = {"color": "RGB", "mean": 127.5, "std": 127.5, "layout": "NCHW"}
#: SFace normalises inside its graph: it takes RGB 0-255 as is
_RAW_RGB_PRE: dict[str, object] = {"color": "RGB", "mean": 0.0, "std": 1.0, "layout": "NCHW"}
_OPENCV_ZOO = "https://github.com/opencv/opencv_zoo/raw/main/models"
_YUNET_TRAIN = "https://github.com/ShiqiYu/libfacedetection.train/raw/master/onnx"

BUILTIN_SPECS: tuple[ModelSpec, ...] = (
    ModelSpec(
        name="dlib-resnet",
        version="v1",
        kind="embedder",
        backend="dlib-resnet",
        file="dlib/dlib_face_recognition_resnet_model_v1.dat",
        sha256=("55533b28a95800a551ba546ba62fe69625c7e95a7061c338adffead08719da30",),
        licence="CC0-1.0",
        use="commercial",
        input_size=(150, 150),
        package="face_recognition_models",
        package_file="models/dlib_face_recognition_resnet_model_v1.dat",
        embedding_dim=128,
        alignment="dlib_150",
        description="dlib ResNet-29 face recognizer, 128-d (default)",
    ),
    ModelSpec(
        name="dlib-shape5",
        version="v1",
        kind="landmarks",
        backend="dlib-shape5",
        file="dlib/shape_predictor_5_face_landmarks.dat",
        sha256=("c4b1e9804792707d3a405c2c16a80a20269e6675021f64a41d30fffafbc41888",),
        licence="CC0-1.0",
        use="commercial",
        package="face_recognition_models",
        package_file="models/shape_predictor_5_face_landmarks.dat",
        description="dlib 5-point landmark predictor (eye corners, nose base), used with the dlib detectors",
    ),
    ModelSpec(
        name="dlib-mmod",
        version="v1",
        kind="detector",
        backend="dlib-mmod",
        file="dlib/mmod_human_face_detector.dat",
        sha256=(
            "4cb19393e2fbaf2b1609a9319ad5386618c886a6234ec1b971f3e87c85d87fe6",
            "be467b1a76f482693de3b0f6a1ff91d092319be71523d4d4b0628f6a53fcb87a",
        ),
        licence="CC0-1.0",
        use="commercial",
        package="face_recognition_models",
        package_file="models/mmod_human_face_detector.dat",
        remote_file="dlib/mmod_human_face_detector.dat.bz2",
        remote_sha256="db9e9e40f092c118d5eb3e643935b216838170793559515541c56a2b50d9fc84",
        compression="bz2",
        description="dlib MMOD CNN face detector",
    ),
    ModelSpec(
        name="yunet-n",
        version="n-dynamic",
        kind="detector",
        backend="yunet",
        file="yunet/yunet_n_dynamic.onnx",
        sha256=("104ee26c71d5c270ce79a6b3dced91c91013260d29a6bf18f9296c5b8c4c2b12",),
        licence="Apache-2.0",
        use="commercial",
        upstream_url=f"{_YUNET_TRAIN}/yunet_n_dynamic.onnx",
        description="YuNet-n (libfacedetection.train) via cv2.FaceDetectorYN, any input size: the larger YuNet, "
        "finds smaller faces than YuNet-s. Upstream: the onnx/ folder of ShiqiYu/libfacedetection.train",
    ),
    ModelSpec(
        name="yunet",
        version="2023mar",
        kind="detector",
        backend="yunet",
        file="yunet/face_detection_yunet_2023mar.onnx",
        sha256=("8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",),
        licence="Apache-2.0",
        use="commercial",
        upstream_url=f"{_OPENCV_ZOO}/face_detection_yunet/face_detection_yunet_2023mar.onnx",
        description="YuNet-s (OpenCV Zoo) via cv2.FaceDetectorYN, any input size",
    ),
    ModelSpec(
        name="yunet-2026may",
        version="2026may",
        kind="detector",
        backend="yunet",
        file="yunet/face_detection_yunet_2026may.onnx",
        sha256=("ebafce4e3c118d6554634be5c27ab333b4c047a9a8c3faf1d7cf93101c22f0f0",),
        licence="Apache-2.0",
        use="commercial",
        description="YuNet-s, the same weights re-exported with a dynamic input size; no upstream location is "
        "known (pull it from a mirror with --base-url)",
    ),
    ModelSpec(
        name="retinaface",
        version="mnet0.25-640",
        kind="detector",
        backend="retinaface",
        file="retinaface/retinaface_mnet025_640.onnx",
        sha256=("f8cce06cdfa5d2a07a8378c8cff4c4f33f0b00a3f24d9ef53042ff591a881eb7",),
        licence="MIT",
        use="commercial",
        input_size=(640, 640),
        preprocessing={"color": "BGR", "mean": [104.0, 117.0, 123.0], "std": 1.0},
        description="RetinaFace MobileNet-0.25, fixed 640x640 input (letterboxed)",
    ),
    ModelSpec(
        name="scrfd",
        version="2.5g-bnkps",
        kind="detector",
        backend="scrfd",
        file="scrfd/scrfd_2.5g_bnkps.onnx",
        sha256=("bc24bb349491481c3ca793cf89306723162c280cb284c5a5e49df3760bf5c2ce",),
        licence="non-commercial (InsightFace)",
        use="evaluation-only",
        input_size=(640, 640),
        preprocessing={"color": "RGB", "mean": 127.5, "std": 128.0},
        description="SCRFD 2.5G with keypoints, dynamic input",
    ),
    ModelSpec(
        name="scrfd-500m",
        version="500m-kps",
        kind="detector",
        backend="scrfd",
        file="scrfd/scrfd_500m_kps_hpc203.onnx",
        sha256=("517cb1980c72422e676738fc45431700fb7cbee56d0f825b623ee427b3e5ce58",),
        licence="non-commercial (InsightFace)",
        use="evaluation-only",
        input_size=(640, 640),
        preprocessing={"color": "RGB", "mean": 127.5, "std": 128.0},
        description="SCRFD 500M with keypoints, fixed 640x640",
    ),
    ModelSpec(
        name="mobilefacenet",
        version="foamliu-dynbatch",
        kind="embedder",
        backend="onnx-arcface",
        file="mobilefacenet/mobilefacenet_foamliu_dynbatch.onnx",
        sha256=("0c9ad2a83969fc82155706f7020e6926b4a1a90a5476fff4a5588dfe207f64a4",),
        licence="unclear",
        use="evaluation-only",
        input_size=(112, 112),
        preprocessing=_ARCFACE_PRE,
        embedding_dim=128,
        alignment="arcface_112",
        description="MobileFaceNet 128-d (ArcFace-style input)",
    ),
    ModelSpec(
        name="sface",
        version="2021dec",
        kind="embedder",
        backend="onnx-arcface",
        file="sface/face_recognition_sface_2021dec.onnx",
        sha256=("0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",),
        licence="Apache-2.0",
        use="commercial",
        input_size=(112, 112),
        preprocessing=_RAW_RGB_PRE,
        embedding_dim=128,
        alignment="arcface_112",
        upstream_url=f"{_OPENCV_ZOO}/face_recognition_sface/face_recognition_sface_2021dec.onnx",
        description="SFace (OpenCV Zoo) 128-d, ArcFace 5-point alignment at 112x112, batch fixed at 1. Training "
        "data not stated by the publisher (the SFace paper trained on MS1M-derived sets)",
    ),
)

_MTCNN_SHA = {
    "pnet": "ea6b0c3e685ebee3165326ad6484acc95f2ef78f1c94fbf40a55704fa989f7b5",
    "rnet": "cb00e6460f3c98b0bfafaba3c0a0ded4bdf6e62cee7174d969e8670d7e757fee",
    "onet": "94f6ea2f4cf985275ee958cdd762d17b6009348a4fb9d8c6be39ba73ffd22ca3",
}

#: MTCNN's three networks, as the ``mtcnn`` PyPI package (1.0.0) ships them: weights MIT (Kaipeng Zhang's
#: release, converted by the package's author, also MIT); run by laneface in numpy, never by that package
MTCNN_SPECS: tuple[ModelSpec, ...] = tuple(
    ModelSpec(
        name=f"mtcnn-{net}",
        version="ipazc-1.0.0",
        kind="detector",
        backend="mtcnn",
        file=f"mtcnn/{net}.lz4",
        sha256=(_MTCNN_SHA[net],),
        licence="MIT",
        use="commercial",
        package="mtcnn",
        package_file=f"assets/weights/{net}.lz4",
        description=f"MTCNN {net.upper()[0]}-Net weights (stage {i} of the mtcnn detector), from the mtcnn package",
    )
    for i, net in enumerate(("pnet", "rnet", "onet"), start=1)
)

BUILTIN_SPECS = BUILTIN_SPECS + MTCNN_SPECS


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def load_specs_file(path: Path) -> tuple[ModelSpec, ...]:
    """Read extra specs from TOML: one ``[[model]]`` table per model, keys as in :class:`ModelSpec`.

    Example, an agency's ArcFace-class recognizer::

        [[model]]
        name = "agency-arcface"
        version = "r100-2026"
        kind = "embedder"
        backend = "onnx-arcface"
        file = "agency/arcface_r100.onnx"
        sha256 = ["<64 hex digits>"]
        licence = "agency-internal"
        use = "commercial"
        input_size = [112, 112]
        embedding_dim = 512
        alignment = "arcface_112"
        preprocessing = { color = "RGB", mean = 127.5, std = 127.5 }

    and an ONNX detector of a family laneface decodes (``backend``: yunet, retinaface or scrfd; see
    :data:`SPEC_BACKENDS`), usable as ``--detector agency-yunet``::

        [[model]]
        name = "agency-yunet"
        version = "n-640"
        kind = "detector"
        backend = "yunet"
        file = "/opt/agency/models/yunet_n_640_640.onnx"   # absolute, or relative to a models directory
        sha256 = "<64 hex digits>"
        licence = "Apache-2.0"
        use = "commercial"
        input_size = [640, 640]      # retinaface/scrfd: the network input (multiples of 32)
        score_threshold = 0.6
        nms_iou = 0.3

    Models exported with a fixed batch size (e.g. 1) are run that many inputs at a time.
    """
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"cannot read model specs file {path}: {exc}") from None
    specs: list[ModelSpec] = []
    tables = data.get("model", [])
    if not isinstance(tables, list) or not all(isinstance(t, dict) for t in tables):
        raise ConfigError(f"{path}: models must be [[model]] tables (an array of tables)")
    for i, raw in enumerate(tables):
        try:
            d = dict(raw)
            sha = d.pop("sha256")
            d["sha256"] = tuple(s.lower() for s in ([sha] if isinstance(sha, str) else sha))
            if "input_size" in d:
                d["input_size"] = tuple(d["input_size"])
            spec = ModelSpec(**d)
        except (KeyError, TypeError, AttributeError) as exc:
            raise ConfigError(f"{path}: [[model]] #{i + 1} is invalid: {exc}") from None
        if not spec.sha256 or not all(len(s) == 64 and all(c in "0123456789abcdef" for c in s) for s in spec.sha256):
            raise ConfigError(f"{path}: model {spec.name!r} needs sha256 as 64 hex digits")
        _check_spec(spec, str(path))
        specs.append(spec)
    return tuple(specs)


def _check_spec(spec: ModelSpec, where: str) -> None:
    """The values a dataclass does not check: kind, backend of that kind, sizes and thresholds."""
    what = f"{where}: model {spec.name!r}"
    if spec.kind not in SPEC_BACKENDS:
        raise ConfigError(f"{what}: kind {spec.kind!r} is not one of {', '.join(SPEC_BACKENDS)}")
    backends = SPEC_BACKENDS[spec.kind]
    if spec.backend not in backends:
        raise ConfigError(
            f"{what}: backend {spec.backend!r} cannot read a {spec.kind}; {spec.kind} backends: {', '.join(backends)}"
        )
    if spec.upstream_url is not None and not str(spec.upstream_url).startswith(("http://", "https://")):
        raise ConfigError(f"{what}: upstream_url must start with http:// or https://, got {spec.upstream_url!r}")
    if spec.use not in ("commercial", "evaluation-only"):
        raise ConfigError(f"{what}: use must be 'commercial' or 'evaluation-only', got {spec.use!r}")
    if spec.input_size is not None and (
        len(spec.input_size) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in spec.input_size)
    ):
        raise ConfigError(f"{what}: input_size must be [width, height], two positive integers, got {spec.input_size!r}")
    if spec.backend in ("retinaface", "scrfd") and spec.input_size is not None and any(v % 32 for v in spec.input_size):
        raise ConfigError(f"{what}: {spec.backend} input_size sides must be multiples of 32, got {spec.input_size}")
    for key in ("score_threshold", "nms_iou"):
        value = getattr(spec, key)
        if value is not None and (
            not isinstance(value, int | float) or isinstance(value, bool) or not 0.0 <= value <= 1.0
        ):
            raise ConfigError(f"{what}: {key} must be a number in [0, 1], got {value!r}")
    if spec.embedding_dim is not None and (not isinstance(spec.embedding_dim, int) or spec.embedding_dim < 1):
        raise ConfigError(f"{what}: embedding_dim must be a positive integer, got {spec.embedding_dim!r}")


# --------------------------------------------------------------------------- onnxruntime sessions


def onnx_log_severity(log_level: str) -> int:
    """onnxruntime's log severity for laneface's log level: its warnings only with ``-v`` (INFO) or DEBUG.

    onnxruntime severities: 0 verbose, 1 info, 2 warning, 3 error, 4 fatal.
    """
    return {"DEBUG": 1, "INFO": 2}.get(log_level.upper(), 3)


def onnx_session(path: Path, *, num_threads: int = 1, log_severity: int = 3) -> Any:
    """The one place laneface opens an ``onnxruntime.InferenceSession``: CPU, ``num_threads`` intra-op
    threads, logging at ``log_severity`` (see :func:`onnx_log_severity`). A file onnxruntime cannot read
    is a :class:`ModelError` naming it, never onnxruntime's traceback."""
    path = Path(path)
    if not path.is_file():
        raise ModelNotFoundError(f"model file not found: {path}")
    if num_threads < 1:
        raise ConfigError(f"num_threads must be >= 1, got {num_threads}")
    if not 0 <= log_severity <= 4:
        raise ConfigError(f"onnxruntime log severity must be 0..4, got {log_severity}")
    import onnxruntime as ort

    # the default logger prints graph-optimisation warnings at load, before session options apply
    ort.set_default_logger_severity(log_severity)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = int(num_threads)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = log_severity
    try:
        return ort.InferenceSession(str(path), sess_options=opts, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own exception types (Fail, InvalidGraph, ...)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"onnxruntime cannot load {path} (is it an ONNX model?): {first}") from None


@dataclass(frozen=True)
class OnnxInput:
    """A model's first input: ``shape`` as declared, an int per fixed axis and None per free (named) axis."""

    name: str
    shape: tuple[int | None, ...]

    @property
    def fixed_batch(self) -> int | None:
        """The batch size the model was exported with, or None when any batch size is accepted."""
        return self.shape[0] if self.shape else None

    def fixed_hw(self) -> tuple[int | None, int | None]:
        """(height, width) of an NCHW input, None where free."""
        if len(self.shape) != 4:
            return None, None
        return self.shape[2], self.shape[3]


def onnx_input(session: Any) -> OnnxInput:
    first = session.get_inputs()[0]
    shape = tuple(d if isinstance(d, int) and d > 0 else None for d in first.shape)
    return OnnxInput(str(first.name), shape)


class ModelStore:
    """Finds, verifies and downloads model files. Holds no global state: make one per entry point."""

    def __init__(
        self,
        search_dirs: list[Path],
        specs: tuple[ModelSpec, ...] = BUILTIN_SPECS,
        *,
        verify: bool = True,
        pull_dir: Path | None = None,
        onnx_log_severity: int = 3,
    ) -> None:
        self.search_dirs = [Path(d) for d in search_dirs]
        self.onnx_log_severity = onnx_log_severity  # passed to every onnxruntime session built from this store
        self.pull_dir = pull_dir if pull_dir is not None else (self.search_dirs[0] if self.search_dirs else None)
        self._specs = {s.name: s for s in specs}
        self._verify = verify
        self._verified: dict[tuple[str, int, int], str] = {}

    @classmethod
    def from_settings(cls, settings: object) -> ModelStore:
        from laneface.config import Settings

        if not isinstance(settings, Settings):
            raise TypeError("settings must be laneface.config.Settings")
        dirs: list[Path] = []
        if settings.models.models_dir is not None:
            dirs.append(settings.models.models_dir)
        user_dir = settings.data_dir / "models"
        dirs.append(user_dir)
        specs = BUILTIN_SPECS
        if settings.models.specs_file is not None:
            extra = load_specs_file(settings.models.specs_file)
            names = {s.name for s in extra}
            specs = tuple(s for s in BUILTIN_SPECS if s.name not in names) + extra
        return cls(
            dirs,
            specs,
            verify=settings.models.verify_checksums,
            pull_dir=dirs[0],
            onnx_log_severity=onnx_log_severity(settings.log_level),
        )

    @property
    def specs(self) -> tuple[ModelSpec, ...]:
        return tuple(self._specs.values())

    def spec(self, name: str) -> ModelSpec:
        try:
            return self._specs[name]
        except KeyError:
            known = ", ".join(sorted(self._specs))
            raise UnknownComponentError(f"unknown model {name!r}; known models: {known}") from None

    def _candidates(self, spec: ModelSpec) -> list[tuple[Path, str]]:
        out: list[tuple[Path, str]] = []
        for d in self.search_dirs:
            out.append((d / spec.file, "directory"))
            out.append((d / Path(spec.file).name, "directory"))
        if spec.package and spec.package_file:
            found = importlib.util.find_spec(spec.package)
            if found is not None and found.submodule_search_locations:
                for loc in found.submodule_search_locations:
                    out.append((Path(loc) / spec.package_file, f"package:{spec.package}"))
        return out

    def find(self, name: str) -> LocatedModel | None:
        """The first existing file for ``name`` (not verified), or None."""
        spec = self.spec(name)
        for path, source in self._candidates(spec):
            if path.is_file():
                return LocatedModel(spec, path, source)
        return None

    def locate(self, name: str) -> LocatedModel:
        """The verified file for ``name``; raises ModelNotFoundError or ChecksumError."""
        spec = self.spec(name)
        found = self.find(name)
        if found is None:
            where = "; ".join(str(p) for p, _ in self._candidates(spec))
            raise ModelNotFoundError(
                f"model {name!r} ({spec.file}) not found; looked in: {where}. "
                f"Put the file in a models directory (--models-dir / LANEFACE_MODELS_DIR) "
                f"or run `laneface models pull {name} --base-url URL`."
            )
        self.verify(found)
        return found

    def verify(self, located: LocatedModel) -> str:
        """Check the file's sha256 against its spec (cached by path, size and mtime)."""
        st = located.path.stat()
        key = (str(located.path), st.st_size, st.st_mtime_ns)
        digest = self._verified.get(key) or sha256_file(located.path)
        if self._verify and digest not in located.spec.sha256:
            raise ChecksumError(
                f"model file {located.path} has sha256 {digest}, but {located.spec.name!r} expects "
                f"{' or '.join(located.spec.sha256)}; the file is corrupt or a different model"
            )
        self._verified[key] = digest
        return digest

    def pull(
        self, name: str, base_url: str | None = None, *, timeout_s: float = 60.0, force: bool = False
    ) -> LocatedModel:
        """Download ``name`` into the pull directory, verifying checksums before keeping it.

        From ``base_url`` (a mirror: ``<base_url>/<remote_file>``) when given, else from the spec's official
        ``upstream_url``; a spec without one needs a base URL."""
        if base_url is not None and not base_url.startswith(("http://", "https://")):
            raise ConfigError(f"base URL must start with http:// or https://, got {base_url!r}")
        if self.pull_dir is None:
            raise ConfigError("no directory to download models into")
        spec = self.spec(name)
        if base_url is not None:
            url = base_url.rstrip("/") + "/" + (spec.remote_file or spec.file)
        elif spec.upstream_url is not None:
            url = spec.upstream_url
        else:
            raise ConfigError(
                f"model {name!r} has no known upstream location: pass --base-url (a mirror that serves "
                f"{spec.remote_file or spec.file}) or set LANEFACE_MODELS__BASE_URL"
            )
        if not url.startswith(("http://", "https://")):
            raise ConfigError(f"model {name!r}: upstream URL must start with http:// or https://, got {url!r}")
        dest = self.pull_dir / spec.file
        if dest.is_file() and not force:
            existing = LocatedModel(spec, dest, "directory")
            try:
                self.verify(existing)
            except ChecksumError as exc:
                raise ChecksumError(f"{exc}; pull again with --force to replace it") from None
            return existing
        dest.parent.mkdir(parents=True, exist_ok=True)
        tmp = dest.with_name(dest.name + ".part")
        h = hashlib.sha256()
        try:
            with urllib.request.urlopen(url, timeout=timeout_s) as resp, tmp.open("wb") as out:  # noqa: S310
                while block := resp.read(1 << 20):
                    h.update(block)
                    out.write(block)
        except (urllib.error.URLError, OSError, TimeoutError) as exc:
            tmp.unlink(missing_ok=True)
            raise ModelDownloadError(f"cannot download {name!r} from {url}: {exc}") from None
        expected_remote = spec.remote_sha256 or (spec.sha256 if spec.compression is None else None)
        got = h.hexdigest()
        if expected_remote is not None:
            accepted = (expected_remote,) if isinstance(expected_remote, str) else expected_remote
            if got not in accepted:
                tmp.unlink(missing_ok=True)
                raise ChecksumError(
                    f"downloaded {url} has sha256 {got}, expected {' or '.join(accepted)}; file discarded"
                )
        if spec.compression == "bz2":
            raw = tmp.with_name(tmp.name + ".raw")
            try:
                with bz2.open(tmp, "rb") as src, raw.open("wb") as out:
                    while block := src.read(1 << 20):
                        out.write(block)
            except (OSError, EOFError) as exc:
                raw.unlink(missing_ok=True)
                raise ModelDownloadError(f"cannot decompress {url}: {exc}") from None
            finally:
                tmp.unlink(missing_ok=True)
            tmp = raw
        located = LocatedModel(spec, tmp, "download")
        try:
            self.verify(located)
        except ChecksumError:
            tmp.unlink(missing_ok=True)
            raise
        tmp.replace(dest)
        return LocatedModel(spec, dest, "directory")
