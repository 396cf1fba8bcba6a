"""Lint a mergekit merge from mergekit's own plan: what each tensor gets, which rule set it, what never applies.

Every value comes from mergekit's planner (`plan.py`: the same code path as the merge), so the
report cannot drift from what mergekit does. What it can say depends on the method:
interpolating methods (slerp, nuslerp, linear) get the effective t, or each model's effective
weight, per layer and tensor group; the others (ties, dare_ties, model_stock, passthrough, ...)
get each parameter's value per layer and tensor group. For every method: rules that never
apply (shadowed by an earlier rule, matching no tensor, or never read), slices that make no
layer, and a merge whose output is just one of its inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from hubkit.config import format_loc
from hubkit.merge.plan import Plan, group_of, layer_of
from hubkit.merge.spec import MergeSpec

__all__ = ["LintReport", "group_of", "lint"]
INTERPOLATING = ("slerp", "nuslerp", "linear")


@dataclass
class Rule:
    index: int
    filter: str | None
    value: Any
    where: str  # the setting's key path, e.g. "parameters.t" or "models[1].parameters.weight"
    label: str
    matches: dict[str, int] = field(default_factory=dict)  # group -> tensors the filter matches
    applied: dict[str, int] = field(default_factory=dict)  # group -> tensors it decides
    status: str = "applies"  # "applies" | "shadowed" | "matches no tensor" | "never read"
    shadowed_by: int | None = None  # the deciding rule of the same list


@dataclass
class TensorT:
    name: str
    group: str
    layer: int | None
    t: float | None  # the effective interpolation (slerp, nuslerp)
    weights: dict[str, float] | None  # linear: each model's effective weight
    values: dict[str, Any]  # "param" (shared) or "param[model]" -> the value mergekit applies
    set_by: dict[str, str]  # same keys -> the rule that set it, or "default"


@dataclass
class Table:
    """One value per layer and tensor group ("0.3", or "0.1..0.3" where a group's tensors differ)."""

    title: str
    symbol: str
    rows: list[dict[str, str]]  # {"layer", "attention", "mlp", "norms"}
    outside: dict[str, str]  # tensors outside the layers (embeddings, final norm) -> value


@dataclass
class LintReport:
    config: str
    method: str
    pretty_name: str
    reference_url: str | None
    kind: str  # "interpolation" (effective t / weights) | "parameters" (values per group)
    base: str | None
    models: list[str]
    ends: list[str] | None  # the models at t=0 and t=1
    layers: int
    tied_embeddings: bool
    tensors: list[TensorT]
    rules: list[Rule]
    tables: list[Table]
    defaults: str  # parameters every tensor leaves at mergekit's default, e.g. "normalize=true"
    outcome: str
    degenerate: bool
    problems: list[str]
    pinned: str  # the model whose vocabulary the output keeps (its tokenizer is copied)

    def per_layer(self) -> list[dict[str, str]]:
        """One row per layer: the effective t of each group (interpolating methods with a t)."""
        return self.tables[0].rows if self.tables and self.tables[0].symbol == "t" else []

    def outside_layers(self) -> dict[str, str]:
        return self.tables[0].outside if self.tables and self.tables[0].symbol == "t" else {}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["per_layer"] = self.per_layer()
        return data


def _num(t: float) -> str:
    return f"{t:.4g}"


def _fmt(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if v is None:
        return "none"
    return _num(v) if isinstance(v, (int, float)) else str(v)


def _cell(values: list[Any]) -> str:
    if not values:
        return "-"
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        lo, hi = min(values), max(values)
        return _num(lo) if lo == hi else f"{_num(lo)}..{_num(hi)}"
    return "/".join(dict.fromkeys(map(_fmt, values)))


_MISSING = object()


def _table(title: str, symbol: str, tensors: list[TensorT], layers: int, value: Callable[[TensorT], Any]) -> Table:
    rows = []
    for layer in range(layers):
        row = {"layer": str(layer)}
        for g in ("attention", "mlp", "norms"):
            found = [value(x) for x in tensors if x.layer == layer and x.group == g]
            row[g] = _cell([v for v in found if v is not _MISSING])
        rows.append(row)
    outside = {x.name: _fmt(v) for x in tensors if x.layer is None and (v := value(x)) is not _MISSING}
    return Table(title, symbol, rows, outside)


@dataclass
class _Reading:
    """What a method's values say: the tables, the outcome, and the model whose vocabulary is kept."""

    tables: list[Table]
    outcome: str
    pinned: str
    ends: list[str] | None = None
    degenerate: bool = False
    problems: list[str] = field(default_factory=list)


@dataclass
class _Ctx:
    spec: MergeSpec
    plan: Plan
    tensors: list[TensorT]
    layers: int

    def name(self, folder: str | None) -> str:
        return self.spec.name(folder) if folder is not None else "-"

    def key(self, param: str, model: str | None) -> str:
        return param if model is None else f"{param}[{self.name(model)}]"

    def embeddings(self):
        """(report tensor, planned tensor) of the input embeddings, or None."""
        pairs = zip(self.tensors, self.plan.tensors, strict=True)
        return next(((x, t) for x, t in pairs if x.name.endswith("embed_tokens.weight")), None)

    def base_or_first(self) -> str:
        return self.name(self.plan.base or (self.plan.models[0] if self.plan.models else None))

    def parameter_tables(self) -> list[Table]:
        """A table per parameter (per model, for per-model ones) that the config sets somewhere."""
        tables = []
        for p, m in dict.fromkeys(k for t in self.plan.tensors for k in t.values):
            k = self.key(p, m)
            if any(x.set_by.get(k, "default") != "default" for x in self.tensors):
                title = p if m is None else f"{p} of {self.name(m)}"
                tables.append(_table(title, p, self.tensors, self.layers, lambda x, k=k: x.values.get(k, _MISSING)))
        return tables

    def defaults(self) -> str:
        """Parameters no rule sets for any tensor, with the values mergekit uses ("normalize=true")."""
        keys = list(dict.fromkeys(k for t in self.plan.tensors for k in t.values))
        unset = {k for k in keys if all(x.set_by.get(self.key(*k), "default") == "default" for x in self.tensors)}
        found: dict[str, dict[str, None]] = {}
        for p, m in keys:
            if (p, m) in unset:
                # A per-model parameter set for some model is named per model; else once for all.
                shown = p if all(k in unset for k in keys if k[0] == p) else self.key(p, m)
                k = self.key(p, m)
                values = (_fmt(x.values[k]) for x in self.tensors if k in x.values)
                found.setdefault(shown, {}).update(dict.fromkeys(values))
        return ", ".join(f"{p}={'/'.join(v)}" for p, v in found.items())


def _interpolation(ctx: _Ctx, ends: list[str], around: str = "") -> _Reading:
    """slerp and nuslerp: t=0 is one model, t=1 the other; report tensors carry their t."""
    ts = {x.t for x in ctx.tensors}
    a, b = ends
    if ts <= {0.0}:
        outcome, degenerate = f"output identical to {a} (every t = 0)", True
    elif ts <= {1.0}:
        outcome, degenerate = f"output identical to {b} (every t = 1)", True
    else:
        outcome = f"interpolates {a} (t=0) -> {b} (t=1){around}; t in [{_num(min(ts))}, {_num(max(ts))}]"
        degenerate = False
    emb = ctx.embeddings()
    table = _table("effective t", "t", ctx.tensors, ctx.layers, lambda x: x.t)
    return _Reading(
        [table], outcome, b if emb and emb[0].t == 1.0 else a, ends, degenerate,
        [f"degenerate merge: {outcome}"] if degenerate else [],
    )  # fmt: skip


def _slerp(ctx: _Ctx) -> _Reading:
    for x, t in zip(ctx.tensors, ctx.plan.tensors, strict=True):
        x.t = float(t.values[("t", None)])
    base = ctx.plan.base
    others = [m for m in ctx.plan.models if m != base]
    return _interpolation(ctx, [ctx.name(base), ctx.name(others[0] if others else base)])


def _nuslerp(ctx: _Ctx) -> _Reading:
    ends: list[str] = []
    for x, t in zip(ctx.tensors, ctx.plan.tensors, strict=True):
        pair = [m for m in t.inputs if m != t.base]
        w = [float(t.values[("weight", m)]) for m in pair]
        x.t = 0.5 if abs(sum(w)) < 1e-6 else w[1] / sum(w)  # nuslerp_merge_method's own rule
        ends = ends or [ctx.name(m) for m in pair]
    around = f", as task vectors around {ctx.name(ctx.plan.base)}" if ctx.plan.base else ""
    return _interpolation(ctx, ends, around)


def _linear(ctx: _Ctx) -> _Reading:
    zero_sum, sole = [], set()
    for x, t in zip(ctx.tensors, ctx.plan.tensors, strict=True):
        w = {m: float(t.values[("weight", m)]) for m in t.inputs}
        normalize, total = bool(t.values.get(("normalize", None), True)), sum(w.values())
        if normalize and total == 0:  # no effective weights: mergekit's division has no result
            zero_sum.append(x.name)
            continue
        x.weights = {ctx.name(m): (v / total if normalize else v) for m, v in w.items()}
        alive = [m for m, v in x.weights.items() if v != 0]
        sole.add(alive[0] if len(alive) == 1 and x.weights[alive[0]] == 1 else None)
    names = [ctx.name(m) for m in ctx.plan.models]
    tables = [
        _table(f"effective weight of {m}", "weight", ctx.tensors, ctx.layers,
               lambda x, m=m: x.weights.get(m, _MISSING) if x.weights else _MISSING)
        for m in names
    ]  # fmt: skip
    problems = []
    if zero_sum:
        n, first = len(zero_sum), zero_sum[0]
        problems.append(f"weights sum to 0 for {n} tensors (e.g. {first}): mergekit divides by 0 there (NaN weights)")
    degenerate = len(sole) == 1 and None not in sole and not zero_sum
    if degenerate:
        outcome = f"output identical to {next(iter(sole))} (every other weight is 0)"
        problems.append(f"degenerate merge: {outcome}")
    else:
        spans = ", ".join(f"{m} {_cell(_weights_of(ctx, m))}" for m in names)
        outcome = f"weighted average of {len(names)} models; effective weights: {spans}"
    emb = ctx.embeddings()
    pinned = max(emb[0].weights, key=emb[0].weights.get) if emb and emb[0].weights else ctx.base_or_first()
    return _Reading(tables, outcome, pinned, None, degenerate, problems)


def _weights_of(ctx: _Ctx, model: str) -> list[float]:
    return [x.weights[model] for x in ctx.tensors if x.weights and model in x.weights]


def _task_vectors(ctx: _Ctx) -> _Reading:
    """ties, dare_ties, task_arithmetic, della, breadcrumbs...: weighted task vectors added to the base."""
    base = ctx.plan.base

    def adds_nothing(t) -> bool:
        if t.values.get(("lambda", None), 1) == 0:
            return True
        return all(
            t.values.get(("weight", m), 1) == 0 or t.values.get(("density", m), 1) == 0 for m in t.inputs if m != base
        )

    others = ", ".join(ctx.name(m) for m in ctx.plan.models if m != base)
    if ctx.plan.tensors and all(adds_nothing(t) for t in ctx.plan.tensors):
        outcome = f"output identical to {ctx.name(base)} (every weight, density or lambda is 0)"
        return _Reading(ctx.parameter_tables(), outcome, ctx.name(base), None, True, [f"degenerate merge: {outcome}"])
    outcome = f"adds the task vectors of {others} (each model minus {ctx.name(base)}) to {ctx.name(base)}"
    return _Reading(ctx.parameter_tables(), outcome, ctx.name(base))


def _model_stock(ctx: _Ctx) -> _Reading:
    base = ctx.plan.base
    others = ", ".join(ctx.name(m) for m in ctx.plan.models if m != base)
    outcome = (
        f"moves {ctx.name(base)} toward the average of {others} by a ratio mergekit computes per tensor "
        "from the angle between their task vectors (from the weights, at merge time)"
    )
    return _Reading(ctx.parameter_tables(), outcome, ctx.name(base))


def _passthrough(ctx: _Ctx) -> _Reading:
    emb = ctx.embeddings()
    pinned = ctx.name(next(iter(emb[1].inputs))) if emb else ctx.base_or_first()
    scaled = any(v not in (None, 1) for t in ctx.plan.tensors for (p, _), v in t.values.items() if p == "scale")
    if ctx.plan.slices:
        parts = [f"{ctx.name(m)} layers {a}-{b - 1}" for s in ctx.plan.slices for m, a, b in s.sources if b > a]
        outcome = f"stacks {ctx.layers} layers: {', '.join(parts)}" + (" (scaled where set)" if scaled else "")
        return _Reading(ctx.parameter_tables(), outcome, pinned)
    model = ctx.name(ctx.plan.models[0]) if ctx.plan.models else "-"
    if scaled:
        return _Reading(ctx.parameter_tables(), f"copies {model}, scaled where set", pinned)
    outcome = f"output identical to {model} (passthrough of one model, no scale)"
    return _Reading(ctx.parameter_tables(), outcome, pinned, None, True, [f"degenerate merge: {outcome}"])


def _other(ctx: _Ctx) -> _Reading:
    if ctx.plan.task_arithmetic:
        return _task_vectors(ctx)
    models = ", ".join(ctx.name(m) for m in ctx.plan.models)
    with_base = f" with base {ctx.name(ctx.plan.base)}" if ctx.plan.base else ""
    return _Reading(ctx.parameter_tables(), f"{ctx.plan.pretty_name} merge of {models}{with_base}", ctx.base_or_first())


# What each method's values mean; a method not named here is read by `_other`.
READINGS: dict[str, Callable[[_Ctx], _Reading]] = {
    "slerp": _slerp,
    "nuslerp": _nuslerp,
    "linear": _linear,
    "model_stock": _model_stock,
    "passthrough": _passthrough,
}


def _rules(ctx: _Ctx) -> tuple[list[Rule], list[str], dict[int, str]]:
    """The config's settings as rules, each with its status; the problems; plan rule -> label."""
    plan = ctx.plan
    settings = {r.where for r in plan.rules}
    # One setting in the whole config, at the top level: its rules need no location ("#3 filter 'self'").
    bare = len(settings) == 1 and next(iter(settings))[:-1] == ("parameters",)
    rules = []
    for r in plan.rules:
        what = f"#{r.index} " + (f"filter {r.filter!r}" if r.filter not in (None, "*") else "catch-all")
        label = what if bare else format_loc(r.where) if r.plain else f"{format_loc(r.where)} {what}"
        rules.append(Rule(r.index, r.filter, r.value, format_loc(r.where), label, dict(r.matches), dict(r.applied)))
    problems = []
    tied = _tied([t.name for t in plan.tensors])
    for rule, r in zip(rules, plan.rules, strict=True):
        if r.applied:
            continue
        same = [i for i, x in enumerate(plan.rules) if x.where == r.where and x.index < r.index]
        catch_all = next((i for i in same if plan.rules[i].filter in (None, "*")), None)
        if not r.reached:
            rule.status = "never read"
            scope = plan.scopes[r.param]
            if scope == "shared" and any(k in ("models", "sources") for k in r.where):
                why = f"mergekit reads {r.param} once for all models, from the top-level, module or slice parameters"
            elif scope == "non_base":
                why = f"{r.param} is read for the non-base models only"
            else:
                why = "no tensor reads it"
        elif r.matches:
            rule.status = "shadowed"
            decider = catch_all if catch_all is not None else r.first_decider
            if decider is None:
                why = "shadowed"
            elif decider in same:
                rule.shadowed_by = plan.rules[decider].index
                why = f"shadowed by rule #{rule.shadowed_by}"
                why += " (a catch-all: no filter)" if decider == catch_all else ""
            else:
                why = f"shadowed by {rules[decider].label}"
        else:
            rule.status = "matches no tensor"
            why = "matches no tensor"
            if r.filter and "lm_head" in r.filter and tied:
                why += " (embeddings are tied: lm_head is embed_tokens, there is no lm_head tensor)"
        problems.append(f"rule {rule.label} never applies: {why}")
    for s in plan.slices:
        if s.layers == 0:
            ranges = ", ".join(f"{ctx.name(m)} [{a}, {b}]" for m, a, b in s.sources)
            problems.append(f"slice {format_loc(s.where)} never applies: its layer_range makes no layer ({ranges})")
    return rules, problems, {i: r.label for i, r in enumerate(rules)}


def _tied(names: list[str]) -> bool:
    return "model.embed_tokens.weight" in names and not any(n.startswith("lm_head") for n in names)


def lint(spec: MergeSpec) -> LintReport:
    """Read mergekit's plan of `spec` (made when it was loaded): values, rules, outcome, problems."""
    plan = spec.plan
    if plan is None:
        raise ValueError("lint needs a spec from merge.load() (it carries mergekit's plan)")
    layers = max((n for t in plan.tensors if (n := layer_of(t.name)) is not None), default=-1) + 1
    ctx = _Ctx(spec, plan, [], layers)
    rules, problems, labels = _rules(ctx)
    for t in plan.tensors:
        ctx.tensors.append(TensorT(
            t.name, group_of(t.name), layer_of(t.name), None, None,
            {ctx.key(p, m): v for (p, m), v in t.values.items()},
            {ctx.key(p, m): labels[i] if i is not None else "default" for (p, m), i in t.rules.items()},
        ))  # fmt: skip
    reading = READINGS.get(plan.method, _other)(ctx)
    return LintReport(
        config=str(spec.path), method=plan.method, pretty_name=plan.pretty_name, reference_url=plan.reference_url,
        kind="interpolation" if plan.method in INTERPOLATING else "parameters",
        base=spec.name(plan.base) if plan.base else None, models=[spec.name(m) for m in plan.models],
        ends=reading.ends, layers=layers, tied_embeddings=_tied([t.name for t in plan.tensors]),
        tensors=ctx.tensors, rules=rules, tables=reading.tables,
        defaults=ctx.defaults(),
        outcome=reading.outcome, degenerate=reading.degenerate, problems=[*problems, *reading.problems],
        pinned=reading.pinned,
    )  # fmt: skip
