"""One retry policy for every remote call hubkit makes (the Hub, teachers, evaluation endpoints,
the judge): which answers are worth asking again, and how long to wait first.

Transient: connection failures, timeouts, 5xx, and 408 / 425 / 429. The wait doubles from
`base` up to `cap`, jittered (so many clients do not retry in step), and is never shorter than
what the server asked for in `Retry-After`. Callers sleep themselves (sync or async); tests
pass `Backoff(base=0)`.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from email.utils import parsedate_to_datetime

RETRY_STATUS = frozenset({408, 425, 429})


def retryable_status(status: int | None, also: frozenset[int] = frozenset()) -> bool:
    return status is not None and (status >= 500 or status in RETRY_STATUS or status in also)


def retry_after(headers: Mapping[str, str] | None) -> float | None:
    """Seconds a server asked to wait (`Retry-After`: seconds or an HTTP date), else None."""
    value = (headers or {}).get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None


@dataclass(frozen=True)
class Backoff:
    tries: int = 5  # attempts in all, the first included
    base: float = 0.5
    cap: float = 30.0
    jitter: bool = True

    def delay(self, attempt: int, server_asked: float | None = None) -> float:
        """Seconds to wait after failed attempt number `attempt` (0-based)."""
        wait = min(self.cap, self.base * 2**attempt)
        if self.jitter:
            wait *= random.uniform(0.5, 1.0)
        return wait if server_asked is None else max(wait, min(server_asked, 10 * self.cap))


DEFAULT = Backoff()
