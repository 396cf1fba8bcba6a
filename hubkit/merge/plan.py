"""mergekit's own plan of a merge, tensor by tensor, with the config rule behind every value.

`plan_merge` runs mergekit's MergePlanner (config.json files and safetensors headers; no
weights are read) and keeps, for every tensor it will write, the parameter values its merge
method will receive. Which setting of the config gave each value is read from the same
planner: every setting is handed to it as a list of mergekit's ConditionalParameter (a plain
value becomes a one-rule list without a filter, which mergekit resolves identically), so the
rule objects themselves reach each tensor's parameter scopes in mergekit's order of
precedence, and mergekit's `evaluate_setting` says which rule matches. Each attributed value
is checked against the value the planner resolved, so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

GROUPS = ("attention", "mlp", "norms", "embeddings", "other")
_LAYER = re.compile(r"\.layers\.(\d+)\.")


class Refused(Exception):
    """mergekit's planner refused the config (a user's mistake); the message is one line."""


@contextmanager
def quiet_transformers():
    """mergekit's use of deprecated transformers arguments is no news to a hubkit user."""
    from transformers.utils import logging

    verbosity = logging.get_verbosity()
    logging.set_verbosity_error()
    try:
        yield
    finally:
        logging.set_verbosity(verbosity)


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


def layer_of(name: str) -> int | None:
    m = _LAYER.search(name)
    return int(m.group(1)) if m else None


def nodes(node: Any, loc: tuple = ()) -> Iterator[tuple[tuple, Any]]:
    """(key path, value) of every value in a validated mergekit config, depth first."""
    from mergekit.common import ModelReference
    from pydantic import BaseModel

    yield loc, node
    if isinstance(node, ModelReference):
        return
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            yield from nodes(getattr(node, name), (*loc, name))
    elif isinstance(node, (list, tuple)):
        for i, x in enumerate(node):
            yield from nodes(x, (*loc, i))
    elif isinstance(node, dict):
        for k, x in node.items():
            yield from nodes(x, (*loc, k))


def parameter_scopes(config: Any) -> list[tuple[tuple, dict]]:
    """(key path, dict) of every `parameters` mapping: top level, modules, slices, sources, models."""
    from pydantic import BaseModel

    return [
        ((*loc, "parameters"), node.parameters)
        for loc, node in nodes(config)
        if isinstance(node, BaseModel) and isinstance(getattr(node, "parameters", None), dict)
    ]


def rule_list(setting: Any) -> list | None:
    """The ConditionalParameter rules of a setting (a bare rule is a list of one), else None."""
    from mergekit.config import ConditionalParameter

    if isinstance(setting, ConditionalParameter):
        return [setting]
    if isinstance(setting, list) and setting and all(isinstance(c, ConditionalParameter) for c in setting):
        return setting
    return None


@dataclass
class Rule:
    """One setting of the config: a rule of a list (`plain` False) or a plain value."""

    where: tuple  # key path of the setting, e.g. ("models", 1, "parameters", "weight")
    param: str
    index: int
    plain: bool
    filter: str | None
    value: Any
    reached: dict[str, int] = field(default_factory=dict)  # group -> tensor inputs whose scopes hold it
    matches: dict[str, int] = field(default_factory=dict)  # group -> of those, the ones its filter matches
    applied: dict[str, int] = field(default_factory=dict)  # group -> the ones it decides
    first_decider: int | None = None  # the rule that decided the first input it matched, if not itself


@dataclass
class Tensor:
    """One tensor mergekit will write: its inputs and every parameter value the method gets."""

    name: str
    optional: bool
    inputs: dict[str, tuple[str, ...]]  # model (as in the config) -> tensor name read, and its aliases
    base: str | None
    values: dict[tuple[str, str | None], Any]  # (parameter, model, or None if shared) -> value
    rules: dict[tuple[str, str | None], int | None]  # same keys -> index in Plan.rules; None: the default


@dataclass
class Slice:
    where: tuple  # key path of an output slice of the config
    sources: list[tuple[str, int, int]]  # (model, first layer, end)
    layers: int  # output layers the planner made from it


@dataclass
class Plan:
    method: str
    pretty_name: str
    reference_url: str | None
    scopes: dict[str, str]  # the method's parameters -> "shared" | "input" | "non_base" (mergekit's ParameterScope)
    base: str | None
    models: list[str]  # every input, in the order mergekit reads them
    task_arithmetic: bool  # one of mergekit's task-vector methods (ties, dare_ties, della, ...)
    tensors: list[Tensor]
    rules: list[Rule]
    slices: list[Slice]


def one_line(exc: BaseException) -> str:
    """An exception's message on one line (pydantic's: its first error)."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError) and exc.errors():
        msg = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
    else:
        msg = str(exc).strip() or type(exc).__name__
    return " ".join(msg.split())


def _check_output_config(cfg: Any) -> None:
    """The config.json mergekit will write, checked now rather than after every tensor is merged.

    (mergekit 0.1.5 sets the layer count of a stacked model but not transformers 5's per-layer
    `layer_types`, which transformers then refuses to save.)
    """
    try:
        if hasattr(cfg, "validate"):
            cfg.validate()
    except Exception as exc:  # huggingface_hub's StrictDataclassClassValidationError wraps the reason
        reason = one_line(exc.__cause__ or exc)
        raise Refused(f"the output's config.json would be invalid: {reason}") from None


def _as_rules(config: Any) -> tuple[list[Rule], dict[int, int]]:
    """Every setting of `config` rewritten in place as a list of ConditionalParameter (a plain
    value as one rule without a filter: mergekit resolves both alike); the rules, and each rule
    object's index among them."""
    from mergekit.config import ConditionalParameter

    rules: list[Rule] = []
    index: dict[int, int] = {}
    for where, scope in parameter_scopes(config):
        for name, setting in list(scope.items()):
            conds = rule_list(setting)
            plain = conds is None
            scope[name] = conds = [ConditionalParameter(value=setting)] if plain else list(conds)
            for i, cond in enumerate(conds):
                index[id(cond)] = len(rules)
                rules.append(Rule((*where, name), name, i, plain, cond.filter, cond.value))
    return rules, index


def plan_merge(config: Any) -> Plan:
    """Plan `config` (a MergeConfiguration with local model paths) with mergekit's planner."""
    from mergekit import merge_methods
    from mergekit.architecture import get_architecture_info
    from mergekit.config import ConditionalParameter, OutputSliceDefinition, evaluate_setting
    from mergekit.merge import _model_out_config
    from mergekit.merge_methods.generalized_task_arithmetic import GeneralizedTaskArithmeticMerge
    from mergekit.options import MergeOptions
    from mergekit.plan import MergePlanner

    config = config.model_copy(deep=True)  # settings are rewritten; the planner normalizes it in place
    rules, index = _as_rules(config)
    slices: dict[int, Slice] = {  # the planner keeps the config's slice objects: known by identity
        id(s): Slice(loc, [(str(src.model), *src.layer_range) for src in s.sources], 0)
        for loc, s in nodes(config)
        if isinstance(s, OutputSliceDefinition)
    }
    seen: list[tuple[list, Any]] = []

    class Recorder(MergePlanner):
        """mergekit's planner, keeping what each planned tensor was planned from."""

        def plan_tensor(self, weight, weights_in, models, cfg_reader):
            before = len(self._tensors)
            super().plan_tensor(weight, weights_in, models, cfg_reader)
            if len(self._tensors) > before:
                seen.append((weights_in, cfg_reader))

    options = MergeOptions(quiet=True)
    try:
        method = merge_methods.get(config.merge_method)
        with quiet_transformers():
            arch = get_architecture_info(config, options)
            out_cfg = _model_out_config(config, arch)
            _check_output_config(out_cfg)
            planner = Recorder(config, arch, options=options, out_model_config=out_cfg)
            # plan_in_memory() fails validation in mergekit 0.1.5; _plan() is what plan_to_disk runs.
            planner._plan()
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        raise Refused(one_line(exc)) from None

    spec = method.spec
    params = {p.name: p for p in spec.parameters}
    probe = ConditionalParameter.model_construct

    def matches(cond: Any, tensor_name: str) -> bool:  # mergekit's own filter rule
        return evaluate_setting(tensor_name, [probe(filter=cond.filter, value=1)], validate=bool) is not None

    tensors: list[Tensor] = []
    for (weight, task), (weights_in, reader) in zip(planner._tensors, seen, strict=True):
        group = group_of(weight.name)
        read = {str(m): (w.name, *(w.aliases or ())) for m, w in zip(task.model_order, weights_in, strict=True)}
        # In the method's and the inputs' order (mergekit's maps of them have no stable order).
        points = [(p.name, None, weight.name) for p in spec.shared_parameters if p.name in task.parameters]
        points += [
            (p.name, m, read[str(m)][0])
            for m in task.model_order
            if m in task.input_parameters
            for p in spec.input_parameters
            if p.name in task.input_parameters[m]
        ]
        values, decided_by = {}, {}
        for p, model, tensor_name in points:
            decided = None
            for scope in reader.parameter_sources(model):  # mergekit's precedence: source, slice, module, top
                for cond in (scope or {}).get(p, ()):
                    i = index[id(cond)]
                    rules[i].reached[group] = rules[i].reached.get(group, 0) + 1
                    if not matches(cond, tensor_name):
                        continue
                    rules[i].matches[group] = rules[i].matches.get(group, 0) + 1
                    if decided is None:
                        decided = i
                        rules[i].applied[group] = rules[i].applied.get(group, 0) + 1
                    elif rules[i].first_decider is None:
                        rules[i].first_decider = decided
            value = task.parameters[p] if model is None else task.input_parameters[model][p]
            # The rule found must give the value the planner resolved: the two readings cannot drift apart.
            check = (
                params[p].validate(params[p].default)
                if decided is None
                else evaluate_setting(tensor_name, rules[decided].value, reader.t, validate=params[p].validate)
            )
            if check != value and check == check:  # (NaN != NaN)
                raise AssertionError(f"{weight.name}: {p}: read {check!r}, mergekit planned {value!r}")
            key = (p, None if model is None else str(model))
            values[key], decided_by[key] = value, decided
        base = str(task.base_model) if task.base_model is not None else None
        tensors.append(Tensor(weight.name, bool(weight.optional), read, base, values, decided_by))
        if layer_of(weight.name) is not None and id(reader.slice_out) in slices:
            slices[id(reader.slice_out)].layers += 1
    return Plan(
        method=spec.name,
        pretty_name=spec.pretty_name or spec.name,
        reference_url=spec.reference_url,
        scopes={p.name: p.scope.value for p in spec.parameters},
        base=str(config.base_model) if config.base_model is not None else None,
        models=list(dict.fromkeys(m for t in tensors for m in t.inputs)),
        task_arithmetic=isinstance(method, GeneralizedTaskArithmeticMerge),
        tensors=tensors,
        rules=rules,
        slices=list(slices.values()),
    )
