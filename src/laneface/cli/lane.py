"""`laneface lane --config lane.toml`: one lane, continuously, with store-and-forward to the service."""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.common import emit_json, settings_with_lane, store_of

__all__ = ["lane_command"]

logger = logging.getLogger(__name__)


def lane_command(
    ctx: typer.Context,
    config: Annotated[Path, typer.Option("--config", "-c", help="The lane's lane.toml (README: Lane edge).")],
    status: Annotated[
        bool, typer.Option("--status", help="Print the outbox's counts and rejected records as JSON and exit.")
    ] = False,
) -> None:
    """Run a lane: cameras (RTSP or video files) are buffered, a trigger (stdin JSON lines, HTTP on loopback or
    automatic segmentation) cuts a passage, the lane pipeline processes it, its record is committed to the
    local outbox and delivered to the records service with retries. Events are JSON lines on stdout (the
    pipeline's too); with [booth] post_events they also go to the service's booth view."""
    from laneface.edge.config import load_lane_config

    cfg = load_lane_config(config)
    if status:
        from laneface.edge.outbox import read_summary

        emit_json(read_summary(cfg.outbox).as_json())
        return
    api_key = cfg.service.api_key()  # before the models load: a missing key fails at once

    from laneface.edge.booth import BoothLink, OfficerPrompts, fan_out
    from laneface.edge.cameras import FrameHub
    from laneface.edge.lane import JsonLinesSink, build_runner, pipeline_processor, run_lane
    from laneface.edge.live import live_factory
    from laneface.edge.runner import LiveFactory
    from laneface.pipeline.lane import LanePipeline

    # lane.toml's [pipeline] keys over the environment's lane section, like a command's options
    settings = settings_with_lane(ctx, **cfg.pipeline.model_dump(exclude_unset=True))
    store = store_of(ctx)
    pipeline = LanePipeline.from_settings(settings, store)
    with pipeline:
        detector = None
        if cfg.trigger.kind == "auto":
            from laneface.detection.factory import build_detector

            name = cfg.trigger.detector or cfg.pipeline.detector or settings.detection.detector
            detector = build_detector(name, store, settings.detection)
        stdout = JsonLinesSink()
        prompts = OfficerPrompts()
        link = None
        if cfg.booth.post_events:
            link = BoothLink(
                cfg.service.url,
                cfg.lane,
                api_key,
                prompts,
                emit=stdout,
                timeout_s=min(cfg.service.timeout_s, 5.0),
                poll_s=cfg.booth.poll_s,
            )
            link.start()
        try:
            events, lock = fan_out(link, stdout), threading.Lock()
            processor = pipeline_processor(
                pipeline, images=cfg.delivery.send_images, events=events, prompts=prompts, lock=lock
            )
            live = None
            if cfg.booth.live:

                def live(hub: FrameHub) -> LiveFactory:
                    return live_factory(
                        pipeline,
                        hub,
                        lane=cfg.lane,
                        events=events,
                        prompts=prompts,
                        images=cfg.delivery.send_images,
                        cut_wait_s=cfg.passage.cut_wait_s,
                        lock=lock,
                    )

            runner = build_runner(cfg, processor, api_key=api_key, emit=stdout, live=live)
            logger.info(
                "lane %s (%s): %d camera(s), trigger %s", cfg.lane, cfg.direction, len(cfg.camera), cfg.trigger.kind
            )
            run_lane(cfg, runner, detector=detector, emit=stdout)
        finally:
            if link is not None:
                link.stop()
