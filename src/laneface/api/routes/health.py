"""Liveness, without credentials and without details."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="Liveness probe (no credentials)")
def healthz() -> dict[str, str]:
    return {"status": "ok"}
