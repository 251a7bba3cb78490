"""Serving the dashboard's files (package data under ``static/``), never from a path the client names.

Every response carries a strict Content-Security-Policy: scripts, styles and connections from this origin
only, images from this origin or ``blob:`` (face thumbnails are fetched with the API key and shown from
object URLs), no inline script or style, no framing, and Trusted Types enforced so that no HTML string can
ever be assigned to the DOM.
"""

from __future__ import annotations

from importlib.resources import files

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import RedirectResponse, Response

__all__ = ["CONTENT_SECURITY_POLICY", "SECURITY_HEADERS", "dashboard_router"]

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
        "trusted-types 'none'",
    )
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cache-Control": "no-cache",
}
_MEDIA_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
}


def _load_assets() -> dict[str, tuple[bytes, str]]:
    assets: dict[str, tuple[bytes, str]] = {}
    for entry in files("laneface.dashboard").joinpath("static").iterdir():
        suffix = "." + entry.name.rpartition(".")[2]
        if entry.is_file() and suffix in _MEDIA_TYPES:
            assets[entry.name] = (entry.read_bytes(), _MEDIA_TYPES[suffix])
    return assets


def dashboard_router() -> APIRouter:
    """The routes of ``/dashboard/`` (left out of the OpenAPI schema: they are pages, not API)."""
    assets = _load_assets()
    router = APIRouter(include_in_schema=False)

    def _serve(name: str) -> Response:
        found = assets.get(name)
        if found is None:
            raise HTTPException(404, "no such dashboard file")
        body, media_type = found
        return Response(content=body, media_type=media_type, headers=SECURITY_HEADERS)

    @router.get("/dashboard")
    def dashboard_redirect(request: Request) -> RedirectResponse:
        return RedirectResponse(url=f"{request.url.path}/", status_code=308, headers=SECURITY_HEADERS)

    @router.get("/dashboard/")
    def dashboard_index() -> Response:
        return _serve("index.html")

    @router.get("/dashboard/{name}")
    def dashboard_asset(name: str) -> Response:
        return _serve(name)

    return router
