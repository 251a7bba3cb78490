"""``create_app(settings)``: the FastAPI application of the laneface service.

Building the app checks the configuration (credentials, encryption key) and fails fast with
:class:`~laneface.errors.InsecureConfigError`; the database is reached only when the app starts
(lifespan): schema upgrade (``records.auto_migrate``) and the purge scheduler.

``/openapi.json`` is public; ``/docs`` is served only with ``service.docs`` (an offline page, no CDN);
``/metrics`` is for roles ``metrics`` and ``admin`` (:mod:`laneface.api.metrics`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, Request, Response
from fastapi.responses import HTMLResponse
from starlette.concurrency import run_in_threadpool

from laneface.api.booth import BoothHub, SharedBoothHub
from laneface.api.deps import reject_unknown_query, require
from laneface.api.docs import docs_page
from laneface.api.errors import install_error_handlers
from laneface.api.gallery import GalleryAdmin, UnavailableGallery
from laneface.api.limits import BodySizeLimit
from laneface.api.metrics import CONTENT_TYPE as METRICS_CONTENT_TYPE
from laneface.api.metrics import PassagePostTimer, ServiceMetrics
from laneface.api.refusals import RefusalAuditor
from laneface.api.roles import Caller
from laneface.api.routes import admin, audit, booth, crossings, health, ledger, passages, review_queue, trends
from laneface.api.security import security_from_settings
from laneface.config import Settings
from laneface.dashboard import dashboard_router
from laneface.records.audit import SYSTEM
from laneface.records.clock import Clock, system_clock
from laneface.records.scheduler import PurgeScheduler
from laneface.records.service import RecordsService, build_cipher

__all__ = ["create_app", "metrics_router"]

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

    async def expire_booths() -> None:
        keep_s = settings.service.booth_keep_s
        while True:
            await asyncio.sleep(min(60.0, keep_s / 4))
            hub = app.state.booth
            try:
                cleared = await hub.call(hub.expire, clock(), keep_s)
                if cleared:
                    log.info("booth view cleared after %.0f s without a change: %s", keep_s, ", ".join(cleared))
            except Exception:
                log.exception("clearing stale booth views failed; it will run again")

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        await run_in_threadpool(records.prepare_schema)
        expiry: asyncio.Task[None] | None = None
        if run_scheduler:
            scheduler.start()
            expiry = asyncio.create_task(expire_booths())
        try:
            yield
        finally:
            if expiry is not None:
                expiry.cancel()
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
        docs_url=None,  # FastAPI's pages load from a public CDN: see _add_docs
        redoc_url=None,
    )
    metrics = ServiceMetrics()
    app.state.metrics = metrics
    app.state.refusals = RefusalAuditor(records, on_error=lambda: metrics.database_error("audit"))
    app.state.records = records
    app.state.security = security
    app.state.gallery = gallery or UnavailableGallery()
    app.state.scheduler = scheduler
    svc = settings.service
    app.state.booth = SharedBoothHub(records, clock, poll_s=svc.booth_poll_s) if svc.booth_shared else BoothHub(clock)
    install_error_handlers(app)
    for module in (health, passages, booth, crossings, review_queue, ledger, trends, audit, admin):
        app.include_router(module.router, dependencies=[Depends(reject_unknown_query)])
    app.include_router(metrics_router())
    if settings.service.docs:
        _add_docs(app)
    app.include_router(dashboard_router())
    app.add_middleware(BodySizeLimit, max_bytes=settings.service.max_body_bytes)
    app.add_middleware(PassagePostTimer, metrics=metrics)
    return app


def metrics_router() -> APIRouter:
    """``GET /metrics`` (Prometheus text format), for roles ``metrics`` and ``admin``; not in the OpenAPI schema."""
    router = APIRouter()

    @router.get("/metrics", include_in_schema=False)
    def metrics_endpoint(
        _caller: Annotated[Caller, Depends(require("metrics", "admin"))], request: Request
    ) -> Response:
        metrics: ServiceMetrics = request.app.state.metrics
        return Response(metrics.exposition(), media_type=METRICS_CONTENT_TYPE, headers={"Cache-Control": "no-store"})

    return router


def _add_docs(app: FastAPI) -> None:
    @app.get("/docs", include_in_schema=False)
    def docs() -> HTMLResponse:
        return HTMLResponse(docs_page(app.openapi()))
