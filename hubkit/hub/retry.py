"""Transient-error retries for the Hub client (the policy is hubkit.retry's), and one-line
explanations of Hub HTTP errors."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TypeVar

from hubkit.errors import HubkitError
from hubkit.retry import DEFAULT, Backoff, retry_after, retryable_status

T = TypeVar("T")


def _chain(exc: BaseException | None) -> Iterator[BaseException]:
    """An error and its causes, outermost first (huggingface_hub wraps upload errors)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


def _response(exc: BaseException | None):
    return next((e.response for e in _chain(exc) if getattr(e, "response", None) is not None), None)


def transient(exc: BaseException | None) -> bool:
    """Connection failures and retryable answers (5xx, 408, 425, 429), also when wrapped
    (huggingface_hub wraps upload errors)."""
    import httpx
    from huggingface_hub.errors import HfHubHTTPError

    for e in _chain(exc):
        # A stream error: a request retried after its body was cut off by a dropped connection.
        if isinstance(e, (httpx.TransportError, httpx.StreamError, ConnectionError, TimeoutError)):
            return True
        # huggingface_hub closes its shared httpx client after a connection error; uploads still in
        # flight on other threads then fail with this instead of the connection error itself.
        if isinstance(e, RuntimeError) and "client has been closed" in str(e):
            return True
        # ... or, racing that close, get no client at all (its get_session() returns None).
        if isinstance(e, AttributeError) and "'NoneType' object has no attribute" in str(e) and _in_hub_client(e):
            return True
        status = getattr(getattr(e, "response", None), "status_code", None)
        if isinstance(e, HfHubHTTPError) and retryable_status(status):
            return True
    return False


def _in_hub_client(exc: BaseException) -> bool:
    """Whether `exc` was raised inside huggingface_hub's HTTP helpers (not in hubkit's own code)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    path = tb.tb_frame.f_code.co_filename.replace("\\", "/") if tb is not None else ""
    return path.endswith("huggingface_hub/utils/_http.py")


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def why(exc: BaseException) -> str:
    """The first line of an error and of its deepest cause ("Error while uploading 'x' to the Hub.:
    <what went wrong>"): huggingface_hub wraps the reason an upload failed."""
    *_, root = _chain(exc)
    line = first_line(exc)
    return line if root is exc else f"{line.rstrip('.')}: {type(root).__name__}: {first_line(root)}"


def explain(exc: BaseException, endpoint: str, repo_id: str, tries: int = DEFAULT.tries) -> HubkitError:
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
        what = f"{endpoint}: unreachable or failing after {tries} tries: {first_line(exc)}"
    return HubkitError(what or f"{repo_id}: {why(exc)}")


def retrying(
    attempt: Callable[[int], T], *, endpoint: str, repo_id: str, report: Callable[[str], None],
    backoff: Backoff = DEFAULT,
) -> T:  # fmt: skip
    """Call `attempt(n)` until it succeeds; transient errors wait as `backoff` says."""
    for n in range(backoff.tries):
        try:
            return attempt(n)
        except HubkitError:
            raise
        except Exception as exc:
            if not transient(exc) or n == backoff.tries - 1:
                raise explain(exc, endpoint, repo_id, backoff.tries) from None
            response = _response(exc)
            wait = backoff.delay(n, retry_after(getattr(response, "headers", None)))
            report(f"{repo_id}: {first_line(exc)}; retrying in {wait:.1f}s")
            time.sleep(wait)
    raise AssertionError("unreachable")
