"""Transient-error retries with backoff, and one-line explanations of Hub HTTP errors."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from hubkit.errors import HubkitError

T = TypeVar("T")
RETRIES = 5


def transient(exc: BaseException | None) -> bool:
    """Connection failures and 5xx answers, also when wrapped (huggingface_hub wraps upload errors)."""
    import httpx
    from huggingface_hub.errors import HfHubHTTPError

    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, (httpx.TransportError, ConnectionError, TimeoutError)):
            return True
        status = getattr(getattr(exc, "response", None), "status_code", None)
        if isinstance(exc, HfHubHTTPError) and status is not None and status >= 500:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def explain(exc: BaseException, endpoint: str, repo_id: str) -> HubkitError:
    """One actionable line for an HTTP error; the token never appears in it."""
    status = getattr(getattr(exc, "response", None), "status_code", None)
    what = {
        401: f"{endpoint}: the token was rejected (401); set HF_TOKEN to a write token or run `hf auth login`",
        403: f"{repo_id}: the token may not write here (403); use a token with write access to this namespace",
        404: f"{repo_id}: not found on {endpoint} (404); check the namespace and repo type",
        409: f"{repo_id}: conflict (409): {first_line(exc)}",
        412: f"{repo_id}: the remote changed while publishing (412); run `hubkit plan` and publish again",
    }.get(status)
    if what is None and transient(exc):
        what = f"{endpoint}: unreachable or failing after {RETRIES} tries: {first_line(exc)}"
    return HubkitError(what or f"{repo_id}: {first_line(exc)}")


def retrying(
    attempt: Callable[[int], T], *, endpoint: str, repo_id: str, report: Callable[[str], None], sleep=time.sleep
) -> T:
    """Call `attempt(n)` until it succeeds; transient errors back off (0.5 s, 1 s, 2 s, ...)."""
    for n in range(RETRIES):
        try:
            return attempt(n)
        except HubkitError:
            raise
        except Exception as exc:
            if not transient(exc) or n == RETRIES - 1:
                raise explain(exc, endpoint, repo_id) from None
            wait = min(8.0, 0.5 * 2**n)
            report(f"{repo_id}: {first_line(exc)}; retrying in {wait:.1f}s")
            sleep(wait)
    raise AssertionError("unreachable")
