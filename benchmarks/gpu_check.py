"""Every GPU code path of hubkit on a tiny random Qwen3 made offline: ran / failed / not installed, tokens/s.

    python benchmarks/gpu_check.py          # on a CUDA machine, or as a Job: the same command (<= 8 minutes)
    python benchmarks/gpu_check.py --cpu    # the paths a CPU can also run: checks the check itself

Paths, each the code hubkit itself runs, in a process of its own (Unsloth patches transformers
when imported, vLLM holds GPU memory until its process ends), with a share of the 8-minute budget:

  peft-lora, peft-qlora      hubkit.train.sft.train: TRL SFTTrainer + PEFT (QLoRA: bitsandbytes 4-bit)
  unsloth-lora, unsloth-qlora  the same with train.framework: unsloth
  vllm-eval                  hubkit.bench.runner.VLLMBackend on the 100 CMDR-Bench cases, graded
  space-local                spaces/compare/engines.py LocalEngine: a worker process, the model on CUDA

tokens/s: training, non-padding tokens seen / train wall time; generation, tokens generated /
time from the first token to the last. The model is made here (hubkit.offline.save_tiny_qwen3)
and every process runs with HF_HUB_OFFLINE=1: nothing downloads weights.

Exit codes: 0 no path failed (each ran, is not installed, or with --cpu needs a GPU); 1 a path
failed or ran out of time; 2 a usage error; 3 no CUDA GPU here, nothing measured (each path says so).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
if (ROOT / "hubkit").is_dir():
    sys.path.insert(1, str(ROOT))  # a checkout: this hubkit, not another installed one

BUDGET_S = 480  # the whole check, on one GPU
# (path, what it needs installed, the most seconds it may take, whether a CPU can run it)
PATHS = [
    ("peft-lora", None, 60, True),
    ("peft-qlora", "bitsandbytes", 75, True),
    ("space-local", None, 60, True),
    ("vllm-eval", "vllm", 200, False),
    ("unsloth-lora", "unsloth", 100, False),
    ("unsloth-qlora", "unsloth", 100, False),
]
GPU_STEPS, CPU_STEPS = 20, 4  # optimizer steps of a training path (a CPU only checks that the path runs)
CPU_SLACK = 3  # --cpu: a path may take this many times its GPU limit (the whole budget still holds)
MODEL = {"layers": 4, "hidden_size": 256, "intermediate_size": 768, "heads": 4, "kv_heads": 2}  # head_dim 64
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1",
           "VLLM_NO_USAGE_STATS": "1", "DO_NOT_TRACK": "1", "TOKENIZERS_PARALLELISM": "false"}  # fmt: skip


# -- each path, in its own process ----------------------------------------------------------------


def train_path(base: Path, work: Path, framework: str, method: str, steps: int) -> dict:
    import torch
    from train_bench import rows  # the benchmark's scripted rows: same data as train_bench.py

    from hubkit.config import TrainSpec
    from hubkit.train.recipe import Recipe
    from hubkit.train.sft import TrainJob, machine_problem, train

    precision = "bfloat16" if torch.cuda.is_available() or method == "qlora" else "float32"
    spec = TrainSpec(method=method, framework=framework, precision=precision)
    if problem := machine_problem(spec):
        return {"status": "not run", "reason": problem}
    recipe = Recipe(
        eval_fraction=0, lora={"r": 16, "lora_alpha": 32, "target_modules": "all-linear"},
        sft={"max_steps": steps, "per_device_train_batch_size": 8, "learning_rate": 1e-3, "save_steps": steps,
             "seed": 0},
    )  # fmt: skip
    job = TrainJob(base=base, rows=rows(64), recipe=recipe, spec=spec, work=work / "run", key="gpu-check",
                   report=lambda _: None)  # fmt: skip
    s = train(job)
    losses = [h["loss"] for h in s["history"] if "loss" in h]
    detail = f"training, {s['steps']} steps, loss {losses[0]:.2f} -> {losses[-1]:.2f}"
    if q := s.get("quantized"):
        detail += f", {q['linear_4bit']} layers in 4-bit {'/'.join(q['quant_type'])}"
    elif method == "qlora":
        raise RuntimeError("method qlora trained, but no layer was loaded in 4-bit")
    return {"status": "ran", "tokens_per_s": s["tokens_seen"] / max(s["wall_time_s"], 1e-9),
            "detail": detail, "hardware": s["hardware"]}  # fmt: skip


def vllm_path(base: Path, work: Path) -> dict:
    from hubkit.bench.cases import load_cases
    from hubkit.bench.runner import EvalJob, VLLMBackend, run
    from hubkit.config import Sampling
    from hubkit.journal import records

    class Timed:
        """The backend as the runner sees it; counts only the time spent generating."""

        def __init__(self, backend):
            self.backend, self.name, self.seconds = backend, backend.name, 0.0

        def generate(self, messages, sampling, seeds):
            t = time.monotonic()
            out = self.backend.generate(messages, sampling, seeds)
            self.seconds += time.monotonic() - t
            return out

    started = time.monotonic()
    backend = Timed(VLLMBackend(str(base)))
    loaded = time.monotonic() - started
    cases = load_cases()
    sampling = Sampling(temperature=0.7, top_p=0.95, max_new_tokens=128, seed=0)
    out = work / "vllm.jsonl"
    run(EvalJob("gpu-check/tiny-qwen3", str(base), out), backend, cases, 1, sampling, len(cases))
    graded = list(records(out))
    if len(graded) != len(cases):
        raise RuntimeError(f"{len(graded)} of {len(cases)} cases graded")
    tokens = sum(r["completion_tokens"] for r in graded)
    return {"status": "ran", "tokens_per_s": tokens / max(backend.seconds, 1e-9),
            "detail": f"generation, {len(graded)} cases graded ({sum(r['passed'] for r in graded)} passed), "
                      f"{tokens} tokens, model loaded in {loaded:.0f} s", "hardware": _device()}  # fmt: skip


def space_path(base: Path, work: Path) -> dict:
    """The Space's app folder as hubkit builds it (engines.py + the shared reasoning.py), its local engine."""
    import threading

    import torch

    from hubkit.artifacts.space import SHARED

    app = work / "space"
    app.mkdir()
    shutil.copy2(ROOT / "spaces" / "compare" / "engines.py", app / "engines.py")
    for name, src in SHARED.items():
        shutil.copy2(src, app / name)
    sys.path.insert(0, str(app))
    import engines

    model, _ = engines.load(str(base))  # what the worker does: device_map="auto" puts it on the GPU
    device = str(next(model.parameters()).device)
    del model
    if torch.cuda.is_available() and not device.startswith("cuda"):
        raise RuntimeError(f"the Space's engine loaded the model on {device}, not on the GPU")
    engine = engines.LocalEngine([str(base)])
    sampling = engines.Sampling(temperature=0.0, max_new_tokens=256)
    messages = [{"role": "user", "content": "Explain why the sky is blue, step by step."}]
    try:
        *_, (column,) = engines.stream_columns(engine, [str(base)], messages, sampling, threading.Event())
    finally:
        for w in engine.workers.values():
            if w.proc:
                w.proc.stdin.close()  # the worker exits when its stdin closes
                w.proc.wait(timeout=30)
    if column.error or column.first_token is None:
        raise RuntimeError(column.error or "no token came back")
    rate = column.tokens / max(column.ended - column.first_token, 1e-9)
    detail = f"generation, one streamed answer of {column.tokens} tokens on {device} ({column.finish})"
    return {"status": "ran", "tokens_per_s": rate, "detail": detail, "hardware": _device()}


def _device() -> str:
    import torch

    return torch.cuda.get_device_name(0) if torch.cuda.is_available() else "CPU"


def child(name: str, base: Path, work: Path, steps: int) -> dict:
    if name == "vllm-eval":
        return vllm_path(base, work)
    if name == "space-local":
        return space_path(base, work)
    framework, method = name.split("-")
    return train_path(base, work, framework, method, steps)


# -- the check: one process per path, a budget for all -------------------------------------------


def run_path(name: str, cap: float, deadline: float, base: Path, work: Path, cpu: bool) -> dict:
    left = deadline - time.monotonic()
    if left < 10:
        return {"status": "failed", "reason": f"not started: the {BUDGET_S} s budget was spent"}
    timeout = min(cap * (CPU_SLACK if cpu else 1), left)
    folder = work / name
    folder.mkdir()
    env = {**os.environ, **OFFLINE, **({"CUDA_VISIBLE_DEVICES": ""} if cpu else {})}
    steps = CPU_STEPS if cpu else GPU_STEPS
    cmd = [sys.executable, __file__, "--child", name, "--base", str(base), "--work", str(folder), "--steps", str(steps)]
    # A session of its own: on a timeout the whole group goes (vLLM's engine, the Space's worker).
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=folder,
                            start_new_session=True)  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        return {"status": "failed", "reason": f"timed out after {timeout:.0f} s"}
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # anything the path left running
    lines = out.strip().splitlines()
    if proc.returncode == 0 and lines and lines[-1].startswith("{"):
        return json.loads(lines[-1])
    tail = [x for x in err.strip().splitlines() if x.strip()][-1:] or ["no output"]
    return {"status": "failed", "reason": f"exit code {proc.returncode}: {tail[0][-300:]}"}


def _extra(package: str) -> str:
    return "vllm" if package == "vllm" else "gpu"


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cpu", action="store_true", help="run the paths a CPU can run, on the CPU (not GPU figures)")
    p.add_argument("--only", action="append", choices=[x[0] for x in PATHS], help="one path (repeatable)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    p.add_argument("--base", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    p.add_argument("--steps", type=int, default=GPU_STEPS, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        try:
            print(json.dumps(child(args.child, args.base, args.work, args.steps)))
        except Exception as exc:  # one line: the reason the table shows
            print(f"{type(exc).__name__}: {str(exc).strip().splitlines()[0] if str(exc).strip() else ''}",
                  file=sys.stderr)  # fmt: skip
            return 1
        return 0

    import torch

    paths = [x for x in PATHS if not args.only or x[0] in args.only]
    cuda = torch.cuda.is_available()
    if not cuda and not args.cpu:
        print("gpu_check: no CUDA GPU on this machine (torch.cuda.is_available() is False): nothing measured")
        for name, *_ in paths:
            print(f"{name:<14} not run        no CUDA GPU on this machine")
        return 3
    from hubkit.offline import save_tiny_qwen3

    work = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    started = time.monotonic()
    deadline = started + BUDGET_S
    base = save_tiny_qwen3(work / "base", seed=0, **MODEL)
    where = _device() if not args.cpu else "CPU (--cpu: not GPU figures)"
    print(f"gpu_check: {where}; torch {torch.__version__}; tiny random Qwen3 ({MODEL['layers']} layers, "
          f"hidden {MODEL['hidden_size']}), made offline; budget {BUDGET_S} s", flush=True)  # fmt: skip
    print(f"{'path':<14} {'status':<14} {'tokens/s':>9}  detail", flush=True)
    failed = False
    for name, needs, cap, on_cpu in paths:
        t = time.monotonic()
        if needs and importlib.util.find_spec(needs) is None:
            r = {"status": "not installed", "reason": f"{needs} (pip install 'hubkit[{_extra(needs)}]')"}
        elif args.cpu and not on_cpu:
            r = {"status": "not run", "reason": "needs a GPU: not run with --cpu"}
        else:
            r = run_path(name, cap, deadline, base, work, args.cpu)
        took = time.monotonic() - t
        failed |= r["status"] == "failed"
        rate = f"{r['tokens_per_s']:>9.0f}" if "tokens_per_s" in r else f"{'-':>9}"
        detail = r.get("detail") or r.get("reason", "")
        print(f"{name:<14} {r['status']:<14} {rate}  {detail}" + (f" [{took:.0f} s]" if r["status"] == "ran" else ""),
              flush=True)  # fmt: skip
    print(f"gpu_check: {time.monotonic() - started:.0f} s in all")
    shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
