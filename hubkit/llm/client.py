"""Async chat client over the openai SDK: bounded concurrency, rate limits, retries, typed results.

The SDK's own retries are off (`max_retries=0`): a stream that drops half-way is not
something it retries, so one loop here handles every transient failure alike, with
hubkit.retry's policy (jittered exponential backoff, `Retry-After` honoured).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from hubkit.config import ChatEndpoint
from hubkit.errors import HubkitError, UsageError
from hubkit.llm import ChatRequest, ChatResult, split_reasoning
from hubkit.llm.reasoning import field as _field
from hubkit.llm.reasoning import reasoning_of as _reasoning_of
from hubkit.retry import DEFAULT, Backoff, retry_after, retryable_status
from hubkit.secrets import from_env, redact

LOCK_TIMEOUT = frozenset({409})  # some providers answer 409 to a request that may be retried


class _Window:
    """Requests and tokens per minute, over a sliding 60-second window."""

    def __init__(self, rpm: int | None, tpm: int | None, period: float = 60.0):
        self.rpm, self.tpm, self.period = rpm, tpm, period
        self.requests: deque[float] = deque()
        self.tokens: deque[tuple[float, int]] = deque()

    async def acquire(self) -> None:
        while True:
            now = time.monotonic()
            while self.requests and now - self.requests[0] >= self.period:
                self.requests.popleft()
            while self.tokens and now - self.tokens[0][0] >= self.period:
                self.tokens.popleft()
            waits = []
            if self.rpm and len(self.requests) >= self.rpm:
                waits.append(self.requests[0] + self.period - now)
            if self.tpm and sum(n for _, n in self.tokens) >= self.tpm:
                waits.append(self.tokens[0][0] + self.period - now)
            if not waits:
                self.requests.append(now)
                return
            await asyncio.sleep(max(0.01, min(waits)))

    def spend(self, tokens: int) -> None:
        if self.tpm and tokens:
            self.tokens.append((time.monotonic(), tokens))


def make_result(reasoning: str | None, content: str, finish: str | None, usage: Any, latency: float,
                opened: bool = False) -> ChatResult:  # fmt: skip
    """A ChatResult from the parts an API returned; inline `<think>` is split off the content."""
    if reasoning is None:
        reasoning, content, closed = split_reasoning(content, opened)
    else:
        # A separate reasoning field with no answer after a length stop: cut inside the reasoning.
        closed = not (finish == "length" and not content.strip())
    details = _field(usage, "completion_tokens_details") if usage is not None else None
    return ChatResult(
        reasoning=reasoning, content=content.strip(), finish_reason=finish,
        prompt_tokens=_field(usage, "prompt_tokens") if usage is not None else None,
        completion_tokens=_field(usage, "completion_tokens") if usage is not None else None,
        reasoning_tokens=_field(details, "reasoning_tokens") if details is not None else None,
        latency_s=round(latency, 4), closed=closed,
    )  # fmt: skip


class ChatClient:
    """One chat model behind an OpenAI-compatible endpoint.

    `map` asks many requests concurrently and hands each result to a callback as it arrives
    (so the caller can journal it); `chat` asks one. The key is read from the variable the
    config names and is redacted from every error.
    """

    def __init__(self, endpoint: ChatEndpoint, base_url: str | None = None, *, where: str = "", opened: bool = False,
                 backoff: Backoff = DEFAULT):  # fmt: skip
        self.endpoint = endpoint
        self.backoff = backoff  # how long to wait; how often comes from the endpoint's max_retries
        self.base_url = (base_url or endpoint.base_url or "").rstrip("/")
        self.where = where or f"model {endpoint.model}"
        self.opened = opened
        self._key = None
        if endpoint.api_key_env:
            self._key = from_env(endpoint.api_key_env)
            if not self._key:
                raise UsageError(
                    f"{self.where}: environment variable {endpoint.api_key_env} is not set "
                    f"(api_key_env; it must hold the key for {self.base_url})"
                )
        self.attempts = 0  # requests sent, retries included

    # -- one request -------------------------------------------------------------------------

    def _params(self, req: ChatRequest) -> dict[str, Any]:
        e = self.endpoint
        params = {
            "model": e.model, "messages": req.messages, "seed": req.seed,
            "temperature": e.temperature if e.temperature is not None else req.temperature,
            "top_p": req.top_p, "max_tokens": req.max_tokens, "response_format": req.response_format,
        }  # fmt: skip
        params = {k: v for k, v in params.items() if v is not None}
        if e.extra_body:
            params["extra_body"] = dict(e.extra_body)
        return params

    async def _once(self, client: Any, req: ChatRequest) -> ChatResult:
        params = self._params(req)
        self.attempts += 1
        start = time.monotonic()
        if not self.endpoint.stream:
            resp = await client.chat.completions.create(**params)
            if not resp.choices:
                raise _Transient("an answer with no choices")
            choice = resp.choices[0]
            msg = choice.message
            return make_result(_reasoning_of(msg), msg.content or "", choice.finish_reason, resp.usage,
                               time.monotonic() - start, self.opened)  # fmt: skip
        stream = await client.chat.completions.create(**params, stream=True, stream_options={"include_usage": True})
        reasoning: list[str] = []
        content: list[str] = []
        finish, usage = None, None
        async for chunk in stream:
            usage = chunk.usage or usage
            for choice in chunk.choices:
                if (r := _reasoning_of(choice.delta)) is not None:
                    reasoning.append(r)
                content.append(choice.delta.content or "")
                finish = choice.finish_reason or finish
        if finish is None:
            raise _Transient("the stream ended before its finish_reason")
        return make_result("".join(reasoning) if reasoning else None, "".join(content), finish, usage,
                           time.monotonic() - start, self.opened)  # fmt: skip

    def _retry_wait(self, exc: BaseException, attempt: int) -> float | None:
        """Seconds to wait before trying again (hubkit.retry's policy), or None when retrying cannot help."""
        import httpx
        import openai

        if isinstance(exc, openai.APIStatusError):
            if not retryable_status(exc.status_code, LOCK_TIMEOUT):
                return None
            return self.backoff.delay(attempt, retry_after(exc.response.headers))
        if isinstance(exc, (openai.APIConnectionError, httpx.TransportError, _Transient,
                            openai.APIResponseValidationError, openai.APIError)):  # fmt: skip
            return self.backoff.delay(attempt)  # APIError: an error event inside a stream
        return None

    def _error(self, exc: BaseException, attempts: int) -> HubkitError:
        import openai

        where = f"{self.base_url} ({self.where})"
        if isinstance(exc, openai.APIStatusError):
            detail = exc.message.splitlines()[0][:200] if exc.message else ""
            hint = (
                f"; check {self.endpoint.api_key_env}"
                if exc.status_code in (401, 403) and self.endpoint.api_key_env
                else ""
            )
            tail = f" after {attempts} attempts" if attempts > 1 else ""
            return HubkitError(redact(f"{where}: HTTP {exc.status_code}{tail}: {detail}{hint}"))
        reason = exc.__class__.__name__ + (f": {exc}" if str(exc) else "")
        return HubkitError(redact(f"{where}: gave up after {attempts} attempts: {reason}"[:400]))

    async def _ask(self, client: Any, req: ChatRequest, sem: asyncio.Semaphore, window: _Window) -> ChatResult:
        async with sem:
            attempt = 0
            while True:
                await window.acquire()
                try:
                    result = await asyncio.wait_for(self._once(client, req), self.endpoint.timeout)
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # classified below: transient ones are retried, others end the run
                    if isinstance(exc, asyncio.TimeoutError):
                        exc = _Transient(f"no answer within {self.endpoint.timeout:g} s")
                    wait = self._retry_wait(exc, attempt)
                    if wait is None or attempt >= self.endpoint.max_retries:
                        raise self._error(exc, attempt + 1) from None
                    attempt += 1
                    await asyncio.sleep(wait)
                    continue
                window.spend((result.prompt_tokens or 0) + (result.completion_tokens or 0))
                return result

    # -- many requests -----------------------------------------------------------------------

    def _sdk(self):
        import openai

        return openai.AsyncOpenAI(
            base_url=self.base_url, api_key=self._key or "none", max_retries=0, timeout=self.endpoint.timeout
        )

    async def amap(self, requests: Iterable[ChatRequest], on_result: Callable[[ChatRequest, ChatResult], None]) -> None:
        sem = asyncio.Semaphore(self.endpoint.concurrency)
        window = _Window(self.endpoint.requests_per_minute, self.endpoint.tokens_per_minute)
        async with self._sdk() as client:

            async def one(req: ChatRequest) -> tuple[ChatRequest, ChatResult]:
                return req, await self._ask(client, req, sem, window)

            tasks = [asyncio.create_task(one(r)) for r in requests]
            try:
                for done in asyncio.as_completed(tasks):
                    req, result = await done
                    on_result(req, result)
            finally:
                for t in tasks:
                    t.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)

    def map(self, requests: Iterable[ChatRequest], on_result: Callable[[ChatRequest, ChatResult], None]) -> None:
        """Ask every request (at most `concurrency` at once); `on_result` runs as each one ends.

        The first error that retrying cannot fix stops the run and is raised; results already
        handed to `on_result` stay handed.
        """
        asyncio.run(self.amap(list(requests), on_result))

    def chat(self, req: ChatRequest) -> ChatResult:
        out: list[ChatResult] = []
        self.map([req], lambda _, result: out.append(result))
        return out[0]


class _Transient(Exception):
    """A failure worth another try that is not an HTTP status (empty answer, cut stream, timeout)."""


@contextlib.contextmanager
def serving(endpoint: ChatEndpoint) -> Iterator[str]:
    """The endpoint's base URL; for `backend: scripted`, the offline scripted server started for the block."""
    if endpoint.backend != "scripted":
        yield endpoint.base_url
        return
    from hubkit.offline.teacher import BackgroundTeacher, Options

    with BackgroundTeacher(Options(**(endpoint.scripted.model_dump() if endpoint.scripted else {}))) as server:
        yield server.url
