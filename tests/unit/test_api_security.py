"""Credentials: per-role API keys (hashed, constant-time compare), refusal of unsafe configurations,
development keys, and OAuth2 bearer tokens (HS256, RS256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import stat
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from pydantic import SecretStr

from laneface.api.security import DEV_KEYS_FILE, KeyRing, security_from_settings
from laneface.api.tokens import TokenVerifier
from laneface.config import PrivacySettings, RecordsSettings, ServiceSettings, Settings
from laneface.errors import InsecureConfigError, InvalidTokenError
from laneface.records.clock import ManualClock

NOW = datetime(2026, 5, 1, 12, tzinfo=UTC)
SECRET = secrets.token_urlsafe(48)


def _settings(tmp_path: Path, **service: object) -> Settings:
    return Settings(
        data_dir=tmp_path,
        records=RecordsSettings(),
        privacy=PrivacySettings(),
        service=ServiceSettings.model_validate(service),
    )


def test_keyring_authenticates_plain_and_hashed_keys() -> None:
    officer, admin = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    ring = KeyRing({"officer": [officer], "admin": ["sha256:" + hashlib.sha256(admin.encode()).hexdigest()]})
    p = ring.authenticate(officer)
    assert p is not None and p.roles == {"officer"} and p.method == "api_key"
    assert officer not in p.name
    q = ring.authenticate(admin)
    assert q is not None and q.roles == {"admin"}
    assert ring.authenticate(officer + "x") is None
    assert ring.authenticate("") is None


@pytest.mark.parametrize("bad", ["changethis", "short-key", "changethis-changethis-changethis-1234", "a" * 40])
def test_placeholder_keys_are_refused(bad: str) -> None:
    with pytest.raises(InsecureConfigError):
        KeyRing({"lane": [bad]})


def test_one_key_for_two_roles_is_refused() -> None:
    key = secrets.token_urlsafe(32)
    with pytest.raises(InsecureConfigError, match="same API key"):
        KeyRing({"lane": [key], "admin": [key]})


def test_service_refuses_to_start_without_credentials(tmp_path: Path) -> None:
    with pytest.raises(InsecureConfigError, match="no credentials"):
        security_from_settings(_settings(tmp_path))


def test_insecure_dev_generates_keys_once_in_a_0600_file(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    own = secrets.token_urlsafe(32)
    with caplog.at_level("WARNING"):
        first = security_from_settings(_settings(tmp_path, officer_keys=[own]), insecure_dev=True)
    path = tmp_path / DEV_KEYS_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert set(stored) == {"lane", "auditor", "admin", "metrics"}  # the configured officer key is kept as it is
    assert "INSECURE DEVELOPMENT MODE" in caplog.text
    assert first.keys.authenticate(stored["lane"]) is not None
    assert first.keys.authenticate(own) is not None
    second = security_from_settings(_settings(tmp_path, officer_keys=[own]), insecure_dev=True)
    assert json.loads(path.read_text()) == stored
    assert second.keys.authenticate(stored["admin"]) is not None


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _hs256(claims: dict[str, object], secret: str = SECRET, alg: str = "HS256") -> str:
    head = _b64(json.dumps({"alg": alg, "typ": "JWT"}).encode())
    body = _b64(json.dumps(claims).encode())
    sig = hmac.new(secret.encode(), f"{head}.{body}".encode(), hashlib.sha256).digest()
    return f"{head}.{body}.{_b64(sig)}"


def _claims(**extra: object) -> dict[str, object]:
    return {"sub": "alice", "aud": "laneface", "exp": NOW.timestamp() + 300, "roles": ["officer"], **extra}


def _verifier(**service: object) -> TokenVerifier:
    settings = ServiceSettings.model_validate({"oauth2_hs256_secret": SECRET, **service})
    verifier = TokenVerifier.from_settings(settings, ManualClock(NOW))
    assert verifier is not None
    return verifier


def test_hs256_token_gives_roles() -> None:
    p = _verifier().verify(_hs256(_claims(roles="laneface:officer auditor unknown")))
    assert p.name == "oauth2:alice" and p.roles == {"officer", "auditor"} and p.method == "bearer"


@pytest.mark.parametrize(
    ("token_claims", "secret", "alg"),
    [
        (_claims(exp=NOW.timestamp() - 120), SECRET, "HS256"),
        (_claims(exp=None), SECRET, "HS256"),
        (_claims(nbf=NOW.timestamp() + 600), SECRET, "HS256"),
        (_claims(aud="other"), SECRET, "HS256"),
        (_claims(sub=""), SECRET, "HS256"),
        (_claims(), "another-secret-another-secret-another", "HS256"),
        (_claims(), SECRET, "none"),
        (_claims(), SECRET, "RS256"),
    ],
    ids=["expired", "no-exp", "not-yet", "audience", "no-sub", "bad-signature", "alg-none", "alg-confusion"],
)
def test_bad_tokens_are_refused(token_claims: dict[str, object], secret: str, alg: str) -> None:
    with pytest.raises(InvalidTokenError):
        _verifier().verify(_hs256(token_claims, secret, alg))


def test_issuer_is_checked_when_configured() -> None:
    verifier = _verifier(oauth2_issuer="https://idp.example")
    with pytest.raises(InvalidTokenError):
        verifier.verify(_hs256(_claims()))
    assert verifier.verify(_hs256(_claims(iss="https://idp.example"))).roles == {"officer"}


@pytest.mark.parametrize("token", ["", "a.b", "a.b.c", "e30.e30.", "!!!.???.***"])
def test_malformed_tokens_are_refused(token: str) -> None:
    with pytest.raises(InvalidTokenError):
        _verifier().verify(token)


def test_rs256_tokens() -> None:
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    verifier = TokenVerifier.from_settings(ServiceSettings(oauth2_public_key_pem=pem), ManualClock(NOW))
    assert verifier is not None
    head = _b64(json.dumps({"alg": "RS256"}).encode())
    body = _b64(json.dumps(_claims(roles=["admin"])).encode())
    sig = private.sign(f"{head}.{body}".encode(), padding.PKCS1v15(), hashes.SHA256())
    assert verifier.verify(f"{head}.{body}.{_b64(sig)}").roles == {"admin"}
    with pytest.raises(InvalidTokenError):
        verifier.verify(f"{head}.{body}.{_b64(sig[:-1] + bytes([sig[-1] ^ 1]))}")


def test_weak_token_secret_is_refused() -> None:
    with pytest.raises(InsecureConfigError):
        TokenVerifier.from_settings(ServiceSettings(oauth2_hs256_secret=SecretStr("changethis")))
