"""The publishing client's credentials: a token per repo, resolved through huggingface_hub, redacted.

Two ways to authenticate, chosen the way huggingface_hub chooses:
- trusted publishing, when `HF_OIDC_RESOURCE` is set: the CI job's OIDC id token
  (`HF_OIDC_ID_TOKEN`, or minted by GitHub Actions with `id-token: write`) is exchanged at
  `{endpoint}/oauth/token` for a short-lived token per repo. The Hub scopes such a token to one
  repo, so a release (many repos) exchanges once per repo; `HF_OIDC_RESOURCE` names the
  namespace (or the one repo) this job may touch, and a repo outside it stops the run before
  anything is written. Tokens are refreshed before they expire.
- otherwise an explicit token, `HF_TOKEN`, or the `hf auth login` token (`huggingface_hub.get_token`).

Every token resolved here is remembered by `hubkit.secrets`, so no output can show it.
"""

from __future__ import annotations

import os
import time

from hubkit import secrets
from hubkit.errors import UsageError
from hubkit.repos import HUB, repo_path

REFRESH_MARGIN = 300  # seconds: re-exchange this long before a token expires


def is_hub(endpoint: str) -> bool:
    return endpoint.rstrip("/") == HUB


def hf_api(endpoint: str, token: str | None):
    """The real huggingface_hub client; Xet off for a local server (it speaks LFS only)."""
    from huggingface_hub import HfApi, constants

    if constants.HF_HUB_OFFLINE:
        raise UsageError(f"HF_HUB_OFFLINE is set: unset it to plan or publish against {endpoint}")
    if not is_hub(endpoint):
        constants.HF_HUB_DISABLE_XET = True
    return HfApi(endpoint=endpoint, token=token or False, library_name="hubkit")


class Credentials:
    """`api(repo_type, repo_id)`: a client holding a token valid for that repo, now."""

    def __init__(self, endpoint: str, explicit: str | None = None):
        self.endpoint = endpoint.rstrip("/")
        self.explicit = explicit
        self.scope = None if explicit else (os.environ.get("HF_OIDC_RESOURCE") or "").strip("/") or None
        # hubkit does the exchanges itself from here on. huggingface_hub would otherwise run its
        # own exchange for HF_OIDC_RESOURCE whenever it builds headers without a token (it does
        # so for every LFS batch, then discards the result), and a namespace is not a resource
        # the Hub exchanges for.
        os.environ.pop("HF_OIDC_RESOURCE", None)
        self._exchanged: dict[str, tuple[str, float]] = {}

    @property
    def mode(self) -> str:
        if self.scope:
            return f"trusted publishing (HF_OIDC_RESOURCE={self.scope})"
        return "the given token" if self.explicit else "HF_TOKEN or the hf auth login token"

    def api(self, repo_type: str, repo_id: str):
        return hf_api(self.endpoint, self.token(repo_type, repo_id))

    def token(self, repo_type: str, repo_id: str) -> str | None:
        if self.scope is None:
            return self._static()
        resource = repo_path(repo_type, repo_id)
        if self.scope not in (resource, repo_id.split("/")[0]):
            raise UsageError(
                f"HF_OIDC_RESOURCE={self.scope} does not cover {resource}: set it to the release's namespace "
                f"({repo_id.split('/')[0]}) to publish every repo of it"
            )
        token, expires = self._exchanged.get(resource, ("", 0.0))
        if time.monotonic() >= expires:
            token, lifetime = self._exchange(resource)
            margin = min(REFRESH_MARGIN, lifetime / 5)
            self._exchanged[resource] = (token, time.monotonic() + lifetime - margin)
        return token

    def _static(self) -> str | None:
        from huggingface_hub import get_token

        token = self.explicit or get_token()
        secrets.remember(token)
        return token

    def _exchange(self, resource: str) -> tuple[str, float]:
        # huggingface_hub implements the exchange but keeps it out of its public API (one
        # HF_OIDC_RESOURCE per process); a release needs one per repo, so hubkit calls it per repo.
        from huggingface_hub._oidc import exchange_oidc_token, get_oidc_token
        from huggingface_hub.errors import HfHubHTTPError, OIDCError

        try:
            id_token = secrets.from_env("HF_OIDC_ID_TOKEN") or get_oidc_token(audience=self.endpoint)
            secrets.remember(id_token)
            answer = exchange_oidc_token(subject_token=id_token, resource=resource, endpoint=self.endpoint)
        except OIDCError as exc:
            raise UsageError(f"trusted publishing: {secrets.redact(str(exc))}") from None
        except HfHubHTTPError as exc:
            status = getattr(exc.response, "status_code", None)
            if status is not None and status >= 500:
                raise  # transient: the caller retries
            reason = _server_message(exc)
            raise UsageError(
                f"trusted publishing: {self.endpoint} refused the id token for {resource} ({status}): {reason}"
            ) from None
        token = answer.get("access_token") or ""
        secrets.remember(token)
        if not token:
            raise UsageError(f"trusted publishing: {self.endpoint} answered the exchange without an access_token")
        return token, float(answer.get("expires_in") or 3600)


def _server_message(exc) -> str:
    response = exc.response
    try:
        body = response.json()
    except ValueError:
        body = {}
    message = (
        response.headers.get("X-Error-Message")
        or (body.get("error_description") if isinstance(body, dict) else None)
        or (body.get("error") if isinstance(body, dict) else None)
        or response.text[:200]
    )
    return secrets.redact(str(message).strip().splitlines()[0] if message else "no reason given")
