"""Training throughput and peak memory: PEFT vs Unsloth, LoRA vs QLoRA, on a small random Qwen3.

    python benchmarks/train_bench.py                         # every combination this machine can run
    python benchmarks/train_bench.py --hidden 256 --layers 4 --steps 10   # a quick run

Each combination trains in its own process (hubkit's real code path: recipe, examples, TRL
SFTTrainer) on the same rows, one after another in one run, so the ratios compare like with
like. Reported: tokens/s of the training loop (non-padding tokens seen / train wall time), peak
RSS of the process and, on CUDA, peak GPU memory. Combinations the machine cannot run (QLoRA
and Unsloth need CUDA) are printed as "not available" with the reason; no figure is invented.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
from pathlib import Path

COMBOS = [("peft", "lora"), ("peft", "qlora"), ("unsloth", "lora"), ("unsloth", "qlora")]


def rows(n: int) -> list[dict]:
    from hubkit.offline.teacher import Options, script

    out = []
    for i in range(n):
        prompt = f"Question {i}: how would you estimate the cost of step {i} in a pipeline of {i + 3} stages?"
        reasoning, answer = script("bench-teacher", prompt, i, Options())
        out.append({"id": f"q{i}", "prompt": prompt, "reasoning": reasoning, "answer": answer})
    return out


def one(args) -> dict:
    """Train once in this process; print a JSON line with the figures."""
    import torch

    from hubkit.config import TrainSpec
    from hubkit.offline import save_tiny_qwen3
    from hubkit.train.recipe import Recipe
    from hubkit.train.sft import TrainJob, machine_problem, train

    spec = TrainSpec(method=args.method, framework=args.framework, precision=args.precision)
    if problem := machine_problem(spec):
        return {"framework": args.framework, "method": args.method, "not_available": problem}
    work = Path(tempfile.mkdtemp(prefix="train-bench-"))
    base = save_tiny_qwen3(work / "base", seed=0, layers=args.layers, hidden_size=args.hidden,
                           intermediate_size=args.hidden * 3, heads=max(1, args.hidden // 64),
                           kv_heads=max(1, args.hidden // 128), initializer_range=0.1)  # fmt: skip
    recipe = Recipe(
        eval_fraction=0, lora={"r": 16, "lora_alpha": 32, "target_modules": "all-linear"},
        sft={"max_steps": args.steps, "per_device_train_batch_size": args.batch, "learning_rate": 1e-3,
             "save_steps": args.steps, "seed": 0, "gradient_checkpointing": args.gradient_checkpointing},
    )  # fmt: skip
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    job = TrainJob(base=base, rows=rows(args.rows), recipe=recipe, spec=spec, work=work / "run", key="bench",
                   report=lambda _: None)  # fmt: skip
    summary = train(job)
    return {
        "framework": args.framework, "method": args.method, "steps": summary["steps"],
        "tokens": summary["tokens_seen"], "seconds": summary["wall_time_s"],
        "tokens_per_s": summary["tokens_seen"] / max(summary["wall_time_s"], 1e-9),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "peak_gpu_mib": torch.cuda.max_memory_allocated() / 2**20 if torch.cuda.is_available() else None,
        "hardware": summary["hardware"],
    }  # fmt: skip


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--layers", type=int, default=8)
    p.add_argument("--rows", type=int, default=64)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=4)
    p.add_argument("--precision", default=None, help="default: bfloat16 on CUDA, float32 on CPU")
    p.add_argument("--gradient-checkpointing", action="store_true")
    p.add_argument("--one", nargs=2, metavar=("FRAMEWORK", "METHOD"), help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.precision is None:
        import torch

        args.precision = "bfloat16" if torch.cuda.is_available() else "float32"
    if args.one:
        args.framework, args.method = args.one
        print(json.dumps(one(args)))
        return

    forwarded = sys.argv[1:]
    results = []
    for framework, method in COMBOS:
        r = subprocess.run([sys.executable, __file__, *forwarded, "--precision", args.precision,
                            "--one", framework, method], capture_output=True, text=True)  # fmt: skip
        line = r.stdout.strip().splitlines()[-1] if r.stdout.strip() else ""
        if r.returncode != 0 or not line.startswith("{"):
            tail = (r.stderr.strip().splitlines() or ["no output"])[-1]
            results.append({"framework": framework, "method": method, "not_available": f"failed: {tail}"})
        else:
            results.append(json.loads(line))
    print(f"random Qwen3: hidden {args.hidden}, {args.layers} layers; {args.rows} rows, {args.steps} steps "
          f"x batch {args.batch}, {args.precision}")  # fmt: skip
    print(f"{'framework':<9} {'method':<6} {'tokens/s':>10} {'peak RSS MiB':>13} {'peak GPU MiB':>13}  hardware")
    for r in results:
        if "not_available" in r:
            print(f"{r['framework']:<9} {r['method']:<6} not available: {r['not_available']}")
            continue
        gpu = f"{r['peak_gpu_mib']:.0f}" if r["peak_gpu_mib"] is not None else "-"
        print(f"{r['framework']:<9} {r['method']:<6} {r['tokens_per_s']:>10.0f} {r['peak_rss_mib']:>13.0f} "
              f"{gpu:>13}  {r['hardware']}")  # fmt: skip
    ran = {(r["framework"], r["method"]): r for r in results if "not_available" not in r}
    for (fa, ma), (fb, mb), what in (
        (("unsloth", "lora"), ("peft", "lora"), "tokens/s unsloth/peft (LoRA)"),
        (("unsloth", "qlora"), ("peft", "qlora"), "tokens/s unsloth/peft (QLoRA)"),
    ):
        if (fa, ma) in ran and (fb, mb) in ran:
            print(f"{what}: {ran[fa, ma]['tokens_per_s'] / ran[fb, mb]['tokens_per_s']:.2f}")
    for fw in ("peft", "unsloth"):
        a, b = ran.get((fw, "qlora")), ran.get((fw, "lora"))
        if a and b and a["peak_gpu_mib"] and b["peak_gpu_mib"]:
            print(f"peak GPU memory qlora/lora ({fw}): {a['peak_gpu_mib'] / b['peak_gpu_mib']:.2f}")


if __name__ == "__main__":
    main()
