"""Graders, one module per kind. Each exposes `grade(spec, response) -> Verdict`.

`response` is the model's raw output; graders strip the reasoning themselves (see
hubkit.bench.extract), so a `<think>` block can never be mistaken for an answer.
"""

from __future__ import annotations

from typing import Any

from hubkit.bench.graders.base import Verdict

__all__ = ["NO_ANSWER", "VERSION", "Verdict", "grade", "grade_result"]

NO_ANSWER = "no-answer"
# Part of every evaluation's fingerprint: bump it when a grader's verdicts change, so results
# graded the old way are never mixed with new ones. 2: proof-of-completion and strict
# comparisons for Python, the case's prompt sent to the judge. 3: SQL test databases, differential
# tests comparing exceptions and argument changes, the writing grader reading the writing,
# markdown-blind facts, lowest terms.
VERSION = 3


def grade_result(spec: dict[str, Any], result, judge=None, prompt: str = "") -> Verdict:
    """Grade a typed chat result: only its answer counts, and output cut inside its reasoning has none."""
    if not result.closed:
        why = "hit the token limit" if result.truncated else f"finish_reason {result.finish_reason}"
        return Verdict(False, NO_ANSWER, f"no answer: the output ended inside its reasoning ({why})")
    return grade(spec, result.content, judge=judge, prompt=prompt)


def grade(spec: dict[str, Any], response: str, judge=None, prompt: str = "") -> Verdict:
    """Dispatch on `spec["kind"]`; a configured LLM `judge` decides rubric cases, given the
    case's `prompt` (the message the model answered)."""
    from hubkit.bench.graders import constraints, facts, math, python_code, rubric, sql, verifier

    kinds = {
        "sql": sql, "python": python_code, "math": math, "constraints": constraints,
        "facts": facts, "verifier": verifier, "rubric": rubric,
    }  # fmt: skip
    kind = spec.get("kind")
    if kind not in kinds:
        raise ValueError(f"unknown grader kind {kind!r} (known: {', '.join(sorted(kinds))})")
    if kind == "rubric" and judge is not None:
        return rubric.grade(spec, response, judge=judge, prompt=prompt)
    return kinds[kind].grade(spec, response)
