"""Math: answer equivalence with math-verify (boxed, LaTeX, fractions, decimals)."""

from __future__ import annotations

from typing import Any

from hubkit.bench.extract import final_answer, last_boxed, strip_reasoning
from hubkit.bench.graders import Verdict


def grade(spec: dict[str, Any], response: str) -> Verdict:
    from math_verify import parse, verify

    visible = strip_reasoning(response)
    boxed = last_boxed(visible)
    answer = f"${boxed}$" if boxed is not None else final_answer(response)
    if not answer:
        return Verdict(False, "math", "no answer found")
    gold, got = parse(f"${spec['answer']}$"), parse(answer)
    if not got:
        return Verdict(False, "math", f"could not parse {answer[:80]!r}")
    ok = bool(verify(gold, got))
    return Verdict(ok, "math", f"{'equivalent to' if ok else 'differs from'} {spec['answer']}")
