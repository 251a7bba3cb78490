"""Credentials the service accepts: per-role API keys (header ``X-API-Key``) and OAuth2 bearer tokens.

API keys are configured per role, as the key itself (at least 32 characters, not a placeholder) or as
``sha256:<64 hex digits>`` of the key, so the configuration need not hold the secret. A presented key is
hashed and compared with every configured hash using :func:`hmac.compare_digest`.

The service refuses to start without any credential, with a placeholder key, or with one key given to
two roles. ``--insecure-dev`` instead generates a random key for each role without one, keeps them in
``<data dir>/dev-api-keys.json`` (mode 0600, reused on the next start) and logs them once.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import os
import re
import secrets
import stat
from dataclasses import dataclass
from pathlib import Path

from laneface.api.roles import ROLES, Principal, Role
from laneface.api.tokens import TokenVerifier
from laneface.config import ServiceSettings, Settings
from laneface.errors import InsecureConfigError
from laneface.records.clock import Clock, system_clock

__all__ = ["DEV_KEYS_FILE", "KeyRing", "SecurityConfig", "security_from_settings"]

log = logging.getLogger(__name__)

DEV_KEYS_FILE = "dev-api-keys.json"
MIN_KEY_CHARS = 32
_PLACEHOLDERS = ("changethis", "changeme", "change-me", "change_me", "password", "secret", "example", "placeholder")
_HASHED = re.compile(r"^sha256:([0-9a-fA-F]{64})$")


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8")).digest()


def _configured_digest(role: Role, value: str) -> bytes:
    text = value.strip()
    hashed = _HASHED.match(text)
    if hashed:
        return bytes.fromhex(hashed.group(1))
    lowered = text.lower()
    if len(text) < MIN_KEY_CHARS or len(set(text)) < 10 or any(p in lowered for p in _PLACEHOLDERS):
        raise InsecureConfigError(
            f"service.{role}_keys holds a placeholder or short key: use at least {MIN_KEY_CHARS} random "
            "characters (python -c 'import secrets; print(secrets.token_urlsafe(32))')"
        )
    return _digest(text)


class KeyRing:
    """Hashes of the configured API keys, each bound to one role."""

    def __init__(self, keys: dict[Role, list[str]]) -> None:
        entries: list[tuple[Role, bytes]] = []
        seen: dict[bytes, Role] = {}
        for role in ROLES:
            for value in keys.get(role, []):
                digest = _configured_digest(role, value)
                if digest in seen and seen[digest] != role:
                    raise InsecureConfigError(f"the same API key is configured for roles {seen[digest]} and {role}")
                seen[digest] = role
                entries.append((role, digest))
        self._entries = entries

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, presented: str) -> Principal | None:
        digest = _digest(presented)
        found: tuple[Role, bytes] | None = None
        for role, candidate in self._entries:  # no early exit: every comparison is made
            if hmac.compare_digest(digest, candidate):
                found = (role, candidate)
        if found is None:
            return None
        role, candidate = found
        return Principal(name=f"{role}-key-{candidate.hex()[:8]}", roles=frozenset({role}), method="api_key")


@dataclass(frozen=True)
class SecurityConfig:
    keys: KeyRing
    tokens: TokenVerifier | None
    insecure_dev: bool = False


def _configured_keys(service: ServiceSettings) -> dict[Role, list[str]]:
    return {
        "lane": [k.get_secret_value() for k in service.lane_keys],
        "officer": [k.get_secret_value() for k in service.officer_keys],
        "auditor": [k.get_secret_value() for k in service.auditor_keys],
        "admin": [k.get_secret_value() for k in service.admin_keys],
        "metrics": [k.get_secret_value() for k in service.metrics_keys],
    }


def _dev_keys(data_dir: Path, keys: dict[Role, list[str]]) -> dict[Role, list[str]]:
    path = data_dir / DEV_KEYS_FILE
    stored: dict[str, str] = {}
    if path.exists():
        if path.stat().st_mode & (stat.S_IRWXG | stat.S_IRWXO):
            raise InsecureConfigError(f"{path} is readable by other users: chmod 600 it or delete it")
        loaded = json.loads(path.read_text(encoding="utf-8"))
        stored = {k: v for k, v in loaded.items() if isinstance(k, str) and isinstance(v, str)}
    generated = {role: stored.get(role) or secrets.token_urlsafe(32) for role in ROLES if not keys[role]}
    if generated and generated != {r: stored.get(r) for r in generated}:
        data_dir.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump({**stored, **generated}, fh, indent=2)
        os.replace(tmp, path)
    if generated:
        log.warning(
            "INSECURE DEVELOPMENT MODE: API keys (also in %s): %s",
            path,
            ", ".join(f"{role}={key}" for role, key in generated.items()),
        )
    return {role: keys[role] or [generated[role]] for role in ROLES}


def security_from_settings(
    settings: Settings, *, insecure_dev: bool = False, clock: Clock = system_clock
) -> SecurityConfig:
    """The credentials the service accepts; refuses an unsafe configuration unless ``insecure_dev``."""
    keys = _configured_keys(settings.service)
    tokens = TokenVerifier.from_settings(settings.service, clock)
    if insecure_dev:
        keys = _dev_keys(settings.data_dir, keys)
    ring = KeyRing(keys)
    if not len(ring) and tokens is None:
        raise InsecureConfigError(
            "no credentials configured: set API keys per role (LANEFACE_SERVICE__OFFICER_KEYS='[\"...\"]', ...) "
            "or an OAuth2 token key (LANEFACE_SERVICE__OAUTH2_PUBLIC_KEY_PEM); for development only, use "
            "--insecure-dev"
        )
    return SecurityConfig(keys=ring, tokens=tokens, insecure_dev=insecure_dev)
