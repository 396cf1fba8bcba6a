"""A benchmark's results as the words and numbers cards, reports and the Space show: table
cells with intervals, truncation, the leaderboard and the claims the numbers support.
Every figure is formatted here, once."""

from __future__ import annotations

from typing import Any

from hubkit.bench.results import ALPHA, OVERALL_DEFINITION, Results

CHART = "benchmark/cmdr_bench.png"  # where an evaluated model's card (and the evaluation) keeps the chart


def pct(x: float) -> str:
    return f"{x:.1f}"


def results_context(results: Results, repo_id: str | None) -> dict[str, Any]:
    """The benchmark section of a card: table cells, claims, all as formatted strings."""
    from hubkit.bench.cases import grader_kinds

    models = [m.model for m in results.models]
    rows = []
    for cat in results.categories:
        cells = []
        for m in models:
            lo, hi = results.interval(m, cat)
            cells.append(f"{pct(results.rate(m, cat))} ({pct(lo)}-{pct(hi)})")
        rows.append({"category": cat, "grader": results.graders.get(cat) or grader_kinds(cat), "cells": cells})
    overall = []
    for m in models:
        lo, hi = results.interval(m)
        overall.append(f"{results.overall(m):.2f} ({pct(lo)}-{pct(hi)})")
    return {
        "source": results.source,
        "benchmark": results.benchmark,
        "overall_definition": OVERALL_DEFINITION,
        "models": models,
        "this": repo_id,
        "rows": rows,
        "overall": overall,
        "n": str(results.models[0].categories[results.categories[0]].total),
        # Without a model of its own (the evaluation's card): each model's overall line.
        "claims": claims(results, repo_id) if repo_id else [claims(results, m.model)[0] for m in results.models],
        "truncation": truncation_rows(results),
        "chart": CHART,
    }


def truncation_rows(results: Results) -> list[dict[str, Any]]:
    """Share of answers cut by the token limit, per category and model (empty without the data)."""
    if not all(m.truncated is not None for m in results.models):
        return []
    rows = []
    for cat in [*results.categories, None]:
        cells = []
        for m in results.models:
            hit = sum(m.truncated.values()) if cat is None else m.truncated[cat]
            total = sum(c.total for c in m.categories.values()) if cat is None else m.categories[cat].total
            cells.append(f"{pct(100 * hit / total)} ({hit}/{total})")
        rows.append({"category": cat or "**All**", "cells": cells})
    return rows


def leaderboard(results: Results) -> list[dict[str, str]]:
    """The evaluated models ranked by overall score, with its interval and the truncation rate."""
    rows = []
    for m in sorted(results.models, key=lambda m: results.overall(m.model), reverse=True):
        lo, hi = results.interval(m.model)
        total = sum(c.total for c in m.categories.values())
        hit = sum(m.truncated.values()) if m.truncated is not None else None
        rows.append({
            "rank": str(1 + sum(results.overall(o.model) > results.overall(m.model) for o in results.models)),
            "model": m.model, "overall": f"{results.overall(m.model):.2f}", "interval": f"{pct(lo)}-{pct(hi)}",
            "truncated": f"{pct(100 * hit / total)}% ({hit}/{total})" if hit is not None else "not recorded",
        })  # fmt: skip
    return rows


def claims(results: Results, repo_id: str) -> list[str]:
    """Comparisons in prose, computed from the results, with their significance."""
    out = []
    ranked = sorted(results.models, key=lambda m: results.overall(m.model), reverse=True)
    mine = results.overall(repo_id)
    rank = 1 + sum(results.overall(m.model) > mine for m in ranked)  # ties share a rank
    tied = sum(results.overall(m.model) == mine for m in ranked) - 1
    tie = f" (tied with {tied} other{'s' if tied > 1 else ''})" if tied else ""
    out.append(f"Overall ({OVERALL_DEFINITION}): {mine:.2f}%, rank {rank}{tie} of {len(ranked)} evaluated models.")
    claimed = results.claimed_overall.get(repo_id)
    if claimed is not None and abs(claimed - round(mine, 2)) >= 0.01:
        out.append(
            f"The source states an overall score of {claimed:.2f} for this model; the mean of its own "
            f"category rates is {mine:.2f}. This card uses the latter."
        )
    for other in [m.model for m in ranked if m.model != repo_id]:
        higher = sum(results.rate(repo_id, c) > results.rate(other, c) for c in results.categories)
        lower = sum(results.rate(repo_id, c) < results.rate(other, c) for c in results.categories)
        sig = [
            c for c in results.categories
            if results.rate(repo_id, c) != results.rate(other, c) and results.p_value(repo_id, other, c) < ALPHA
        ]  # fmt: skip
        p = results.p_value(repo_id, other)
        diff = mine - results.overall(other)
        verdict = "significant" if p < ALPHA else "not significant"
        out.append(
            f"Against {other}: higher in {higher} and lower in {lower} of {len(results.categories)} categories "
            f"({len(sig)} of the differences significant at p<{ALPHA}); overall {diff:+.2f} points "
            f"(p={p:.3f}, {verdict})."
        )
    return out
