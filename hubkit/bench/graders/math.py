"""Math: answer equivalence with math-verify (boxed, LaTeX, fractions, decimals).

One answer only: several boxed values that are not all equivalent, or an alternative offered
after the answer ("\\boxed{5/6} (or 11/12)", "either 5/6 or 11/12"), fail as hedges.
"""

from __future__ import annotations

from typing import Any

from hubkit.bench.extract import boxed, final_answer, hedge, strip_reasoning
from hubkit.bench.graders import Verdict


def grade(spec: dict[str, Any], response: str) -> Verdict:
    from math_verify import parse, verify

    visible = strip_reasoning(response)
    boxes = boxed(visible)
    if boxes:
        answer, end = f"${boxes[-1][0]}$", boxes[-1][1]
        tail = visible[end:].split("\n", 1)[0]
        if alt := hedge(tail):
            return Verdict(False, "math", f"hedged: {alt[:60]!r} after the boxed answer")
        others = {b for b, _ in boxes[:-1]} - {boxes[-1][0]}
        last = parse(answer)
        if any(not verify(last, parse(f"${b}$")) for b in others):
            return Verdict(False, "math", "hedged: boxed answers that disagree")
    else:
        answer = final_answer(response)
        if alt := hedge(answer):
            return Verdict(False, "math", f"hedged: {alt[:60]!r}")
    if not answer:
        return Verdict(False, "math", "no answer found")
    gold, got = parse(f"${spec['answer']}$"), parse(answer)
    if not got:
        return Verdict(False, "math", f"could not parse {answer[:80]!r}")
    ok = bool(verify(gold, got))
    return Verdict(ok, "math", f"{'equivalent to' if ok else 'differs from'} {spec['answer']}")
