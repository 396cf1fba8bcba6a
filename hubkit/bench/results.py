"""Benchmark results as data: per model and category pass counts (and per-case outcomes when an
evaluation produced them), with the statistics cards and reports need.

"overall" is defined here, once: the mean of the category pass rates.
"""

from __future__ import annotations

import math
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, model_validator

from hubkit.config import read_yaml, validate
from hubkit.errors import ConfigError

OVERALL_DEFINITION = "mean of the category pass rates"
ALPHA = 0.05


class Count(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    passed: int = Field(ge=0)
    total: int = Field(gt=0)

    @model_validator(mode="after")
    def _bounded(self) -> Count:
        if self.passed > self.total:
            raise ValueError(f"passed ({self.passed}) exceeds total ({self.total})")
        return self


class ModelResults(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    model: str
    categories: dict[str, Count]
    # case id -> outcome of each sample; present when hubkit ran the evaluation (paired tests).
    cases: dict[str, list[bool]] | None = None
    # category -> answers that hit the token limit (finish_reason "length"); from hubkit's own evaluation.
    truncated: dict[str, int] | None = None


class Results(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    benchmark: str  # the benchmark dataset's repo id
    dataset_revision: str | None = None
    source: str  # who produced the numbers, e.g. "hubkit eval" or a published table
    categories: list[str]
    models: list[ModelResults]
    claimed_overall: dict[str, float] = Field(default_factory=dict)  # what the source states
    claims: list[Claim] = Field(default_factory=list)
    fingerprints: dict[str, str] = Field(default_factory=dict)  # model -> the eval setup that produced it
    # Cases behind each category (a published table says; hubkit's own results list their cases).
    cases_per_category: int | None = Field(default=None, gt=0)
    # category -> the grader that produced its numbers (hubkit's own evaluation; e.g. whether a judge
    # or keywords read the points of free-text answers). Cards fall back to the cases' graders.
    graders: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _complete(self) -> Results:
        for m in self.models:
            if sorted(m.categories) != sorted(self.categories):
                raise ValueError(f"{m.model}: categories differ from the benchmark's")
        return self

    def case_count(self) -> int:
        """Cases behind each category: the honest n of a per-case test (samples of one case are not independent)."""
        if self.cases_per_category is not None:
            return self.cases_per_category
        first, cat = self.models[0], self.categories[0]
        if first.cases:
            return sum(1 for k in first.cases if k.startswith(case_key(cat, "")))
        return first.categories[cat].total  # nothing says more: every graded answer is its own case

    def model(self, name: str) -> ModelResults:
        for m in self.models:
            if m.model == name:
                return m
        raise KeyError(name)

    def rate(self, model: str, category: str) -> float:
        c = self.model(model).categories[category]
        return 100.0 * c.passed / c.total

    def overall(self, model: str) -> float:
        return sum(self.rate(model, c) for c in self.categories) / len(self.categories)

    def interval(self, model: str, category: str | None = None) -> tuple[float, float]:
        """Wilson 95% interval in percent (overall: on the pooled counts)."""
        m = self.model(model)
        counts = [m.categories[category]] if category else list(m.categories.values())
        return wilson(sum(c.passed for c in counts), sum(c.total for c in counts))

    def p_value(self, a: str, b: str, category: str | None = None) -> float:
        """Two-sided p-value that a and b differ: an exact sign test over paired cases when
        per-case outcomes exist, else Fisher's exact test on the pass counts."""
        ma, mb = self.model(a), self.model(b)
        if ma.cases and mb.cases:
            return sign_test(_paired(ma, mb, category))
        from scipy.stats import fisher_exact

        pick = [category] if category else self.categories
        pa, ta = sum(ma.categories[c].passed for c in pick), sum(ma.categories[c].total for c in pick)
        pb, tb = sum(mb.categories[c].passed for c in pick), sum(mb.categories[c].total for c in pick)
        return float(fisher_exact([[pa, ta - pa], [pb, tb - pb]])[1])


def _paired(a: ModelResults, b: ModelResults, category: str | None) -> list[tuple[float, float]]:
    keys = sorted(set(a.cases) & set(b.cases))
    if category:
        keys = [k for k in keys if k.startswith(case_key(category, ""))]
    return [(sum(a.cases[k]) / len(a.cases[k]), sum(b.cases[k]) / len(b.cases[k])) for k in keys]


def case_key(category: str, case_id: str) -> str:
    """How per-case outcomes are keyed: `<category slug>/<case id>`."""
    slug = "".join(ch.lower() if ch.isalnum() else "-" for ch in category).strip("-")
    return f"{slug}/{case_id}"


def sign_test(pairs: list[tuple[float, float]]) -> float:
    from scipy.stats import binomtest

    wins = sum(x > y for x, y in pairs)
    losses = sum(x < y for x, y in pairs)
    return 1.0 if wins + losses == 0 else float(binomtest(wins, wins + losses).pvalue)


def wilson(passed: int, total: int, z: float = 1.959964) -> tuple[float, float]:
    """Wilson 95% interval in percent; it always holds the rate itself (exactly 0 at 0/N and
    exactly 100 at N/N: rounding must not put a bound on the wrong side of the point)."""
    p = passed / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * math.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    rate = 100 * p
    return min(rate, max(0.0, 100 * (centre - half))), max(rate, min(100.0, 100 * (centre + half)))


class Claim(BaseModel):
    """A sentence a source states about its results, as something checkable."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    text: str
    category: str | None = None  # None: overall
    better: str | None = None  # `better` beats every model in `than` ...
    than: list[str] = Field(default_factory=list)
    equals: float | None = None  # ... or every model in `models` has exactly this rate
    models: list[str] = Field(default_factory=list)


class _PublishedTable(BaseModel):
    """A results table as a paper or card prints it: percentages per model and category."""

    model_config = ConfigDict(extra="forbid")
    source: str
    benchmark: str
    per_category: int = Field(gt=0, description="evaluations behind each percentage (cases x samples)")
    cases_per_category: int | None = Field(default=None, gt=0, description="cases behind each percentage")
    rates: dict[str, dict[str, float]]  # model -> category -> percent
    claimed_overall: dict[str, float] = Field(default_factory=dict)
    claims: list[Claim] = Field(default_factory=list)


def load_results(path: Path | str) -> Results:
    """A results file: hubkit's own format, or a published table (`rates:`) turned into counts.

    A published percentage that no whole count out of `per_category` rounds to is an error:
    such a table cannot be the data it claims to summarise.
    """
    path = Path(path)
    data, root = read_yaml(path)
    if not isinstance(data, dict) or "rates" not in data:
        return validate(Results, data, path, root)
    table = validate(_PublishedTable, data, path, root)
    n = table.per_category
    problems, models, categories = [], [], None
    for model, rates in table.rates.items():
        categories = categories or list(rates)
        counts = {}
        for cat, pct in rates.items():
            k = round(pct / 100 * n)
            if abs(100 * k / n - pct) > 0.05 + 1e-9:
                problems.append(f"{path}: rates.{model}.{cat}: {pct}% is not a whole count out of {n}")
            counts[cat] = Count(passed=k, total=n)
        models.append(ModelResults(model=model, categories=counts))
    if problems:
        raise ConfigError(problems)
    try:
        return Results(
            benchmark=table.benchmark, source=table.source, categories=categories or [],
            models=models, claimed_overall=table.claimed_overall, claims=table.claims,
            cases_per_category=table.cases_per_category,
        )  # fmt: skip
    except ValueError as exc:
        raise ConfigError([f"{path}: {exc}"]) from None
