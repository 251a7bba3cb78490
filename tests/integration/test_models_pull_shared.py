"""`pull` the real model files from ../shared/models served over a local HTTP server, API and CLI."""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from laneface.models import BUILTIN_SPECS, ModelStore, sha256_file

pytestmark = pytest.mark.shared

MODELS = Path(__file__).resolve().parents[3] / "shared" / "models"

if not MODELS.is_dir():
    pytest.skip(f"shared models not found at {MODELS}", allow_module_level=True)

SPECS = {s.name: s for s in BUILTIN_SPECS}
# every builtin spec whose remote file the shared mirror holds
SERVED = sorted(name for name, s in SPECS.items() if (MODELS / (s.remote_file or s.file)).is_file())


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:  # silence request logging
        pass


@contextlib.contextmanager
def _serve(directory: Path) -> Iterator[str]:
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(directory)))
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(timeout=5)


@pytest.fixture(scope="module")
def mirror_url() -> Iterator[str]:
    with _serve(MODELS) as url:
        yield url


def test_mirror_holds_the_required_models() -> None:
    assert "yunet" in SERVED
    assert "dlib-mmod" in SERVED


@pytest.mark.parametrize("name", ["yunet", "dlib-mmod"])
def test_pull_then_locate_real_model(tmp_path: Path, mirror_url: str, name: str) -> None:
    spec = SPECS[name]
    store = ModelStore([tmp_path], BUILTIN_SPECS)
    pulled = store.pull(name, mirror_url)
    assert pulled.path == tmp_path / spec.file
    assert sha256_file(pulled.path) in spec.sha256
    located = ModelStore([tmp_path], BUILTIN_SPECS).locate(name)
    assert located.path == tmp_path / spec.file
    assert located.source == "directory"
    assert sorted(p for p in tmp_path.rglob("*") if p.is_file()) == [tmp_path / spec.file]


def test_pull_bz2_model_is_stored_decompressed(tmp_path: Path, mirror_url: str) -> None:
    spec = SPECS["dlib-mmod"]
    assert spec.compression == "bz2"
    path = ModelStore([tmp_path], BUILTIN_SPECS).pull("dlib-mmod", mirror_url).path
    assert not path.name.endswith(".bz2")
    assert path.read_bytes()[:3] != b"BZh"
    assert path.stat().st_size > (MODELS / (spec.remote_file or "")).stat().st_size


@pytest.mark.parametrize("name", SERVED)
def test_every_served_builtin_matches_its_spec(tmp_path: Path, mirror_url: str, name: str) -> None:
    located = ModelStore([tmp_path], BUILTIN_SPECS).pull(name, mirror_url)
    assert sha256_file(located.path) in SPECS[name].sha256


# --------------------------------------------------------------------------- the CLI


def _laneface_exe() -> str | None:
    beside = Path(sys.executable).parent / "laneface"
    return str(beside) if beside.is_file() else shutil.which("laneface")


LANEFACE = _laneface_exe()
needs_cli = pytest.mark.skipif(LANEFACE is None, reason="`laneface` console script not installed")


def _run_cli(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    assert LANEFACE is not None
    env = {k: v for k, v in os.environ.items() if not k.upper().startswith("LANEFACE_")}
    env["LANEFACE_DATA_DIR"] = str(data_dir)
    return subprocess.run([LANEFACE, *args], capture_output=True, text=True, env=env, timeout=120, check=False)


@needs_cli
def test_cli_pull_then_list(tmp_path: Path, mirror_url: str) -> None:
    models_dir, data_dir = tmp_path / "models", tmp_path / "data"
    spec = SPECS["yunet"]

    pulled = _run_cli(["--models-dir", str(models_dir), "models", "pull", "yunet", "--base-url", mirror_url], data_dir)
    assert pulled.returncode == 0, pulled.stderr
    assert (models_dir / spec.file).is_file()
    assert sha256_file(models_dir / spec.file) in spec.sha256
    assert "yunet" in pulled.stdout

    listed = _run_cli(["--models-dir", str(models_dir), "models", "list", "--json"], data_dir)
    assert listed.returncode == 0, listed.stderr
    rows = {row["name"]: row for row in json.loads(listed.stdout)}
    assert set(rows) == set(SPECS)
    assert rows["yunet"]["status"] == "ok"
    assert Path(rows["yunet"]["path"]) == models_dir / spec.file
    assert rows["yunet-2026may"]["status"] == "missing"
    assert rows["yunet-2026may"]["path"] == ""


@needs_cli
def test_cli_pull_404_is_one_error_line(tmp_path: Path, mirror_url: str) -> None:
    models_dir = tmp_path / "models"
    result = _run_cli(
        ["--models-dir", str(models_dir), "models", "pull", "yunet", "--base-url", mirror_url + "/no/such/dir"],
        tmp_path / "data",
    )
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error:"), result.stderr
    assert "Traceback" not in result.stderr
    assert "404" in result.stderr
    assert not (models_dir / SPECS["yunet"].file).exists()


@needs_cli
def test_cli_pull_without_base_url_or_upstream_is_one_error_line(tmp_path: Path) -> None:
    assert SPECS["yunet-2026may"].upstream_url is None  # no known publisher location: a mirror is needed
    result = _run_cli(["--models-dir", str(tmp_path / "m"), "models", "pull", "yunet-2026may"], tmp_path / "data")
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.startswith("error:"), result.stderr
    assert "--base-url" in result.stderr
    assert "upstream" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("name", ["sface", "yunet-n", "yunet"])
def test_pull_real_model_from_its_upstream_path(tmp_path: Path, name: str) -> None:
    """The publisher's site stood in for by the local server: the file at the spec's upstream path (after the
    host) is the real model, pulled without a base URL and verified."""
    from urllib.parse import urlsplit

    spec = SPECS[name]
    assert spec.upstream_url is not None
    upstream_path = urlsplit(spec.upstream_url).path
    publisher = tmp_path / "publisher"
    (publisher / upstream_path.lstrip("/")).parent.mkdir(parents=True)
    shutil.copyfile(MODELS / spec.file, publisher / upstream_path.lstrip("/"))
    with _serve(publisher) as url:
        local = dataclasses.replace(spec, upstream_url=url + upstream_path)
        pulled = ModelStore([tmp_path / "models"], (local,)).pull(name)
    assert sha256_file(pulled.path) in spec.sha256
    assert pulled.path == tmp_path / "models" / spec.file
