"""hubkit publish vs bare HfApi.upload_folder, same files, same local hub; and an unchanged re-publish.

    python benchmarks/publish_bench.py               # ~1 GiB of model files, 7-repo no-op
    python benchmarks/publish_bench.py --mib 64      # quick

Targets (issue #3): publishing ~1 GiB at most 1.2x a bare upload_folder; planning or
re-publishing an unchanged 7-repo release under 1 s per repo with 0 bytes sent. Bare and
hubkit runs alternate, each into a fresh repo, and medians are compared.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from hubkit import pipeline
from hubkit.artifacts import Artifact, BuildContext
from hubkit.config import load_release
from hubkit.hub.auth import Credentials, hf_api
from hubkit.hub.plan import plan_release, plan_repo
from hubkit.hub.publish import publish_release, publish_repo
from hubkit.workspace import Workspace
from tests.conftest import CONFIGS, HubProcess


@dataclass
class Files(Artifact):
    """A model repo of `mib` MiB of random shards plus a config."""

    kind = "files"
    repo_type = "model"
    mib: int = 1
    seed: int = 0

    def spec(self):
        return {"mib": self.mib, "seed": self.seed}

    def build(self, ctx: BuildContext) -> None:
        shard = 256
        left, i = self.mib, 0
        while left > 0:
            n = min(shard, left)
            (ctx.out / f"model-{i:05d}.safetensors").write_bytes(os.urandom(n << 20))
            left, i = left - n, i + 1
        (ctx.out / "config.json").write_text(f'{{"seed": {self.seed}}}\n')


def quiet(msg: str) -> None:
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mib", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    from huggingface_hub.utils import disable_progress_bars

    disable_progress_bars()

    work = Path(tempfile.mkdtemp(prefix="publish-bench-"))
    hub = HubProcess(work / "hub").start()
    try:
        rel = load_release(CONFIGS / "demo.yaml")
        ws = Workspace(work / "ws")
        big = Files("big-model", rel, mib=args.mib)
        pipeline.build(rel, ws, artifacts=[big], report=quiet)
        folder = ws.path("big-model")
        manifest = ws.manifest("big-model")
        times: dict[str, list[float]] = {"bare upload_folder": [], "hubkit publish": []}
        for i in range(args.repeats):
            for tool in times:
                # A fresh hub each run: the store is content-addressed, so a second upload of the
                # same bytes to the same hub would send nothing and flatter whoever runs second.
                fresh = HubProcess(work / f"hub-{tool[:3]}-{i}").start()
                api_i = hf_api(fresh.url, fresh.token)
                t = time.perf_counter()
                if tool == "bare upload_folder":
                    api_i.create_repo("bench/bare")
                    api_i.upload_folder(repo_id="bench/bare", folder_path=folder, ignore_patterns=["manifest.json"])
                else:
                    plan = plan_repo(big, folder, manifest, rel.version, api_i)
                    creds = Credentials(fresh.url, fresh.token)
                    publish_repo(plan, creds, rel, big, manifest, create_pr=False, report=quiet)
                times[tool].append(time.perf_counter() - t)
                fresh.stop()
                shutil.rmtree(fresh.root)
        med = {k: statistics.median(v) for k, v in times.items()}
        size = args.mib / 1024
        print(f"publish {size:.2f} GiB to a local hub, {args.repeats} runs each (median):")
        for k, v in med.items():
            print(f"  {k:20s} {v:7.2f} s  {size / v:5.2f} GiB/s")
        print(f"  ratio hubkit/bare: {med['hubkit publish'] / med['bare upload_folder']:.3f} (target <= 1.2)")

        # An unchanged 7-repo release: publish once, then time plan and publish again.
        seven = [Files(f"repo-{k}", rel, mib=1, seed=k) for k in range(7)]
        ws7 = Workspace(work / "ws7")
        pipeline.build(rel, ws7, artifacts=seven, report=quiet)
        publish_release(rel, ws7, hub.url, hub.token, report=quiet, artifacts=seven)
        blobs = sum(1 for p in (work / "hub" / "blobs").rglob("*") if p.is_file())
        t = time.perf_counter()
        plans = plan_release(rel, ws7, Credentials(hub.url, hub.token), report=quiet, artifacts=seven)
        t_plan = time.perf_counter() - t
        t = time.perf_counter()
        out = publish_release(rel, ws7, hub.url, hub.token, report=quiet, artifacts=seven)
        t_pub = time.perf_counter() - t
        sent = sum(p.upload_bytes for p in plans)
        new_blobs = sum(1 for p in (work / "hub" / "blobs").rglob("*") if p.is_file()) - blobs
        per = f"plan {t_plan / 7 * 1000:.0f} ms/repo, re-publish {t_pub / 7 * 1000:.0f} ms/repo (target < 1000)"
        print(f"unchanged 7-repo release: {per}, {sent} bytes planned, {new_blobs} new blobs")
        print(f"  outcomes: {sorted({o for _, o in out})}")
    finally:
        hub.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
