"""Where the Space's models run, and every column streamed at once.

`stream_columns` starts one thread per model and yields the columns' state as tokens arrive,
so no model waits for another. Engines (from `space_config.json` "backend"):

- local models, each in its own worker process (`python engines.py serve MODEL`, JSON lines
  over stdin/stdout): generation is Python-bound for small models, so threads in one process
  take turns on the GIL and two columns would take twice as long; processes do not.
- local models on ZeroGPU (the `spaces` package importable): one process, generation wrapped
  in `spaces.GPU`, which runs each call on a GPU of its own.
- an OpenAI-compatible endpoint (Inference Providers, vLLM, ...) with the openai SDK, streamed.

This file runs inside the Space, which cannot import hubkit: it shares only `reasoning.py`,
copied in by hubkit when it builds the Space.
"""

from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from reasoning import CLOSE, OPEN, opens_thinking, reasoning_of, split_reasoning
from reasoning import field as sdk_field


@dataclass(frozen=True)
class Sampling:
    temperature: float = 0.6  # 0: greedy
    top_p: float = 0.95
    max_new_tokens: int = 1024
    thinking_budget: int | None = None  # reasoning tokens before `</think>` is forced (local models)


@dataclass
class Column:
    """One model's answer as it streams: text, timings, token counts."""

    model: str
    started: float = field(default_factory=time.monotonic)
    opened: bool = False  # the prompt opened <think>: the text starts inside the reasoning
    text: str = ""  # raw text (inline <think>), or the answer when the server sends reasoning apart
    reasoning_apart: str | None = None
    first_token: float | None = None
    ended: float | None = None
    tokens: int = 0
    reasoning_tokens: int | None = None
    finish: str | None = None  # stop, length, cancelled, error
    error: str | None = None
    forced_close: bool = False  # the thinking budget closed the reasoning

    def parts(self) -> tuple[str, str, bool]:
        """(reasoning, answer, closed)."""
        if self.reasoning_apart is not None:
            closed = bool(self.text.strip()) or self.finish == "stop"
            return self.reasoning_apart, self.text.strip(), closed
        reasoning, answer, closed = split_reasoning(self.text, self.opened)
        return reasoning or "", answer, closed

    def add(self, text: str = "", tokens: int = 0, reasoning: str | None = None) -> None:
        now = time.monotonic()
        if (text or reasoning or tokens) and self.first_token is None:  # text may wait for a word's end
            self.first_token = now
        was_closed = self.reasoning_tokens is not None
        if reasoning:
            self.reasoning_apart = (self.reasoning_apart or "") + reasoning
        self.text += text
        if not was_closed and self.parts()[1]:
            self.reasoning_tokens = self.tokens  # tokens before the first answer token
        self.tokens += tokens

    def stats(self) -> str:
        if self.first_token is None:
            return "waiting for the first token…" if self.finish is None else ""
        end = self.ended or time.monotonic()
        rate = self.tokens / max(end - self.first_token, 1e-6) if self.tokens > 1 else 0.0
        thought = self.reasoning_tokens if self.reasoning_tokens is not None else self.tokens
        answer = self.tokens - thought
        ttft = self.first_token - self.started
        return f"TTFT {ttft:.2f} s · {rate:.1f} tok/s · {thought} reasoning + {answer} answer tokens"

    @property
    def done(self) -> bool:
        return self.finish is not None


Emit = Callable[[dict[str, Any]], None]


# -- one generation, the same code in a worker process and under spaces.GPU ---------------


def generate(model: Any, tokenizer: Any, messages: list[dict], s: Sampling, cancelled: Callable[[], bool]):
    """Events of one local generation: start, delta (text, tokens) ..., done (finish)."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList, TextIteratorStreamer

    prompt = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    opened = opens_thinking(prompt)  # Qwen3-Thinking's template opens <think> itself
    yield {"event": "start", "opened": opened}
    # Control tokens a model may emit (<|im_start|>, eos, pad) are not text; the think tags are.
    specials = {t.content for t in tokenizer.added_tokens_decoder.values() if t.special}
    specials = (specials | {tokenizer.eos_token, tokenizer.pad_token}) - {OPEN, CLOSE, None, ""}
    close_ids = tokenizer.encode(CLOSE, add_special_tokens=False)
    state = {"tokens": 0, "closed": not opened, "budget_hit": False, "reasoning_tokens": None if opened else 0,
             "abandoned": False}  # fmt: skip

    class Stop(StoppingCriteria):
        def __init__(self, start: int):
            self.start = start

        def __call__(self, input_ids, scores, **kwargs) -> bool:
            new = input_ids[0, self.start :]
            if not state["closed"] and len(new) >= len(close_ids) and int(new[-1]) == close_ids[-1]:
                tail = tokenizer.decode(new[-len(close_ids) - 2 :], skip_special_tokens=False)
                if CLOSE in tail:
                    state["closed"], state["reasoning_tokens"] = True, len(new)
            if s.thinking_budget and not state["closed"] and len(new) >= s.thinking_budget:
                state["budget_hit"] = True
                return True
            return state["abandoned"] or cancelled()

    class Streamer(TextIteratorStreamer):
        """Text as it forms, with the number of tokens behind each piece."""

        pending = 0

        def put(self, value):
            if not (self.skip_prompt and self.next_tokens_are_prompt):
                self.pending += int(value.numel())
            super().put(value)

        def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
            self.text_queue.put((text, self.pending), timeout=self.timeout)
            self.pending = 0
            if stream_end:
                self.text_queue.put(self.stop_signal, timeout=self.timeout)

    def run(text: str, budget: int) -> Iterator[dict]:
        enc = tokenizer(text, return_tensors="pt", add_special_tokens=False).to(model.device)
        streamer = Streamer(tokenizer, skip_prompt=True, skip_special_tokens=False, timeout=600)
        sample = s.temperature > 0
        kwargs = dict(
            **enc, streamer=streamer, max_new_tokens=budget, do_sample=sample,
            stopping_criteria=StoppingCriteriaList([Stop(enc["input_ids"].shape[1])]),
            **({"temperature": s.temperature, "top_p": s.top_p} if sample else {}),
        )  # fmt: skip
        out: dict[str, Any] = {}

        def target() -> None:
            try:
                with torch.no_grad():
                    out["ids"] = model.generate(**kwargs)[0, enc["input_ids"].shape[1] :]
            except Exception as exc:  # reported as the column's error, not a traceback in the page
                out["error"] = f"{type(exc).__name__}: {exc}"
                streamer.end()

        thread = threading.Thread(target=target, daemon=True)
        thread.start()
        try:
            for chunk, n in streamer:
                for special in specials:
                    chunk = chunk.replace(special, "")
                if chunk or n:
                    yield {"event": "delta", "text": chunk, "tokens": n}
        except GeneratorExit:  # the reader closed this generator: the model stops at its next token
            state["abandoned"] = True
            thread.join()
            raise
        thread.join()
        if "error" in out:
            raise RuntimeError(out["error"])
        ids = out["ids"]
        state["tokens"] += len(ids)
        state["text"] = tokenizer.decode(ids, skip_special_tokens=False)
        state["eos"] = len(ids) > 0 and int(ids[-1]) in _eos_ids(model, tokenizer)

    yield from run(prompt, s.max_new_tokens)
    if state["budget_hit"] and not cancelled() and state["tokens"] < s.max_new_tokens:
        # Budget forcing: close the reasoning ourselves and let the model answer from there.
        forced = f"\n{CLOSE}\n\n"
        yield {"event": "delta", "text": forced, "tokens": 0, "forced": True}
        state["closed"], state["reasoning_tokens"] = True, state["tokens"]
        yield from run(prompt + state["text"] + forced, s.max_new_tokens - state["tokens"])
    finish = "cancelled" if cancelled() else "stop" if state.get("eos") else "length"
    # Exact counts: while streaming, the column can only tell reasoning from answer by text.
    exact = {"tokens": state["tokens"], "reasoning_tokens": state["reasoning_tokens"]}
    yield {"event": "done", "finish": finish, **exact}


def coalesce(events: Iterator[dict], interval: float = 0.05) -> Iterator[dict]:
    """Token deltas merged into one event per `interval`: a line per token costs the app's
    process more CPU than the stream needs (the page updates every ~0.1 s anyway)."""
    pending: dict | None = None
    last = time.monotonic()
    for e in events:
        if e["event"] == "delta" and not e.get("forced"):
            if pending is None:
                pending = {"event": "delta", "text": "", "tokens": 0}
            pending["text"] += e["text"]
            pending["tokens"] += e["tokens"]
            if time.monotonic() - last < interval:
                continue
        if pending is not None:
            yield pending
            pending, last = None, time.monotonic()
        if e["event"] != "delta" or e.get("forced"):
            yield e
    if pending is not None:
        yield pending


def _eos_ids(model: Any, tokenizer: Any) -> set[int]:
    eos = model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
    if tokenizer.eos_token_id is not None:
        ids.add(tokenizer.eos_token_id)
    return ids


def load(model_id: str, device_map: str | None = "auto"):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_id)
    model = AutoModelForCausalLM.from_pretrained(model_id, dtype="auto", device_map=device_map).eval()
    return model, tokenizer


# -- engines ------------------------------------------------------------------------------


class Worker:
    """One model in its own process; jobs and events as JSON lines. Restarted if it dies."""

    def __init__(self, model_id: str, threads: int):
        self.model_id, self.threads = model_id, threads
        self.lock = threading.Lock()  # one generation at a time per model
        self.proc: subprocess.Popen | None = None
        self.jobs: dict[int, queue.Queue] = {}
        self.next_job = 0
        self.ready = threading.Event()

    def start(self) -> None:
        if self.proc and self.proc.poll() is None:
            return
        env = {**os.environ, "OMP_NUM_THREADS": str(self.threads), "TOKENIZERS_PARALLELISM": "false"}
        self.ready.clear()
        self.proc = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "serve", self.model_id],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1, env=env,
        )  # fmt: skip
        self.reader = threading.Thread(target=self._read, args=(self.proc,), daemon=True)
        self.reader.start()

    def _read(self, proc: subprocess.Popen) -> None:
        for line in proc.stdout:
            msg = json.loads(line)
            if msg.get("event") == "ready":
                self.ready.set()
            elif (q := self.jobs.get(msg.get("job"))) is not None:
                q.put(msg)
        code = proc.wait()
        self.ready.set()
        for q in list(self.jobs.values()):
            q.put({"event": "error", "message": self._died(code)})

    def _died(self, code: int | None) -> str:
        return f"the worker running {self.model_id} stopped (exit code {code}; its error is in the Space's logs)"

    def _send(self, msg: dict) -> None:
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()

    def run(self, messages: list[dict], s: Sampling, stop: threading.Event, emit: Emit) -> None:
        with self.lock:
            self.start()
            self.next_job += 1
            job, q = self.next_job, queue.Queue()
            self.jobs[job] = q
            try:
                self._send({"job": job, "messages": messages, "sampling": s.__dict__})
                cancelled = False
                while True:
                    if stop.is_set() and not cancelled:
                        self._send({"cancel": job})
                        cancelled = True
                    try:
                        msg = q.get(timeout=0.05)
                    except queue.Empty:
                        if not self.reader.is_alive() and q.empty():  # died before this job was registered
                            msg = {"event": "error", "message": self._died(self.proc.poll())}
                        else:
                            continue
                    emit(msg)
                    if msg["event"] in ("done", "error"):
                        return
            except (BrokenPipeError, OSError):
                emit({"event": "error", "message": f"the worker running {self.model_id} is not running"})
            finally:
                self.jobs.pop(job, None)


class LocalEngine:
    """Local models, one worker process each (see the module docstring)."""

    def __init__(self, models: list[str]):
        threads = max(1, (os.cpu_count() or 1) // max(1, min(len(models), 4)))
        self.workers = {m: Worker(m, threads) for m in models}

    def warm(self) -> None:
        for w in self.workers.values():
            w.start()

    def run(self, model: str, messages: list[dict], s: Sampling, stop: threading.Event, emit: Emit) -> None:
        self.workers[model].run(messages, s, stop, emit)


_ZERO: dict[str, tuple[Any, Any]] = {}  # model id -> (model, tokenizer), loaded at start-up


def _zero_generate(model_id: str, messages: list[dict], s: Sampling) -> Iterator[dict]:
    """One generation on a ZeroGPU device. Module-level, with plain arguments: ZeroGPU runs it in a
    worker process and pickles what crosses over (the models stay behind in `_ZERO`)."""
    model, tokenizer = _ZERO[model_id]
    yield from generate(model, tokenizer, messages, s, cancelled=lambda: False)


class ZeroGpuEngine:
    """Local models in this process, each generation on a ZeroGPU device through `spaces.GPU`."""

    def __init__(self, models: list[str]):
        import torch

        import spaces

        for m in models:  # ZeroGPU's pattern: weights on the CPU at start-up, `.to("cuda")` there too
            model, tokenizer = load(m, device_map=None)
            _ZERO[m] = (model.to("cuda") if torch.cuda.is_available() else model, tokenizer)
        self.gpu = spaces.GPU(duration=120)(_zero_generate)

    def warm(self) -> None:
        pass

    def run(self, model: str, messages: list[dict], s: Sampling, stop: threading.Event, emit: Emit) -> None:
        events = self.gpu(model, messages, s)
        for event in events:
            if stop.is_set():
                events.close()  # ends the generation (and frees the GPU) instead of leaving it running
                emit({"event": "done", "finish": "cancelled"})
                return
            emit(event)


class EndpointEngine:
    """An OpenAI-compatible endpoint; the key comes from the environment (a Space secret)."""

    def __init__(self, base_url: str, api_key_env: str | None, served: dict[str, str]):
        from openai import OpenAI

        key = os.environ.get(api_key_env or "") or "none"
        self.client = OpenAI(base_url=base_url, api_key=key, max_retries=1, timeout=120)
        self.served = served

    def warm(self) -> None:
        pass

    def run(self, model: str, messages: list[dict], s: Sampling, stop: threading.Event, emit: Emit) -> None:
        emit({"event": "start", "opened": False})
        stream = self.client.chat.completions.create(
            model=self.served.get(model, model), messages=messages, stream=True, max_tokens=s.max_new_tokens,
            temperature=s.temperature, top_p=s.top_p, stream_options={"include_usage": True},
        )  # fmt: skip
        finish, exact = None, {}
        with stream:
            for chunk in stream:
                if stop.is_set():
                    finish = "cancelled"
                    break
                if chunk.usage is not None:  # the last chunk, with stream_options.include_usage
                    details = sdk_field(chunk.usage, "completion_tokens_details")
                    counts = {"tokens": sdk_field(chunk.usage, "completion_tokens"),
                              "reasoning_tokens": details and sdk_field(details, "reasoning_tokens")}  # fmt: skip
                    exact = {k: v for k, v in counts.items() if v is not None}
                for choice in chunk.choices:
                    reasoning = reasoning_of(choice.delta)
                    text = choice.delta.content or ""
                    if reasoning or text:
                        emit({"event": "delta", "text": text, "reasoning": reasoning, "tokens": 1})
                    finish = choice.finish_reason or finish
        emit({"event": "done", "finish": finish or "stop", **exact})


def make_engine(config: dict, models: list[str]):
    backend = config.get("backend") or {"kind": "local"}
    if backend["kind"] == "endpoint":
        return EndpointEngine(backend["base_url"], backend.get("api_key_env"), backend.get("served") or {})
    try:
        import spaces  # noqa: F401  (present on ZeroGPU hardware)

        if os.environ.get("SPACES_ZERO_GPU"):
            return ZeroGpuEngine(models)
    except ImportError:
        pass
    return LocalEngine(models)


# -- every column at once -----------------------------------------------------------------


def stream_columns(engine: Any, models: list[str], messages: list[dict], s: Sampling, stop: threading.Event,
                   interval: float = 0.08) -> Iterator[list[Column]]:  # fmt: skip
    """The columns' state, yielded at most every `interval` seconds while any model generates."""
    columns = [Column(m) for m in models]
    events: queue.Queue = queue.Queue()

    def work(i: int) -> None:
        try:
            engine.run(models[i], messages, s, stop, lambda e: events.put((i, e)))
        except Exception as exc:  # one failing model must not take the other columns with it
            events.put((i, {"event": "error", "message": f"{type(exc).__name__}: {exc}"[:300]}))

    for i in range(len(models)):
        threading.Thread(target=work, args=(i,), daemon=True).start()
    last = 0.0
    while not all(c.done for c in columns):
        try:
            i, e = events.get(timeout=interval)
        except queue.Empty:
            i, e = None, None
        if e is not None:
            c = columns[i]
            kind = e["event"]
            if kind == "start":
                c.opened = e.get("opened", False)
            elif kind == "delta":
                c.add(e.get("text", ""), e.get("tokens", 0), e.get("reasoning"))
                c.forced_close |= bool(e.get("forced"))
            elif kind in ("done", "error") and not c.done:
                c.tokens = e.get("tokens", c.tokens)
                if e.get("reasoning_tokens") is not None or (kind == "done" and not c.parts()[2]):
                    c.reasoning_tokens = e.get("reasoning_tokens")
                c.finish = "error" if kind == "error" else e["finish"]
                c.error, c.ended = e.get("message"), time.monotonic()
        now = time.monotonic()
        if now - last >= interval or all(c.done for c in columns):
            last = now
            yield columns
    yield columns


# -- the worker process -------------------------------------------------------------------


def serve(model_id: str) -> None:
    """`python engines.py serve MODEL`: jobs on stdin, events on stdout, one JSON object a line."""
    out = os.fdopen(os.dup(1), "w", buffering=1)
    sys.stdout = sys.stderr  # library prints must not corrupt the protocol
    write_lock, cancelled = threading.Lock(), {"job": 0}
    jobs: queue.Queue = queue.Queue()

    def write(msg: dict) -> None:
        with write_lock:
            out.write(json.dumps(msg) + "\n")

    def read() -> None:
        for line in sys.stdin:
            msg = json.loads(line)
            if "cancel" in msg:
                cancelled["job"] = max(cancelled["job"], msg["cancel"])
            else:
                jobs.put(msg)
        os._exit(0)  # the app went away

    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    model, tokenizer = load(model_id)
    threading.Thread(target=read, daemon=True).start()
    write({"event": "ready"})
    while True:
        msg = jobs.get()
        job = msg["job"]
        try:
            s = Sampling(**msg["sampling"])
            events = generate(model, tokenizer, msg["messages"], s, lambda job=job: cancelled["job"] >= job)
            for event in coalesce(events):
                write({"job": job, **event})
        except Exception as exc:
            write({"job": job, "event": "error", "message": f"{type(exc).__name__}: {exc}"[:300]})


if __name__ == "__main__" and sys.argv[1:2] == ["serve"]:
    serve(sys.argv[2])
