"""Math: answer equivalence with math-verify (boxed, LaTeX, fractions, decimals).

One answer only: several boxed values that are not all equivalent, or an alternative offered
after the answer ("\\boxed{5/6} (or 11/12)", "either 5/6 or 11/12"), fail as hedges. With
`lowest_terms`, an equal fraction that is not reduced (22/24 for 11/12) fails, as the prompt asks.
"""

from __future__ import annotations

import math
import re
from typing import Any

from hubkit.bench.extract import boxed, final_answer, hedge, strip_reasoning
from hubkit.bench.graders.base import Verdict


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
    if ok and spec.get("lowest_terms") and (frac := _fraction(answer)) and math.gcd(*frac) != 1:
        return Verdict(False, "math", f"equal to {spec['answer']} but not in lowest terms: {frac[0]}/{frac[1]}")
    return Verdict(ok, "math", f"{'equivalent to' if ok else 'differs from'} {spec['answer']}")


_FRACTION = re.compile(r"\\[dt]?frac\s*\{\s*(-?\d+)\s*\}\s*\{\s*(\d+)\s*\}|(-?\d+)\s*/\s*(\d+)")


def _fraction(answer: str) -> tuple[int, int] | None:
    """Numerator and denominator of the fraction an answer is written as, or None."""
    m = _FRACTION.search(answer)
    if not m:
        return None
    a, b = (m.group(1), m.group(2)) if m.group(1) else (m.group(3), m.group(4))
    return abs(int(a)), int(b)
