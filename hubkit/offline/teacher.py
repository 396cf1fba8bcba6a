"""A scripted OpenAI-compatible teacher server: deterministic reasoning and answers over real HTTP.

It stands in for the seed's teachers offline (demo and tests). Answers depend only on
(model, prompt, seed), so a resumed run gets what an uninterrupted one got. It serves
`POST /v1/chat/completions` (streamed or not; reasoning as `reasoning_content`, `reasoning`
or inline `<think>`), `GET /v1/models` and `GET /stats` (what was asked, for tests).

Fault injection, decided per (request, attempt) so every request eventually succeeds:
`faults={"429": 0.2, "500": 0.1, "drop": 0.1, "slow": 0.05}`; `truncate_rate` cuts a share
of answers inside their reasoning (`finish_reason: length`), as `max_tokens` does too.

    python -m hubkit.offline.teacher --port 8900 [--options JSON]
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

# hubkit's question-synthesis template contains this line; the script answers with a question.
SYNTH_MARKER = "Write one new question"
_ARITH = re.compile(r"(-?\d+)\s*([-+*x\u00d7])\s*(-?\d+)")
_FILLER = [
    "First, restate what is given and what is asked.",
    "Next, separate the known quantities from the unknown ones.",
    "Check the edge cases before trusting the general rule.",
    "Wait, let me re-check the previous step against the constraints.",
    "Consider an alternative approach and compare the two.",
    "The assumptions hold here, so the argument goes through.",
    "Summarise the chain of reasoning so the answer follows from it.",
    "Estimate the order of magnitude to catch arithmetic slips.",
]
_TOPICS = [
    "supply chains", "enzyme kinetics", "the Silk Road", "bond pricing", "cache eviction", "vaccine trials",
    "tariff policy", "graph colouring", "river deltas", "compound interest", "medieval guilds", "sorting networks",
    "heat pumps", "inflation targeting", "protein folding", "queueing delays", "naval logistics", "prime gaps",
]  # fmt: skip
_ASKS = ["How would you estimate", "What explains", "Why does", "Compare two strategies for", "What are the risks in",
         "Derive a rule of thumb for", "What would change about", "Design an experiment to test"]  # fmt: skip
_TWISTS = ["when data is scarce", "over a ten-year horizon", "under a strict budget", "if the key assumption fails",
           "for a small team", "in a crisis", "at twice the scale", "with noisy measurements"]  # fmt: skip


@dataclass
class Options:
    reasoning_field: str = "reasoning_content"  # or "reasoning", or "inline" (<think> in content)
    only_stream: bool = False  # 400 for non-streamed requests, as some providers do
    fixed_temperature: float | None = None  # 400 for any other temperature
    api_key: str | None = None  # when set, 401 without `Authorization: Bearer <key>`
    refuse: list[str] = field(default_factory=lambda: ["explosive", "malware"])
    truncate_rate: float = 0.0
    latency: float = 0.0
    token_delay: float = 0.0  # seconds between streamed pieces (a model's pace; 0: as fast as possible)
    slow: float = 2.0
    faults: dict[str, float] = field(default_factory=dict)
    seed: int = 0
    answers: dict[str, str] = field(default_factory=dict)  # prompt -> the answer to give (e.g. references)


def _h(*parts: object) -> int:
    return int.from_bytes(hashlib.sha256("\x1f".join(map(str, parts)).encode()).digest()[:8], "big")


def _frac(*parts: object) -> float:
    return _h(*parts) / 2**64


def _arith(prompt: str) -> str | None:
    m = _ARITH.search(prompt)
    if not m:
        return None
    a, op, b = int(m.group(1)), m.group(2), int(m.group(3))
    return str(a + b if op == "+" else a - b if op == "-" else a * b)


def script(model: str, prompt: str, seed: int | None, opts: Options) -> tuple[str, str]:
    """(reasoning, answer) the scripted teacher gives; deterministic in its inputs."""
    h = _h(model, prompt, seed)
    if prompt in opts.answers:
        return f"Let me work through it carefully. The task: {prompt.strip()[:80]}", opts.answers[prompt]
    if any(word in prompt.lower() for word in opts.refuse):
        return "This asks for something harmful.", "I'm sorry, but I can't help with that request."
    if SYNTH_MARKER in prompt:
        domain = re.search(r"Domain: (.+)", prompt)
        q = f"{_ASKS[h % 8]} {_TOPICS[(h >> 8) % 18]} {_TWISTS[(h >> 16) % 8]}"
        extra = f", given a budget of {(h >> 24) % 900 + 100} units" if (h >> 40) % 2 else ""
        where = f" (in {domain.group(1).strip()})" if domain else ""
        return f"I need a fresh question{where}.", f"{q}{extra}?"
    steps = [_FILLER[(h >> (3 * i)) % len(_FILLER)] for i in range(3 + h % 6)]
    reasoning = f"The question asks: {prompt.strip()[:120]}\n" + "\n".join(steps)
    value = _arith(prompt)
    answer = f"The result is \\boxed{{{value}}}." if value else f"In short: {steps[-1].lower()} [{h % 997}]"
    return reasoning, answer


def _words(text: str) -> int:
    return len(text.split())


def _cut(text: str, n: int) -> str:
    return " ".join(text.split()[:n])


def create_app(opts: Options | None = None):
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import JSONResponse, StreamingResponse
    from starlette.routing import Route

    opts = opts or Options()
    attempts: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    stats: dict[str, Any] = {"requests": 0, "in_flight": 0, "max_in_flight": 0, "extra_body": {}}

    def error(status: int, message: str, headers: dict | None = None):
        return JSONResponse({"error": {"message": message, "type": "invalid_request_error"}}, status, headers=headers)

    async def models(_: Request):
        return JSONResponse({"object": "list", "data": [{"id": "scripted", "object": "model"}]})

    async def get_stats(_: Request):
        return JSONResponse({**stats, "answered": dict(answered)})

    async def completions(request: Request):
        stats["requests"] += 1
        stats["in_flight"] += 1
        stats["max_in_flight"] = max(stats["max_in_flight"], stats["in_flight"])
        try:
            return await answer(request)
        finally:
            stats["in_flight"] -= 1

    async def answer(request: Request):
        if opts.api_key and request.headers.get("authorization") != f"Bearer {opts.api_key}":
            return error(401, "invalid api key")
        try:
            body = json.loads(await request.body())
            messages = body["messages"]
            model = body["model"]
        except (ValueError, KeyError, TypeError):
            return error(400, "expected a JSON body with model and messages")
        known = {"model", "messages", "stream", "stream_options", "temperature", "top_p", "max_tokens", "seed",
                 "max_completion_tokens", "response_format"}  # fmt: skip
        stats["extra_body"].update({k: v for k, v in body.items() if k not in known})
        stream = bool(body.get("stream"))
        if opts.only_stream and not stream:
            return error(400, "this model only supports stream=true")
        temp = body.get("temperature")
        if opts.fixed_temperature is not None and temp is not None and temp != opts.fixed_temperature:
            return error(400, f"invalid temperature: only {opts.fixed_temperature} is allowed for this model")
        prompt = next((m.get("content") or "" for m in reversed(messages) if m.get("role") == "user"), "")
        seed = body.get("seed")
        key = hashlib.sha256(f"{model}\x1f{prompt}\x1f{seed}".encode()).hexdigest()[:16]
        attempt = attempts[key]
        attempts[key] += 1
        if opts.latency:
            await asyncio.sleep(opts.latency)

        fault, edge = None, 0.0
        roll = _frac("fault", opts.seed, key, attempt)
        for kind, rate in sorted(opts.faults.items()):
            edge += rate
            if roll < edge:
                fault = kind
                break
        if fault == "429":
            return error(429, "rate limit reached, slow down", {"Retry-After": "0.2"})
        if fault == "500":
            return error(500, "internal error")
        if fault == "slow":
            await asyncio.sleep(opts.slow)

        reasoning, content = script(model, prompt, seed, opts)
        finish = "stop"
        budget = body.get("max_tokens") or body.get("max_completion_tokens")
        if opts.truncate_rate and _frac("truncate", opts.seed, model, prompt) < opts.truncate_rate:
            reasoning, content, finish = _cut(reasoning, max(1, _words(reasoning) // 2)), "", "length"
        elif budget and _words(reasoning) + _words(content) > budget:
            if _words(reasoning) >= budget:
                reasoning, content = _cut(reasoning, budget), ""
            else:
                content = _cut(content, budget - _words(reasoning))
            finish = "length"
        usage = {"prompt_tokens": sum(_words(m.get("content") or "") for m in messages),
                 "completion_tokens": _words(reasoning) + _words(content),
                 "completion_tokens_details": {"reasoning_tokens": _words(reasoning)}}  # fmt: skip
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        inline = opts.reasoning_field == "inline"
        if inline:
            content = f"<think>\n{reasoning}" + (
                "" if finish == "length" and not content else f"\n</think>\n\n{content}"
            )
        base = {"id": f"chatcmpl-{key}-{attempt}", "created": int(time.time()), "model": model}

        if not stream:
            message: dict[str, Any] = {"role": "assistant", "content": content}
            if not inline:
                message[opts.reasoning_field] = reasoning
            payload = json.dumps({**base, "object": "chat.completion", "usage": usage,
                                  "choices": [{"index": 0, "message": message, "finish_reason": finish}]})  # fmt: skip
            if fault == "drop":

                async def torn():
                    yield payload[: len(payload) // 2].encode()
                    raise ConnectionResetError("scripted drop")

                return StreamingResponse(torn(), media_type="application/json")
            answered[key] += 1
            return JSONResponse(json.loads(payload))

        def chunk(delta: dict, finish_reason: str | None = None, **more) -> bytes:
            data = {**base, "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}], **more}  # fmt: skip
            return f"data: {json.dumps(data)}\n\n".encode()

        async def events():
            yield chunk({"role": "assistant", "content": ""})
            pieces = []
            if not inline:
                pieces += [{opts.reasoning_field: w} for w in re.findall(r"\s*\S+\s*", reasoning)]
            pieces += [{"content": w} for w in re.findall(r"\s*\S+\s*", content)]
            for i, delta in enumerate(pieces):
                if fault == "drop" and i == len(pieces) // 2:
                    raise ConnectionResetError("scripted drop mid-stream")
                yield chunk(delta)
                if opts.token_delay:
                    await asyncio.sleep(opts.token_delay)
                elif i % 8 == 7:
                    await asyncio.sleep(0)
            yield chunk({}, finish)
            if (body.get("stream_options") or {}).get("include_usage"):
                data = {**base, "object": "chat.completion.chunk", "choices": [], "usage": usage}
                yield f"data: {json.dumps(data)}\n\n".encode()
            yield b"data: [DONE]\n\n"
            answered[key] += 1

        return StreamingResponse(events(), media_type="text/event-stream")

    return Starlette(routes=[
        Route("/v1/chat/completions", completions, methods=["POST"]),
        Route("/v1/models", models),
        Route("/stats", get_stats),
    ])  # fmt: skip


class BackgroundTeacher:
    """The scripted teacher on a free loopback port of this process: `with BackgroundTeacher() as t: t.url`."""

    def __init__(self, opts: Options | None = None):
        from hubkit.background import BackgroundServer

        self._server = BackgroundServer(create_app(opts), log_level="critical")  # scripted drops are not news
        self._server.what = "scripted teacher"

    @property
    def url(self) -> str:
        return f"{self._server.url}/v1"

    def __enter__(self) -> BackgroundTeacher:
        self._server.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._server.__exit__(*exc)


def main(argv: list[str] | None = None) -> None:
    import argparse

    import uvicorn

    ap = argparse.ArgumentParser(description="Scripted OpenAI-compatible teacher (offline tests and demo).")
    ap.add_argument("--port", type=int, default=8900)
    ap.add_argument("--options", default="{}", help="JSON of Options fields")
    args = ap.parse_args(argv)
    uvicorn.run(create_app(Options(**json.loads(args.options))), host="127.0.0.1", port=args.port, log_level="critical")


if __name__ == "__main__":
    main()
