"""Prove the benchmark sound, case by case: the reference passes, every wrong answer fails, and
puzzle data is right (one solution exactly; the stated optimum is the optimum)."""

from __future__ import annotations

import heapq
import itertools
from collections.abc import Callable, Iterable

from hubkit.bench.cases import Case
from hubkit.bench.graders import grade


def _solutions(spec: dict) -> int:
    names, domain = spec["variables"], spec["domain"]
    pool = (
        itertools.permutations(domain, len(names))
        if spec.get("all_different")
        else itertools.product(domain, repeat=len(names))
    )
    code = [compile(c, "constraint", "eval") for c in spec["constraints"]]
    base = {"__builtins__": {"abs": abs, "len": len, "set": set, "sorted": sorted, "sum": sum}}
    return sum(all(eval(c, {**base, **dict(zip(names, vals, strict=True))}) for c in code) for vals in pool)


def _shortest(spec: dict) -> float:
    adj: dict[str, list[tuple[str, float]]] = {}
    for a, b, w in spec["edges"]:
        adj.setdefault(a, []).append((b, w))
        if not spec.get("directed", False):
            adj.setdefault(b, []).append((a, w))
    dist, queue = {spec["start"]: 0}, [(0, spec["start"])]
    while queue:
        d, node = heapq.heappop(queue)
        if d > dist.get(node, float("inf")):
            continue
        for nxt, w in adj.get(node, []):
            if d + w < dist.get(nxt, float("inf")):
                dist[nxt] = d + w
                heapq.heappush(queue, (d + w, nxt))
    return dist.get(spec["goal"], float("inf"))


def _best_knapsack(spec: dict) -> int:
    items = spec["items"]
    best = 0
    for r in range(len(items) + 1):
        for combo in itertools.combinations(items, r):
            if sum(items[i][0] for i in combo) <= spec["capacity"]:
                best = max(best, sum(items[i][1] for i in combo))
    return best


def data_problems(case: Case) -> list[str]:
    g = case.grader
    if g.get("kind") != "verifier":
        return []
    if g["verifier"] == "assignment" and (n := _solutions(g)) != 1:
        return [f"{case.id}: the puzzle has {n} solutions, not exactly one"]
    if g["verifier"] == "path" and (best := _shortest(g)) != g["optimal_cost"]:
        return [f"{case.id}: optimal_cost says {g['optimal_cost']}, the shortest route costs {best}"]
    if g["verifier"] == "knapsack" and (best := _best_knapsack(g)) != g["optimal_value"]:
        return [f"{case.id}: optimal_value says {g['optimal_value']}, the best set is worth {best}"]
    return []


def selfcheck(cases: Iterable[Case], report: Callable[[str], None] = lambda m: None) -> list[str]:
    """Problems found (empty when the benchmark is sound)."""
    problems: list[str] = []
    for case in cases:
        found = data_problems(case)
        ref = grade(case.grader, case.reference)
        if not ref.passed:
            found.append(f"{case.id}: the reference answer fails its grader: {ref.detail}")
        for i, wrong in enumerate(case.wrong):
            if grade(case.grader, wrong).passed:
                found.append(f"{case.id}: wrong[{i}] passes its grader")
        report(f"{case.id}: {'ok' if not found else 'PROBLEM'}")
        problems += found
    return problems
