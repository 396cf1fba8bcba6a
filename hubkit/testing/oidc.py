"""A test OIDC issuer: an RSA key, its JWKS, and id tokens with GitHub Actions' claims.

`OidcIssuer.serve()` also answers like the GitHub Actions runtime token service
(`GET /token?audience=...` with the job's bearer request token -> `{"value": <jwt>}`) and serves
its JWKS at `/.well-known/jwks`, so huggingface_hub's own GitHub path can be exercised offline:
set `ACTIONS_ID_TOKEN_REQUEST_URL={url}/token` and `ACTIONS_ID_TOKEN_REQUEST_TOKEN`.
"""

from __future__ import annotations

import json
import secrets
import time
from pathlib import Path
from typing import Any

GITHUB_ISSUER = "https://token.actions.githubusercontent.com"


def github_claims(repository: str = "acme/hubkit", ref: str = "refs/tags/v0.1.0", environment: str = "hub",
                  **extra: Any) -> dict[str, Any]:  # fmt: skip
    """The claims GitHub Actions puts in a job's id token (the ones trust rules look at)."""
    owner = repository.split("/")[0]
    workflow = f"{repository}/.github/workflows/release.yml@{ref}"
    return {
        "sub": f"repo:{repository}:environment:{environment}", "repository": repository,
        "repository_owner": owner, "ref": ref, "environment": environment, "workflow_ref": workflow,
        "job_workflow_ref": workflow, "event_name": "push", "runner_environment": "github-hosted", **extra,
    }  # fmt: skip


class OidcIssuer:
    """Signs id tokens as `issuer` with a fresh RSA key (kid `test-key`)."""

    def __init__(self, issuer: str = GITHUB_ISSUER, kid: str = "test-key"):
        from cryptography.hazmat.primitives.asymmetric import rsa

        self.issuer, self.kid = issuer, kid
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)

    def jwks(self) -> dict[str, Any]:
        from jwt.algorithms import RSAAlgorithm

        jwk = RSAAlgorithm.to_jwk(self._key.public_key(), as_dict=True)
        return {"keys": [{**jwk, "kid": self.kid, "use": "sig", "alg": "RS256"}]}

    def write_jwks(self, path: Path | str) -> Path:
        path = Path(path)
        path.write_text(json.dumps(self.jwks()))
        return path

    def mint(self, audience: str, claims: dict[str, Any] | None = None, *, lifetime: int = 300,
             issued: float | None = None, key=None, **overrides: Any) -> str:  # fmt: skip
        """A signed id token; `key` signs with another key (a forged token), `overrides` replace claims."""
        import jwt

        now = int(issued if issued is not None else time.time())
        body = {"iss": self.issuer, "aud": audience, "iat": now, "nbf": now, "exp": now + lifetime,
                "jti": secrets.token_hex(8), **(claims or github_claims()), **overrides}  # fmt: skip
        return jwt.encode(body, key or self._key, algorithm="RS256", headers={"kid": self.kid})

    def trust_file(self, path: Path | str, audience: str, claims: dict[str, str], namespaces: list[str],
                   jwks: str | None = None, lifetime: int = 3600) -> Path:  # fmt: skip
        """A `hubkit hub serve --trust` file trusting this issuer (JWKS written beside it unless a URL)."""
        import yaml

        path = Path(path)
        if jwks is None:
            jwks = self.write_jwks(path.with_name(path.stem + "-jwks.json")).name
        config = {
            "issuers": [{"issuer": self.issuer, "audience": audience, "jwks": jwks}],
            "publishers": [{"issuer": self.issuer, "claims": claims, "namespaces": namespaces}],
            "token_lifetime": lifetime,
        }
        path.write_text(yaml.safe_dump(config, sort_keys=False))
        return path

    def app(self, claims: dict[str, Any], request_token: str):
        """The ASGI app of `serve`: JWKS, and the Actions runtime's id-token request endpoint."""
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def token(request: Request):
            if request.headers.get("authorization") != f"Bearer {request_token}":
                return JSONResponse({"message": "bad request token"}, 401)
            audience = request.query_params.get("audience") or "https://github.com/" + claims["repository_owner"]
            return JSONResponse({"value": self.mint(audience, claims)})

        async def jwks(request: Request):
            return JSONResponse(self.jwks())

        return Starlette(routes=[Route("/token", token), Route("/.well-known/jwks", jwks)])

    def serve(self, claims: dict[str, Any] | None = None, request_token: str = "actions-request-token"):
        """`with issuer.serve() as s: s.url` — a background server on a free loopback port."""
        from hubkit.background import BackgroundServer

        return BackgroundServer(self.app(claims or github_claims(), request_token))
