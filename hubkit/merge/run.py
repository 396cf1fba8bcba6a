"""Run a merge with mergekit: lint first (loudly), then mergekit's own executor; the tokenizer of
the model whose vocabulary the output keeps."""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

from hubkit.errors import HubkitError
from hubkit.merge.lint import LintReport, lint
from hubkit.merge.plan import quiet_transformers
from hubkit.merge.spec import MergeSpec

# Copied from the model the vocabulary is pinned to (generation_config: its eos/pad ids).
TOKENIZER_FILES = (
    "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja",
    "vocab.json", "merges.txt", "tokenizer.model", "generation_config.json",
)  # fmt: skip
# Randomized methods (dare_ties, della, ...) drop the same entries on every build of the same config.
SEED = 0


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
        random_seed=SEED,
    )
    try:
        with quiet_transformers(), _own_rng():
            run_merge(spec.config, str(out), options, config_source=spec.text)
    except (RuntimeError, ValueError, OSError) as exc:
        raise HubkitError(f"{spec.path}: merge failed: {' '.join(str(exc).split())}") from None
    if tokenizer_from is not None:
        for name in TOKENIZER_FILES:
            if (Path(tokenizer_from) / name).is_file():
                shutil.copy2(Path(tokenizer_from) / name, out / name)
    (out / "mergekit_config.yml").write_text(spec.text, encoding="utf-8")
    return out


@contextmanager
def _own_rng():
    """mergekit seeds the process-wide generators (random, numpy, torch) for its randomized
    methods; put them back afterwards, so a merge leaves the rest of a build's randomness alone."""
    import random

    import numpy as np
    import torch

    states = random.getstate(), np.random.get_state()
    with torch.random.fork_rng(devices=[]):
        try:
            yield
        finally:
            random.setstate(states[0])
            np.random.set_state(states[1])


def checked_run(spec: MergeSpec, out: Path, *, shard_size: str, report=print) -> LintReport:
    """Lint (warning loudly), then merge with the pinned model's tokenizer; returns the lint."""
    result = lint(spec)
    for problem in result.problems:
        report(f"WARNING: merge lint: {problem}")
    if spec.config.tokenizer_source is not None or spec.config.tokenizer is not None:
        report(f"merging with mergekit: {result.outcome}; tokenizer built by mergekit (the config sets one)")
        run(spec, out, shard_size=shard_size)
        return result
    report(f"merging with mergekit: {result.outcome}; tokenizer from {result.pinned}")
    local = {ref: folder for folder, ref in spec.names.items()}
    run(spec, out, shard_size=shard_size, tokenizer_from=local.get(result.pinned))
    return result
