"""`laneface serve`: the records service (FastAPI over uvicorn; OpenAPI at /openapi.json)."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Annotated

import typer

from laneface.cli.common import settings_of, store_of
from laneface.errors import ConfigError

__all__ = ["serve_command", "service_urls"]

log = logging.getLogger(__name__)


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    if host in ("0.0.0.0", "::", ""):  # noqa: S104  # all addresses: this machine answers on loopback too
        return "127.0.0.1"
    return f"[{host}]" if ":" in host else host


def service_urls(host: str, port: int, *, docs: bool, insecure_dev: bool, data_dir: Path) -> list[str]:
    """What `serve` prints at start: where the service, the dashboard, /metrics and /docs answer, and where the
    credentials to sign in come from."""
    from laneface.api.security import DEV_KEYS_FILE

    base = f"http://{_url_host(host)}:{port}"
    lines = [
        f"laneface service: {base}  (listening on {host}:{port})",
        f"  dashboard:  {base}/dashboard/   (sign in with an officer API key)",
        f"  API schema: {base}/openapi.json",
        f"  metrics:    {base}/metrics   (role metrics or admin; API key as X-API-Key or Bearer)",
    ]
    if docs:
        lines.append(f"  docs:       {base}/docs")
    if insecure_dev:
        lines.append(f"  API keys:   {data_dir / DEV_KEYS_FILE}   (generated per role: development only)")
    else:
        lines.append(
            "  API keys:   as configured (LANEFACE_SERVICE__<ROLE>_KEYS, roles lane, officer, auditor, admin, "
            "metrics), or OAuth2 bearer tokens of the configured issuer"
        )
    return lines


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
    from laneface.gallery.store import gallery_config

    gallery_config(settings)  # so does a gallery database the service can't use
    store = store_of(ctx)
    gallery = ServiceGallery(lambda: enroller_from_settings(settings, store, profile=enrol_profile))
    app = create_app(settings, gallery=gallery, insecure_dev=insecure_dev)
    bind_port = port or settings.service.port
    for line in service_urls(
        bind_host, bind_port, docs=settings.service.docs, insecure_dev=insecure_dev, data_dir=settings.data_dir
    ):
        typer.echo(line)
    uvicorn.run(
        app,
        host=bind_host,
        port=bind_port,
        log_level=settings.log_level.lower(),
        log_config=None,  # uvicorn's loggers go through the root logger that --log-format configured
        server_header=False,
    )
