"""Scenario and ethics: a rubric of checkable items. Deterministic by default; an LLM judge
(any OpenAI-compatible endpoint) decides instead when one is configured."""

from __future__ import annotations

import json
from typing import Any

from hubkit.bench.extract import strip_reasoning
from hubkit.bench.graders.base import Verdict
from hubkit.bench.graders.facts import _has, plain


class Judge:
    """An OpenAI-compatible chat model (benchmark.judge) asked through hubkit's one chat client."""

    def __init__(self, endpoint):
        from hubkit.llm.client import ChatClient

        self.model = endpoint.model
        self.client = ChatClient(endpoint, where=f"benchmark.judge ({endpoint.model})")

    def __call__(self, prompt: str, items: list[dict[str, Any]], answer: str) -> dict[str, Any]:
        from hubkit.errors import HubkitError
        from hubkit.llm import ChatRequest

        rubric = "\n".join(f"- {it['id']}: {it['description']}" for it in items)
        messages = [
            {"role": "system", "content": "You grade answers against a rubric. Reply with JSON only: "
             '{"items": {"<id>": true|false, ...}, "reason": "<one sentence>"}'},
            {"role": "user", "content": f"Task:\n{prompt}\n\nRubric:\n{rubric}\n\nAnswer:\n{answer}"},
        ]  # fmt: skip
        result = self.client.chat(
            ChatRequest("judge", messages, temperature=0, response_format={"type": "json_object"})
        )
        try:
            verdict = json.loads(result.content)
        except json.JSONDecodeError:
            raise HubkitError(
                f"benchmark.judge ({self.model}): the verdict is not JSON: {result.content[:80]!r}"
            ) from None
        if not isinstance(verdict, dict):
            raise HubkitError(f"benchmark.judge ({self.model}): the verdict is not a JSON object")
        return verdict


def grade(spec: dict[str, Any], response: str, judge: Judge | None = None, prompt: str = "") -> Verdict:
    answer = strip_reasoning(response)
    items, need = spec["items"], spec.get("min_items", len(spec["items"]))
    if judge is not None:
        if not prompt.strip():
            raise ValueError("a judge grades an answer against its task: pass the case's prompt")
        verdict = judge(prompt, items, answer)
        met = [it["id"] for it in items if verdict.get("items", {}).get(it["id"]) is True]
        return Verdict(
            len(met) >= need, f"judge:{judge.model}", f"{len(met)}/{len(items)} items: {verdict.get('reason', '')}"
        )
    # Fallback: an item is met when one of its phrasings appears in the answer.
    text = plain(response)
    met = [it["id"] for it in items if any(_has(text, p) for p in it["any"])]
    return Verdict(
        len(met) >= need, "rubric", f"{len(met)}/{len(items)} items met (need {need}): {', '.join(met) or 'none'}"
    )
