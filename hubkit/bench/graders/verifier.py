"""Planning and logic: the final answer (JSON) is checked by a verifier, not matched to a string.

- `assignment`: a mapping of variables to values satisfying every constraint (Python
  expressions written by the case author, evaluated with the answer's values as names).
- `path`: a route through a weighted graph from start to goal, valid and of optimal cost.
- `knapsack`: a set of item names (case-blind) within the capacity whose value is the optimum.
"""

from __future__ import annotations

import json
from itertools import pairwise
from typing import Any

from hubkit.bench.extract import answer_segment, final_answer, hedge, last_fenced, strip_reasoning
from hubkit.bench.graders.base import Verdict


def _answer_json(response: str) -> Any:
    """The one JSON value of the answer; a second value or an alternative after it is a hedge."""
    visible = strip_reasoning(response)
    segment = answer_segment(visible)
    text = last_fenced(visible, ("json",)) if segment is None or "```" in segment else segment
    text = text or final_answer(response)
    start = min((i for i in (text.find("{"), text.find("[")) if i >= 0), default=-1)
    if start < 0:
        raise ValueError("no JSON answer found")
    try:
        value, end = json.JSONDecoder().raw_decode(text[start:])
    except json.JSONDecodeError as exc:
        raise ValueError(f"the answer is not valid JSON: {exc.msg}") from None
    rest = text[start + end :]
    if (alt := hedge(rest)) or "{" in rest or "[" in rest:
        raise ValueError(f"hedged: more than one answer ({(alt or rest.strip())[:60]!r})")
    return value


def _assignment(spec: dict[str, Any], answer: Any) -> list[str]:
    if not isinstance(answer, dict) or sorted(answer) != sorted(spec["variables"]):
        return [f"expected values for {sorted(spec['variables'])}"]
    domain = spec.get("domain")
    bad = [k for k, v in answer.items() if domain is not None and v not in domain]
    if bad:
        return [f"{k} outside the domain" for k in bad]
    if spec.get("all_different") and len({json.dumps(v) for v in answer.values()}) != len(answer):
        return ["values must all differ"]
    env = {"__builtins__": {"abs": abs, "len": len, "set": set, "sorted": sorted, "sum": sum}, **answer}
    return [c for c in spec["constraints"] if not eval(c, env)]


def _path(spec: dict[str, Any], answer: Any) -> list[str]:
    edges = {(a, b): w for a, b, w in spec["edges"]}
    if not spec.get("directed", False):
        edges |= {(b, a): w for (a, b), w in list(edges.items())}
    if not isinstance(answer, list) or len(answer) < 2:
        return ["expected a list of nodes"]
    if answer[0] != spec["start"] or answer[-1] != spec["goal"]:
        return [f"must go from {spec['start']} to {spec['goal']}"]
    missing = [(a, b) for a, b in pairwise(answer) if (a, b) not in edges]
    if missing:
        return [f"no edge {a}->{b}" for a, b in missing]
    cost = sum(edges[(a, b)] for a, b in pairwise(answer))
    return [] if cost == spec["optimal_cost"] else [f"cost {cost}, optimal is {spec['optimal_cost']}"]


def _knapsack(spec: dict[str, Any], answer: Any) -> list[str]:
    items = spec["items"]
    if not isinstance(answer, list) or not all(isinstance(x, str) for x in answer):
        return ["expected a list of item names"]
    names = {k.casefold(): k for k in items}  # "Anchor" names the anchor
    if unknown := [x for x in answer if x.strip().casefold() not in names]:
        return [f"unknown item {x!r}" for x in unknown]
    answer = [names[x.strip().casefold()] for x in answer]
    if len(set(answer)) != len(answer):
        return ["an item is chosen twice"]
    weight = sum(items[x][0] for x in answer)
    value = sum(items[x][1] for x in answer)
    if weight > spec["capacity"]:
        return [f"weight {weight} exceeds the capacity {spec['capacity']}"]
    return [] if value == spec["optimal_value"] else [f"value {value}, optimal is {spec['optimal_value']}"]


VERIFIERS = {"assignment": _assignment, "path": _path, "knapsack": _knapsack}


def grade(spec: dict[str, Any], response: str) -> Verdict:
    try:
        answer = _answer_json(response)
    except ValueError as exc:
        return Verdict(False, "verifier", str(exc))
    problems = VERIFIERS[spec["verifier"]](spec, answer)
    return Verdict(not problems, f"verifier:{spec['verifier']}", "; ".join(map(str, problems)) or "valid")
