"""Lint a SLERP merge: each tensor's effective t, the rule that set it, rules that never apply.

The effective t comes from mergekit's own planner (the same code path as the merge), so
the report cannot drift from what mergekit does; only the rule attribution is computed
here, with mergekit's first-match rule (`filter` absent or "*" matches all, else substring).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from hubkit.errors import HubkitError
from hubkit.merge import MergeSpec, quiet_transformers

GROUPS = ("attention", "mlp", "norms", "embeddings", "other")
_LAYER = re.compile(r"\.layers\.(\d+)\.")


def group_of(name: str) -> str:
    if "embed_tokens" in name or name.startswith("lm_head"):
        return "embeddings"
    if "self_attn" in name:  # Qwen3's q_norm / k_norm are part of attention
        return "attention"
    if "norm" in name:
        return "norms"
    if "mlp" in name:
        return "mlp"
    return "other"


def _matches(filt: str | None, name: str) -> bool:
    return filt is None or filt == "*" or filt in name


@dataclass
class Rule:
    index: int
    filter: str | None
    value: Any
    matches: dict[str, int] = field(default_factory=dict)  # group -> tensors the filter matches
    applied: dict[str, int] = field(default_factory=dict)  # group -> tensors it decides
    status: str = "applies"  # "applies" | "shadowed" | "matches no tensor"
    shadowed_by: int | None = None

    @property
    def label(self) -> str:
        return f"#{self.index} " + (f"filter {self.filter!r}" if self.filter not in (None, "*") else "catch-all")


@dataclass
class TensorT:
    name: str
    group: str
    layer: int | None
    t: float
    rule: int | None


@dataclass
class LintReport:
    config: str
    method: str
    base: str
    other: str
    layers: int
    tied_embeddings: bool
    tensors: list[TensorT]
    rules: list[Rule]
    outcome: str
    degenerate: bool
    problems: list[str]

    def per_layer(self) -> list[dict[str, str]]:
        """One row per layer: the effective t of each group ("0.3" or "0.1..0.3")."""
        rows = []
        for layer in range(self.layers):
            row = {"layer": str(layer)}
            for g in ("attention", "mlp", "norms"):
                ts = [x.t for x in self.tensors if x.layer == layer and x.group == g]
                row[g] = _span(ts)
            rows.append(row)
        return rows

    def outside_layers(self) -> dict[str, str]:
        return {x.name: _num(x.t) for x in self.tensors if x.layer is None}

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["per_layer"] = self.per_layer()
        return data


def _num(t: float) -> str:
    return f"{t:.4g}"


def _span(ts: list[float]) -> str:
    if not ts:
        return "-"
    lo, hi = min(ts), max(ts)
    return _num(lo) if lo == hi else f"{_num(lo)}..{_num(hi)}"


def _plan(spec: MergeSpec) -> list[tuple[str, float]]:
    """(tensor, t) for every tensor mergekit will write, from its planner: no weights read."""
    from mergekit.architecture import get_architecture_info
    from mergekit.merge import _model_out_config
    from mergekit.options import MergeOptions
    from mergekit.plan import MergePlanner

    config = spec.config.model_copy(deep=True)  # the planner normalizes it in place
    options = MergeOptions(quiet=True)
    with quiet_transformers():
        arch = get_architecture_info(config, options)
        out_cfg = _model_out_config(config, arch)
        planner = MergePlanner(config, arch, options=options, out_model_config=out_cfg)
        # plan_in_memory() fails validation in mergekit 0.1.5; _plan() is what plan_to_disk runs.
        planner._plan()
    return [(w.name, float(task.parameters["t"])) for w, task in planner._tensors]


def lint(spec: MergeSpec) -> LintReport:
    cfg = spec.config
    if cfg.merge_method != "slerp":
        raise HubkitError(f"{spec.path}: lint reads SLERP's t; merge_method is {cfg.merge_method!r}")
    if cfg.base_model is None or not cfg.models:
        raise HubkitError(f"{spec.path}: lint needs `models` and `base_model`")
    base = spec.name(cfg.base_model)
    others = [spec.name(m.model) for m in cfg.models if spec.name(m.model) != base]
    other = others[0] if others else base
    planned = _plan(spec)

    setting = (cfg.parameters or {}).get("t")
    conditional = isinstance(setting, list) and any(hasattr(r, "filter") for r in setting)
    raw = setting if conditional else [type("R", (), {"filter": None, "value": setting})()]
    rules = [Rule(i, r.filter, r.value) for i, r in enumerate(raw)]

    tensors = []
    for name, t in planned:
        group = group_of(name)
        first = None
        for r in rules:
            if _matches(r.filter, name):
                r.matches[group] = r.matches.get(group, 0) + 1
                if first is None:
                    first = r
        if first is not None:
            first.applied[group] = first.applied.get(group, 0) + 1
        m = _LAYER.search(name)
        tensors.append(TensorT(name, group, int(m.group(1)) if m else None, t, first and first.index))

    problems = []
    for r in rules:
        if r.applied:
            continue
        catch_all = next((e for e in rules[: r.index] if e.filter in (None, "*")), None)
        if r.matches:
            r.status, r.shadowed_by = "shadowed", (catch_all or _decider(r, rules, tensors)).index
            why = f"shadowed by rule #{r.shadowed_by}" + (" (a catch-all: no filter)" if catch_all else "")
        else:
            r.status = "matches no tensor"
            why = "matches no tensor"
            if r.filter and "lm_head" in r.filter and _tied(planned):
                why += " (embeddings are tied: lm_head is embed_tokens, there is no lm_head tensor)"
        problems.append(f"rule {r.label} never applies: {why}")

    ts = {x.t for x in tensors}
    degenerate = ts <= {0.0} or ts <= {1.0}
    if ts <= {0.0}:
        outcome = f"output identical to {base} (every t = 0)"
    elif ts <= {1.0}:
        outcome = f"output identical to {other} (every t = 1)"
    else:
        outcome = f"interpolates {base} (t=0) -> {other} (t=1); t in [{_num(min(ts))}, {_num(max(ts))}]"
    if degenerate:
        problems.append(f"degenerate merge: {outcome}")
    layers = max((x.layer for x in tensors if x.layer is not None), default=-1) + 1
    return LintReport(
        str(spec.path), cfg.merge_method, base, other, layers, _tied(planned),
        tensors, rules, outcome, degenerate, problems,
    )  # fmt: skip


def _tied(planned: list[tuple[str, float]]) -> bool:
    names = {n for n, _ in planned}
    return "model.embed_tokens.weight" in names and not any(n.startswith("lm_head") for n in names)


def _decider(rule: Rule, rules: list[Rule], tensors: list[TensorT]) -> Rule:
    """The earlier rule that decides the tensors `rule` matches (the first one met)."""
    for x in tensors:
        if _matches(rule.filter, x.name) and x.rule is not None:
            return rules[x.rule]
    return rule


def pinned_model(report: LintReport) -> str:
    """The model whose vocabulary the output uses: the embeddings' t picks it (0 base, 1 other)."""
    t = next((x.t for x in report.tensors if x.name.endswith("embed_tokens.weight")), 0.0)
    return report.other if t == 1.0 else report.base
