"""OAuth2 bearer tokens: JWTs issued by the agency's authorization server, verified here (HS256 or RS256).

Required claims: ``sub``, ``exp``; ``nbf`` and ``iss`` are checked when present/configured; ``aud`` must
contain the configured audience. Roles come from a claim (default ``roles``): a list or a space-separated
string of ``lane``/``officer``/``auditor``/``admin``, optionally prefixed ``laneface:``. Only the algorithm
configured for a key is accepted (never ``none``, never HS256 with the RSA public key).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from laneface.api.roles import ROLES, Principal, Role
from laneface.config import ServiceSettings
from laneface.errors import InsecureConfigError, InvalidTokenError
from laneface.records.clock import Clock, system_clock

__all__ = ["TokenVerifier"]

LEEWAY_S = 30.0


def _b64url(part: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise InvalidTokenError("malformed token") from None


@dataclass(frozen=True)
class TokenVerifier:
    hs256_secret: bytes | None
    rs256_key: rsa.RSAPublicKey | None
    issuer: str | None
    audience: str
    roles_claim: str
    clock: Clock = system_clock

    @classmethod
    def from_settings(cls, service: ServiceSettings, clock: Clock = system_clock) -> TokenVerifier | None:
        secret = service.oauth2_hs256_secret.get_secret_value().encode() if service.oauth2_hs256_secret else None
        if secret is not None and (len(secret) < 32 or len(set(secret)) < 8):
            raise InsecureConfigError("service.oauth2_hs256_secret must be at least 32 random bytes")
        key = None
        if service.oauth2_public_key_pem:
            loaded = serialization.load_pem_public_key(service.oauth2_public_key_pem.encode())
            if not isinstance(loaded, rsa.RSAPublicKey) or loaded.key_size < 2048:
                raise InsecureConfigError("service.oauth2_public_key_pem must be an RSA key of 2048 bits or more")
            key = loaded
        if secret is None and key is None:
            return None
        return cls(secret, key, service.oauth2_issuer, service.oauth2_audience, service.oauth2_roles_claim, clock)

    def verify(self, token: str) -> Principal:
        parts = token.split(".")
        if len(parts) != 3:
            raise InvalidTokenError("malformed token")
        header, claims = self._json(parts[0]), self._json(parts[1])
        signed, signature = f"{parts[0]}.{parts[1]}".encode("ascii", "replace"), _b64url(parts[2])
        alg = header.get("alg")
        if alg == "HS256" and self.hs256_secret is not None:
            expected = hmac.new(self.hs256_secret, signed, hashlib.sha256).digest()
            if not hmac.compare_digest(expected, signature):
                raise InvalidTokenError("bad signature")
        elif alg == "RS256" and self.rs256_key is not None:
            try:
                self.rs256_key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
            except InvalidSignature:
                raise InvalidTokenError("bad signature") from None
        else:
            raise InvalidTokenError("unsupported token algorithm")
        return self._principal(claims)

    @staticmethod
    def _json(part: str) -> dict[str, Any]:
        try:
            value = json.loads(_b64url(part))
        except (UnicodeDecodeError, ValueError):
            raise InvalidTokenError("malformed token") from None
        if not isinstance(value, dict):
            raise InvalidTokenError("malformed token")
        return value

    def _principal(self, claims: dict[str, Any]) -> Principal:
        now = self.clock().timestamp()
        exp, nbf = claims.get("exp"), claims.get("nbf")
        if not isinstance(exp, int | float) or isinstance(exp, bool) or now > exp + LEEWAY_S:
            raise InvalidTokenError("token expired or without exp")
        if nbf is not None and (not isinstance(nbf, int | float) or now + LEEWAY_S < nbf):
            raise InvalidTokenError("token not yet valid")
        if self.issuer is not None and claims.get("iss") != self.issuer:
            raise InvalidTokenError("wrong issuer")
        aud = claims.get("aud")
        audiences = aud if isinstance(aud, list) else [aud]
        if self.audience not in audiences:
            raise InvalidTokenError("wrong audience")
        sub = claims.get("sub")
        if not isinstance(sub, str) or not sub or len(sub) > 100:
            raise InvalidTokenError("token without subject")
        raw = claims.get(self.roles_claim, [])
        names = raw.split() if isinstance(raw, str) else raw if isinstance(raw, list) else []
        roles: set[Role] = set()
        for name in names:
            if isinstance(name, str):
                bare = name.removeprefix("laneface:")
                for role in ROLES:
                    if bare == role:
                        roles.add(role)
        return Principal(name=f"oauth2:{sub}", roles=frozenset(roles), method="bearer")
