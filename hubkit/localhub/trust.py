"""Trusted publishing for the local hub: OIDC id tokens exchanged for short-lived, repo-scoped tokens.

The exchange is the one huggingface_hub performs (`POST /oauth/token`, RFC 8693 token exchange,
JSON body with `subject_token` and `resource`). An id token is accepted when its signature
verifies against a trusted issuer's JWKS (PyJWT), its issuer, audience and expiry hold, and a
publisher rule's claims match it (`repository`, `ref`, `environment`, `workflow_ref`, ...; `*`
globs allowed) for a resource in one of the rule's namespaces. Like the Hub, the minted token
reads and writes that one repo. Tokens are kept only as sha256 digests, in memory.

A trust file (`hubkit hub serve --trust FILE`):

    issuers:
      - issuer: https://token.actions.githubusercontent.com
        audience: https://huggingface.co      # the `aud` the CI asks for: the hub's endpoint
        jwks: github-jwks.json                 # a file beside this one, or an https:// URL
    publishers:
      - issuer: https://token.actions.githubusercontent.com
        claims: {repository: acme/hubkit, ref: "refs/tags/v*", environment: hub}
        namespaces: [acme]
    token_lifetime: 3600
"""

from __future__ import annotations

import fnmatch
import hashlib
import json
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from pydantic import Field

from hubkit.config import _Strict
from hubkit.errors import UsageError
from hubkit.localhub.store import HubError, check_repo_id
from hubkit.repos import parse_repo_path, repo_path

GRANT_TYPE = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
ALGORITHMS = ["RS256", "RS384", "RS512", "ES256", "ES384", "PS256"]
LEEWAY = 5  # seconds of clock skew tolerated on exp/iat/nbf


class IssuerRule(_Strict):
    issuer: str
    audience: str
    jwks: str = Field(description="a JWKS file (relative to the trust file) or an http(s) URL")


class PublisherRule(_Strict):
    issuer: str
    claims: dict[str, str] = Field(min_length=1)
    namespaces: list[str] = Field(min_length=1)


class TrustFile(_Strict):
    issuers: list[IssuerRule] = Field(min_length=1)
    publishers: list[PublisherRule] = Field(min_length=1)
    token_lifetime: int = Field(3600, gt=0, le=86400)


class Refused(HubError):
    """An exchange the hub will not make: 400 invalid_grant, as the Hub answers."""

    def __init__(self, message: str):
        super().__init__(400, message, "invalid_grant")


@dataclass(frozen=True)
class Grant:
    """What a token may do: everything (the hub's own token) or read and write one repo."""

    admin: bool = False
    repo: tuple[str, str] | None = None  # (repo_type, repo_id)

    def covers(self, repo_type: str, repo_id: str) -> bool:
        return self.admin or self.repo == (repo_type, repo_id)

    def __str__(self) -> str:
        return "every repo" if self.admin or self.repo is None else repo_path(*self.repo)


def parse_resource(resource: str) -> tuple[str, str]:
    """`ns/name`, `datasets/ns/name` or `spaces/ns/name` -> (repo_type, repo_id)."""
    parsed = parse_repo_path(resource)
    if parsed is None:
        raise Refused(
            f"resource {resource!r}: expected a repo (namespace/name, datasets/namespace/name, spaces/namespace/name)"
        )
    check_repo_id(parsed[1])
    return parsed


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class Trust:
    """Issuers, publisher rules and the tokens minted so far."""

    def __init__(self, config: TrustFile, base: Path):
        self.config = config
        self._keys = {rule.issuer: _key_source(rule.jwks, base) for rule in config.issuers}
        self._minted: dict[str, tuple[Grant, float]] = {}
        self._lock = threading.Lock()

    # --- minted tokens -------------------------------------------------------------------
    def lookup(self, token: str) -> Grant | str | None:
        """The grant of a minted token, "expired" once its lifetime is over, None if unknown."""
        with self._lock:
            found = self._minted.get(_digest(token))
            if found is None:
                return None
            grant, expires = found
            if time.time() >= expires:
                del self._minted[_digest(token)]
                return "expired"
            return grant

    # --- the exchange ----------------------------------------------------------------------
    def exchange(self, body: dict) -> tuple[dict, str]:
        """Check an RFC 8693 request; returns the token response and a log line (no token in it)."""
        if body.get("grant_type") != GRANT_TYPE:
            raise HubError(400, f"grant_type must be {GRANT_TYPE}", "unsupported_grant_type")
        if body.get("subject_token_type", ID_TOKEN_TYPE) != ID_TOKEN_TYPE:
            raise HubError(400, f"subject_token_type must be {ID_TOKEN_TYPE}", "invalid_request")
        id_token, resource = body.get("subject_token") or "", body.get("resource") or ""
        if not id_token or not resource:
            raise HubError(400, "subject_token and resource are required", "invalid_request")
        repo_type, repo_id = parse_resource(resource)
        claims = self._verify(id_token)
        rule = self._publisher(claims, repo_id.split("/")[0])
        token = "hf_oidc_" + secrets.token_urlsafe(32)
        lifetime = self.config.token_lifetime
        grant = Grant(repo=(repo_type, repo_id))
        with self._lock:
            self._minted[_digest(token)] = (grant, time.time() + lifetime)
        who = ", ".join(f"{k}={claims.get(k)}" for k in rule.claims)
        response = {
            "access_token": token,
            "token_type": "bearer",
            "expires_in": lifetime,
            "issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
        }
        return response, f"trusted publishing: {who} may write {grant} for {lifetime} s"

    def _verify(self, id_token: str) -> dict:
        import jwt

        try:
            unverified = jwt.decode(id_token, options={"verify_signature": False})
            header = jwt.get_unverified_header(id_token)
        except jwt.PyJWTError:
            raise Refused("the subject token is not a JWT") from None
        issuer = unverified.get("iss")
        rule = next((r for r in self.config.issuers if r.issuer == issuer), None)
        if rule is None:
            raise Refused(f"issuer {issuer!r} is not trusted by this hub")
        try:
            key = self._keys[issuer](header.get("kid"))
            return jwt.decode(
                id_token, key, algorithms=ALGORITHMS, audience=rule.audience, issuer=rule.issuer, leeway=LEEWAY,
                options={"require": ["exp", "iat", "iss", "aud"]},
            )  # fmt: skip
        except jwt.ExpiredSignatureError:
            raise Refused("the id token has expired") from None
        except jwt.InvalidAudienceError:
            raise Refused(f"the id token's audience is not {rule.audience}") from None
        except jwt.InvalidSignatureError:
            raise Refused(f"the id token's signature does not verify with {issuer}'s keys") from None
        except jwt.ImmatureSignatureError:
            raise Refused("the id token is not valid yet (iat/nbf in the future)") from None
        except (jwt.PyJWTError, KeyError, ValueError) as exc:
            raise Refused(f"invalid id token: {exc}") from None

    def _publisher(self, claims: dict, namespace: str) -> PublisherRule:
        matching = [
            rule
            for rule in self.config.publishers
            if rule.issuer == claims.get("iss")
            and all(_matches(str(claims.get(k, "")), v) for k, v in rule.claims.items())
        ]
        if not matching:
            shown = {k: claims.get(k) for k in ("repository", "ref", "environment", "workflow_ref") if k in claims}
            raise Refused(f"no trusted publisher matches {shown or 'these claims'}")
        for rule in matching:
            if namespace in rule.namespaces:
                return rule
        allowed = sorted({ns for rule in matching for ns in rule.namespaces})
        raise Refused(f"this publisher may write namespaces {allowed}, not {namespace!r}")


def _matches(value: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(value, pattern) if "*" in pattern else value == pattern


def _key_source(jwks: str, base: Path):
    """kid -> verification key, from a JWKS file (read now) or URL (fetched and cached by PyJWT)."""
    import jwt

    if jwks.startswith(("http://", "https://")):
        client = jwt.PyJWKClient(jwks, cache_keys=True, lifespan=300)

        def from_url(kid):
            try:
                return next(k for k in client.get_signing_keys() if kid is None or k.key_id == kid).key
            except StopIteration:
                raise Refused(f"no key {kid!r} in {jwks}") from None
            except jwt.PyJWKClientError as exc:
                raise HubError(502, f"cannot read the issuer's keys from {jwks}: {exc}") from None

        return from_url
    path = (base / jwks).resolve()
    try:
        keyset = jwt.PyJWKSet.from_dict(json.loads(path.read_text()))
    except FileNotFoundError:
        raise UsageError(f"{path}: JWKS file not found") from None
    except (ValueError, jwt.PyJWKSetError) as exc:
        raise UsageError(f"{path}: not a JWKS: {exc}") from None
    keys = {k.key_id: k.key for k in keyset.keys}

    def from_file(kid):
        if kid is None and len(keys) == 1:
            return next(iter(keys.values()))
        if kid not in keys:
            raise Refused(f"no key {kid!r} in {path.name}")
        return keys[kid]

    return from_file


def load_trust(path: Path | str) -> Trust:
    """Read a trust file; problems are `file: key.path: problem (line N)`, as for release configs."""
    from hubkit.config import read_yaml, validate

    path = Path(path)
    data, root = read_yaml(path)
    config = validate(TrustFile, data, path, root)
    issuers = {r.issuer for r in config.issuers}
    for i, rule in enumerate(config.publishers):
        if rule.issuer not in issuers:
            raise UsageError(f"{path}: publishers.{i}.issuer: {rule.issuer!r} is not among the issuers")
    return Trust(config, path.parent)
