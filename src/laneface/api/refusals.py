"""Refused accesses (401 without valid credentials, 403 for a role the endpoint does not admit) go to the audit
log as ``access.denied`` events (``biometric.read`` for a refused image read).

An unauthenticated flood must not fill the database: identical refusals (same client address, actor, status,
reason and operation) are written at most once per window; the next event written for them counts the ones folded
into it (``details.repeated``), and every refusal is counted in the metrics. Refused biometric reads are all
written. A failing audit write is logged and counted, never turns the refusal into a 5xx.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from laneface.api.roles import Principal
from laneface.records.audit import Actions, Actor, record_event
from laneface.records.service import RecordsService

__all__ = ["ANONYMOUS", "RefusalAuditor"]

log = logging.getLogger(__name__)

ANONYMOUS = Actor("anonymous", "none")


@dataclass
class _Window:
    opened: float
    folded: int = 0


class RefusalAuditor:
    """Writes refused accesses to the audit log, at most one identical event per ``window_s`` and at most
    ``max_keys`` distinct ones per window (beyond that only the log and the metrics see them)."""

    def __init__(
        self,
        records: RecordsService,
        *,
        window_s: float = 60.0,
        max_keys: int = 10_000,
        monotonic: Callable[[], float] = time.monotonic,
        on_error: Callable[[], None] | None = None,
    ) -> None:
        self.records = records
        self.window_s = window_s
        self.max_keys = max_keys
        self._monotonic = monotonic
        self._on_error = on_error
        self._windows: dict[tuple[str, ...], _Window] = {}
        self._lock = threading.Lock()

    def _admit(self, key: tuple[str, ...]) -> int | None:
        """The refusals folded since the last event of ``key`` when one is written now; None to fold this one."""
        now = self._monotonic()
        with self._lock:
            window = self._windows.get(key)
            if window is not None and now - window.opened < self.window_s:
                window.folded += 1
                return None
            if window is None and len(self._windows) >= self.max_keys:
                self._windows = {k: w for k, w in self._windows.items() if now - w.opened < self.window_s}
                if len(self._windows) >= self.max_keys:
                    return None
            folded = 0 if window is None else window.folded
            self._windows[key] = _Window(now)
            return folded

    def record(
        self,
        request: Request,
        *,
        status: int,
        reason: str,
        principal: Principal | None,
        action: str = Actions.ACCESS_DENIED,
        every_time: bool = False,
    ) -> None:
        """Audit one refusal of ``request`` (``principal`` None: no valid credentials)."""
        roles = "none" if principal is None else ",".join(sorted(principal.roles)) or "none"
        actor = ANONYMOUS if principal is None else Actor(principal.name, roles)
        client = request.client.host if request.client else "unknown"
        path = request.url.path
        route = getattr(request.scope.get("route"), "path", path)  # the template: ids in the path make no new key
        folded = 0 if every_time else self._admit((client, actor.name, str(status), reason, request.method, route))
        if folded is None:
            log.debug("refused %s %s (%d) for %s from %s", request.method, path, status, actor.name, client)
            return
        log.warning("refused %s %s (%d %s) for %s from %s", request.method, path, status, reason, actor.name, client)
        details: dict[str, object] = {"status": status, "reason": reason, "method": request.method, "client": client}
        if folded:
            details["repeated"] = folded
        try:
            with self.records.sessions.begin() as session:
                record_event(
                    session,
                    at=self.records.clock(),
                    actor=actor,
                    action=action,
                    outcome="denied",
                    object_type="endpoint",
                    object_id=path[:128],
                    details=details,
                )
        except Exception:  # the refusal stands without its audit event: a database outage must not make it a 5xx
            log.exception("could not write the audit event of a refused access to %s", path)
            if self._on_error is not None:
                self._on_error()
