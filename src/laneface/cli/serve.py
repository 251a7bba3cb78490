"""`laneface serve`: the records service (FastAPI over uvicorn; OpenAPI at /openapi.json)."""

from __future__ import annotations

import ipaddress
import logging
from typing import Annotated

import typer

from laneface.cli.common import settings_of, store_of
from laneface.errors import ConfigError

__all__ = ["serve_command"]

log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def serve_command(
    ctx: typer.Context,
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on (default service.host).")] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="TCP port (default service.port, 8080).")
    ] = None,
    insecure_dev: Annotated[
        bool,
        typer.Option(
            "--insecure-dev",
            help="Development only, loopback only: generate API keys (saved in <data dir>/dev-api-keys.json and "
            "logged once) and an encryption key (<data dir>/dev-encryption.key) when none are configured.",
        ),
    ] = False,
    enrol_profile: Annotated[
        str,
        typer.Option(
            "--enrol-profile", help="Quality profile an uploaded document photo must meet (POST /v1/gallery/documents)."
        ),
    ] = "document",
) -> None:
    """Run the records service: lanes post passages, officers adjudicate, auditors read the audit log."""
    import uvicorn

    from laneface.api.app import create_app
    from laneface.api.gallery_service import ServiceGallery, enroller_from_settings

    settings = settings_of(ctx)
    bind_host = host or settings.service.host
    if insecure_dev and not _is_loopback(bind_host):
        raise ConfigError("--insecure-dev only listens on a loopback address (127.0.0.1, ::1, localhost)")
    from laneface.quality.profiles import load_quality_config

    load_quality_config().profile(enrol_profile)  # an unknown profile fails here, not at the first upload
    store = store_of(ctx)
    gallery = ServiceGallery(lambda: enroller_from_settings(settings, store, profile=enrol_profile))
    app = create_app(settings, gallery=gallery, insecure_dev=insecure_dev)
    log.info("laneface service on http://%s:%d (OpenAPI at /openapi.json)", bind_host, port or settings.service.port)
    uvicorn.run(
        app,
        host=bind_host,
        port=port or settings.service.port,
        log_level=settings.log_level.lower(),
        server_header=False,
    )
