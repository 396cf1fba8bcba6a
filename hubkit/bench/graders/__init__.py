"""Graders, one module per kind. Each exposes `grade(spec, response) -> Verdict`.

`response` is the model's raw output; graders strip the reasoning themselves (see
hubkit.bench.extract), so a `<think>` block can never be mistaken for an answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Verdict:
    passed: bool
    grader: str  # which grader decided (e.g. "sql", "rubric", "judge:<model>")
    detail: str

    def to_json(self) -> dict[str, Any]:
        return {"passed": self.passed, "grader": self.grader, "detail": self.detail}


def grade(spec: dict[str, Any], response: str, judge=None) -> Verdict:
    """Dispatch on `spec["kind"]`; a configured LLM `judge` decides rubric cases."""
    from hubkit.bench.graders import constraints, facts, math, python_code, rubric, sql, verifier

    kinds = {
        "sql": sql, "python": python_code, "math": math, "constraints": constraints,
        "facts": facts, "verifier": verifier, "rubric": rubric,
    }  # fmt: skip
    kind = spec.get("kind")
    if kind not in kinds:
        raise ValueError(f"unknown grader kind {kind!r} (known: {', '.join(sorted(kinds))})")
    if kind == "rubric" and judge is not None:
        return rubric.grade(spec, response, judge=judge)
    return kinds[kind].grade(spec, response)
