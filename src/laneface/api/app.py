"""``create_app(settings)``: the FastAPI application of the laneface service.

Building the app checks the configuration (credentials, encryption key) and fails fast with
:class:`~laneface.errors.InsecureConfigError`; the database is reached only when the app starts
(lifespan): schema upgrade (``records.auto_migrate``) and the purge scheduler.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta

from fastapi import Depends, FastAPI
from starlette.concurrency import run_in_threadpool

from laneface.api.deps import reject_unknown_query
from laneface.api.errors import install_error_handlers
from laneface.api.gallery import GalleryAdmin, UnavailableGallery
from laneface.api.limits import BodySizeLimit
from laneface.api.routes import admin, audit, crossings, health, ledger, passages, review_queue, trends
from laneface.api.security import security_from_settings
from laneface.config import Settings
from laneface.dashboard import dashboard_router
from laneface.records.audit import SYSTEM
from laneface.records.clock import Clock, system_clock
from laneface.records.scheduler import PurgeScheduler
from laneface.records.service import RecordsService, build_cipher

__all__ = ["create_app"]

log = logging.getLogger(__name__)


def create_app(
    settings: Settings,
    *,
    gallery: GalleryAdmin | None = None,
    clock: Clock = system_clock,
    insecure_dev: bool = False,
    run_scheduler: bool = True,
) -> FastAPI:
    """The service app. ``gallery`` is the gallery to administer (default: unavailable, 503);
    ``insecure_dev`` allows generated dev keys."""
    security = security_from_settings(settings, insecure_dev=insecure_dev, clock=clock)
    records = RecordsService.open(settings, build_cipher(settings, dev_key=insecure_dev), clock)

    def purge_run(now: datetime, horizon: timedelta) -> object:
        return records.purge(now=now, horizon=horizon, actor=SYSTEM, audit_when_empty=False)

    scheduler = PurgeScheduler(purge_run, interval_s=settings.privacy.purge_interval_s, clock=clock)

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(records.prepare_schema)
        if run_scheduler:
            scheduler.start()
        try:
            yield
        finally:
            scheduler.stop()
            records.close()
            close = getattr(app.state.gallery, "close", None)
            if callable(close):
                await run_in_threadpool(close)

    app = FastAPI(
        title="laneface records service",
        version="1",
        summary="Crossing records, entry/exit ledger, adjudication and audit for border-crossing lanes.",
        lifespan=lifespan,
    )
    app.state.records = records
    app.state.security = security
    app.state.gallery = gallery or UnavailableGallery()
    app.state.scheduler = scheduler
    install_error_handlers(app)
    for module in (health, passages, crossings, review_queue, ledger, trends, audit, admin):
        app.include_router(module.router, dependencies=[Depends(reject_unknown_query)])
    app.include_router(dashboard_router())
    app.add_middleware(BodySizeLimit, max_bytes=settings.service.max_body_bytes)
    return app
