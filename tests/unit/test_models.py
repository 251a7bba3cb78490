"""ModelStore: locating, verifying and pulling model files, and extra specs from TOML.

Everything here uses tiny files made in ``tmp_path`` and a local HTTP server; no real model is needed.
"""

from __future__ import annotations

import bz2
import functools
import hashlib
import importlib
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from laneface.config import ModelSettings, Settings, load_settings
from laneface.errors import (
    ChecksumError,
    ConfigError,
    ModelDownloadError,
    ModelError,
    ModelNotFoundError,
    UnknownComponentError,
)
from laneface.models import BUILTIN_SPECS, LocatedModel, ModelSpec, ModelStore, load_specs_file, sha256_file

GOOD = b"tiny model weights v1\n" * 50
OTHER_BUILD = b"tiny model weights v1, other export\n" * 40
BAD = b"this is not the model you are looking for\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _spec(name: str = "tiny", **kw: object) -> ModelSpec:
    fields: dict[str, object] = {
        "name": name,
        "version": "v9",
        "kind": "detector",
        "backend": "yunet",
        "file": f"{name}/{name}_weights.onnx",
        "sha256": (_sha(GOOD),),
        "licence": "MIT",
        "use": "commercial",
    }
    fields.update(kw)
    return ModelSpec(**fields)  # type: ignore[arg-type]


def _put(root: Path, rel: str, data: bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _leftovers(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    import os

    for key in list(os.environ):
        if key.upper().startswith("LANEFACE_"):
            monkeypatch.delenv(key)


# --------------------------------------------------------------------------- local HTTP server


class _QuietCountingHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # silence request logging
        pass

    def do_GET(self) -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]
        super().do_GET()


@dataclass
class Server:
    url: str
    root: Path
    requests: list[str]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    root = tmp_path / "remote"
    root.mkdir()
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietCountingHandler, directory=str(root)))
    httpd.requests = []  # type: ignore[attr-defined]
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield Server(f"http://127.0.0.1:{httpd.server_address[1]}", root, httpd.requests)  # type: ignore[attr-defined]
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


# --------------------------------------------------------------------------- find / locate


def test_locate_finds_file_in_first_search_dir(tmp_path: Path) -> None:
    spec = _spec()
    first, second = tmp_path / "a", tmp_path / "b"
    p1 = _put(first, spec.file, GOOD)
    _put(second, spec.file, GOOD)
    store = ModelStore([first, second], (spec,))
    located = store.locate("tiny")
    assert located == LocatedModel(spec, p1, "directory")


def test_locate_falls_back_to_later_dirs(tmp_path: Path) -> None:
    spec = _spec()
    first, second, third = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    first.mkdir()
    p3 = _put(third, spec.file, GOOD)
    store = ModelStore([first, second, third], (spec,))
    assert store.locate("tiny").path == p3
    assert store.find("tiny") == LocatedModel(spec, p3, "directory")


def test_locate_accepts_flat_layout(tmp_path: Path) -> None:
    spec = _spec()
    flat = _put(tmp_path, Path(spec.file).name, GOOD)
    assert ModelStore([tmp_path], (spec,)).locate("tiny").path == flat


def test_locate_finds_file_shipped_in_a_package(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pkg_root = tmp_path / "site"
    _put(pkg_root, "lf_fake_models_pkg/__init__.py", b"")
    shipped = _put(pkg_root, "lf_fake_models_pkg/models/w.dat", GOOD)
    monkeypatch.syspath_prepend(str(pkg_root))
    importlib.invalidate_caches()
    spec = _spec(package="lf_fake_models_pkg", package_file="models/w.dat")
    located = ModelStore([tmp_path / "empty"], (spec,)).locate("tiny")
    assert located.path.resolve() == shipped.resolve()
    assert located.source == "package:lf_fake_models_pkg"


def test_find_returns_none_when_absent(tmp_path: Path) -> None:
    store = ModelStore([tmp_path / "a", tmp_path / "b"], (_spec(),))
    assert store.find("tiny") is None


def test_find_does_not_verify(tmp_path: Path) -> None:
    spec = _spec()
    p = _put(tmp_path, spec.file, BAD)
    assert ModelStore([tmp_path], (spec,)).find("tiny") == LocatedModel(spec, p, "directory")


def test_locate_missing_raises_with_places_and_pull_hint(tmp_path: Path) -> None:
    spec = _spec()
    first, second = tmp_path / "first", tmp_path / "second"
    store = ModelStore([first, second], (spec,))
    with pytest.raises(ModelNotFoundError) as info:
        store.locate("tiny")
    msg = str(info.value)
    assert str(first / spec.file) in msg
    assert str(second / spec.file) in msg
    assert "models pull" in msg
    assert "tiny" in msg
    assert isinstance(info.value, ModelError)


# --------------------------------------------------------------------------- checksums


def test_wrong_content_raises_checksum_error_naming_both_digests(tmp_path: Path) -> None:
    spec = _spec()
    _put(tmp_path, spec.file, BAD)
    with pytest.raises(ChecksumError) as info:
        ModelStore([tmp_path], (spec,)).locate("tiny")
    msg = str(info.value)
    assert _sha(GOOD) in msg
    assert _sha(BAD) in msg


def test_store_without_verification_accepts_wrong_content(tmp_path: Path) -> None:
    spec = _spec()
    p = _put(tmp_path, spec.file, BAD)
    store = ModelStore([tmp_path], (spec,), verify=False)
    located = store.locate("tiny")
    assert located.path == p
    assert store.verify(located) == _sha(BAD)


def test_spec_with_two_builds_accepts_both(tmp_path: Path) -> None:
    spec = _spec(sha256=(_sha(GOOD), _sha(OTHER_BUILD)))
    for i, data in enumerate((GOOD, OTHER_BUILD)):
        root = tmp_path / f"build{i}"
        _put(root, spec.file, data)
        store = ModelStore([root], (spec,))
        assert store.verify(store.locate("tiny")) == _sha(data)
    _put(tmp_path / "bad", spec.file, BAD)
    with pytest.raises(ChecksumError):
        ModelStore([tmp_path / "bad"], (spec,)).locate("tiny")


def test_changed_file_is_verified_again(tmp_path: Path) -> None:
    spec = _spec()
    p = _put(tmp_path, spec.file, GOOD)
    store = ModelStore([tmp_path], (spec,))
    store.locate("tiny")
    p.write_bytes(BAD)  # different size, so not served from the verification cache
    with pytest.raises(ChecksumError):
        store.locate("tiny")


def test_sha256_file_matches_hashlib(tmp_path: Path) -> None:
    p = _put(tmp_path, "x.bin", GOOD)
    assert sha256_file(p, chunk=7) == _sha(GOOD)


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("method", ["spec", "find", "locate"])
def test_unknown_name_lists_known_names(tmp_path: Path, method: str) -> None:
    store = ModelStore([tmp_path], (_spec("alpha"), _spec("beta")))
    with pytest.raises(UnknownComponentError) as info:
        getattr(store, method)("gamma")
    msg = str(info.value)
    assert "gamma" in msg
    assert "alpha" in msg
    assert "beta" in msg


def test_pull_unknown_name_lists_known_names(tmp_path: Path) -> None:
    store = ModelStore([tmp_path], (_spec("alpha"),))
    with pytest.raises(UnknownComponentError, match="alpha"):
        store.pull("gamma", "http://127.0.0.1:9")


def test_builtin_store_knows_builtin_names(tmp_path: Path) -> None:
    store = ModelStore([tmp_path])
    assert [s.name for s in store.specs] == [s.name for s in BUILTIN_SPECS]
    with pytest.raises(UnknownComponentError) as info:
        store.spec("no-such-model")
    for s in BUILTIN_SPECS:
        assert s.name in str(info.value)


def test_model_version_has_name_version_and_sha_prefix() -> None:
    spec = _spec()
    mv = spec.model_version
    assert "tiny" in mv
    assert "v9" in mv
    assert _sha(GOOD)[:12] in mv
    assert mv != _spec(sha256=(_sha(OTHER_BUILD),)).model_version
    assert mv != _spec(version="v10").model_version


def test_builtin_specs_are_well_formed() -> None:
    names = [s.name for s in BUILTIN_SPECS]
    assert len(names) == len(set(names))
    assert len({s.model_version for s in BUILTIN_SPECS}) == len(BUILTIN_SPECS)
    for s in BUILTIN_SPECS:
        assert s.sha256, s.name
        for digest in (*s.sha256, *([s.remote_sha256] if s.remote_sha256 else [])):
            assert len(digest) == 64, s.name
            assert all(c in "0123456789abcdef" for c in digest), s.name
        if s.compression is not None:
            assert s.remote_file, s.name


# --------------------------------------------------------------------------- pull


def test_pull_downloads_and_verifies(tmp_path: Path, server: Server) -> None:
    spec = _spec()
    _put(server.root, spec.file, GOOD)
    dest_root = tmp_path / "models"
    store = ModelStore([dest_root], (spec,))
    located = store.pull("tiny", server.url)
    assert located.path == dest_root / spec.file
    assert located.path.read_bytes() == GOOD
    assert located.source == "directory"
    assert server.requests == ["/" + spec.file]
    assert _leftovers(dest_root) == [dest_root / spec.file]
    assert store.locate("tiny").path == dest_root / spec.file


def test_pull_into_explicit_pull_dir_with_path_prefix_and_trailing_slash(tmp_path: Path, server: Server) -> None:
    spec = _spec()
    _put(server.root, "mirror/" + spec.file, GOOD)
    pull_dir = tmp_path / "pulled"
    store = ModelStore([tmp_path / "search"], (spec,), pull_dir=pull_dir)
    located = store.pull("tiny", server.url + "/mirror/")
    assert located.path == pull_dir / spec.file
    assert server.requests == ["/mirror/" + spec.file]


def test_pull_wrong_remote_content_keeps_nothing(tmp_path: Path, server: Server) -> None:
    spec = _spec()
    _put(server.root, spec.file, BAD)
    dest_root = tmp_path / "models"
    with pytest.raises(ChecksumError) as info:
        ModelStore([dest_root], (spec,)).pull("tiny", server.url)
    assert _sha(BAD) in str(info.value)
    assert _sha(GOOD) in str(info.value)
    assert _leftovers(dest_root) == []


def test_pull_404_raises_download_error(tmp_path: Path, server: Server) -> None:
    spec = _spec()
    dest_root = tmp_path / "models"
    with pytest.raises(ModelDownloadError) as info:
        ModelStore([dest_root], (spec,)).pull("tiny", server.url)
    assert "404" in str(info.value)
    assert "tiny" in str(info.value)
    assert _leftovers(dest_root) == []


def test_pull_unreachable_server_raises_download_error(tmp_path: Path, server: Server) -> None:
    spec = _spec()
    # a port that was just free: nothing listens there
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ModelDownloadError):
        ModelStore([tmp_path / "m"], (spec,)).pull("tiny", f"http://127.0.0.1:{port}", timeout_s=5)
    assert _leftovers(tmp_path / "m") == []


def _bz2_spec(raw: bytes, compressed: bytes | None) -> ModelSpec:
    return _spec(
        file="tiny/tiny.dat",
        sha256=(_sha(raw),),
        remote_file="tiny/tiny.dat.bz2",
        remote_sha256=_sha(compressed) if compressed is not None else None,
        compression="bz2",
    )


def test_pull_bz2_remote_is_decompressed_and_verified(tmp_path: Path, server: Server) -> None:
    compressed = bz2.compress(GOOD)
    spec = _bz2_spec(GOOD, compressed)
    _put(server.root, spec.remote_file or "", compressed)
    dest_root = tmp_path / "models"
    located = ModelStore([dest_root], (spec,)).pull("tiny", server.url)
    assert located.path == dest_root / "tiny/tiny.dat"
    assert located.path.read_bytes() == GOOD
    assert server.requests == ["/tiny/tiny.dat.bz2"]
    assert _leftovers(dest_root) == [dest_root / "tiny/tiny.dat"]


def test_pull_bz2_with_wrong_compressed_checksum_keeps_nothing(tmp_path: Path, server: Server) -> None:
    spec = _bz2_spec(GOOD, bz2.compress(GOOD))
    _put(server.root, spec.remote_file or "", bz2.compress(BAD))
    dest_root = tmp_path / "models"
    with pytest.raises(ChecksumError):
        ModelStore([dest_root], (spec,)).pull("tiny", server.url)
    assert _leftovers(dest_root) == []


def test_pull_bz2_with_wrong_decompressed_content_keeps_nothing(tmp_path: Path, server: Server) -> None:
    spec = _bz2_spec(GOOD, None)  # no remote checksum: only the decompressed file is checked
    _put(server.root, spec.remote_file or "", bz2.compress(BAD))
    dest_root = tmp_path / "models"
    with pytest.raises(ChecksumError) as info:
        ModelStore([dest_root], (spec,)).pull("tiny", server.url)
    assert _sha(BAD) in str(info.value)
    assert _leftovers(dest_root) == []


def test_pull_bz2_corrupt_stream_raises_download_error(tmp_path: Path, server: Server) -> None:
    spec = _bz2_spec(GOOD, None)
    _put(server.root, spec.remote_file or "", b"BZh9 definitely not bzip2 data" * 10)
    dest_root = tmp_path / "models"
    with pytest.raises(ModelDownloadError):
        ModelStore([dest_root], (spec,)).pull("tiny", server.url)
    assert _leftovers(dest_root) == []


def test_pull_skips_existing_verified_file_unless_forced(tmp_path: Path, server: Server) -> None:
    spec = _spec()
    served = _put(server.root, spec.file, GOOD)
    dest_root = tmp_path / "models"
    store = ModelStore([dest_root], (spec,))
    store.pull("tiny", server.url)
    assert len(server.requests) == 1
    again = store.pull("tiny", server.url)
    assert again.path == dest_root / spec.file
    assert len(server.requests) == 1  # not downloaded again
    # a fresh store (no verification cache) also keeps the existing file
    ModelStore([dest_root], (spec,)).pull("tiny", server.url)
    assert len(server.requests) == 1
    store.pull("tiny", server.url, force=True)
    assert len(server.requests) == 2
    served.unlink()
    with pytest.raises(ModelDownloadError):
        store.pull("tiny", server.url, force=True)
    # the failed forced download did not destroy the verified file already there
    assert (dest_root / spec.file).read_bytes() == GOOD


def test_pull_force_replaces_corrupt_existing_file(tmp_path: Path, server: Server) -> None:
    spec = _spec()
    _put(server.root, spec.file, GOOD)
    dest_root = tmp_path / "models"
    _put(dest_root, spec.file, BAD)
    store = ModelStore([dest_root], (spec,))
    with pytest.raises(ChecksumError):
        store.pull("tiny", server.url)
    assert server.requests == []
    located = store.pull("tiny", server.url, force=True)
    assert located.path.read_bytes() == GOOD
    assert store.locate("tiny").path == dest_root / spec.file


@pytest.mark.parametrize(
    "base_url", ["ftp://127.0.0.1/models", "file:///tmp/models", "127.0.0.1:8000/models", "", "HTTPX://x"]
)
def test_pull_rejects_non_http_base_url(tmp_path: Path, server: Server, base_url: str) -> None:
    spec = _spec()
    with pytest.raises(ConfigError, match="http"):
        ModelStore([tmp_path / "m"], (spec,)).pull("tiny", base_url)
    assert server.requests == []
    assert not (tmp_path / "m").exists()


def test_pull_without_any_directory_is_config_error() -> None:
    with pytest.raises(ConfigError):
        ModelStore([], (_spec(),)).pull("tiny", "http://127.0.0.1:9")


# --------------------------------------------------------------------------- specs file

HEX_A = "ab" * 32
HEX_B = "cd" * 32

VALID_TOML = f"""
[[model]]
name = "agency-arcface"
version = "r100-2026"
kind = "embedder"
backend = "onnx-arcface"
file = "agency/arcface_r100.onnx"
sha256 = ["{HEX_A.upper()}", "{HEX_B}"]
licence = "agency-internal"
use = "commercial"
input_size = [112, 112]
embedding_dim = 512
alignment = "arcface_112"
preprocessing = {{ color = "RGB", mean = 127.5, std = 127.5 }}

[[model]]
name = "agency-detector"
version = "1"
kind = "detector"
backend = "yunet"
file = "agency/det.onnx"
sha256 = "{HEX_B}"
licence = "MIT"
use = "evaluation-only"
"""

MINIMAL = """
name = "x"
version = "1"
kind = "detector"
backend = "yunet"
file = "x/x.onnx"
licence = "MIT"
use = "commercial"
"""


def _write(tmp_path: Path, text: str, name: str = "specs.toml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def test_load_specs_file_reads_models(tmp_path: Path) -> None:
    specs = load_specs_file(_write(tmp_path, VALID_TOML))
    assert [s.name for s in specs] == ["agency-arcface", "agency-detector"]
    arc, det = specs
    assert arc.sha256 == (HEX_A, HEX_B)  # lower-cased
    assert arc.input_size == (112, 112)
    assert arc.embedding_dim == 512
    assert arc.alignment == "arcface_112"
    assert arc.kind == "embedder"
    assert arc.preprocessing == {"color": "RGB", "mean": 127.5, "std": 127.5}
    assert det.sha256 == (HEX_B,)  # a single string is accepted
    assert det.use == "evaluation-only"
    assert det.input_size is None


def test_load_specs_file_without_models_is_empty(tmp_path: Path) -> None:
    assert load_specs_file(_write(tmp_path, "# nothing here\n")) == ()


@pytest.mark.parametrize(
    ("label", "text"),
    [
        ("bad toml", "[[model]\nname = 'x'\n"),
        ("missing key", "[[model]]\n" + MINIMAL.replace('file = "x/x.onnx"\n', "") + f'sha256 = "{HEX_A}"\n'),
        ("missing sha", "[[model]]\n" + MINIMAL),
        ("unknown key", "[[model]]\n" + MINIMAL + f'sha256 = "{HEX_A}"\ncolour = "RGB"\n'),
        ("short sha", "[[model]]\n" + MINIMAL + f'sha256 = "{HEX_A[:-1]}"\n'),
        ("non-hex sha", "[[model]]\n" + MINIMAL + f'sha256 = ["{HEX_A}", "{"g" * 64}"]\n'),
        ("empty sha list", "[[model]]\n" + MINIMAL + "sha256 = []\n"),
        ("numeric sha", "[[model]]\n" + MINIMAL + "sha256 = [1234]\n"),
        ("input size not a list", "[[model]]\n" + MINIMAL + f'sha256 = "{HEX_A}"\ninput_size = 112\n'),
        ("single table", "[model]\n" + MINIMAL + f'sha256 = "{HEX_A}"\n'),
        ("model not a table", 'model = "x"\n'),
    ],
)
def test_load_specs_file_invalid_is_config_error(tmp_path: Path, label: str, text: str) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_specs_file(path)
    assert str(path) in str(info.value), label


def test_load_specs_file_missing_file_is_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="cannot read"):
        load_specs_file(tmp_path / "nope.toml")


def _extra_specs_toml(tiny_sha: str) -> str:
    yunet = next(s for s in BUILTIN_SPECS if s.name == "yunet")
    return f"""
[[model]]
name = "agency-arcface"
version = "r100-2026"
kind = "embedder"
backend = "onnx-arcface"
file = "agency/arcface_r100.onnx"
sha256 = ["{tiny_sha}"]
licence = "agency-internal"
use = "commercial"
input_size = [112, 112]
embedding_dim = 512

[[model]]
name = "yunet"
version = "agency-build"
kind = "detector"
backend = "yunet"
file = "agency/yunet_agency.onnx"
sha256 = ["{HEX_B}"]
licence = "{yunet.licence}"
use = "commercial"
"""


def test_store_from_settings_adds_and_overrides_specs(tmp_path: Path) -> None:
    specs_file = _write(tmp_path, _extra_specs_toml(_sha(GOOD)))
    models_dir = tmp_path / "models"
    settings = Settings(data_dir=tmp_path / "data", models=ModelSettings(models_dir=models_dir, specs_file=specs_file))
    store = ModelStore.from_settings(settings)
    names = [s.name for s in store.specs]
    assert len(names) == len(set(names))
    assert set(names) == {s.name for s in BUILTIN_SPECS} | {"agency-arcface"}
    assert store.spec("agency-arcface").embedding_dim == 512
    yunet = store.spec("yunet")
    assert yunet.version == "agency-build"
    assert yunet.file == "agency/yunet_agency.onnx"
    assert yunet.sha256 == (HEX_B,)
    # the other builtins are untouched
    builtin_mmod = next(s for s in BUILTIN_SPECS if s.name == "dlib-mmod")
    assert store.spec("dlib-mmod") == builtin_mmod
    # search order and pull directory
    assert store.search_dirs == [models_dir, tmp_path / "data" / "models"]
    assert store.pull_dir == models_dir
    # the extra spec is usable end to end
    _put(models_dir, "agency/arcface_r100.onnx", GOOD)
    assert store.locate("agency-arcface").path == models_dir / "agency/arcface_r100.onnx"


def test_store_from_load_settings_with_specs_file(tmp_path: Path) -> None:
    specs_file = _write(tmp_path, _extra_specs_toml(_sha(GOOD)))
    settings = load_settings(data_dir=tmp_path / "data", models__specs_file=specs_file)
    store = ModelStore.from_settings(settings)
    assert store.spec("agency-arcface").name == "agency-arcface"
    assert store.search_dirs == [tmp_path / "data" / "models"]
    assert store.pull_dir == tmp_path / "data" / "models"
    _put(tmp_path / "data" / "models", "agency/arcface_r100.onnx", GOOD)
    assert store.locate("agency-arcface").source == "directory"


def test_store_from_settings_with_bad_specs_file_is_config_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, models=ModelSettings(specs_file=_write(tmp_path, "[[model]]\nname=1\n")))
    with pytest.raises(ConfigError):
        ModelStore.from_settings(settings)


def test_store_from_settings_honours_verify_checksums(tmp_path: Path) -> None:
    spec = next(s for s in BUILTIN_SPECS if s.name == "yunet")
    _put(tmp_path / "models", spec.file, BAD)
    strict = ModelStore.from_settings(
        Settings(data_dir=tmp_path / "d", models=ModelSettings(models_dir=tmp_path / "models"))
    )
    with pytest.raises(ChecksumError):
        strict.locate("yunet")
    lax = ModelStore.from_settings(
        Settings(data_dir=tmp_path / "d", models=ModelSettings(models_dir=tmp_path / "models", verify_checksums=False))
    )
    assert lax.locate("yunet").path == tmp_path / "models" / spec.file


def test_from_settings_rejects_other_objects(tmp_path: Path) -> None:
    with pytest.raises(TypeError):
        ModelStore.from_settings({"models": {}})
