"""`hubkit eval report`: the seed-style table with intervals, pairwise tests, and claims checked.

With several samples per case, samples of one case are not independent: the honest unit is
the case. Tests therefore run twice: on all graded samples (optimistic) and on per-case
majorities (conservative, n = cases per category); a claim counts as supported only if the
conservative test agrees.
"""

from __future__ import annotations

from hubkit.bench.results import ALPHA, Claim, Count, ModelResults, Results


def per_case(results: Results, cases_per_category: int) -> Results:
    """Counts rescaled to `cases_per_category` trials: the conservative view of the design."""
    models = []
    for m in results.models:
        scaled = {c: Count(passed=round(k.passed * cases_per_category / k.total), total=cases_per_category)
                  for c, k in m.categories.items()}  # fmt: skip
        models.append(ModelResults(model=m.model, categories=scaled))
    return results.model_copy(update={"models": models})


def claim_verdict(results: Results, claim: Claim, cases_per_category: int) -> tuple[str, str]:
    """(verdict, evidence) for one claim: contradicted / not significant / supported."""
    conservative = per_case(results, cases_per_category)

    def rate(r: Results, model: str) -> float:
        return r.rate(model, claim.category) if claim.category else r.overall(model)

    if claim.equals is not None:
        off = [f"{m} {rate(results, m):.1f}" for m in claim.models if abs(rate(results, m) - claim.equals) > 0.05]
        return ("contradicted by the data", "; ".join(off)) if off else ("supported", "all equal")
    parts, verdict = [], "supported"
    for other in claim.than:
        a, b = rate(results, claim.better), rate(results, other)
        if a <= b:
            parts.append(f"{claim.better} {a:.1f} vs {other} {b:.1f}: not higher")
            verdict = "contradicted by the data"
            continue
        p_all = results.p_value(claim.better, other, claim.category)
        p_case = conservative.p_value(claim.better, other, claim.category)
        parts.append(f"vs {other}: {a:.1f} > {b:.1f}, p={p_all:.3f} (samples) / {p_case:.3f} (cases)")
        if p_case >= ALPHA and verdict == "supported":
            verdict = "direction right, not significant"
    return verdict, "; ".join(parts)


def render(results: Results) -> str:
    cases_per_category = results.case_count()
    models = [m.model for m in results.models]
    short = {m: m.split("/")[-1] for m in models}
    lines = [f"{results.benchmark}  (source: {results.source})", ""]
    head = f"{'category':36s}" + "".join(f"{short[m][:24]:>26s}" for m in models)
    lines += [head, "-" * len(head)]
    for cat in results.categories:
        cells = []
        for m in models:
            lo, hi = results.interval(m, cat)
            cells.append(f"{results.rate(m, cat):5.1f} [{lo:4.1f}-{hi:5.1f}]")
        lines.append(f"{cat[:36]:36s}" + "".join(f"{c:>26s}" for c in cells))
    overall = []
    for m in models:
        lo, hi = results.interval(m)
        overall.append(f"{results.overall(m):5.2f} [{lo:4.1f}-{hi:5.1f}]")
    lines += ["-" * len(head), f"{'overall (mean of categories)':36s}" + "".join(f"{c:>26s}" for c in overall)]
    for m, claimed in results.claimed_overall.items():
        if abs(claimed - round(results.overall(m), 2)) >= 0.01:
            lines.append(
                f"  ! {short[m]}: the source states {claimed:.2f}; its own table gives {results.overall(m):.2f}"
            )
    lines += ["", "pairwise (overall): p from an exact test; '~' = not significant at p<0.05"]
    for i, a in enumerate(models):
        for b in models[i + 1 :]:
            p = results.p_value(a, b)
            mark = "~" if p >= ALPHA else " "
            lines.append(
                f"  {mark} {short[a]} vs {short[b]}: {results.overall(a) - results.overall(b):+.2f} points, p={p:.3f}"
            )
    if results.claims:
        lines += ["", f"claims of the source, tested on samples and on cases (n={cases_per_category} per category):"]
        for claim in results.claims:
            verdict, evidence = claim_verdict(results, claim, cases_per_category)
            lines.append(f"  [{verdict}] {claim.text}: {evidence}")
    return "\n".join(lines) + "\n"
