"""Generate answers to CMDR-Bench, grade them, and keep every graded sample in a JSONL file.

One file per model and setup (the name carries a fingerprint of model content, cases,
sampling and backend), appended and fsynced per sample: a crash loses no completed sample,
and a rerun does only what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Protocol

from hubkit.bench import CATEGORIES
from hubkit.bench.cases import Case
from hubkit.bench.graders import grade_result
from hubkit.bench.results import Count, ModelResults, Results, case_key
from hubkit.config import EvalBackend, Sampling
from hubkit.errors import HubkitError
from hubkit.journal import Journal, records
from hubkit.llm import CLOSE, ChatRequest, ChatResult, derive_seed
from hubkit.llm.client import make_result
from hubkit.llm.reasoning import opens_thinking as prompt_opens


class Backend(Protocol):
    name: str

    def generate(self, messages: list[str], sampling: Sampling, seeds: list[int]) -> list[ChatResult]:
        """One result per message, reasoning and answer apart; `seeds[i]` comes from (case, sample) of message i."""
        ...


def opens_thinking(tokenizer) -> bool:
    """Whether the chat template's generation prompt already opens `<think>` (Qwen3-Thinking does)."""
    chat = [{"role": "user", "content": "x"}]
    return prompt_opens(tokenizer.apply_chat_template(chat, add_generation_prompt=True, tokenize=False))


class RowSampler:
    """A transformers logits processor that samples every row with its own seeded generator
    (temperature, then top-p) and leaves only the drawn token, which greedy decoding then takes."""

    def __init__(self, seeds: list[int], temperature: float, top_p: float):
        import torch

        self.torch, self.temperature, self.top_p = torch, temperature, top_p
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]

    def __call__(self, input_ids, scores):
        torch = self.torch
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        if self.top_p < 1.0:  # keep the smallest set of top tokens whose mass reaches top_p
            sorted_p, order = torch.sort(probs, descending=True, dim=-1)
            drop = sorted_p.cumsum(-1) - sorted_p >= self.top_p
            probs = probs.scatter(-1, order, sorted_p.masked_fill(drop, 0.0))
        picks = [torch.multinomial(row.cpu(), 1, generator=g) for row, g in zip(probs, self.generators, strict=True)]
        chosen = torch.full_like(scores, float("-inf"))
        chosen.scatter_(-1, torch.stack(picks).to(scores.device), 0.0)
        return chosen


class TransformersBackend:
    """Local generation with transformers (CPU or GPU), batched with left padding."""

    def __init__(self, model: str):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name = f"transformers:{model}"
        self.tok = AutoTokenizer.from_pretrained(model, padding_side="left")
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype="auto").eval()
        self.torch = torch
        self.opened = opens_thinking(self.tok)

    def generate(self, messages: list[str], sampling: Sampling, seeds: list[int]) -> list[ChatResult]:
        chats = [[{"role": "user", "content": m}] for m in messages]
        enc = self.tok.apply_chat_template(
            chats, add_generation_prompt=True, return_tensors="pt", return_dict=True, padding=True
        )
        # transformers samples a batch from one generator; each row draws from its own instead, so
        # an answer depends on its (case, sample) seed, not on the batch it happened to be in.
        processors = [RowSampler(seeds, sampling.temperature, sampling.top_p)] if sampling.temperature > 0 else []
        with self.torch.no_grad():
            out = self.model.generate(
                **enc, do_sample=False, logits_processor=processors, max_new_tokens=sampling.max_new_tokens,
                pad_token_id=self.tok.pad_token_id,
            )  # fmt: skip
        new = out[:, enc["input_ids"].shape[1] :]
        eos = self.model.generation_config.eos_token_id
        stops = set(eos if isinstance(eos, list) else [eos]) - {None}
        close = self.tok.convert_tokens_to_ids(CLOSE)
        results = []
        for row in new.tolist():
            ends = [i for i, t in enumerate(row) if t in stops]
            ids = row[: ends[0] + 1] if ends else [t for t in row if t != self.tok.pad_token_id]
            text = self.tok.decode(ids, skip_special_tokens=True)  # <think> tags are ordinary tokens: kept
            reasoning_tokens = ids.index(close) if close in ids else (len(ids) if self.opened else 0)
            result = make_result(None, text, "stop" if ends else "length", None, 0.0, self.opened)
            results.append(replace(result, completion_tokens=len(ids), reasoning_tokens=reasoning_tokens))
        return results


class OpenAICompatBackend:
    """Any OpenAI-compatible chat endpoint (vLLM server, TGI, hosted APIs), asked concurrently."""

    def __init__(self, model: str, spec: EvalBackend):
        from hubkit.llm.client import ChatClient

        self.name = f"openai_compat:{model}"
        self.client = ChatClient(spec.endpoint(model), where=f"benchmark.backend ({model})")

    def generate(self, messages: list[str], sampling: Sampling, seeds: list[int]) -> list[ChatResult]:
        s = sampling
        requests = [
            ChatRequest(str(i), [{"role": "user", "content": m}], seed, s.temperature, s.top_p, s.max_new_tokens)
            for i, (m, seed) in enumerate(zip(messages, seeds, strict=True))
        ]
        out: dict[str, ChatResult] = {}
        self.client.map(requests, lambda req, result: out.__setitem__(req.key, result))
        return [out[str(i)] for i in range(len(messages))]


class VLLMBackend:
    """Offline vLLM (GPU machines; `pip install hubkit[vllm]`)."""

    def __init__(self, model: str):
        try:
            from vllm import LLM
        except ImportError:
            raise HubkitError("backend vllm: vllm is not installed (pip install 'hubkit[vllm]', GPU only)") from None
        self.name, self.llm = f"vllm:{model}", LLM(model=model)
        self.opened = opens_thinking(self.llm.get_tokenizer())

    def generate(self, messages: list[str], sampling: Sampling, seeds: list[int]) -> list[ChatResult]:
        from vllm import SamplingParams

        params = [SamplingParams(temperature=sampling.temperature, top_p=sampling.top_p,
                                 max_tokens=sampling.max_new_tokens, seed=seed) for seed in seeds]  # fmt: skip
        outs = self.llm.chat([[{"role": "user", "content": m}] for m in messages], params)
        results = []
        for o in outs:
            c = o.outputs[0]
            # Offline there is no reasoning parser: split on </think> after the template's opening tag.
            r = make_result(None, c.text, c.finish_reason, None, 0.0, self.opened)
            results.append(replace(r, prompt_tokens=len(o.prompt_token_ids or []), completion_tokens=len(c.token_ids)))
        return results


def make_backend(spec: EvalBackend, model: str) -> Backend:
    if spec.kind == "transformers":
        return TransformersBackend(model)
    if spec.kind == "vllm":
        return VLLMBackend(model)
    if not spec.base_url:
        raise HubkitError("benchmark.backend.base_url is needed for the openai_compat backend")
    return OpenAICompatBackend(model, spec)


@dataclass
class EvalJob:
    model: str  # the repo id results are reported under
    source: str  # what the backend loads: a local folder or a Hub id
    out: Path  # this model's JSONL file


def _done(path: Path) -> set[tuple[str, int]]:
    return {(row["case"], row["sample"]) for row in records(path)}


def run(
    job: EvalJob, backend: Backend | Callable[[], Backend], cases: Iterable[Case], samples: int,
    sampling: Sampling, batch_size: int, progress: Callable[[int, int], None] = lambda done, total: None,
    judge=None,
) -> int:  # fmt: skip
    """Generate and grade what is missing; returns the number of new samples."""
    cases = list(cases)
    done = _done(job.out)
    todo = [(c, s) for s in range(samples) for c in cases if (c.id, s) not in done]
    total, finished = len(cases) * samples, len(done)
    progress(finished, total)
    if not todo:
        return 0
    if callable(backend) and not hasattr(backend, "generate"):
        backend = backend()  # load the model only when there is work
    with Journal(job.out) as journal:
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            # Seeds come from (case, sample), so a resumed run or another batch size asks the same.
            seeds = [derive_seed(sampling.seed, case.id, sample) for case, sample in batch]
            results = backend.generate([c.message() for c, _ in batch], sampling, seeds)
            for (case, sample), result, seed in zip(batch, results, seeds, strict=True):
                verdict = grade_result(case.grader, result, judge=judge, prompt=case.message())
                row = {
                    "model": job.model, "case": case.id, "category": case.category, "level": case.level,
                    "sample": sample, "prompt": case.message(), "reasoning": result.reasoning, "answer": result.content,
                    "finish_reason": result.finish_reason, "closed": result.closed,
                    "prompt_tokens": result.prompt_tokens, "completion_tokens": result.completion_tokens,
                    "reasoning_tokens": result.reasoning_tokens, **verdict.to_json(), "seed": seed,
                    "batch_size": len(batch), "backend": backend.name, "sampling": sampling.model_dump(),
                }  # fmt: skip
                journal.append(row)
            finished += len(batch)
            progress(finished, total)
    return len(todo)


def results_from_jsonl(files: dict[str, Path], benchmark: str, source: str, fingerprints: dict[str, str],
                       graders: dict[str, str] | None = None) -> Results:  # fmt: skip
    """Aggregate graded samples into the Results schema (counts per category, outcomes per case;
    `graders`: category -> the grader that produced its numbers)."""
    models = []
    for model, path in files.items():
        rows = {(row["case"], row["sample"]): row for row in records(path)}
        cases: dict[str, list[bool]] = {}
        counts = {c: [0, 0] for c in CATEGORIES}
        truncated = dict.fromkeys(CATEGORIES, 0)
        for (case, _), row in sorted(rows.items()):
            truncated[row["category"]] += row.get("finish_reason") == "length"
            cases.setdefault(case_key(row["category"], case), []).append(bool(row["passed"]))
            counts[row["category"]][0] += bool(row["passed"])
            counts[row["category"]][1] += 1
        if any(total == 0 for _, total in counts.values()):
            raise HubkitError(f"{path}: incomplete evaluation of {model}; run hubkit eval again to finish it")
        categories = {c: Count(passed=p, total=t) for c, (p, t) in counts.items()}
        models.append(ModelResults(model=model, categories=categories, cases=cases, truncated=truncated))
    return Results(benchmark=benchmark, source=source, categories=list(CATEGORIES), models=models,
                   fingerprints=fingerprints, graders=graders or {})  # fmt: skip
