"""`laneface lane` end to end with real models (YuNet + MobileFaceNet from ../shared/models): the three camera
videos of a simulated passage played as live cameras, a trigger on stdin (then automatic segmentation), the
lane pipeline, the outbox, delivery to a real service (uvicorn on a loopback port), read back as an officer."""

from __future__ import annotations

import json
import os
import queue
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from galleryfakes import InMemoryGallery
from live_server import serve
from typer.testing import CliRunner

from laneface.api.app import create_app
from laneface.config import PrivacySettings, RecordsSettings, ServiceSettings, Settings
from laneface.edge.outbox import read_summary
from laneface.records.crypto import generate_key

SHARED = Path(__file__).resolve().parents[3] / "shared"
MODELS = SHARED / "models"
LFW = SHARED / "data" / "lfw" / "lfw-deepfunneled"

if not (MODELS / "mobilefacenet").is_dir() or not (MODELS / "yunet").is_dir() or not LFW.is_dir():
    pytest.skip(f"../shared not present at {SHARED}", allow_module_level=True)
pytestmark = [pytest.mark.models, pytest.mark.shared, pytest.mark.timeout(600)]

KEYS = {role: secrets.token_urlsafe(32) for role in ("lane", "officer", "auditor", "admin")}


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if not k.upper().startswith("LANEFACE_")}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Simulated passages, a gallery of their documents (YuNet + MobileFaceNet), the passage to replay."""
    from laneface.cli.app import app
    from laneface.sim.writer import simulate

    tmp = tmp_path_factory.mktemp("edge_lane")
    sim = tmp / "sim"
    simulate(sim, 2, 1, LFW)
    data = tmp / "data"
    result = CliRunner().invoke(
        app,
        [
            "--data-dir",
            str(data),
            "--models-dir",
            str(MODELS),
            "gallery",
            "enroll",
            str(sim / "manifest.csv"),
            "-d",
            "yunet",
            "-e",
            "mobilefacenet",
            "-p",
            "lenient",
        ],
        env=_clean_env(),
    )
    assert result.exit_code == 0, result.output
    passages = [json.loads(p.read_text()) for p in sorted(sim.glob("*/passage.json"))]
    chosen = max(passages, key=lambda p: (len(p["documents"]), p["passage_id"]))
    return {"tmp": tmp, "data": data, "passage": sim / chosen["passage_id"], "meta": chosen}


@pytest.fixture
def service(tmp_path: Path) -> Iterator[str]:
    settings = Settings(
        data_dir=tmp_path,
        records=RecordsSettings(database_url=f"sqlite:///{tmp_path / 'records.db'}"),
        privacy=PrivacySettings(encryption_key=generate_key()),
        service=ServiceSettings(
            lane_keys=[KEYS["lane"]],
            officer_keys=[KEYS["officer"]],
            auditor_keys=[KEYS["auditor"]],
            admin_keys=[KEYS["admin"]],
        ),
    )
    app = create_app(settings, gallery=InMemoryGallery(), run_scheduler=False)
    with serve(app) as url:
        yield url


def _lane_toml(directory: Path, passage: Path, url: str, trigger: str, *, booth: bool = False) -> Path:
    cameras = "".join(
        f'\n[[camera]]\nname = "{name}"\nview = "{name}"\nurl = "{passage / f"cam_{name}.mp4"}"\nfps = 10\n'
        for name in ("front", "left", "right")
    )
    path = directory / "lane.toml"
    path.write_text(
        f"""
lane = "L9"
direction = "inbound"
outbox = "state/outbox.db"
spool_dir = "state/spool"

[service]
url = "{url}"
api_key_env = "E2E_LANE_KEY"

[delivery]
backoff_initial_s = 0.2
backoff_max_s = 2

[trigger]
{trigger}

[booth]
post_events = {"true" if booth else "false"}

[pipeline]
detector = "yunet"
embedder = "mobilefacenet"
event_thumbnail_px = {64 if booth else 0}
{cameras}""",
        encoding="utf-8",
    )
    return path


class Lane:
    def __init__(self, config: Path, data: Path, log: Path) -> None:
        code = "from laneface.cli.app import main; main()"
        cmd = [
            sys.executable,
            "-c",
            code,
            "--data-dir",
            str(data),
            "--models-dir",
            str(MODELS),
            "-v",
            "lane",
            "--config",
            str(config),
        ]
        with log.open("w") as err:
            self.proc = subprocess.Popen(
                cmd,
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=err,
                text=True,
                bufsize=1,
                env=_clean_env() | {"E2E_LANE_KEY": KEYS["lane"]},
            )
        self.events: queue.Queue[dict[str, Any]] = queue.Queue()
        self.log = log
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.events.put(json.loads(line))

    def wait_for(self, kind: str, timeout_s: float, count: int = 1) -> list[dict[str, Any]]:
        got: list[dict[str, Any]] = []
        deadline = time.monotonic() + timeout_s
        while len(got) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"no {kind!r} event in {timeout_s} s; log: {self.log.read_text()[-3000:]}")
            try:
                event = self.events.get(timeout=left)
            except queue.Empty:
                continue
            if event["event"] == kind:
                got.append(event)
        return got

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(30)


def _crossings(url: str) -> list[dict[str, Any]]:
    r = httpx.get(url + "/v1/crossings", params={"lane": "L9"}, headers={"X-API-Key": KEYS["officer"]}, timeout=30)
    assert r.status_code == 200, r.text
    items: list[dict[str, Any]] = r.json()["items"]
    return items


def test_lane_with_a_stdin_trigger_on_video_files(world: dict[str, Any], service: str, tmp_path: Path) -> None:
    config = _lane_toml(tmp_path, world["passage"], service, 'kind = "stdin"', booth=True)
    lane = Lane(config, world["data"], tmp_path / "lane.log")
    try:
        lane.wait_for("ready", 120)
        lane.wait_for("camera_ended", 60, count=3)  # the videos have been played in real time
        assert lane.proc.stdin is not None
        documents = world["meta"]["documents"]
        lane.proc.stdin.write(json.dumps({"passage_id": "E2E-1", "documents": documents}) + "\n")
        lane.proc.stdin.flush()
        spooled = lane.wait_for("spooled", 60)[0]
        assert spooled["passage_id"] == "E2E-1" and min(spooled["frames"].values()) >= 30
        captured = lane.wait_for("occupant_captured", 180)
        assert captured and all("thumbnail_jpeg_b64" not in e for e in captured), "thumbnails stay off stdout"
        lane.wait_for("stored", 180)
        assert lane.wait_for("delivered", 60)[0]["status"] == 201
        lane.proc.stdin.close()
        assert lane.proc.wait(60) == 0
    finally:
        lane.kill()
    (crossing,) = _crossings(service)
    assert crossing["passage_id"] == "E2E-1" and crossing["direction"] == "inbound"
    occupants = crossing["occupants"]
    assert crossing["occupant_count"] == len(occupants) >= 2
    matched = [o["doc_id"] for o in occupants if o["decision"] == "match"]
    assert matched and set(matched) <= set(documents)  # someone identified, nobody given a foreign document
    assert all(o["has_face_image"] for o in occupants if o["quality_passed"])
    assert read_summary(tmp_path / "state" / "outbox.db").counts == {"pending": 0, "delivered": 1, "rejected": 0}
    assert not any((tmp_path / "state" / "spool").glob("*_E2E-1"))
    # the pipeline's events reached the service's booth view as they happened
    booth = httpx.get(service + "/v1/booth/L9", headers={"X-API-Key": KEYS["officer"]}, timeout=30).json()
    assert booth["passage_id"] == "E2E-1" and booth["complete"] is True
    assert booth["occupant_count"] == crossing["occupant_count"]
    assert booth["seats"] and all(seat["thumbnail"] for seat in booth["seats"])
    identified = {s["doc_id"] for s in booth["seats"] if s["state"] == "identified"}
    assert identified and identified <= set(documents)


def test_lane_with_automatic_segmentation(world: dict[str, Any], service: str, tmp_path: Path) -> None:
    trigger = 'kind = "auto"\ncamera = "front"\ncheck_fps = 4\nmin_hits = 2\ngap_s = 1.5\npre_s = 1\npost_s = 0.5'
    config = _lane_toml(tmp_path, world["passage"], service, trigger)
    lane = Lane(config, world["data"], tmp_path / "lane.log")
    try:
        lane.wait_for("ready", 120)
        spooled = lane.wait_for("spooled", 60)[0]  # faces appeared, then the camera stopped showing any
        assert spooled["passage_id"].startswith("L9-") and spooled["frames"]["front"] >= 10
        assert lane.wait_for("delivered", 180)[0]["status"] == 201
        lane.proc.send_signal(signal.SIGTERM)
        assert lane.proc.wait(60) == 0
    finally:
        lane.kill()
    crossings = _crossings(service)
    assert [c["passage_id"] for c in crossings] == [spooled["passage_id"]]
    assert crossings[0]["occupant_count"] >= 1
