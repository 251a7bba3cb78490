"""A lane *process* for the store-and-forward tests: the real lane runner of ``laneface lane`` (spool, outbox,
deliverer, stdin triggers, JSON-lines events on stdout) with a synthetic camera and a processor that needs no
model, so hundreds of passages go through in seconds.

    python tests/integration/edge_lane_proc.py lane.toml [--die-after-responses N] [--process-delay-s S]

``--die-after-responses N``: the process kills itself (SIGKILL) right after reading the service's N-th
successful answer, before the outbox marks the record delivered: the window where the service has a record
that the lane still thinks is pending.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import io
import logging
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from PIL import Image

from laneface.edge.cameras import BufferedFrame, CameraInfo
from laneface.edge.config import load_lane_config
from laneface.edge.lane import build_runner, run_lane
from laneface.edge.mapping import encode_body
from laneface.edge.spool import SpooledPassage


def _jpeg(seed: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (48, 48), (seed % 256, (seed * 7) % 256, 90)).save(buf, "JPEG", quality=80)
    return buf.getvalue()


class SyntheticHub:
    """One front camera; every cut gets three small frames inside its window."""

    def __init__(self) -> None:
        self._frame = _jpeg(1)

    @property
    def cameras(self) -> tuple[CameraInfo, ...]:
        return (CameraInfo("front", "front", 10.0),)

    def start(self) -> None: ...

    def stop(self) -> None: ...

    def cut(self, start: float, end: float, wait_s: float) -> dict[str, list[BufferedFrame]]:
        return {"front": [BufferedFrame(end - 0.3 + 0.1 * i, self._frame) for i in range(3)]}

    def latest(self, camera: str) -> BufferedFrame | None:
        return None

    def status(self) -> dict[str, object]:
        return {"front": "synthetic"}


def synthetic_processor(delay_s: float) -> Callable[[SpooledPassage], bytes]:
    """A deterministic record per passage (one occupant with a best-shot JPEG), as the pipeline would give."""

    def process(spooled: SpooledPassage) -> bytes:
        if delay_s:
            time.sleep(delay_s)
        seed = int(hashlib.sha256(spooled.passage_id.encode()).hexdigest()[:6], 16)
        body = {
            "passage_id": spooled.passage_id,
            "lane": spooled.lane,
            "direction": spooled.direction,
            "started_at": spooled.started_at.isoformat(),
            "occupant_count": 1,
            "complete_capture": True,
            "occupants": [
                {
                    "occupant_id": "1",
                    "row": 1,
                    "quality": 70.0 + seed % 30,
                    "quality_passed": True,
                    "match": {"doc_id": None, "score": 0.12, "decision": "no_match"},
                    "model_version": "synthetic@1",
                    "best_shot_jpeg_b64": base64.b64encode(_jpeg(seed)).decode(),
                }
            ],
        }
        return encode_body(body)

    return process


class DieAfterResponses(httpx.BaseTransport):
    """The real transport; SIGKILLs this process after the N-th 200/201 answer has been read."""

    def __init__(self, n: int) -> None:
        self._inner = httpx.HTTPTransport()
        self._left = n

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = self._inner.handle_request(request)
        if response.status_code in (200, 201):
            response.read()
            self._left -= 1
            if self._left == 0:
                os.kill(os.getpid(), signal.SIGKILL)
        return response

    def close(self) -> None:
        self._inner.close()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("config", type=Path)
    parser.add_argument("--die-after-responses", type=int, default=0)
    parser.add_argument("--process-delay-s", type=float, default=0.0)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    cfg = load_lane_config(args.config)
    transport = DieAfterResponses(args.die_after_responses) if args.die_after_responses else None
    runner = build_runner(
        cfg,
        synthetic_processor(args.process_delay_s),
        api_key=cfg.service.api_key(),
        hub=SyntheticHub(),
        transport=transport,
    )
    run_lane(cfg, runner)


if __name__ == "__main__":
    main()
