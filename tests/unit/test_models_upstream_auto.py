"""Built-in SFace / YuNet-n specs, `pull` from a spec's upstream location, and `auto` detector and embedder.

Tiny files and a local HTTP server stand in for the real models and the publishers' sites.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import io
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from typer.testing import CliRunner

from laneface.config import EmbeddingSettings
from laneface.detection.factory import AUTO_ORDER, resolve_detector_name
from laneface.embedding.factory import EMBEDDER_AUTO_ORDER, embedder_names, resolve_embedder_name
from laneface.errors import ChecksumError, ConfigError
from laneface.models import BUILTIN_SPECS, ModelSpec, ModelStore, load_specs_file

GOOD = b"tiny upstream weights\n" * 40
BAD = b"a different file\n" * 3
SPECS = {s.name: s for s in BUILTIN_SPECS}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)


class _Handler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        super().do_GET()


@dataclass
class Server:
    url: str
    root: Path
    requests: list[str]

    def put(self, rel: str, data: bytes) -> None:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "publisher"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Handler, directory=str(root)))
    httpd.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", root, httpd.requests)  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


def _tiny(upstream: str | None, **kw: object) -> ModelSpec:
    fields: dict[str, object] = {
        "name": "tiny",
        "version": "1",
        "kind": "embedder",
        "backend": "onnx-arcface",
        "file": "tiny/tiny.onnx",
        "sha256": (_sha(GOOD),),
        "licence": "Apache-2.0",
        "use": "commercial",
        "upstream_url": upstream,
    }
    fields.update(kw)
    return ModelSpec(**fields)  # type: ignore[arg-type]


# --------------------------------------------------------------------------- built-in specs


def test_sface_spec_is_the_opencv_zoo_model_with_raw_rgb_input() -> None:
    s = SPECS["sface"]
    assert (s.kind, s.backend, s.alignment, s.input_size, s.embedding_dim) == (
        "embedder",
        "onnx-arcface",
        "arcface_112",
        (112, 112),
        128,
    )
    assert s.sha256 == ("0ba9fbfa01b5270c96627c4ef784da859931e02f04419c829e83484087c34e79",)
    assert (s.licence, s.use) == ("Apache-2.0", "commercial")
    # normalisation is inside the graph: 0-255 RGB goes in unchanged
    assert s.preprocessing["color"] == "RGB"
    assert (s.preprocessing["mean"], s.preprocessing["std"]) == (0.0, 1.0)
    assert "training data not stated" in s.description.lower()
    assert "MS1M" in s.description
    assert s.upstream_url == (
        "https://github.com/opencv/opencv_zoo/raw/main/models/face_recognition_sface/"
        "face_recognition_sface_2021dec.onnx"
    )


def test_yunet_specs_are_apache_licensed_and_yunet_n_is_a_yunet_detector() -> None:
    for name in ("yunet", "yunet-2026may", "yunet-n"):
        assert SPECS[name].licence == "Apache-2.0", name
        assert SPECS[name].backend == "yunet", name
        assert SPECS[name].use == "commercial", name
    n = SPECS["yunet-n"]
    assert n.file == "yunet/yunet_n_dynamic.onnx"
    assert n.sha256 == ("104ee26c71d5c270ce79a6b3dced91c91013260d29a6bf18f9296c5b8c4c2b12",)
    assert n.upstream_url is not None
    assert n.upstream_url.endswith("/yunet_n_dynamic.onnx")
    assert SPECS["yunet"].upstream_url == (
        "https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/face_detection_yunet_2023mar.onnx"
    )


def test_every_upstream_url_is_https_and_names_the_remote_file() -> None:
    for s in BUILTIN_SPECS:
        if s.upstream_url is None:
            continue
        assert s.upstream_url.startswith("https://"), s.name
        assert s.upstream_url.rsplit("/", 1)[1] == Path(s.remote_file or s.file).name, s.name


# --------------------------------------------------------------------------- pull from upstream


def test_pull_without_base_url_fetches_the_upstream_url(tmp_path: Path, server: Server) -> None:
    server.put("releases/v1/tiny-weights.onnx", GOOD)
    spec = _tiny(server.url + "/releases/v1/tiny-weights.onnx")
    dest = tmp_path / "models"
    located = ModelStore([dest], (spec,)).pull("tiny")
    assert server.requests == ["/releases/v1/tiny-weights.onnx"]
    assert located.path == dest / spec.file
    assert located.path.read_bytes() == GOOD


def test_pull_with_base_url_uses_the_mirror_not_upstream(tmp_path: Path, server: Server) -> None:
    server.put("mirror/" + "tiny/tiny.onnx", GOOD)
    spec = _tiny(server.url + "/upstream/never.onnx")
    ModelStore([tmp_path / "m"], (spec,)).pull("tiny", server.url + "/mirror")
    assert server.requests == ["/mirror/tiny/tiny.onnx"]


def test_pull_from_upstream_with_wrong_sha256_keeps_nothing(tmp_path: Path, server: Server) -> None:
    server.put("tiny.onnx", BAD)
    dest = tmp_path / "models"
    with pytest.raises(ChecksumError) as info:
        ModelStore([dest], (_tiny(server.url + "/tiny.onnx"),)).pull("tiny")
    assert _sha(BAD) in str(info.value) and _sha(GOOD) in str(info.value)
    assert server.requests == ["/tiny.onnx"]
    assert not dest.exists() or not any(p.is_file() for p in dest.rglob("*"))


def test_pull_without_base_url_or_upstream_is_a_config_error(tmp_path: Path, server: Server) -> None:
    with pytest.raises(ConfigError, match="--base-url"):
        ModelStore([tmp_path / "m"], (_tiny(None),)).pull("tiny")
    assert server.requests == []


@pytest.mark.parametrize("name", ["sface", "yunet-n", "yunet"])
def test_builtin_pull_requests_the_spec_upstream_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    """No internet here: the opener records the URL and serves the wrong bytes, which pull must refuse."""
    asked: list[str] = []

    def fake_urlopen(url: str, timeout: float) -> io.BytesIO:
        asked.append(url)
        return io.BytesIO(BAD)

    monkeypatch.setattr("laneface.models.urllib.request.urlopen", fake_urlopen)
    dest = tmp_path / "models"
    with pytest.raises(ChecksumError, match="discarded"):
        ModelStore([dest]).pull(name)
    assert asked == [SPECS[name].upstream_url]
    assert not (dest / SPECS[name].file).exists()


def test_cli_pull_without_base_url_uses_upstream(tmp_path: Path, server: Server) -> None:
    from laneface.cli.app import app

    server.put("pub/tiny.onnx", GOOD)
    specs = tmp_path / "specs.toml"
    specs.write_text(
        f"""[[model]]
name = "tiny"
version = "1"
kind = "detector"
backend = "yunet"
file = "tiny/tiny.onnx"
sha256 = "{_sha(GOOD)}"
licence = "Apache-2.0"
use = "commercial"
upstream_url = "{server.url}/pub/tiny.onnx"
""",
        encoding="utf-8",
    )
    models = tmp_path / "models"
    result = CliRunner().invoke(
        app, ["--models-dir", str(models), "--model-specs", str(specs), "models", "pull", "tiny"]
    )
    assert result.exit_code == 0, result.output
    assert "sha256 verified" in result.output
    assert (models / "tiny" / "tiny.onnx").read_bytes() == GOOD
    assert server.requests == ["/pub/tiny.onnx"]


def test_specs_file_rejects_a_non_http_upstream_url(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        f"""[[model]]
name = "x"
version = "1"
kind = "detector"
backend = "yunet"
file = "x.onnx"
sha256 = "{_sha(GOOD)}"
licence = "MIT"
use = "commercial"
upstream_url = "ftp://example.org/x.onnx"
""",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError, match="upstream_url"):
        load_specs_file(path)


# --------------------------------------------------------------------------- auto


def _store_with(tmp_path: Path, present: list[str], specs: tuple[ModelSpec, ...] = BUILTIN_SPECS) -> ModelStore:
    """A store whose models directory holds (placeholder) files for ``present``: "auto" looks at presence only."""
    root = tmp_path / "models"
    root.mkdir(exist_ok=True)
    by_name = {s.name: s for s in specs}
    for name in present:
        path = root / by_name[name].file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"placeholder")
    return ModelStore([root], specs)


@pytest.mark.parametrize(
    ("present", "expected"),
    [
        (["yunet-n", "yunet", "retinaface"], "yunet-n"),
        (["yunet", "retinaface"], "yunet"),
        (["retinaface", "scrfd"], "retinaface"),
        (["scrfd", "scrfd-500m"], "dlib-hog"),  # evaluation-only detectors are never picked
        ([], "dlib-hog"),
    ],
)
def test_auto_detector_picks_the_strongest_licence_clean_one_present(
    tmp_path: Path, present: list[str], expected: str
) -> None:
    assert AUTO_ORDER[:3] == ("yunet-n", "yunet", "retinaface")
    assert resolve_detector_name("auto", _store_with(tmp_path, present)) == expected


def test_auto_detector_skips_a_spec_overridden_as_evaluation_only(tmp_path: Path) -> None:
    specs = tuple(dataclasses.replace(s, use="evaluation-only") if s.name == "yunet-n" else s for s in BUILTIN_SPECS)
    store = _store_with(tmp_path, ["yunet-n", "yunet"], specs)
    assert resolve_detector_name("auto", store) == "yunet"


@pytest.mark.parametrize(
    ("name", "present", "expected"),
    [
        ("auto", ["sface"], "sface"),
        ("auto+flip", ["sface"], "sface+flip"),
        ("auto", ["mobilefacenet"], "dlib-resnet"),  # evaluation-only recognizer never picked
        ("auto+tta", [], "dlib-resnet+tta"),
        ("mobilefacenet", ["sface"], "mobilefacenet"),  # an explicit name stays
        ("dlib-resnet", ["sface"], "dlib-resnet"),
    ],
)
def test_auto_embedder_picks_sface_when_present_else_dlib_resnet(
    tmp_path: Path, name: str, present: list[str], expected: str
) -> None:
    assert EMBEDDER_AUTO_ORDER == ("sface", "dlib-resnet")
    assert resolve_embedder_name(name, _store_with(tmp_path, present)) == expected


def test_auto_embedder_skips_sface_overridden_as_evaluation_only(tmp_path: Path) -> None:
    specs = tuple(dataclasses.replace(s, use="evaluation-only") if s.name == "sface" else s for s in BUILTIN_SPECS)
    assert resolve_embedder_name("auto", _store_with(tmp_path, ["sface"], specs)) == "dlib-resnet"


def test_auto_is_the_default_embedder_and_a_known_name(tmp_path: Path) -> None:
    assert EmbeddingSettings().embedder == "auto"
    assert embedder_names(ModelStore([tmp_path]))[0] == "auto"


def test_auto_embedder_templates_carry_the_resolved_model_version(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The gallery keys templates by the built embedder's model version: "auto" must never reach it."""
    import laneface.embedding.onnx_arcface as onnx_arcface
    from laneface.embedding.factory import build_embedder

    built: list[ModelSpec] = []

    class FakeOnnx:
        def __init__(self, path: Path, spec: ModelSpec, **kw: object) -> None:
            built.append(spec)
            self.model_version = spec.model_version

    monkeypatch.setattr(onnx_arcface, "OnnxArcFaceEmbedder", FakeOnnx)
    store = _store_with(tmp_path, ["sface"])
    monkeypatch.setattr(store, "verify", lambda located: "")
    emb = build_embedder("auto", store)
    assert [s.name for s in built] == ["sface"]
    assert emb.model_version == SPECS["sface"].model_version
    assert "auto" not in emb.model_version


def test_every_auto_embedder_has_shipped_thresholds_for_its_model_version() -> None:
    """`auto` may pick any of these: matching with it must work without running `laneface calibrate`."""
    from laneface.gallery.thresholds import load_thresholds

    table = load_thresholds(None)
    for name in EMBEDDER_AUTO_ORDER:
        ts = table.get(SPECS[name].model_version)
        assert ts.comparisons > 10**7, name
        assert 0.0 < ts.at_fmr(1e-3) < ts.at_fmr(1e-5) < 1.0, name
        assert ts.fpir is not None, name
