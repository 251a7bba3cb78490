"""lane.toml: validation with specific errors, relative paths, the API key from the environment or a file."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from laneface.edge.config import load_lane_config, redact_url
from laneface.errors import ConfigError

BASE = """
lane = "L3"
direction = "inbound"
outbox = "state/outbox.db"
spool_dir = "state/spool"

[service]
url = "http://127.0.0.1:8080"
api_key_env = "LANE3_KEY"

[[camera]]
name = "front"
url = "rtsp://user:secret@10.0.0.5:554/stream1"
fps = 10

[[camera]]
name = "left"
view = "left"
url = "videos/left.mp4"
"""


def _write(tmp_path: Path, text: str) -> Path:
    (tmp_path / "videos").mkdir(exist_ok=True)
    (tmp_path / "videos" / "left.mp4").write_bytes(b"not really a video")
    path = tmp_path / "lane.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_a_valid_file(tmp_path: Path) -> None:
    cfg = load_lane_config(_write(tmp_path, BASE))
    assert cfg.lane == "L3" and cfg.direction == "inbound"
    assert cfg.outbox == tmp_path / "state" / "outbox.db"
    assert cfg.spool_dir == tmp_path / "state" / "spool"
    front, left = cfg.camera
    assert front.is_stream and front.view == "front" and front.fps == 10
    assert "secret" not in front.safe_url and front.safe_url.startswith("rtsp://***@10.0.0.5:554/")
    assert not left.is_stream and left.url == str(tmp_path / "videos" / "left.mp4") and left.fps == 10.0
    assert cfg.trigger.kind == "stdin" and cfg.trigger_camera == "front"
    assert cfg.delivery.backoff_max_s == 30.0 and cfg.passage.max_s == 20.0
    assert cfg.service.api_key({"LANE3_KEY": "k" * 32}) == "k" * 32


def test_api_key_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "key").write_text("f" * 40 + "\n")
    cfg = load_lane_config(_write(tmp_path, BASE.replace('api_key_env = "LANE3_KEY"', 'api_key_file = "key"')))
    assert cfg.service.api_key({}) == "f" * 40


def test_missing_api_key_names_the_variable(tmp_path: Path) -> None:
    cfg = load_lane_config(_write(tmp_path, BASE))
    with pytest.raises(ConfigError, match="LANE3_KEY"):
        cfg.service.api_key({})
    with pytest.raises(ConfigError, match="at least 16"):
        cfg.service.api_key({"LANE3_KEY": "short"})


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (('lane = "L3"', 'lane = "L 3"'), "lane"),
        (('direction = "inbound"', 'direction = "sideways"'), "direction"),
        (("fps = 10", "fps = 0"), "camera[0].fps"),
        (("[service]", '[service]\napi_key = "inline"'), "service.api_key"),  # keys are never in the file
        (('url = "http://127.0.0.1:8080"', 'url = "ftp://x"'), "service.url"),
        (('name = "left"', 'name = "front"'), "camera names must be unique"),
        (("videos/left.mp4", "videos/missing.mp4"), "video file"),
        (("", '\n[trigger]\nkind = "http"\nhost = "0.0.0.0"'), "loopback"),
        (("", '\n[trigger]\nkind = "auto"\ncamera = "rear"'), "trigger.camera"),
        (("", '\n[trigger]\nkind = "stdout"'), "trigger.kind"),
        (("", "\n[passage]\nmax_s = 60\nbuffer_s = 30"), "buffer_s"),
        (("", "\n[delivery]\nbackoff_initial_s = 60\nbackoff_max_s = 10"), "backoff"),
        (("", "\n[trigger]\ngap_s = 1\npost_s = 2"), "post_s"),
    ],
)
def test_errors_name_the_field(tmp_path: Path, change: tuple[str, str], message: str) -> None:
    old, new = change
    path = _write(tmp_path, BASE.replace(old, new, 1) if old else BASE + new)
    with pytest.raises(ConfigError, match=re.escape(message)):
        load_lane_config(path)


def test_no_camera(tmp_path: Path) -> None:
    text = BASE.split("[[camera]]")[0]
    with pytest.raises(ConfigError, match="camera"):
        load_lane_config(_write(tmp_path, text))


def test_not_toml_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_lane_config(_write(tmp_path, "lane = "))
    with pytest.raises(ConfigError, match="not found"):
        load_lane_config(tmp_path / "nope.toml")


def test_auto_trigger_camera_defaults_to_the_first_front_view(tmp_path: Path) -> None:
    text = BASE.replace('name = "front"\n', 'name = "front"\nview = "left"\n').replace(
        'name = "left"\nview = "left"', 'name = "left"\nview = "front"'
    )
    cfg = load_lane_config(_write(tmp_path, text))
    assert cfg.trigger_camera == "left"


def test_redact_url() -> None:
    assert redact_url("rtsp://10.0.0.1/s") == "rtsp://10.0.0.1/s"
    assert redact_url("rtsp://admin:pw@cam.local/s?x=1") == "rtsp://***@cam.local/s?x=1"


def test_replicas_of_the_service_are_fallback_urls(tmp_path: Path) -> None:
    assert load_lane_config(_write(tmp_path, BASE)).service.urls == ("http://127.0.0.1:8080",)
    two = BASE.replace(
        'api_key_env = "LANE3_KEY"', 'api_key_env = "LANE3_KEY"\nfallback_urls = ["http://10.0.0.9:8080"]'
    )
    assert load_lane_config(_write(tmp_path, two)).service.urls == ("http://127.0.0.1:8080", "http://10.0.0.9:8080")
    bad = two.replace("http://10.0.0.9:8080", "ftp://10.0.0.9")
    with pytest.raises(ConfigError, match="fallback_urls"):
        load_lane_config(_write(tmp_path, bad))
