"""Models a user brings: spec checks, the one onnxruntime session factory (quiet unless -v), fixed-batch
embedders, detectors from a specs file, and `laneface models check` (fakes: no model file is run)."""

from __future__ import annotations

import hashlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import pytest

import laneface.evaluation.model_check as model_check
from laneface.alignment import template
from laneface.cli.app import main
from laneface.config import ModelSettings, Settings
from laneface.detection.factory import build_detector, detector_names
from laneface.detection.retinaface import RetinaFaceDetector
from laneface.embedding.onnx_arcface import OnnxArcFaceEmbedder
from laneface.errors import ConfigError, ModelError, UnknownComponentError
from laneface.models import ModelSpec, ModelStore, load_specs_file, onnx_log_severity, onnx_session
from laneface.types import TemplateBatch

HEX = "ab" * 32


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _spec_toml(**fields: object) -> str:
    base: dict[str, object] = {
        "name": "agency-det",
        "version": "1",
        "kind": "detector",
        "backend": "yunet",
        "file": "agency/det.onnx",
        "sha256": HEX,
        "licence": "MIT",
        "use": "commercial",
    }
    base.update(fields)
    lines = ["[[model]]"]
    for k, v in base.items():
        if isinstance(v, str):
            lines.append(f'{k} = "{v}"')
        elif isinstance(v, list | tuple):
            lines.append(f"{k} = [{', '.join(str(x) for x in v)}]")
        else:
            lines.append(f"{k} = {v}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- spec checks


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"backend": "ultraface"}, "backend 'ultraface' cannot read a detector; detector backends: yunet, retinaface"),
        ({"backend": "onnx-arcface"}, "cannot read a detector"),
        ({"kind": "embedder", "backend": "scrfd"}, "cannot read a embedder; embedder backends: onnx-arcface"),
        ({"kind": "recognizer"}, "kind 'recognizer' is not one of detector, embedder, landmarks"),
        ({"use": "sometimes"}, "use must be 'commercial' or 'evaluation-only'"),
        ({"input_size": [640, 0]}, "input_size must be [width, height], two positive integers"),
        ({"input_size": [640, 480, 3]}, "input_size must be [width, height]"),
        ({"backend": "retinaface", "input_size": [600, 600]}, "retinaface input_size sides must be multiples of 32"),
        ({"score_threshold": 1.5}, "score_threshold must be a number in [0, 1]"),
        ({"nms_iou": "high"}, "nms_iou must be a number in [0, 1]"),
        ({"kind": "embedder", "backend": "onnx-arcface", "embedding_dim": 0}, "embedding_dim must be a positive"),
    ],
)
def test_bad_spec_is_a_clear_config_error(tmp_path: Path, fields: dict[str, object], message: str) -> None:
    path = tmp_path / "specs.toml"
    path.write_text(_spec_toml(**fields), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_specs_file(path)
    assert str(path) in str(info.value)
    assert "'agency-det'" in str(info.value)
    assert message in str(info.value)


def test_detector_spec_reads_thresholds_and_input_size(tmp_path: Path) -> None:
    path = tmp_path / "specs.toml"
    path.write_text(
        _spec_toml(backend="scrfd", input_size=[320, 256], score_threshold=0.4, nms_iou=0.35), encoding="utf-8"
    )
    (spec,) = load_specs_file(path)
    assert (spec.backend, spec.input_size, spec.score_threshold, spec.nms_iou) == ("scrfd", (320, 256), 0.4, 0.35)


# --------------------------------------------------------------------------- onnxruntime sessions


class _FakeArg:
    def __init__(self, name: str, shape: Sequence[int | str | None]) -> None:
        self.name = name
        self.shape = list(shape)


class _FakeSession:
    """Stands in for onnxruntime.InferenceSession: records its options; a fixed-batch 112x112 recognizer."""

    created: list[_FakeSession] = []  # noqa: RUF012 - a record shared by the test

    def __init__(
        self,
        path: str,
        sess_options: Any = None,
        providers: Any = None,
        *,
        in_shape: Sequence[int | str | None] = (1, 3, 112, 112),
        out_shape: Sequence[int | str | None] = (1, 4),
    ) -> None:
        self.options = sess_options
        self.in_shape = list(in_shape)
        self.out_shape = list(out_shape)
        self.batches: list[int] = []
        _FakeSession.created.append(self)

    def get_inputs(self) -> list[_FakeArg]:
        return [_FakeArg("data", self.in_shape)]

    def get_outputs(self) -> list[_FakeArg]:
        return [_FakeArg("fc1", self.out_shape)]

    def run(self, names: object, feeds: dict[str, npt.NDArray[np.float32]]) -> list[npt.NDArray[np.float32]]:
        x = feeds["data"]
        fixed = self.in_shape[0]
        if isinstance(fixed, int) and len(x) != fixed:
            raise RuntimeError(f"[ONNXRuntimeError] : 2 : INVALID_ARGUMENT : Got invalid dimensions: {len(x)}")
        self.batches.append(len(x))
        # a deterministic per-crop "template": the mean of each channel plus a constant
        means = x.reshape(len(x), 3, -1).mean(axis=2)
        return [np.concatenate([means, np.ones((len(x), 1), np.float32)], axis=1).astype(np.float32)]


@pytest.fixture
def fake_ort(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """onnxruntime.InferenceSession replaced by _FakeSession; returns the severities set on the default logger."""
    _FakeSession.created = []
    severities: list[int] = []
    monkeypatch.setattr(ort, "InferenceSession", _FakeSession)
    monkeypatch.setattr(ort, "set_default_logger_severity", severities.append)
    return severities


def _model_file(tmp_path: Path, data: bytes = b"fake onnx\n") -> Path:
    path = tmp_path / "m.onnx"
    path.write_bytes(data)
    return path


def test_onnx_log_severity_follows_the_log_level() -> None:
    assert onnx_log_severity("WARNING") == 3  # errors only: warnings hidden
    assert onnx_log_severity("ERROR") == 3
    assert onnx_log_severity("INFO") == 2  # -v: onnxruntime's warnings too
    assert onnx_log_severity("DEBUG") == 1


def test_sessions_hide_warnings_unless_verbose(tmp_path: Path, fake_ort: list[int]) -> None:
    onnx_session(_model_file(tmp_path))
    assert _FakeSession.created[-1].options.log_severity_level == 3
    assert fake_ort[-1] == 3
    onnx_session(_model_file(tmp_path), log_severity=2)
    assert _FakeSession.created[-1].options.log_severity_level == 2


def test_detector_sessions_hide_warnings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The detectors' sessions come from the same factory (they used to log at onnxruntime's default, 2)."""
    _FakeSession.created = []
    monkeypatch.setattr(ort, "InferenceSession", lambda *a, **k: _FakeSession(*a, in_shape=(1, 3, "h", "w"), **k))
    RetinaFaceDetector(_model_file(tmp_path))
    assert _FakeSession.created[-1].options.log_severity_level == 3


def test_detector_with_a_fixed_batch_above_one_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort, "InferenceSession", lambda *a, **k: _FakeSession(*a, in_shape=(4, 3, 640, 640), **k))
    with pytest.raises(ModelError, match="fixed batch of 4; it must take a batch of 1 or any size"):
        RetinaFaceDetector(_model_file(tmp_path))


def _store_with_fake_embedder(tmp_path: Path, log_level: str, **fields: object) -> ModelStore:
    data = b"fake onnx\n"
    model = _model_file(tmp_path, data)
    specs = tmp_path / "specs.toml"
    spec: dict[str, object] = {
        "name": "fake-emb",
        "kind": "embedder",
        "backend": "onnx-arcface",
        "file": str(model),
        "sha256": _sha(data),
        "input_size": [112, 112],
        "alignment": "arcface_112",
        "embedding_dim": 4,
    }
    spec.update(fields)
    specs.write_text(_spec_toml(**spec), encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", models=ModelSettings(specs_file=specs), log_level=log_level)  # type: ignore[arg-type]
    return ModelStore.from_settings(settings)


@pytest.mark.parametrize(("log_level", "severity"), [("WARNING", 3), ("INFO", 2)])
def test_store_passes_the_severity_to_embedder_sessions(
    tmp_path: Path, fake_ort: list[int], log_level: str, severity: int
) -> None:
    from laneface.embedding.factory import build_embedder

    store = _store_with_fake_embedder(tmp_path, log_level)
    assert store.onnx_log_severity == severity
    build_embedder("fake-emb", store)
    assert _FakeSession.created[-1].options.log_severity_level == severity


def test_unreadable_onnx_file_is_a_model_error(tmp_path: Path) -> None:
    """A file onnxruntime cannot parse: a ModelError naming it, not onnxruntime's own exception."""
    path = _model_file(tmp_path, b"definitely not protobuf")
    with pytest.raises(ModelError, match=r"onnxruntime cannot load .*m\.onnx"):
        RetinaFaceDetector(path)


# --------------------------------------------------------------------------- fixed batch


def _embedder_spec(**kw: Any) -> ModelSpec:
    fields: dict[str, Any] = {
        "name": "fake-emb",
        "version": "1",
        "kind": "embedder",
        "backend": "onnx-arcface",
        "file": "m.onnx",
        "sha256": (HEX,),
        "licence": "MIT",
        "use": "commercial",
        "input_size": (112, 112),
        "alignment": "arcface_112",
        "embedding_dim": 4,
        "preprocessing": {"mean": 0.0, "std": 1.0},
    }
    fields.update(kw)
    return ModelSpec(**fields)


def _crops(n: int) -> list[npt.NDArray[np.uint8]]:
    rng = np.random.default_rng(7)
    return [rng.integers(0, 256, (112, 112, 3), dtype=np.uint8) for _ in range(n)]


def test_fixed_batch_embedder_runs_one_crop_at_a_time(tmp_path: Path, fake_ort: list[int]) -> None:
    emb = OnnxArcFaceEmbedder(_model_file(tmp_path), _embedder_spec(), batch_size=32)
    crops = _crops(5)
    batch = emb.embed(crops)
    assert batch.vectors.shape == (5, 4)
    assert _FakeSession.created[-1].batches == [1] * 5
    one_by_one = np.concatenate([emb.embed([c]).vectors for c in crops])
    np.testing.assert_allclose(batch.vectors, one_by_one, atol=1e-6)


def test_fixed_batch_of_two_pads_the_last_chunk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _FakeSession.created = []
    monkeypatch.setattr(
        ort, "InferenceSession", lambda *a, **k: _FakeSession(*a, in_shape=(2, 3, 112, 112), out_shape=(2, 4), **k)
    )
    emb = OnnxArcFaceEmbedder(_model_file(tmp_path), _embedder_spec())
    crops = _crops(3)
    batch = emb.embed(crops)
    assert batch.vectors.shape == (3, 4)
    assert _FakeSession.created[-1].batches == [2, 2]
    np.testing.assert_allclose(batch.vectors[2], emb.embed([crops[2]]).vectors[0], atol=1e-6)


def test_wrong_input_shape_is_a_config_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort, "InferenceSession", lambda *a, **k: _FakeSession(*a, in_shape=(1, 3, 128, 128), **k))
    with pytest.raises(ConfigError, match=r"takes input \[1, 3, 128, 128\]; the spec of 'fake-emb' says NCHW"):
        OnnxArcFaceEmbedder(_model_file(tmp_path), _embedder_spec())


def test_declared_output_dim_differing_from_spec_is_a_config_error(tmp_path: Path, fake_ort: list[int]) -> None:
    with pytest.raises(ConfigError, match="outputs 4-d templates; the spec says embedding_dim 512"):
        OnnxArcFaceEmbedder(_model_file(tmp_path), _embedder_spec(embedding_dim=512))


def test_output_dim_differing_at_run_time_is_a_model_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ort, "InferenceSession", lambda *a, **k: _FakeSession(*a, out_shape=("n", "d"), **k))
    emb = OnnxArcFaceEmbedder(_model_file(tmp_path), _embedder_spec(embedding_dim=512))
    with pytest.raises(ModelError, match="returned 4-d templates; its spec says embedding_dim 512"):
        emb.embed(_crops(1))


# --------------------------------------------------------------------------- detectors from a specs file


def test_spec_detector_is_known_to_the_factory(tmp_path: Path) -> None:
    specs = tmp_path / "specs.toml"
    specs.write_text(_spec_toml(name="agency-yunet", file=str(tmp_path / "missing.onnx")), encoding="utf-8")
    store = ModelStore.from_settings(Settings(data_dir=tmp_path, models=ModelSettings(specs_file=specs)))
    assert "agency-yunet" in detector_names(store)
    # resolved by name, then located: the missing file is the error, not an unknown detector
    with pytest.raises(ModelError, match=r"'agency-yunet'.*not found"):
        build_detector("agency-yunet", store)
    with pytest.raises(UnknownComponentError, match=r"known: auto, .*agency-yunet"):
        build_detector("agency-yunet2", store)


# --------------------------------------------------------------------------- models check


class _WrongDimEmbedder:
    name = "fake-emb"
    model_version = "fake-emb@1"
    alignment = template("arcface_112")

    def crops(self, image_rgb: Any, detections: Any) -> list[npt.NDArray[np.uint8]]:
        return []

    def embed(self, crops_rgb: Sequence[npt.NDArray[np.uint8]]) -> TemplateBatch:
        v = np.ones((len(crops_rgb), 3), np.float32) / np.sqrt(3.0)
        return TemplateBatch(v, self.model_version)


def _argv(tmp_path: Path, store_specs: Path, *rest: str) -> list[str]:
    return [
        "laneface",
        "--data-dir",
        str(tmp_path / "data"),
        "--model-specs",
        str(store_specs),
        "models",
        "check",
        *rest,
    ]


@pytest.fixture
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)


@pytest.mark.usefixtures("_clean_env")
def test_models_check_shape_mismatch_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _store_with_fake_embedder(tmp_path, "WARNING")  # writes m.onnx and specs.toml (embedding_dim 4)
    monkeypatch.setattr(model_check, "build_embedder", lambda *a, **k: _WrongDimEmbedder())
    monkeypatch.setattr(sys, "argv", _argv(tmp_path, tmp_path / "specs.toml", "fake-emb"))
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert capsys.readouterr().err == "error: fake-emb: templates are 3-d; its spec says embedding_dim 4\n"


@pytest.mark.usefixtures("_clean_env")
def test_models_check_passes_a_good_fake_embedder(
    tmp_path: Path, fake_ort: list[int], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _store_with_fake_embedder(tmp_path, "WARNING")
    monkeypatch.setattr(sys, "argv", _argv(tmp_path, tmp_path / "specs.toml", "fake-emb"))
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert "fake-emb (embedder, fake-emb@1+" in out
    assert "3 crops -> 3 x 4 unit templates, same as one crop at a time" in out


@pytest.mark.usefixtures("_clean_env")
def test_models_check_wrong_checksum_exits_non_zero(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _store_with_fake_embedder(tmp_path, "WARNING", sha256=HEX)
    monkeypatch.setattr(sys, "argv", _argv(tmp_path, tmp_path / "specs.toml", "fake-emb"))
    with pytest.raises(SystemExit) as exit_info:
        main()
    assert exit_info.value.code == 2
    assert "the file is corrupt or a different model" in capsys.readouterr().err


def test_models_check_refuses_landmark_models(tmp_path: Path) -> None:
    store = ModelStore([tmp_path])
    (tmp_path / "dlib").mkdir()
    with pytest.raises(ModelError):  # not found, or: not a detector/embedder
        model_check.check_model("dlib-shape5", store, Settings(data_dir=tmp_path))
