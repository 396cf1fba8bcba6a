"""mergekit glue: read and check a merge config, resolve its models to local folders, plan, lint, run.

mergekit does the merging (its pydantic config, method registry, planner and executor), for
any method it has; hubkit adds what a release needs around it: references resolved to built
artifacts, one-line errors before any weight is read, a lint of what the plan really does,
and the tokenizer of the model the vocabulary is pinned to.

    spec.py  read (the file alone), load (models resolved, checked, planned)
    plan.py  mergekit's plan, tensor by tensor, with the rule behind every value
    lint.py  what the plan says, per method
    run.py   lint, then merge
"""

from __future__ import annotations

from hubkit.merge.run import TOKENIZER_FILES, checked_run, run
from hubkit.merge.spec import (
    METHODS,
    MergeSpec,
    Written,
    check_compatible,
    known_methods,
    load,
    model_refs,
    quick_problems,
    read,
    tensor_shapes,
)

__all__ = [
    "METHODS", "TOKENIZER_FILES", "MergeSpec", "Written", "check_compatible", "checked_run", "known_methods", "load",
    "model_refs", "quick_problems", "read", "run", "tensor_shapes",
]  # fmt: skip
