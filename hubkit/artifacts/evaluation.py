"""The evaluation: every model of `benchmark.evaluate` on CMDR-Bench, published as a details dataset.

Inputs are the evaluated release models and the benchmark, so a rebuilt model makes the
evaluation stale; rebuilding it asks only that model again (the others' samples come from
their journals). Output: per-sample details (parquet), `results.json` (the schema of
hubkit/bench/results.py), which model cards and `.eval_results` read, and `summary.json`
(the formatted table, intervals, truncation and claims), which the Space reads by repo id.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.artifacts.base import Artifact, BuildContext, size_category, write_parquet
from hubkit.config import Benchmark, Release, details_name

RESULTS = "results.json"
SUMMARY = "summary.json"  # the card's benchmark section as data: what the Space's Benchmark tab shows
DETAILS = "data/details-00000-of-00001.parquet"


def _features():
    from datasets import Features, Value

    text, i32 = Value("string"), Value("int32")
    return Features({
        "model": text, "case": text, "category": text, "level": Value("int8"), "sample": i32, "prompt": text,
        "reasoning": text, "answer": text, "finish_reason": text, "closed": Value("bool"), "prompt_tokens": i32,
        "completion_tokens": i32, "reasoning_tokens": i32, "passed": Value("bool"), "grader": text, "detail": text,
        "seed": Value("int64"), "sampling": text, "backend": text,
    })  # fmt: skip


@dataclass
class Evaluation(Artifact):
    kind = "evaluation"
    repo_type = "dataset"
    placeable = True
    section: Benchmark | None = None

    def spec(self) -> dict[str, Any]:
        from hubkit.bench.evaluate import setup

        return {
            "evaluate": [self.release.model_ref(r) for r in self.section.evaluate],
            "setup": setup(self.section),
            "outputs": [RESULTS, SUMMARY, DETAILS],  # a new output file makes built evaluations stale
        }

    @property
    def extras(self) -> tuple[str, ...]:
        return ("vllm",) if self.section.backend.kind == "vllm" else ()

    def _targets(self, ctx: BuildContext) -> list:
        from hubkit.bench.evaluate import Target

        out = []
        for ref in self.section.evaluate:
            if ref in ctx.inputs:
                out.append(Target(self.release.repo_id(ref), str(ctx.inputs[ref]), ctx.contents[ref]))
            else:
                out.append(Target(ref, ref, ref))  # a Hub model, e.g. the base
        return out

    def build(self, ctx: BuildContext) -> None:
        from hubkit.bench.evaluate import evaluate
        from hubkit.journal import records

        b = self.section
        results, journals = evaluate(b, self.release.repo_id(b.name), self._targets(ctx), ctx.cache, report=ctx.report)
        features, rows = _features(), []
        for path in journals.values():
            for r in sorted(records(path), key=lambda r: (r["case"], r["sample"])):
                rows.append({k: r.get(k) for k in features} | {"sampling": json.dumps(r["sampling"], sort_keys=True)})
        write_parquet(rows, features, ctx.out / DETAILS)
        (ctx.out / RESULTS).write_text(results.model_dump_json(indent=1) + "\n")
        from hubkit.bench.summary import CHART, results_context
        from hubkit.charts import grouped_bars

        summary = results_context(results, None)
        (ctx.out / SUMMARY).write_text(json.dumps(summary, indent=1, ensure_ascii=False) + "\n")

        (ctx.out / CHART).parent.mkdir(parents=True)
        (ctx.out / CHART).write_bytes(grouped_bars(results))

    def card_context(self, path: Path) -> dict[str, Any]:
        from hubkit.bench.results import Results
        from hubkit.bench.summary import results_context

        b = self.section
        results = Results.model_validate_json((path / RESULTS).read_text())
        return {
            **super().card_context(path),
            "pretty_name": f"{b.pretty_name or b.name}: evaluation details",
            "benchmark": self.release.repo_id(b.name),
            "evaluated": [m.model for m in results.models],
            "samples": str(b.samples),
            "rows": str(b.samples * b.cases * len(results.models)),
            "backend": b.backend.kind,
            "sampling": {k: str(v) for k, v in b.sampling.model_dump().items()},
            "judge": b.judge.model if b.judge else None,
            "table": results_context(results, None),
        }

    def card_data(self, ctx: dict[str, Any]):
        from huggingface_hub import DatasetCardData

        rel = self.release
        return DatasetCardData(
            license=rel.license, language=rel.language, pretty_name=ctx["pretty_name"],
            task_categories=["text-generation"], size_categories=[size_category(int(ctx["rows"]))],
            tags=["evaluation", "details", "reasoning", "hubkit"],
            configs=[{"config_name": "default", "data_files": [{"split": "details", "path": "data/details-*"}]}],
        )  # fmt: skip


def artifacts(release: Release) -> list[Artifact]:
    b = release.benchmark
    if b is None or not b.evaluate:
        return []
    models = [r for r in b.evaluate if r in release.model_names()]
    return [Evaluation(details_name(b), release, inputs=(*models, b.name), section=b)]
