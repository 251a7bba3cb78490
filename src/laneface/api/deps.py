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
from laneface.api.metrics import ServiceMetrics
from laneface.api.refusals import RefusalAuditor
from laneface.api.roles import Caller, Principal, Role
from laneface.api.security import SecurityConfig
from laneface.errors import InvalidTokenError
from laneface.records.audit import Actions
from laneface.records.service import RecordsService

__all__ = ["gallery_of", "metrics_of", "records_of", "reject_unknown_query", "require"]

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


def metrics_of(request: Request) -> ServiceMetrics:
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


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
    if bearer is not None:
        # an API key is also accepted as a bearer credential (what a Prometheus scraper can send)
        principal = security.keys.authenticate(bearer.credentials)
        if principal is not None:
            return principal
        if security.tokens is None:
            raise HTTPException(
                401, "invalid bearer credential (not an API key; no token issuer configured)", headers=_CHALLENGE
            )
        try:
            return security.tokens.verify(bearer.credentials)
        except InvalidTokenError:
            raise HTTPException(401, "invalid or expired bearer token", headers=_CHALLENGE) from None
    raise HTTPException(401, "credentials required (X-API-Key header or OAuth2 bearer token)", headers=_CHALLENGE)


def require(*roles: Role, audit_denied: str | None = None) -> Callable[..., Caller]:
    """A dependency admitting callers holding one of ``roles``. Every refusal (401, 403) is audited
    (:mod:`laneface.api.refusals`); with ``audit_denied``, a refused authenticated caller is written under that
    action every time."""

    def dependency(
        request: Request,
        api_key: Annotated[str | None, Security(api_key_scheme)] = None,
        bearer: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)] = None,
    ) -> Caller:
        try:
            principal = _authenticate(request.app.state.security, api_key, bearer)
        except HTTPException as exc:
            _refused(request, exc, None)
            raise
        for role in roles:
            if role in principal.roles:
                return Caller(principal, role)
        refusal = HTTPException(403, f"this endpoint is for: {', '.join(roles)}")
        _refused(request, refusal, principal, audit_denied)
        raise refusal

    return dependency


def _refused(request: Request, exc: HTTPException, principal: Principal | None, action: str | None = None) -> None:
    metrics: ServiceMetrics | None = getattr(request.app.state, "metrics", None)
    if metrics is not None:
        metrics.refusal(exc.status_code)
    auditor: RefusalAuditor | None = getattr(request.app.state, "refusals", None)
    if auditor is None:
        return
    auditor.record(
        request,
        status=exc.status_code,
        reason=str(exc.detail),
        principal=principal,
        action=action or Actions.ACCESS_DENIED,
        every_time=action is not None and principal is not None,
    )


DENIED_BIOMETRIC = Actions.BIOMETRIC_READ
