"""Render each built artifact's card: YAML front matter from huggingface_hub's card-data
classes, a Jinja body (StrictUndefined), and for evaluated models the chart and
`.eval_results/`. Every number comes from results or manifests, formatted here.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from hubkit.artifacts import Artifact
from hubkit.bench import task_id
from hubkit.bench.results import ALPHA, OVERALL_DEFINITION, Results, load_results
from hubkit.config import Release
from hubkit.errors import HubkitError
from hubkit.graph import UP_TO_DATE, Graph
from hubkit.workspace import Workspace

TEMPLATES = {
    "distill-data": "dataset.md.j2",
    "distill-model": "model.md.j2",
    "distill-adapter": "adapter.md.j2",
    "merge": "merge.md.j2",
    "benchmark": "benchmark.md.j2",
    "space": "space.md.j2",
    "evaluation": "evaluation.md.j2",
}
CHART = "benchmark/cmdr_bench.png"
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


def pct(x: float) -> str:
    return f"{x:.1f}"


def results_context(results: Results, repo_id: str | None) -> dict[str, Any]:
    """The benchmark section of a card: table cells, claims, all as formatted strings."""
    from hubkit.bench.cases import grader_kinds

    models = [m.model for m in results.models]
    rows = []
    for cat in results.categories:
        cells = []
        for m in models:
            lo, hi = results.interval(m, cat)
            cells.append(f"{pct(results.rate(m, cat))} ({pct(lo)}-{pct(hi)})")
        rows.append({"category": cat, "grader": results.graders.get(cat) or grader_kinds(cat), "cells": cells})
    overall = []
    for m in models:
        lo, hi = results.interval(m)
        overall.append(f"{results.overall(m):.2f} ({pct(lo)}-{pct(hi)})")
    return {
        "source": results.source,
        "benchmark": results.benchmark,
        "overall_definition": OVERALL_DEFINITION,
        "models": models,
        "this": repo_id,
        "rows": rows,
        "overall": overall,
        "n": str(results.models[0].categories[results.categories[0]].total),
        # Without a model of its own (the evaluation's card): each model's overall line.
        "claims": claims(results, repo_id) if repo_id else [claims(results, m.model)[0] for m in results.models],
        "truncation": truncation_rows(results),
        "chart": CHART,
    }


def truncation_rows(results: Results) -> list[dict[str, Any]]:
    """Share of answers cut by the token limit, per category and model (empty without the data)."""
    if not all(m.truncated is not None for m in results.models):
        return []
    rows = []
    for cat in [*results.categories, None]:
        cells = []
        for m in results.models:
            hit = sum(m.truncated.values()) if cat is None else m.truncated[cat]
            total = sum(c.total for c in m.categories.values()) if cat is None else m.categories[cat].total
            cells.append(f"{pct(100 * hit / total)} ({hit}/{total})")
        rows.append({"category": cat or "**All**", "cells": cells})
    return rows


def leaderboard(results: Results) -> list[dict[str, str]]:
    """The evaluated models ranked by overall score, with its interval and the truncation rate."""
    rows = []
    for m in sorted(results.models, key=lambda m: results.overall(m.model), reverse=True):
        lo, hi = results.interval(m.model)
        total = sum(c.total for c in m.categories.values())
        hit = sum(m.truncated.values()) if m.truncated is not None else None
        rows.append({
            "rank": str(1 + sum(results.overall(o.model) > results.overall(m.model) for o in results.models)),
            "model": m.model, "overall": f"{results.overall(m.model):.2f}", "interval": f"{pct(lo)}-{pct(hi)}",
            "truncated": f"{pct(100 * hit / total)}% ({hit}/{total})" if hit is not None else "not recorded",
        })  # fmt: skip
    return rows


def claims(results: Results, repo_id: str) -> list[str]:
    """Comparisons in prose, computed from the results, with their significance."""
    out = []
    ranked = sorted(results.models, key=lambda m: results.overall(m.model), reverse=True)
    mine = results.overall(repo_id)
    rank = 1 + sum(results.overall(m.model) > mine for m in ranked)  # ties share a rank
    tied = sum(results.overall(m.model) == mine for m in ranked) - 1
    tie = f" (tied with {tied} other{'s' if tied > 1 else ''})" if tied else ""
    out.append(f"Overall ({OVERALL_DEFINITION}): {mine:.2f}%, rank {rank}{tie} of {len(ranked)} evaluated models.")
    claimed = results.claimed_overall.get(repo_id)
    if claimed is not None and abs(claimed - round(mine, 2)) >= 0.01:
        out.append(
            f"The source states an overall score of {claimed:.2f} for this model; the mean of its own "
            f"category rates is {mine:.2f}. This card uses the latter."
        )
    for other in [m.model for m in ranked if m.model != repo_id]:
        higher = sum(results.rate(repo_id, c) > results.rate(other, c) for c in results.categories)
        lower = sum(results.rate(repo_id, c) < results.rate(other, c) for c in results.categories)
        sig = [
            c for c in results.categories
            if results.rate(repo_id, c) != results.rate(other, c) and results.p_value(repo_id, other, c) < ALPHA
        ]  # fmt: skip
        p = results.p_value(repo_id, other)
        diff = mine - results.overall(other)
        verdict = "significant" if p < ALPHA else "not significant"
        out.append(
            f"Against {other}: higher in {higher} and lower in {lower} of {len(results.categories)} categories "
            f"({len(sig)} of the differences significant at p<{ALPHA}); overall {diff:+.2f} points "
            f"(p={p:.3f}, {verdict})."
        )
    return out


def load_release_results(release: Release, workspace: Workspace | None = None) -> Results | None:
    """hubkit's own evaluation when it is current, else the configured results file, else None."""
    if workspace is not None and release.benchmark is not None and release.benchmark.evaluate:
        from hubkit.artifacts.evaluation import RESULTS, details_name

        name = details_name(release.benchmark)
        if Graph(release, workspace).state(name).status == UP_TO_DATE:
            return Results.model_validate_json((workspace.path(name) / RESULTS).read_text())
    if release.benchmark is None or release.benchmark.results is None:
        return None
    return load_results(release.resolve(release.benchmark.results))


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
        from hubkit.cards.charts import grouped_bars

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


def render_release(release: Release, workspace: Workspace, report=print) -> dict[str, list[str]]:
    """Write the card of every built, up-to-date artifact into its folder; returns files by artifact."""
    results = load_release_results(release, workspace)
    graph = Graph(release, workspace)
    written: dict[str, list[str]] = {}
    for name in graph.order:
        if graph.state(name).status != UP_TO_DATE:
            continue
        folder = workspace.path(name)
        files = render_artifact(graph.nodes[name], folder, release, results)
        manifest = workspace.manifest(name)
        for old in manifest.get("card_files", {}):
            if old not in files:
                (folder / old).unlink(missing_ok=True)
        for rel, data in files.items():
            (folder / rel).parent.mkdir(parents=True, exist_ok=True)
            (folder / rel).write_bytes(data)
        from hubkit.workspace import file_sha256

        manifest["card_files"] = {
            rel: {"size": len(data), "sha256": file_sha256(folder / rel)} for rel, data in sorted(files.items())
        }
        Workspace.save_manifest(folder, manifest)
        written[name] = sorted(files)
        report(f"{name}: card rendered ({', '.join(sorted(files))})")
    return written
