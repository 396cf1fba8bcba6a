"""The LLM judge (`benchmark.judge`): one point at a time, HealthBench-style.

For each point the judge gets the case's prompt, the answer and that one point, and answers
`{"explanation": ..., "criteria_met": true|false}`. Verdicts are cached by (judge identity,
case prompt, answer, point) and, given a journal, appended to it as they arrive, so a resumed
evaluation asks only what it has not asked. The judge's identity (its endpoint and this
template) is part of the evaluation's fingerprint.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import re
from pathlib import Path
from typing import Any

TEMPLATE = """Your job is to look at an answer to a task and decide whether the answer meets one criterion.

# Task
<<task>>

# Answer
<<answer>>

# Criterion
<<criterion>>

# Instructions
Decide whether the answer itself meets the criterion. It is not met when the answer mentions the point \
only to reject it, offers it as one of several hedged alternatives, or merely lists keywords without \
stating it. When the criterion describes something undesirable (the answer claims something false), \
"criteria_met" says whether the answer does that undesirable thing.
Reply with a JSON object only: {"explanation": "<one or two sentences>", "criteria_met": true or false}"""


def identity(endpoint) -> dict[str, Any]:
    """What decides the judge's verdicts: the endpoint's identity and this template."""
    return {"endpoint": endpoint.identity(), "template": hashlib.sha256(TEMPLATE.encode()).hexdigest()[:16]}


def _key(ident: dict[str, Any], task: str, answer: str, criterion: str) -> str:
    blob = json.dumps([ident, task, answer, criterion], sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(blob.encode()).hexdigest()


def parse(content: str) -> tuple[bool, str]:
    """(met, explanation) from the judge's reply; a reply without that JSON is an error, not a verdict."""
    text = re.sub(r"^```(?:json)?\s*|\s*```$", "", content.strip())
    start, end = text.find("{"), text.rfind("}")
    try:
        obj = json.loads(text[start : end + 1]) if start >= 0 else None
    except json.JSONDecodeError:
        obj = None
    if not isinstance(obj, dict) or not isinstance(obj.get("criteria_met"), bool):
        raise ValueError(f"not a verdict: {content[:80]!r}")
    return obj["criteria_met"], str(obj.get("explanation", ""))[:500]


class Judge:
    """An OpenAI-compatible chat model asked through hubkit's one chat client."""

    def __init__(self, endpoint, journal: Path | None = None):
        from hubkit.journal import records

        self.endpoint, self.model, self.journal = endpoint, endpoint.model, journal
        self.identity = identity(endpoint)
        self._client = None
        self.cache: dict[str, bool] = {}
        if journal is not None:
            self.cache = {r["key"]: r["met"] for r in records(journal) if "key" in r and "met" in r}
        self.asked = 0  # requests sent by this object (cache misses)

    def _chat(self):
        if self._client is None:
            from hubkit.llm.client import ChatClient

            self._client = ChatClient(self.endpoint, where=f"benchmark.judge ({self.model})")
        return self._client

    def judge(self, task: str, answer: str, criteria: list[str]) -> list[bool]:
        """One verdict per criterion, each asked on its own (concurrently), cached ones reused."""
        from hubkit.errors import HubkitError
        from hubkit.journal import Journal
        from hubkit.llm import ChatRequest

        keys = [_key(self.identity, task, answer, c) for c in criteria]
        todo = {k: c for k, c in zip(keys, criteria, strict=True) if k not in self.cache}
        if todo:
            requests = [
                ChatRequest(k, [{"role": "user", "content": TEMPLATE.replace("<<task>>", task)
                                 .replace("<<answer>>", answer).replace("<<criterion>>", c)}],
                            temperature=0, response_format={"type": "json_object"})
                for k, c in todo.items()
            ]  # fmt: skip
            problems: list[str] = []

            def done(req, result) -> None:
                try:
                    met, why = parse(result.content)
                except ValueError as exc:
                    problems.append(str(exc))
                    return
                self.cache[req.key] = met
                if journal is not None:
                    journal.append({"key": req.key, "met": met, "explanation": why, "criterion": todo[req.key]})

            self.asked += len(requests)
            with Journal(self.journal) if self.journal is not None else contextlib.nullcontext() as journal:
                self._chat().map(requests, done)
            if problems:
                raise HubkitError(f"benchmark.judge ({self.model}): {problems[0]}; check the judge model and endpoint")
        return [self.cache[k] for k in keys]
