"""Distillation datasets: prompts answered by a teacher model, with reasoning traces."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hubkit.artifacts.base import Artifact, BuildContext, file_digest, size_category, write_parquet
from hubkit.charts import length_histogram
from hubkit.config import DistillDataset, HubPrompts, Release, read_yaml
from hubkit.distill.filters import reason_kind

STATS = "stats.json"
CHART = "lengths.png"
TRAIN, REJECTED = "data/train-00000-of-00001.parquet", "data/rejected-00000-of-00001.parquet"


def _features(rejected: bool = False):
    from datasets import Features, Value

    text = Value("string")
    cols = {
        "id": text, "prompt": text, "reasoning": text, "answer": text,
        "messages": [{"role": text, "content": text, "reasoning_content": text}],
        "domain": text, "source": text, "teacher": text, "finish_reason": text,
        "prompt_tokens": Value("int32"), "completion_tokens": Value("int32"), "reasoning_tokens": Value("int32"),
        "seed": Value("int64"), "reference": text, "verified": Value("bool"),
    }  # fmt: skip
    if rejected:
        cols["reason"] = text
    return Features(cols)


@dataclass
class DistillData(Artifact):
    kind = "distill-data"
    repo_type = "dataset"
    section: DistillDataset | None = None

    @property
    def where(self) -> str:
        i = next(i for i, d in enumerate(self.release.datasets) if d.name == self.name)
        return f"{self.release.source}: datasets[{i}]"

    def spec(self) -> dict[str, Any]:
        from hubkit.bench.cases import cases_fingerprint

        d = self.section
        if d.source == "hub":  # the rest of the entry describes it for the card
            return self.hub_spec()
        synth = d.synthesize
        return {
            "dataset": d.model_dump(
                mode="json", exclude={"teacher", "pretty_name", "terms", "private", "source", "repo", "revision"}
            ),
            "teacher": d.teacher.identity(),
            "prompts_sha256": file_digest(self.release, d.prompts) if isinstance(d.prompts, Path) else None,
            "seeds_sha256": file_digest(self.release, synth.seeds) if synth else None,
            "template_sha256": file_digest(self.release, synth.template) if synth and synth.template else None,
            "benchmark_cases": cases_fingerprint() if d.filters.decontaminate else None,
        }

    def _prompts(self, client, ctx: BuildContext) -> tuple[list, dict[str, Any]]:
        from hubkit.distill import generate, prompts

        d, rel = self.section, self.release
        out, source = [], {}
        if isinstance(d.prompts, HubPrompts):
            h = d.prompts
            out += prompts.load_hub(h.hub, h.revision, h.split, h.column)
            source["hub"] = {"repo": h.hub, "revision": h.revision, "split": h.split, "column": h.column}
        elif d.prompts is not None:
            out += prompts.load_file(rel.resolve(d.prompts))
            source["file"] = {"name": d.prompts.name, "sha256": file_digest(rel, d.prompts), "rows": len(out)}
        if d.synthesize:
            s = d.synthesize
            seeds, _ = read_yaml(rel.resolve(s.seeds))  # its shape was checked when the config was loaded
            template = (rel.resolve(s.template) if s.template else generate.SYNTH_TEMPLATE).read_text()
            synthesized = generate.synthesize(client, d.teacher, d.sampling, seeds, d.domains, s.per_domain, template,
                                              ctx.cache, report=ctx.report)  # fmt: skip
            out += synthesized
            source["synthesized"] = {"per_domain": s.per_domain, "questions": len(synthesized),
                                     "asked": s.per_domain * len(d.domains)}  # fmt: skip
        return out, source

    def build(self, ctx: BuildContext) -> None:
        from hubkit.bench.cases import load_cases
        from hubkit.distill import generate
        from hubkit.llm.client import ChatClient, serving

        d = self.section
        if d.source == "hub":
            return self.take_from_hub(ctx)
        with serving(d.teacher) as base_url:
            client = ChatClient(d.teacher, base_url, where=f"{self.where}.teacher")
            pool, source = self._prompts(client, ctx)
            benchmark = {c.id: c.message() for c in load_cases()} if d.filters.decontaminate else {}
            kept, screened, hits = generate.screen(pool, d.filters, benchmark)
            ctx.report(f"{self.name}: {len(pool)} prompts, {len(screened)} screened out "
                       f"({len(hits)} overlap CMDR-Bench), {len(kept)} to answer from")  # fmt: skip
            out = generate.generate(client, d.teacher, d.sampling, kept, d.size, d.filters, ctx.cache,
                                    where=self.name, price=d.teacher.price, report=ctx.report)  # fmt: skip
        rejected = screened + out.rejected
        write_parquet(out.accepted, _features(), ctx.out / TRAIN)
        write_parquet(rejected, _features(rejected=True), ctx.out / REJECTED)
        if png := length_histogram(out.accepted):
            (ctx.out / CHART).write_bytes(png)
        reasons = Counter(reason_kind(r["reason"]) for r in rejected)
        checked = [r["verified"] for r in out.accepted if r["verified"] is not None]
        t = out.tally
        stats = {
            "teacher": d.teacher.model, "endpoint": d.teacher.backend, "stream": d.teacher.stream,
            "extra_body": d.teacher.extra_body, "sampling": d.sampling.model_dump(mode="json"),
            "prompt_source": source, "prompts": len(pool), "answered": len(out.accepted) + len(out.rejected),
            "accepted": len(out.accepted), "rejected": len(rejected), "rejected_by_reason": dict(reasons),
            "tokens": {"prompt": t.prompt_tokens, "completion": t.completion_tokens, "reasoning": t.reasoning_tokens},
            "requests": t.answered, "cost_usd": round(t.cost, 4) if t.cost is not None else None,
            "decontamination": {"checked": len(pool) if d.filters.decontaminate else 0, "removed": len(hits),
                                "ngram": d.filters.contamination_ngram,
                                "threshold": d.filters.contamination_threshold, "hits": hits},
            "verified": {"checked": len(checked), "passed": sum(checked)},
            "domains": {dom: sum(r["domain"] == dom for r in out.accepted) for dom in
                        sorted({r["domain"] for r in out.accepted})},
        }  # fmt: skip
        (ctx.out / STATS).write_text(json.dumps(stats, indent=1, sort_keys=True) + "\n")

    def card_context(self, path: Path) -> dict[str, Any]:
        d = self.section
        stats = json.loads((path / STATS).read_text())
        answered = max(1, stats["answered"])
        return {
            **super().card_context(path),
            "pretty_name": d.pretty_name or d.name,
            "teacher": d.teacher.model,
            "endpoint": "OpenAI-compatible API" if d.teacher.backend == "openai_compat" else "scripted offline teacher",
            "domains": list(d.domains),
            "size": str(stats["accepted"]),
            "stats": stats,
            "acceptance": f"{100 * stats['accepted'] / answered:.1f}",
            "reasons": [
                {"reason": k, "count": str(v), "share": f"{100 * v / max(1, stats['rejected']):.1f}"}
                for k, v in sorted(stats["rejected_by_reason"].items())
            ],
            "chart": CHART if (path / CHART).exists() else None,
            "terms": d.terms,
            "students": [self.release.repo_id(m.name) for m in self.release.models if m.dataset == d.name],
        }

    def card_data(self, ctx: dict[str, Any]):
        from huggingface_hub import DatasetCardData

        rel = self.release
        return DatasetCardData(
            license=rel.license, language=rel.language, pretty_name=ctx["pretty_name"],
            task_categories=["text-generation"], size_categories=[size_category(int(ctx["size"]))],
            tags=["reasoning", "distillation", "synthetic", "hubkit"],
            configs=[{"config_name": "default", "data_files": [{"split": "train", "path": "data/train-*"},
                                                               {"split": "rejected", "path": "data/rejected-*"}]}],
        )  # fmt: skip


def artifacts(release: Release) -> list[Artifact]:
    return [DistillData(d.name, release, section=d) for d in release.datasets]


def problems(release: Release) -> list[tuple[tuple, str]]:
    """Checked when the config is loaded: a synthesis's seed questions cover its domains."""
    from hubkit.errors import ConfigError

    out = []
    for i, d in enumerate(release.datasets):
        if d.synthesize is None:
            continue
        loc, path = ("datasets", i, "synthesize", "seeds"), release.resolve(d.synthesize.seeds)
        try:
            seeds, _ = read_yaml(path)
        except ConfigError as exc:
            out.append((loc, exc.problems[0]))
            continue
        if not isinstance(seeds, dict) or not all(
            isinstance(v, list) and v and all(isinstance(q, str) for q in v) for v in seeds.values()
        ):
            out.append((loc, f"{path}: expected {{domain: [seed question, ...]}}"))
        elif missing := [dom for dom in d.domains if dom not in seeds]:
            out.append((loc, f"{path}: no seed questions for domain {missing[0]!r}"))
    return out
