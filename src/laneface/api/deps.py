"""FastAPI dependencies: the records service, the gallery, and role checks (``require``)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import HTTPException, Request, Security
from fastapi.dependencies.models import Dependant
from fastapi.exceptions import RequestValidationError
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer

from laneface.api.gallery import GalleryAdmin
from laneface.api.roles import Caller, Principal, Role
from laneface.api.security import SecurityConfig
from laneface.errors import InvalidTokenError
from laneface.records.audit import Actions, Actor, record_event
from laneface.records.service import RecordsService

__all__ = ["gallery_of", "records_of", "reject_unknown_query", "require"]

api_key_scheme = APIKeyHeader(name="X-API-Key", auto_error=False, scheme_name="ApiKey", description="Per-role API key")
bearer_scheme = HTTPBearer(
    auto_error=False, scheme_name="OAuth2Bearer", bearerFormat="JWT", description="OAuth2 access token (JWT)"
)
_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="laneface"'}


def records_of(request: Request) -> RecordsService:
    service: RecordsService = request.app.state.records
    return service


def _declared_query(dependant: Dependant) -> set[str]:
    names = {field.alias for field in dependant.query_params}
    for sub in dependant.dependencies:
        names |= _declared_query(sub)
    return names


def _query_names(route: APIRoute) -> frozenset[str]:
    names = getattr(route, "laneface_query_names", None)
    if not isinstance(names, frozenset):
        names = frozenset(_declared_query(route.dependant))
        route.laneface_query_names = names  # type: ignore[attr-defined]  # computed once per route
    return names


def reject_unknown_query(request: Request) -> None:
    """A query parameter the operation does not declare is a 422, not silently ignored (a misspelt filter
    would otherwise answer the unfiltered data)."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    known = _query_names(route)
    unknown = sorted({name for name in request.query_params if name not in known})
    if unknown:
        raise RequestValidationError(
            [
                {"type": "extra_forbidden", "loc": ("query", name[:64]), "msg": "unknown query parameter"}
                for name in unknown
            ]
        )


def gallery_of(request: Request) -> GalleryAdmin:
    gallery: GalleryAdmin = request.app.state.gallery
    return gallery


def _authenticate(
    security: SecurityConfig, api_key: str | None, bearer: HTTPAuthorizationCredentials | None
) -> Principal:
    if api_key:
        principal = security.keys.authenticate(api_key)
        if principal is not None:
            return principal
        raise HTTPException(401, "invalid API key", headers=_CHALLENGE)
    if bearer is not None and security.tokens is not None:
        try:
            return security.tokens.verify(bearer.credentials)
        except InvalidTokenError:
            raise HTTPException(401, "invalid or expired bearer token", headers=_CHALLENGE) from None
    raise HTTPException(401, "credentials required (X-API-Key header or OAuth2 bearer token)", headers=_CHALLENGE)


def require(*roles: Role, audit_denied: str | None = None) -> Callable[..., Caller]:
    """A dependency admitting callers holding one of ``roles``; with ``audit_denied``, a refused
    authenticated caller is written to the audit log under that action."""

    def dependency(
        request: Request,
        api_key: Annotated[str | None, Security(api_key_scheme)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
    ) -> Caller:
        principal = _authenticate(request.app.state.security, api_key, bearer)
        for role in roles:
            if role in principal.roles:
                return Caller(principal, role)
        if audit_denied is not None:
            _audit_denied(records_of(request), principal, audit_denied, request.url.path)
        raise HTTPException(403, f"this endpoint is for: {', '.join(roles)}")

    return dependency


def _audit_denied(records: RecordsService, principal: Principal, action: str, path: str) -> None:
    role = ",".join(sorted(principal.roles)) or "none"
    with records.sessions.begin() as session:
        record_event(
            session,
            at=records.clock(),
            actor=Actor(principal.name, role),
            action=action,
            outcome="denied",
            object_type="endpoint",
            object_id=path[:128],
        )


DENIED_BIOMETRIC = Actions.BIOMETRIC_READ
