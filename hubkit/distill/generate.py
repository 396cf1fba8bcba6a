"""Teacher generation that loses nothing: journaled requests, filters with reasons, resumable.

Every answered request is appended (fsynced) to a journal keyed by what decides the answer
(prompt, teacher, sampling, sample). Rows are judged in prompt order and the first `size`
accepted ones are the dataset, so a run killed at any moment and started again asks only
what is missing and ends with the dataset an uninterrupted run makes.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubkit.config import ChatEndpoint, Filters, Sampling
from hubkit.distill.filters import Contamination, Dedup, answer_problem, reason_kind, verified
from hubkit.distill.prompts import Prompt
from hubkit.errors import UsageError
from hubkit.journal import Journal, records
from hubkit.llm import ChatRequest, ChatResult, derive_seed
from hubkit.workspace import fingerprint

ANSWERS, QUESTIONS = "answers.jsonl", "questions.jsonl"
SYNTH_TEMPLATE = Path(__file__).with_name("synthesize.md.j2")


@dataclass
class Tally:
    """Requests answered, tokens and cost; shown while generating and on the card."""

    price: tuple[float, float] | None = None
    answered: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    reasoning_tokens: int = 0

    def add(self, r: ChatResult) -> None:
        self.answered += 1
        self.prompt_tokens += r.prompt_tokens or 0
        self.completion_tokens += r.completion_tokens or 0
        self.reasoning_tokens += r.reasoning_tokens or 0

    @property
    def cost(self) -> float | None:
        if self.price is None:
            return None
        return (self.prompt_tokens * self.price[0] + self.completion_tokens * self.price[1]) / 1e6


@dataclass
class Outcome:
    accepted: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[dict[str, Any]] = field(default_factory=list)
    tally: Tally = field(default_factory=Tally)
    requests_new: int = 0
    decontamination: list[dict[str, Any]] = field(default_factory=list)


class Meter:
    """A rich progress bar with rate, ETA, tokens and cost (quiet when not a terminal)."""

    def __init__(self, label: str, tally: Tally):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        self.tally = tally
        self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TextColumn("{task.fields[rate]}"), TimeRemainingColumn(),
                            TextColumn("{task.fields[tokens]}"), transient=True)  # fmt: skip
        self.task = self.bar.add_task(label, total=None, rate="", tokens="")
        self.start = None

    def __enter__(self) -> Meter:
        import time

        self.start = time.monotonic()
        self.bar.start()
        return self

    def __exit__(self, *exc) -> None:
        self.bar.stop()

    def update(self, done: int, total: int, new: int) -> None:
        import time

        rate = new / max(1e-6, time.monotonic() - self.start)
        t = self.tally
        cost = f", ${t.cost:.4f}" if t.cost is not None else ""
        self.bar.update(self.task, completed=done, total=total, rate=f"{rate:.1f} req/s",
                        tokens=f"{t.prompt_tokens + t.completion_tokens:,} tok{cost}")  # fmt: skip


def _request_key(teacher: ChatEndpoint, sampling: Sampling, *what: object) -> str:
    return fingerprint({"teacher": teacher.identity(), "sampling": sampling.model_dump(mode="json"), "what": what})[:24]


def _ask(client, requests: list[ChatRequest], journal: Path, meta: dict[str, dict], on_done: Callable) -> int:
    """Ask `requests`, journaling each answer as it arrives; returns how many were answered."""
    n = 0
    with Journal(journal) as j:

        def keep(req: ChatRequest, result: ChatResult) -> None:
            nonlocal n
            j.append({"key": req.key, **meta[req.key], "seed": req.seed, "result": result.to_json()})
            n += 1
            on_done(result)

        client.map(requests, keep)
    return n


def _journaled(path: Path) -> dict[str, dict[str, Any]]:
    return {rec["key"]: rec for rec in records(path)}


_QUESTION_PREFIX = re.compile(r"^(?:[-*\d.)\s]+|question\s*\d*\s*[:.]\s*)", re.I)


def question_of(text: str) -> str | None:
    """The question in a synthesis answer: its first non-empty line, without labels or quotes."""
    for line in text.splitlines():
        q = _QUESTION_PREFIX.sub("", line.strip()).strip().strip("\"'\u201c\u201d").strip()
        if len(q.split()) >= 4:
            return q
    return None


def synthesize(client, teacher: ChatEndpoint, sampling: Sampling, seeds: dict[str, list[str]], domains: list[str],
               per_domain: int, template: str, folder: Path, report=print) -> list[Prompt]:  # fmt: skip
    """The teacher writes `per_domain` questions per domain from the seed questions (journaled)."""
    import jinja2

    tmpl = jinja2.Environment(undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True).from_string(
        template
    )
    want, meta = [], {}
    for domain in domains:
        for k in range(per_domain):
            key = _request_key(teacher, sampling, "synthesize", template, domain, seeds[domain], k)
            text = tmpl.render(domain=domain, examples=seeds[domain], k=k + 1)
            meta[key] = {"domain": domain, "k": k}
            seed = derive_seed(sampling.seed, "q", domain, k)
            s = sampling
            want.append(ChatRequest(key, [{"role": "user", "content": text}], seed, s.temperature, s.top_p,
                                    s.max_new_tokens))  # fmt: skip
    path = folder / QUESTIONS
    done = _journaled(path)
    todo = [r for r in want if r.key not in done]
    if todo:
        report(f"synthesize: asking for {len(todo)} questions ({len(want) - len(todo)} already journaled)")
        _ask(client, todo, path, meta, lambda _: None)
        done = _journaled(path)
    out = []
    for req in want:
        m = meta[req.key]
        result = ChatResult.from_json(done[req.key]["result"])
        q = question_of(result.content) if result.closed and not result.truncated else None
        if q:
            out.append(Prompt(id=f"syn-{m['domain']}-{m['k']:04d}", text=q, domain=m["domain"], source="synthesized"))
    return out


def screen(
    prompts: list[Prompt], filters: Filters, benchmark: dict[str, str]
) -> tuple[list[Prompt], list[dict], list[dict]]:
    """Prompt-level filters: exact and near duplicates, benchmark contamination."""
    dedup = Dedup(filters.near_duplicate)
    contam = Contamination(benchmark, filters.contamination_ngram, filters.contamination_threshold) \
        if filters.decontaminate and benchmark else None  # fmt: skip
    kept, rejected, hits = [], [], []
    for p in prompts:
        reason = None
        if contam is not None and (hit := contam.check(p.text)):
            reason = (
                f"contaminated: overlaps benchmark case {hit[0]} ({hit[1]:.0%} of {filters.contamination_ngram}-grams)"
            )
            hits.append({"prompt_id": p.id, "case": hit[0], "overlap": round(hit[1], 3)})
        reason = reason or dedup.check(p.id, p.text)
        if reason:
            rejected.append(row(p, None, reason=reason))
        else:
            kept.append(p)
    return kept, rejected, hits


def row(p: Prompt, result: ChatResult | None, teacher: str = "", seed: int | None = None, reason: str | None = None,
        check: bool = True) -> dict[str, Any]:  # fmt: skip
    """One dataset row; the assistant turn keeps its reasoning as `reasoning_content`."""
    r = result or ChatResult(reasoning=None, content="", finish_reason=None)
    out = {
        "id": p.id, "prompt": p.text, "reasoning": r.reasoning or "", "answer": r.content,
        "messages": [{"role": "user", "content": p.text, "reasoning_content": ""},
                     {"role": "assistant", "content": r.content, "reasoning_content": r.reasoning or ""}],
        "domain": p.domain or "", "source": p.source, "teacher": teacher, "finish_reason": r.finish_reason or "",
        "prompt_tokens": r.prompt_tokens, "completion_tokens": r.completion_tokens,
        "reasoning_tokens": r.reasoning_tokens, "seed": seed,
        "reference": p.reference, "verified": verified(p.reference, r.content) if result and check else None,
    }  # fmt: skip
    if reason is not None:
        out["reason"] = reason
    return out


def generate(client, teacher: ChatEndpoint, sampling: Sampling, prompts: list[Prompt], size: int, filters: Filters,
             folder: Path, *, where: str, price=None, report=print) -> Outcome:  # fmt: skip
    """Answer prompts in order until `size` are accepted; every answer journaled under `folder`."""
    path = folder / ANSWERS
    out = Outcome(tally=Tally(price=(price.input, price.output) if price else None))
    key = {p.id: _request_key(teacher, sampling, p.text, 0) for p in prompts}
    seed = {p.id: derive_seed(sampling.seed, p.text, 0) for p in prompts}
    done = _journaled(path)
    current = set(key.values())  # the journal may also hold answers of an earlier config
    for k, rec in done.items():
        if k in current:
            out.tally.add(ChatResult.from_json(rec["result"]))

    judged: dict[str, tuple[dict, bool]] = {}  # prompt id -> (row, accepted); a journaled answer never changes

    def judge() -> tuple[list, list, int]:
        """Accepted and rejected rows among the first answered prompts; index of the first unanswered."""
        acc, rej = [], []
        for i, p in enumerate(prompts):
            if len(acc) == size:
                return acc, rej, i
            rec = done.get(key[p.id])
            if rec is None:
                return acc, rej, i
            if p.id not in judged:
                result = ChatResult.from_json(rec["result"])
                reason = answer_problem(result, refusals=filters.refusals)
                judged[p.id] = (row(p, result, teacher.model, seed[p.id], reason, check=filters.verify), not reason)
            r, ok = judged[p.id]
            (acc if ok else rej).append(r)
        return acc, rej, len(prompts)

    with Meter(where, out.tally) as meter:
        while True:
            acc, rej, pos = judge()
            need = size - len(acc)
            meter.update(len(acc), size, out.requests_new)
            if need == 0:
                break
            todo = [p for p in prompts[pos:] if key[p.id] not in done][:need]
            if not todo:
                reasons = Counter(reason_kind(r["reason"]) for r in rej)
                why = ", ".join(f"{k} {v}" for k, v in reasons.most_common()) or "none"
                raise UsageError(
                    f"{where}: the prompts ran out: {len(acc)} of {size} rows accepted after all {len(prompts)} "
                    f"usable prompts (answers rejected: {why}); add prompts or lower size"
                )
            s = sampling
            requests = [
                ChatRequest(key[p.id], [{"role": "user", "content": p.text}], seed[p.id], s.temperature, s.top_p,
                            s.max_new_tokens)
                for p in todo
            ]  # fmt: skip
            meta = {key[p.id]: {"prompt_id": p.id} for p in todo}

            def on_done(result: ChatResult, accepted: int = len(acc)) -> None:
                out.tally.add(result)
                out.requests_new += 1
                meter.update(accepted, size, out.requests_new)

            _ask(client, requests, path, meta, on_done)
            done = _journaled(path)
    out.accepted, out.rejected = acc, rej
    report(f"{where}: {len(acc)} accepted, {len(rej)} answers rejected, {out.requests_new} new requests "
           f"({out.tally.answered - out.requests_new} answers reused from the journal)")  # fmt: skip
    return out
