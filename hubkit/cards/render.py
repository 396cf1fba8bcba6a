"""One artifact's card: YAML front matter from huggingface_hub's card-data classes, a Jinja
body (StrictUndefined), and for evaluated models the chart and `.eval_results/`. Every number
comes from results (formatted by hubkit.bench.summary) or the artifact's own files.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from hubkit.bench import task_id
from hubkit.bench.results import OVERALL_DEFINITION, Results
from hubkit.bench.summary import CHART, leaderboard, results_context
from hubkit.config import Release
from hubkit.errors import HubkitError

if TYPE_CHECKING:
    from hubkit.artifacts import Artifact

TEMPLATES = {
    "distill-data": "dataset.md.j2",
    "distill-model": "model.md.j2",
    "distill-adapter": "adapter.md.j2",
    "merge": "merge.md.j2",
    "benchmark": "benchmark.md.j2",
    "space": "space.md.j2",
    "evaluation": "evaluation.md.j2",
}
EVAL_FILE = ".eval_results/cmdr_bench.yaml"


def environment(folder: Path):
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    return Environment(
        loader=FileSystemLoader(str(folder)),
        undefined=StrictUndefined,  # a missing value fails the render instead of printing nothing
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def render_artifact(art: Artifact, folder: Path, release: Release, results: Results | None) -> dict[str, bytes]:
    """Files of the card (README.md, and for evaluated models the chart and eval results)."""
    ctx: dict[str, Any] = {
        **art.card_context(folder),
        "release": {"version": release.version, "namespace": release.namespace, "license": release.license},
        "results": None,
        # The benchmark's own card ranks the models evaluated on it.
        "leaderboard": leaderboard(results) if results is not None and results.benchmark == art.repo_id else None,
        "results_source": results.source if results is not None else None,
    }
    files: dict[str, bytes] = {}
    evaluated = results is not None and any(m.model == art.repo_id for m in results.models)
    if evaluated:
        from hubkit.charts import grouped_bars

        ctx["results"] = results_context(results, art.repo_id)
        files[CHART] = grouped_bars(results, highlight=art.repo_id)
        files[EVAL_FILE] = eval_results_yaml(results, art.repo_id).encode()
    data = art.card_data(ctx)
    if evaluated:
        data.eval_results = model_index(results, art.repo_id)
        data.model_name = art.repo_id
    template = environment(release.resolve(release.card_templates)).get_template(TEMPLATES[art.kind])
    try:
        body = template.render(**ctx)
    except Exception as exc:  # jinja's UndefinedError and friends: name the template
        raise HubkitError(f"{template.filename}: {exc}") from None
    body = re.sub(r"\n{3,}", "\n\n", body.strip())
    files["README.md"] = f"---\n{data.to_yaml()}\n---\n\n{body}\n".encode()
    return files


def eval_results_yaml(results: Results, repo_id: str) -> str:
    from huggingface_hub import EvalResultEntry
    from huggingface_hub._eval_results import eval_result_entries_to_yaml

    common = {"dataset_id": results.benchmark, "dataset_revision": results.dataset_revision,
              "notes": f"{results.source}; overall = {OVERALL_DEFINITION}"}  # fmt: skip
    entries = [EvalResultEntry(task_id=task_id(c), value=round(results.rate(repo_id, c), 2), **common)
               for c in results.categories]  # fmt: skip
    entries.append(EvalResultEntry(task_id="overall", value=round(results.overall(repo_id), 2), **common))
    return yaml.safe_dump(eval_result_entries_to_yaml(entries), sort_keys=False, allow_unicode=True)


def model_index(results: Results, repo_id: str):
    from huggingface_hub import EvalResult

    common = {"task_type": "text-generation", "dataset_type": results.benchmark, "dataset_name": "CMDR-Bench",
              "metric_type": "accuracy", "dataset_revision": results.dataset_revision, "source_name": None}  # fmt: skip
    common = {k: v for k, v in common.items() if v is not None}
    out = [EvalResult(metric_value=round(results.rate(repo_id, c), 2), metric_name=f"{c} pass rate",
                      dataset_split="test", **common) for c in results.categories]  # fmt: skip
    out.append(EvalResult(metric_value=round(results.overall(repo_id), 2), metric_name="overall", dataset_split="test",
                          **common))  # fmt: skip
    return out
