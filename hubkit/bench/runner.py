"""Generate answers to CMDR-Bench, grade them, and keep every graded sample in a JSONL file.

One file per model and setup (the name carries a fingerprint of model content, cases,
sampling and backend), appended and fsynced per sample: a crash loses no completed sample,
and a rerun does only what is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from hubkit.bench import CATEGORIES
from hubkit.bench.cases import Case
from hubkit.bench.graders import grade
from hubkit.bench.results import Count, ModelResults, Results, case_key
from hubkit.config import EvalBackend, Sampling
from hubkit.errors import HubkitError
from hubkit.journal import Journal, records
from hubkit.llm import derive_seed


class Backend(Protocol):
    name: str

    def generate(self, messages: list[str], sampling: Sampling, seeds: list[int]) -> list[str]:
        """One answer per message; `seeds[i]` is derived from (case, sample) of message i."""
        ...


class TransformersBackend:
    """Local generation with transformers (CPU or GPU), batched with left padding."""

    def __init__(self, model: str):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.name = f"transformers:{model}"
        self.tok = AutoTokenizer.from_pretrained(model, padding_side="left")
        self.model = AutoModelForCausalLM.from_pretrained(model, dtype="auto").eval()
        self.torch = torch

    def generate(self, messages: list[str], sampling: Sampling, seeds: list[int]) -> list[str]:
        chats = [[{"role": "user", "content": m}] for m in messages]
        enc = self.tok.apply_chat_template(
            chats, add_generation_prompt=True, return_tensors="pt", return_dict=True, padding=True
        )
        self.torch.manual_seed(seeds[0])  # one generator per batch: transformers samples a batch together
        with self.torch.no_grad():
            out = self.model.generate(
                **enc, do_sample=sampling.temperature > 0, temperature=sampling.temperature or None,
                top_p=sampling.top_p, max_new_tokens=sampling.max_new_tokens,
                pad_token_id=self.tok.pad_token_id,
            )  # fmt: skip
        new = out[:, enc["input_ids"].shape[1] :]
        # Keep <think>...</think>: graders strip reasoning themselves, and the record stays complete.
        return [self.tok.decode(row, skip_special_tokens=False).replace(self.tok.pad_token or "\0", "") for row in new]


class OpenAICompatBackend:
    """Any OpenAI-compatible chat endpoint (vLLM server, TGI, hosted APIs), asked concurrently."""

    def __init__(self, model: str, spec: EvalBackend):
        from hubkit.llm.client import ChatClient

        self.name = f"openai_compat:{model}"
        self.client = ChatClient(spec.endpoint(model), where=f"benchmark.backend ({model})")

    def generate(self, messages: list[str], sampling: Sampling, seeds: list[int]) -> list[str]:
        from hubkit.llm import OPEN, ChatRequest

        s = sampling
        requests = [
            ChatRequest(str(i), [{"role": "user", "content": m}], seed, s.temperature, s.top_p, s.max_new_tokens)
            for i, (m, seed) in enumerate(zip(messages, seeds, strict=True))
        ]
        out: dict[str, str] = {}

        def keep(req, r) -> None:
            # Reasoning goes back inside its tags (unterminated when it was cut), so graders see it as reasoning.
            think = "" if r.reasoning is None else f"{OPEN}{r.reasoning}" + ("</think>" if r.closed else "")
            out[req.key] = think + r.content

        self.client.map(requests, keep)
        return [out[str(i)] for i in range(len(messages))]


class VLLMBackend:
    """Offline vLLM (GPU machines; `pip install hubkit[vllm]`)."""

    def __init__(self, model: str):
        try:
            from vllm import LLM
        except ImportError:
            raise HubkitError("backend vllm: vllm is not installed (pip install 'hubkit[vllm]', GPU only)") from None
        self.name, self.llm = f"vllm:{model}", LLM(model=model)

    def generate(self, messages: list[str], sampling: Sampling, seeds: list[int]) -> list[str]:
        from vllm import SamplingParams

        params = [SamplingParams(temperature=sampling.temperature, top_p=sampling.top_p,
                                 max_tokens=sampling.max_new_tokens, seed=seed) for seed in seeds]  # fmt: skip
        outs = self.llm.chat([[{"role": "user", "content": m}] for m in messages], params)
        return [o.outputs[0].text for o in outs]


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
            texts = backend.generate([c.message() for c, _ in batch], sampling, seeds)
            for (case, sample), text, seed in zip(batch, texts, seeds, strict=True):
                verdict = grade(case.grader, text, judge=judge)
                row = {
                    "model": job.model, "case": case.id, "category": case.category, "level": case.level,
                    "sample": sample, "response": text, **verdict.to_json(), "seed": seed,
                    "batch_size": len(batch), "backend": backend.name, "sampling": sampling.model_dump(),
                }  # fmt: skip
                journal.append(row)
            finished += len(batch)
            progress(finished, total)
    return len(todo)


def results_from_jsonl(files: dict[str, Path], benchmark: str, source: str, fingerprints: dict[str, str]) -> Results:
    """Aggregate graded samples into the Results schema (counts per category, outcomes per case)."""
    models = []
    for model, path in files.items():
        rows = {(row["case"], row["sample"]): row for row in records(path)}
        cases: dict[str, list[bool]] = {}
        counts = {c: [0, 0] for c in CATEGORIES}
        for (case, _), row in sorted(rows.items()):
            cases.setdefault(case_key(row["category"], case), []).append(bool(row["passed"]))
            counts[row["category"]][0] += bool(row["passed"])
            counts[row["category"]][1] += 1
        if any(total == 0 for _, total in counts.values()):
            raise HubkitError(f"{path}: incomplete evaluation of {model}; run hubkit eval again to finish it")
        categories = {c: Count(passed=p, total=t) for c, (p, t) in counts.items()}
        models.append(ModelResults(model=model, categories=categories, cases=cases))
    return Results(benchmark=benchmark, source=source, categories=list(CATEGORIES), models=models,
                   fingerprints=fingerprints)  # fmt: skip
