"""A mergekit config, read, checked and made runnable here: one line per problem, before any weight is read.

`read` checks the file alone (no model needed): YAML, mergekit's own schema
(MergeConfiguration, ModelReference), then what that schema lets through but mergekit would
trip over or silently ignore: an unknown key, merge method or parameter, a value the method's
parameter type refuses, an empty list, a dtype mergekit does not know, a model listed twice.
`load` then maps every model reference to a local folder, checks that the folders agree, and
plans the merge with mergekit's planner (`plan.py`), which also refuses what the method's own
input contract refuses.
"""

from __future__ import annotations

import json
import struct
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.config import format_loc, problem_at, read_yaml
from hubkit.errors import ConfigError, HubkitError
from hubkit.merge.plan import Plan, Refused, nodes, one_line, parameter_scopes, plan_merge, rule_list

# Values a mergekit config may name instead of a model (tokenizer_source / tokenizer.source).
_NOT_MODELS = ("union", "base")


@dataclass
class Written:
    """A mergekit config as written: its YAML (`doc`, `root` for line numbers) and mergekit's reading of it."""

    path: Path
    doc: dict
    root: Any  # yaml.Node
    config: Any  # mergekit.config.MergeConfiguration


@dataclass
class MergeSpec:
    """A mergekit config as written (`text`), as run (`config`, references made local) and as planned."""

    path: Path
    text: str
    config: Any  # mergekit.config.MergeConfiguration
    names: dict[str, str]  # local folder -> the reference the config wrote
    plan: Plan | None = None

    def name(self, ref: Any) -> str:
        path = str(ref.model.path) if hasattr(ref, "model") else str(ref)
        return self.names.get(path, path)


def model_refs(doc: Any) -> list[tuple[tuple, str]]:
    """(key path, reference as written) for every model a config names, in order.

    Tolerant of a malformed file (it finds what it can; `read` says what is wrong), so the
    release graph can take its inputs from a file that mergekit has not been asked about yet.
    """
    refs: list[tuple[tuple, str]] = []

    def ref(value: Any, loc: tuple) -> None:
        if isinstance(value, str):
            refs.append((loc, value))

    def items(value: Any) -> list:
        return list(enumerate(value)) if isinstance(value, list) else []

    def section(node: Any, loc: tuple) -> None:  # the top level, or one of `modules`
        if not isinstance(node, dict):
            return
        ref(node.get("base_model"), (*loc, "base_model"))
        for i, m in items(node.get("models")):
            if isinstance(m, dict):
                ref(m.get("model"), (*loc, "models", i, "model"))
        for i, s in items(node.get("slices")):
            if isinstance(s, dict):
                for j, src in items(s.get("sources")):
                    if isinstance(src, dict):
                        ref(src.get("model"), (*loc, "slices", i, "sources", j, "model"))
                ref(s.get("base_model"), (*loc, "slices", i, "base_model"))

    if not isinstance(doc, dict):
        return refs
    section(doc, ())
    if isinstance(doc.get("modules"), dict):
        for name, module in doc["modules"].items():
            section(module, ("modules", name))
    tokenizer = doc.get("tokenizer")
    for loc, value in (
        (("tokenizer_source",), doc.get("tokenizer_source")),
        (("tokenizer", "source"), tokenizer.get("source") if isinstance(tokenizer, dict) else None),
    ):
        if value not in _NOT_MODELS:
            ref(value, loc)
    return refs


# pydantic error types -> what a user reads
_EXPECTED = {
    "model_type": "expected a mapping", "model_attributes_type": "expected a mapping",
    "dict_type": "expected a mapping", "list_type": "expected a list", "tuple_type": "expected a list",
    "string_type": "expected a string", "int_type": "expected a whole number", "int_parsing": "expected a whole number",
    "float_type": "expected a number", "float_parsing": "expected a number", "bool_type": "expected true or false",
    "bool_parsing": "expected true or false", "missing": "field required", "too_short": "too few items",
    "too_long": "too many items", "literal_error": "not one of the allowed values",
}  # fmt: skip


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _schema_problems(exc: Any, doc: dict) -> list[tuple[tuple, str]]:
    """pydantic's errors as (key path in the file, message), a union's alternatives as one."""
    problems: dict[tuple, str] = {}
    for err in exc.errors():
        loc, node, tagged = [], doc, False
        for k, part in enumerate(err["loc"]):
            inside = (isinstance(node, dict) and part in node) or (
                isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)
            )
            if inside:
                loc.append(part)
                node = node[part]
            elif err["type"] == "missing" and k == len(err["loc"]) - 1:
                loc.append(part)
            else:  # the name of a union's alternative: the value fits none of them
                tagged = True
                break
        key = tuple(loc)
        if tagged:
            problems[key] = f"invalid value {_short(node)}"
        else:
            msg = _EXPECTED.get(err["type"]) or str(err["msg"]).removeprefix("Value error, ")
            problems.setdefault(key, msg[:1].lower() + msg[1:])
    return list(problems.items())


def _unknown_keys(doc: Any, node: Any, loc: tuple = ()) -> list[tuple[tuple, str]]:
    """Keys mergekit ignores without a word (its config models allow extra keys): a typo there silently does nothing."""
    from mergekit.common import ModelReference
    from pydantic import BaseModel

    out: list[tuple[tuple, str]] = []
    if isinstance(node, ModelReference):
        return out
    if isinstance(node, BaseModel) and isinstance(doc, dict):
        fields = type(node).model_fields
        for k, v in doc.items():
            if k not in fields:
                out.append(((*loc, k), f"unknown key (known here: {', '.join(fields)})"))
            else:
                out += _unknown_keys(v, getattr(node, k), (*loc, k))
    elif isinstance(node, (list, tuple)) and isinstance(doc, list):
        for i, (d, n) in enumerate(zip(doc, node, strict=False)):
            out += _unknown_keys(d, n, (*loc, i))
    elif isinstance(node, dict) and isinstance(doc, dict):
        for k, v in doc.items():
            if k in node:
                out += _unknown_keys(v, node[k], (*loc, k))
    return out


def known_methods() -> list[str]:
    from mergekit.merge_methods import registry

    return sorted(m.spec.name for m in registry.registered_methods())


# mergekit's method names, known without importing mergekit (it brings torch: seconds at every
# `hubkit status`); tests/test_merge.py keeps this equal to `known_methods()`.
METHODS = (
    "arcee_fusion", "breadcrumbs", "breadcrumbs_ties", "dare_linear", "dare_ties", "della", "della_linear",
    "karcher", "linear", "model_stock", "multislerp", "nearswap", "nuslerp", "passthrough", "ram", "ramplus_tl",
    "sce", "slerp", "task_arithmetic", "ties",
)  # fmt: skip


def quick_problems(path: Path) -> list[tuple[tuple, str]]:
    """What a config load can say of a merge file without mergekit: it reads as YAML within the
    limits, is a mapping, and names a method mergekit has. `read` checks the rest before a build."""
    try:
        doc, _ = read_yaml(path)
    except ConfigError as exc:
        return [((), exc.problems[0])]
    if not isinstance(doc, dict):
        return [((), f"{path}: expected a mapping at the top level")]
    method = doc.get("merge_method")
    if not isinstance(method, str) or method not in METHODS:
        shown = repr(method)[:40] if method is not None else "missing"
        return [((), f"{path}: merge_method {shown} is not a mergekit method (known: {', '.join(METHODS)})")]
    return []


def _setting_values(setting: Any, loc: tuple) -> list[tuple[tuple, Any]]:
    conds = rule_list(setting)
    if conds is None:
        return [(loc, setting)]
    if not isinstance(setting, list):
        return [((*loc, "value"), setting.value)]
    return [((*loc, i, "value"), c.value) for i, c in enumerate(conds)]


def _method_problems(config: Any) -> list[tuple[tuple, str]]:
    """The merge method must exist; each parameter must be one it has, with values of its type."""
    from mergekit import merge_methods

    name = config.merge_method
    try:
        method = merge_methods.get(name)
    except RuntimeError:
        return [(("merge_method",), f"unknown merge method {name!r} (known: {', '.join(known_methods())})")]
    params = {p.name: p for p in method.spec.parameters}
    problems = []
    for where, scope in parameter_scopes(config):
        for param, setting in scope.items():
            if param not in params:
                has = ", ".join(params) or "none"
                problems.append(((*where, param), f"merge method {name!r} has no parameter {param!r} (it has: {has})"))
                continue
            for loc, value in _setting_values(setting, (*where, param)):
                if value == []:
                    problems.append((loc, "empty list: give a value, or a list of values for a gradient"))
                for v in value if isinstance(value, list) else [value]:
                    problems += [(loc, msg) for msg in _value_problems(name, params[param], v)]
    return problems


def _value_problems(method: str, param: Any, v: Any) -> list[str]:
    from pydantic import ValidationError

    if method == "slerp" and param.name == "t":  # SLERP's interpolation factor
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            return [f"t must be a number in [0, 1], got {v!r}"]
        return [] if 0 <= v <= 1 else [f"t={v} is outside [0, 1]"]
    try:
        param.validate(v)
    except ValidationError:
        kind = getattr(param.value_type, "__name__", None) or str(param.value_type).removeprefix("typing.")
        return [f"{param.name} must be {kind}, got {v!r}"]
    return []


def _dtype_problems(config: Any) -> list[tuple[tuple, str]]:
    import torch
    from mergekit.common import dtype_from_name

    def known(name: str) -> bool:
        try:
            return dtype_from_name(name) is not None
        except RuntimeError:
            return False

    problems = []
    for key in ("dtype", "out_dtype"):
        value = getattr(config, key)
        if value is not None and not known(value):
            names = sorted({str(d).removeprefix("torch.") for d in vars(torch).values() if isinstance(d, torch.dtype)})
            ok = ", ".join(n for n in names if known(n))
            problems.append(((key,), f"unknown dtype {value!r} (mergekit knows: {ok})"))
    return problems


def _duplicate_problems(config: Any) -> list[tuple[tuple, str]]:
    """A model listed twice in one list of inputs (mergekit would refuse the plan without saying where)."""
    from mergekit.config import InputModelDefinition, InputSliceDefinition

    problems = []
    for loc, node in nodes(config):
        if not isinstance(node, list):
            continue
        seen: dict[str, tuple] = {}
        for i, x in enumerate(node):
            if isinstance(x, (InputModelDefinition, InputSliceDefinition)):
                ref = str(x.model)
                if ref in seen:
                    msg = f"model {ref!r} is listed twice (also {format_loc(seen[ref])})"
                    problems.append(((*loc, i, "model"), msg))
                seen.setdefault(ref, (*loc, i, "model"))
    return problems


def _raise(path: Path, root: Any, problems: list[tuple[tuple, str]]) -> None:
    """One line per distinct problem; the same message at several keys names them all on one line."""
    if not problems:
        return
    by_msg: dict[str, list[tuple]] = {}
    for loc, msg in problems:
        by_msg.setdefault(msg, []).append(loc)
    lines = []
    for msg, locs in by_msg.items():
        also = f" (also {', '.join(format_loc(x) for x in locs[1:])})" if len(locs) > 1 else ""
        lines.append(problem_at(str(path), root, locs[0], msg + also) if locs[0] else f"{path}: {msg}{also}")
    raise ConfigError(lines)


def read(path: Path | str) -> Written:
    """Read and check a mergekit config file on its own (no model needed); ConfigError, one line per problem."""
    from mergekit.common import ModelReference
    from mergekit.config import MergeConfiguration
    from pydantic import ValidationError

    path = Path(path)
    doc, root = read_yaml(path)
    if not isinstance(doc, dict):
        raise ConfigError([f"{path}: expected a mapping at the top level"])
    problems = []
    for loc, ref in model_refs(doc):
        try:
            ModelReference.model_validate(ref)
        except (RuntimeError, ValidationError) as exc:  # mergekit's validators raise RuntimeError
            problems.append((loc, f"invalid model reference: {one_line(exc)}"))
    _raise(path, root, problems)
    try:
        config = MergeConfiguration.model_validate(doc)
    except ValidationError as exc:
        _raise(path, root, _schema_problems(exc, doc))
    except RuntimeError as exc:  # mergekit's own validators (e.g. "Exactly one of 'models', 'slices' ...")
        msg = one_line(exc)
        _raise(path, root, [((), msg[:1].lower() + msg[1:])])
    _raise(path, root, _unknown_keys(doc, config))
    _raise(path, root, [*_method_problems(config), *_dtype_problems(config), *_duplicate_problems(config)])
    return Written(path, doc, root, config)


def tensor_shapes(model_dir: Path) -> dict[str, list[int]]:
    """Tensor name -> shape, from the safetensors headers alone (no weights are read)."""
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise HubkitError(f"{model_dir}: no *.safetensors files (only safetensors models merge)")
    shapes: dict[str, list[int]] = {}
    for f in files:
        try:
            with f.open("rb") as fh:
                (n,) = struct.unpack("<Q", fh.read(8))
                header = json.loads(fh.read(n))
            shapes.update({k: v["shape"] for k, v in header.items() if k != "__metadata__"})
        except (struct.error, ValueError, TypeError, KeyError, AttributeError, MemoryError):
            raise HubkitError(f"{f}: not a readable safetensors file") from None
    return shapes


def _model_config(spec: MergeSpec, folder: str) -> dict:
    try:
        cfg = json.loads((Path(folder) / "config.json").read_text(encoding="utf-8"))
    except (ValueError, OSError) as exc:
        raise HubkitError(f"{spec.path}: {spec.name(folder)}: config.json is unreadable: {one_line(exc)}") from None
    if not isinstance(cfg, dict) or not isinstance(cfg.get("architectures"), list) or len(cfg["architectures"]) != 1:
        raise HubkitError(f"{spec.path}: {spec.name(folder)}: config.json must name exactly one architecture")
    return cfg


def check_compatible(spec: MergeSpec) -> dict[str, dict[str, list[int]]]:
    """Same architecture, same shapes where the tensors are the same: else one line naming the
    difference. Returns each folder's tensor shapes (a layer_range may read past a model's layers:
    `load` checks what the plan reads against them)."""
    folders = list(spec.names)  # config order (mergekit's referenced_models() is a set)
    configs = {folder: _model_config(spec, folder) for folder in folders}
    shapes = {folder: tensor_shapes(Path(folder)) for folder in folders}
    first = folders[0]
    for other in folders[1:]:
        a, b = spec.name(first), spec.name(other)
        arch0, arch = ((configs[f].get("model_type"), configs[f]["architectures"]) for f in (first, other))
        if arch0 != arch:
            raise HubkitError(f"{spec.path}: architectures differ: {a} is {arch0}, {b} is {arch}")
        for name, shape in shapes[first].items():
            if name in shapes[other] and shapes[other][name] != shape:
                raise HubkitError(
                    f"{spec.path}: {a} and {b} differ in shape of {name}: {shape} vs {shapes[other][name]}"
                )
    return shapes


def load(path: Path | str, models: Mapping[str, Path] | None = None) -> MergeSpec:
    """Read a mergekit config; map each model reference to a local folder; check and plan it.

    `models` maps references (Hub ids or names as written in the config) to folders; a
    reference that is already a local folder is used as is.
    """
    from mergekit.config import MergeConfiguration

    written = read(path)
    path, doc, root = written.path, written.doc, written.root
    models = dict(models or {})
    names: dict[str, str] = {}
    problems: list[tuple[tuple, str]] = []
    missing: set[str] = set()
    for loc, ref in model_refs(doc):
        local = models.get(ref)
        if local is None and Path(ref).is_dir():
            local = Path(ref)
        if local is None or not (Path(local) / "config.json").is_file():
            if ref in missing:
                continue
            missing.add(ref)
            why = f"no config.json in {local}" if local is not None else "not a local model folder"
            problems.append((loc, f"model {ref!r} not found ({why}); build it or map it with --model {ref}=PATH"))
            continue
        names[str(local)] = ref
        node = doc
        for part in loc[:-1]:
            node = node[part]
        node[loc[-1]] = str(local)
    if problems:
        raise ConfigError([problem_at(str(path), root, loc, msg) for loc, msg in problems])
    # The same file with local folders for references: mergekit accepted its shape in read().
    config = MergeConfiguration.model_validate(doc)
    spec = MergeSpec(path, path.read_text(encoding="utf-8"), config, names)
    shapes = check_compatible(spec)
    try:
        spec.plan = plan_merge(config)
    except Refused as exc:
        msg = str(exc)
        for folder, ref in names.items():  # say it with the config's own names
            msg = msg.replace(folder, ref)
        raise ConfigError([f"{path}: mergekit refuses this merge: {msg}"]) from None
    for t in spec.plan.tensors:
        for folder, wanted in t.inputs.items():
            if not t.optional and folder in shapes and not any(n in shapes[folder] for n in wanted):
                raise ConfigError(
                    [f"{path}: {spec.name(folder)} has no tensor {wanted[0]} (a layer_range past its layers?)"]
                )
    return spec
