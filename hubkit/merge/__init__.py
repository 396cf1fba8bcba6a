"""mergekit glue: load a merge config, resolve its models to local folders, check, run.

mergekit does the merging (its pydantic config, planner and executor); hubkit adds what a
release needs around it: references resolved to built artifacts, one-line errors before any
weight is read, and the tokenizer of the model the vocabulary is pinned to.
"""

from __future__ import annotations

import json
import shutil
import struct
from collections.abc import Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.config import problem_at, read_yaml, validate
from hubkit.errors import ConfigError, HubkitError

# Copied from the model the vocabulary is pinned to (generation_config: its eos/pad ids).
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
    "vocab.json", "merges.txt", "tokenizer.model", "generation_config.json",
)  # fmt: skip


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


@dataclass
class MergeSpec:
    """A mergekit config as written (`text`) and as run (`config`, references made local)."""

    path: Path
    text: str
    config: Any  # mergekit.config.MergeConfiguration
    names: dict[str, str]  # local folder -> the reference the config wrote

    def name(self, ref: Any) -> str:
        path = str(ref.model.path) if hasattr(ref, "model") else str(ref)
        return self.names.get(path, path)


def model_refs(doc: dict) -> list[tuple[tuple, str]]:
    """(key path, reference) for every model the config names."""
    refs: list[tuple[tuple, str]] = []
    if isinstance(doc.get("base_model"), str):
        refs.append((("base_model",), doc["base_model"]))
    for i, m in enumerate(doc.get("models") or []):
        if isinstance(m, dict) and isinstance(m.get("model"), str):
            refs.append((("models", i, "model"), m["model"]))
    for i, s in enumerate(doc.get("slices") or []):
        for j, src in enumerate((s or {}).get("sources") or []):
            if isinstance(src, dict) and isinstance(src.get("model"), str):
                refs.append((("slices", i, "sources", j, "model"), src["model"]))
    return refs


def _set(doc: dict, loc: tuple, value: Any) -> None:
    node = doc
    for part in loc[:-1]:
        node = node[part]
    node[loc[-1]] = value


def _t_problems(doc: dict) -> list[tuple[tuple, str]]:
    """Every value of a `t` parameter must lie in [0, 1] (SLERP's interpolation factor)."""
    scopes = [(("parameters",), doc.get("parameters"))]
    scopes += [
        (("models", i, "parameters"), m.get("parameters"))
        for i, m in enumerate(doc.get("models") or [])
        if isinstance(m, dict)
    ]
    problems = []
    for loc, params in scopes:
        if not isinstance(params, dict) or "t" not in params:
            continue
        setting = params["t"]
        rules = setting if isinstance(setting, list) and any(isinstance(r, dict) for r in setting) else None
        entries = (
            [((*loc, "t", i, "value"), r.get("value")) for i, r in enumerate(rules) if isinstance(r, dict)]
            if rules
            else [((*loc, "t"), setting)]
        )
        for where, value in entries:
            values = value if isinstance(value, list) else [value]
            for v in values:
                if isinstance(v, bool) or not isinstance(v, (int, float)):
                    problems.append((where, f"t must be a number in [0, 1], got {v!r}"))
                elif not 0 <= v <= 1:
                    problems.append((where, f"t={v} is outside [0, 1]"))
    return problems


def load(path: Path | str, models: Mapping[str, Path] | None = None) -> MergeSpec:
    """Read a mergekit config; map each model reference to a local folder (or fail clearly).

    `models` maps references (Hub ids or names as written in the config) to folders; a
    reference that is already a local folder is used as is.
    """
    from mergekit.config import MergeConfiguration
    from mergekit.merge_methods import registry

    path = Path(path)
    doc, root = read_yaml(path)
    if not isinstance(doc, dict):
        raise ConfigError([f"{path}: expected a mapping at the top level"])

    problems: list[str] = []
    known = sorted(m.spec.name for m in registry.registered_methods())
    method = doc.get("merge_method")
    if method is not None and method not in known:
        problems.append(
            problem_at(
                str(path),
                root,
                ("merge_method",),
                f"unknown merge method {method!r} (known: {', '.join(known)})",
            )
        )
    problems += [problem_at(str(path), root, loc, msg) for loc, msg in _t_problems(doc)]

    models = dict(models or {})
    names: dict[str, str] = {}
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
            msg = f"model {ref!r} not found ({why}); build it or map it with --model {ref}=PATH"
            problems.append(problem_at(str(path), root, loc, msg))
            continue
        names[str(local)] = ref
        _set(doc, loc, str(local))
    if problems:
        raise ConfigError(problems)
    try:
        config = validate(MergeConfiguration, doc, path, root)
    except RuntimeError as exc:  # mergekit's validators raise RuntimeError, not ValueError
        raise ConfigError([f"{path}: {exc}"]) from None
    spec = MergeSpec(path, path.read_text(encoding="utf-8"), config, names)
    check_compatible(spec)
    return spec


def tensor_shapes(model_dir: Path) -> dict[str, list[int]]:
    """Tensor name -> shape, from the safetensors headers alone (no weights are read)."""
    files = sorted(model_dir.glob("*.safetensors"))
    if not files:
        raise HubkitError(f"{model_dir}: no *.safetensors files (only safetensors models merge)")
    shapes: dict[str, list[int]] = {}
    for f in files:
        with f.open("rb") as fh:
            (n,) = struct.unpack("<Q", fh.read(8))
            header = json.loads(fh.read(n))
        shapes.update({k: v["shape"] for k, v in header.items() if k != "__metadata__"})
    return shapes


def check_compatible(spec: MergeSpec) -> None:
    """Same architecture, same tensors, same shapes: else one line naming the difference."""
    folders = list(spec.names)  # config order (mergekit's referenced_models() is a set)
    for folder in folders:
        cfg = json.loads((Path(folder) / "config.json").read_text())
        if not isinstance(cfg.get("architectures"), list) or len(cfg["architectures"]) != 1:
            raise HubkitError(f"{spec.path}: {spec.name(folder)}: config.json must name exactly one architecture")
    first = Path(folders[0])
    cfg0 = json.loads((first / "config.json").read_text())
    shapes0 = tensor_shapes(first)
    for other in map(Path, folders[1:]):
        a, b = spec.name(str(first)), spec.name(str(other))
        cfg = json.loads((other / "config.json").read_text())
        arch0 = (cfg0.get("model_type"), cfg0.get("architectures"))
        arch = (cfg.get("model_type"), cfg.get("architectures"))
        if arch0 != arch:
            raise HubkitError(f"{spec.path}: architectures differ: {a} is {arch0}, {b} is {arch}")
        shapes = tensor_shapes(other)
        if missing := sorted(set(shapes0) ^ set(shapes)):
            raise HubkitError(
                f"{spec.path}: {a} and {b} have different tensors, e.g. {missing[0]} ({len(missing)} differ)"
            )
        for name, shape in shapes0.items():
            if shapes[name] != shape:
                raise HubkitError(f"{spec.path}: {a} and {b} differ in shape of {name}: {shape} vs {shapes[name]}")


def run(spec: MergeSpec, out: Path, *, shard_size: str = "5B", tokenizer_from: str | None = None) -> Path:
    """Merge with mergekit into `out` (sharded safetensors, lazy loading); returns `out`.

    The tokenizer comes from `tokenizer_from` (a local folder): the model whose vocabulary
    the embeddings are pinned to. The config as written is copied to `mergekit_config.yml`.
    """
    from mergekit.common import parse_kmb
    from mergekit.merge import run_merge
    from mergekit.options import MergeOptions

    out.mkdir(parents=True, exist_ok=True)
    options = MergeOptions(
        lazy_unpickle=True,
        out_shard_size=parse_kmb(shard_size),
        copy_tokenizer=tokenizer_from is None,
        write_model_card=False,  # hubkit renders the card from its own templates
        quiet=True,
    )
    try:
        with quiet_transformers():
            run_merge(spec.config, str(out), options, config_source=spec.text)
    except (RuntimeError, ValueError, OSError) as exc:
        raise HubkitError(f"{spec.path}: merge failed: {exc}") from None
    if tokenizer_from is not None:
        for name in TOKENIZER_FILES:
            if (Path(tokenizer_from) / name).is_file():
                shutil.copy2(Path(tokenizer_from) / name, out / name)
    (out / "mergekit_config.yml").write_text(spec.text, encoding="utf-8")
    return out


def checked_run(spec: MergeSpec, out: Path, *, shard_size: str, report=print):
    """Lint (warning loudly), then merge with the pinned model's tokenizer; returns the lint."""
    from hubkit.merge.lint import lint, pinned_model

    result = lint(spec)
    for problem in result.problems:
        report(f"WARNING: merge lint: {problem}")
    pinned = pinned_model(result)
    report(f"merging with mergekit: {result.outcome}; tokenizer from {pinned}")
    local = {ref: folder for folder, ref in spec.names.items()}
    run(spec, out, shard_size=shard_size, tokenizer_from=local.get(pinned))
    return result
