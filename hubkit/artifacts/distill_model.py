"""Distilled models: the base model fine-tuned (LoRA/QLoRA SFT) on one distillation dataset.

The published weights are the adapter merged into a bf16 reload of the base, with the base's
tokenizer, chat template and generation config; `training/` holds the metrics and loss curve.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.artifacts.base import Artifact, BuildContext, file_digest, model_facts
from hubkit.config import DistilledModel, Release
from hubkit.errors import UsageError

ADAPTER = "adapter"  # the LoRA adapter, kept for <name>-adapter; not published with the merged model
METRICS = "training/metrics.json"
CHART = "training/loss.png"
RECIPE = "training/recipe.yaml"


def dataset_rows(folder: Path) -> list[dict[str, Any]]:
    """The train split of a built distillation dataset."""
    import pyarrow.parquet as pq

    files = sorted((folder / "data").glob("train-*.parquet"))
    if not files:
        raise UsageError(f"{folder}: no data/train-*.parquet; rebuild the dataset")
    return [row for f in files for row in pq.read_table(f, columns=["id", "prompt", "reasoning", "answer"]).to_pylist()]


def _fixture_base(cache: Path, fx) -> Path:
    """The demo's base: a tiny random Qwen3 made offline, once per fixture spec (concurrent
    processes race safely; another seed or size is another folder, never the old weights)."""
    from hubkit.workspace import fingerprint

    folder = cache / f"base-{fingerprint(fx.model_dump(mode='json'))[:12]}"
    if (folder / "config.json").is_file():
        return folder
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".base.", dir=folder.parent))
    from hubkit.offline import save_tiny_qwen3

    save_tiny_qwen3(tmp, seed=fx.seed, **fx.model_dump(exclude={"seed"}))
    try:
        os.rename(tmp, folder)
    except OSError:  # another process made it first: same seed, same weights
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


@dataclass
class DistillModel(Artifact):
    kind = "distill-model"
    repo_type = "model"
    unpublished = (ADAPTER,)
    placeable = True
    section: DistilledModel | None = None

    def spec(self) -> dict[str, Any]:
        s = self.section
        if s.source == "hub":  # the rest of the entry describes it for the card
            return self.hub_spec()
        return {
            # Placement is not part of the model: moving its training to a Job keeps it up to date.
            "model": s.model_dump(mode="json", exclude={"source", "repo", "revision", "compute"}),
            "train_config_sha256": file_digest(self.release, s.train.config),
        }

    @property
    def extras(self) -> tuple[str, ...]:
        t = self.section.train
        return ("gpu",) if t.framework == "unsloth" or t.method == "qlora" else ()

    def check(self, machine: bool = True) -> None:
        """Fail before anything is built: a recipe TRL/PEFT refuse, or a machine that cannot train."""
        from hubkit.train.recipe import load_recipe

        if self.section.source == "hub":
            return
        load_recipe(self.release.resolve(self.section.train.config))
        if not machine:
            return
        from hubkit.train.sft import machine_problem

        if problem := machine_problem(self.section.train):
            raise UsageError(f"{self.name}: {problem}")

    def base(self, cache: Path) -> tuple[Path, str]:
        """(folder of the base model, the revision it is at)."""
        s = self.section
        if s.base_fixture:
            return _fixture_base(cache, s.base_fixture), f"fixture seed {s.base_fixture.seed}"
        from huggingface_hub import snapshot_download

        path = Path(snapshot_download(s.base_model, revision=s.base_revision))
        return path, path.name  # snapshot folders are named by commit

    def job(self, inputs: dict[str, Path], contents: dict[str, str], cache: Path, report):
        from hubkit.train.recipe import load_recipe
        from hubkit.train.sft import TrainJob
        from hubkit.workspace import fingerprint

        s = self.section
        data, content = inputs[s.dataset], contents[s.dataset]
        base, revision = self.base(cache)
        return TrainJob(
            base=base, rows=dataset_rows(data), recipe=load_recipe(self.release.resolve(s.train.config)),
            spec=s.train, work=cache / "run", key=fingerprint({"spec": self.spec(), "data": content}), report=report,
            facts={"base_model": s.base_model, "base_revision": revision, "dataset": self.release.repo_id(s.dataset),
                   "dataset_content": content},
        )  # fmt: skip

    def build(self, ctx: BuildContext) -> None:
        from hubkit.charts import line_chart
        from hubkit.train.sft import merge_adapter, train

        s = self.section
        if s.source == "hub":
            from hubkit.bench.summary import CHART as EVAL_CHART  # the card's, rendered for this release

            return self.take_from_hub(ctx, skip=(EVAL_CHART,))
        job = self.job(ctx.inputs, ctx.contents, ctx.cache, lambda m: ctx.report(f"{self.name}: {m}"))
        ctx.report(f"{self.name}: training {self.section.train.method} ({self.section.train.framework}) "
                   f"on {len(job.rows)} rows of {self.section.dataset}")  # fmt: skip
        summary = train(job)
        merge_adapter(job.base, job.work / "adapter", ctx.out)
        # PEFT writes a stub README.md beside the adapter; the adapter repo gets hubkit's card instead.
        shutil.copytree(job.work / "adapter", ctx.out / ADAPTER, ignore=shutil.ignore_patterns("README.md"))
        (ctx.out / "training").mkdir()
        (ctx.out / METRICS).write_text(json.dumps(summary, indent=1) + "\n")
        shutil.copyfile(self.release.resolve(self.section.train.config), ctx.out / RECIPE)
        history = summary["history"]
        (ctx.out / CHART).write_bytes(line_chart(
            {"train loss": [(h["step"], h["loss"]) for h in history if "loss" in h],
             "eval loss": [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]},
            title=f"{self.name}: loss", xlabel="optimizer step", ylabel="loss (completion tokens)",
        ))  # fmt: skip
        final_eval = summary["final_eval_loss"]
        ctx.report(f"{self.name}: {summary['steps']} steps, final train loss {summary['final_train_loss']:.3f}"
                   + (f", eval loss {final_eval:.3f}" if final_eval is not None else ""))  # fmt: skip

    def card_context(self, path: Path) -> dict[str, Any]:
        s = self.section
        data = next(d for d in self.release.datasets if d.name == s.dataset)
        metrics = json.loads((path / METRICS).read_text()) if (path / METRICS).is_file() else None
        return {
            **super().card_context(path),
            "base_model": s.base_model,
            "base_model_relation": "finetune",
            "dataset": self.release.repo_id(s.dataset),
            "teacher": data.teacher.model,
            "base_fixture": s.base_fixture is not None,
            "train": {k: str(v) for k, v in s.train.model_dump(mode="json").items() if v is not None},
            "training": _training_context(metrics) if metrics else None,
            "facts": model_facts(path),
        }

    def card_data(self, ctx: dict[str, Any]):
        from huggingface_hub import ModelCardData

        rel, s = self.release, self.section
        tags = ["reasoning", "distillation", s.train.method, "hubkit"]
        return ModelCardData(
            license=rel.license, language=rel.language, library_name="transformers",
            pipeline_tag="text-generation", tags=tags, base_model=s.base_model,
            base_model_relation="finetune", datasets=[rel.repo_id(s.dataset)],
        )  # fmt: skip


def _fmt(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.4f}"


def _quantized(q: dict[str, Any]) -> str:
    """The 4-bit layers a QLoRA run trained on, as loaded (metrics.json `quantized`)."""
    double = ", double quantisation" if q["double_quant"] else ""
    return (f"{q['linear_4bit']} linear layers in {'/'.join(q['quant_type'])}{double}, "
            f"compute {'/'.join(q['compute_dtype'])} (bitsandbytes)")  # fmt: skip


def _training_context(m: dict[str, Any]) -> dict[str, Any]:
    """What the card shows of a run: recipe, data, hardware, time, tokens, losses, library versions."""
    rows = m["rows"]
    recipe = m["recipe"]
    return {
        "recipe": {**{f"lora.{k}": str(v) for k, v in recipe["lora"].items()},
                   **{f"sft.{k}": str(v) for k, v in recipe["sft"].items()},
                   "max_length (used)": str(m["max_length"]), "eval_fraction": str(recipe["eval_fraction"])},
        "data": {"dataset": m["dataset"], "base revision": m["base_revision"],
                 "rows": f"{rows['train']} train, {rows['eval']} held out, {rows['too_long']} too long "
                         f"(of {rows['dataset']})"},
        "run": {"hardware": m["hardware"], "wall time": f"{m['wall_time_s']} s", "optimizer steps": str(m["steps"]),
                "epochs": str(m["epochs"]), "tokens seen": f"{m['tokens_seen']:,}",
                "final train loss": _fmt(m["final_train_loss"]), "final eval loss": _fmt(m["final_eval_loss"]),
                **({"resumed from step": str(m["resumed_from_step"])} if m.get("resumed_from_step") else {}),
                **({"4-bit layers": _quantized(q)} if (q := m.get("quantized")) else {})},
        "libraries": ", ".join(f"{k} {v}" for k, v in m["libraries"].items()),
        "chart": CHART,
    }  # fmt: skip


@dataclass
class DistillAdapter(Artifact):
    """A distilled model's LoRA adapter as its own repo (`publish_adapter`), for PEFT users."""

    kind = "distill-adapter"
    repo_type = "model"
    section: DistilledModel | None = None

    def spec(self) -> dict[str, Any]:
        return {"model": self.section.name}

    def build(self, ctx: BuildContext) -> None:
        model = self.section.name
        src = ctx.inputs[model] / ADAPTER
        if not (src / "adapter_config.json").is_file():
            raise UsageError(f"{src}: no adapter; rebuild the model: hubkit build --force {model}")
        shutil.copytree(src, ctx.out, dirs_exist_ok=True, ignore=shutil.ignore_patterns("README.md"))
        cfg = json.loads((ctx.out / "adapter_config.json").read_text())
        cfg["base_model_name_or_path"] = self.section.base_model  # not the local folder it was trained from
        (ctx.out / "adapter_config.json").write_text(json.dumps(cfg, indent=2, sort_keys=True) + "\n")
        shutil.copytree(ctx.inputs[model] / "training", ctx.out / "training")

    def card_context(self, path: Path) -> dict[str, Any]:
        s = self.section
        cfg = json.loads((path / "adapter_config.json").read_text())
        size = (path / "adapter_model.safetensors").stat().st_size
        return {
            **super().card_context(path),
            "base_model": s.base_model,
            "base_revision": s.base_revision,
            "merged": self.release.repo_id(s.name),
            "dataset": self.release.repo_id(s.dataset),
            "lora": {k: str(cfg.get(k)) for k in ("r", "lora_alpha", "lora_dropout", "target_modules", "peft_type")},
            "size_mib": f"{size / 2**20:.1f}",
        }

    def card_data(self, ctx: dict[str, Any]):
        from huggingface_hub import ModelCardData

        rel, s = self.release, self.section
        return ModelCardData(
            license=rel.license, language=rel.language, library_name="peft", pipeline_tag="text-generation",
            tags=["reasoning", "distillation", "lora", s.train.method, "hubkit"], base_model=s.base_model,
            base_model_relation="adapter", datasets=[rel.repo_id(s.dataset)],
        )  # fmt: skip


def artifacts(release: Release) -> list[Artifact]:
    out: list[Artifact] = []
    for m in release.models:
        # A model taken from the Hub needs no dataset built: it is an input by its commit alone.
        out.append(DistillModel(m.name, release, inputs=(m.dataset,) if m.source == "build" else (), section=m))
        if m.publish_adapter:
            out.append(DistillAdapter(f"{m.name}-adapter", release, inputs=(m.name,), section=m))
    return out
