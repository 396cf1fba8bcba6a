"""hubkit merge vs bare mergekit-yaml on the same config and inputs: wall time, peak RSS, GB/s.

    python benchmarks/merge_bench.py                 # two ~1B-parameter bf16 random Qwen3 models
    python benchmarks/merge_bench.py --layers 4      # a quick, smaller run

Targets (issue #4): each ratio hubkit/mergekit at most 1.1. Runs are interleaved
(mergekit, hubkit, mergekit, hubkit, ...) and the medians compared, so drift on the machine
hits both sides alike.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

# Runs one command and prints its own wall time and peak RSS (of that child alone).
_MEASURE = """
import resource, subprocess, sys, time
t = time.perf_counter()
rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode
wall = time.perf_counter() - t
print(rc, wall, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def make_model(path: Path, seed: int, layers: int, hidden: int, inter: int, vocab: int) -> int:
    """A random bf16 Qwen3 written straight to safetensors (no torch init): returns bytes."""
    import torch
    from safetensors.torch import save_file

    from hubkit.offline import tiny_qwen3_config, tiny_tokenizer

    path.mkdir(parents=True)
    tok = tiny_tokenizer()
    cfg = tiny_qwen3_config(
        vocab, layers=layers, hidden_size=hidden, intermediate_size=inter,
        heads=hidden // 128, kv_heads=max(1, hidden // 256),
    )  # fmt: skip
    cfg.dtype = "bfloat16"
    cfg.architectures = ["Qwen3ForCausalLM"]
    cfg.save_pretrained(path)
    tok.save_pretrained(path)
    rng = np.random.default_rng(seed)
    hd, kv = cfg.head_dim, cfg.num_key_value_heads
    shapes = {"model.embed_tokens.weight": (vocab, hidden), "model.norm.weight": (hidden,)}
    for i in range(layers):
        p = f"model.layers.{i}."
        shapes |= {
            p + "input_layernorm.weight": (hidden,),
            p + "post_attention_layernorm.weight": (hidden,),
            p + "self_attn.q_proj.weight": (cfg.num_attention_heads * hd, hidden),
            p + "self_attn.k_proj.weight": (kv * hd, hidden),
            p + "self_attn.v_proj.weight": (kv * hd, hidden),
            p + "self_attn.o_proj.weight": (hidden, cfg.num_attention_heads * hd),
            p + "self_attn.q_norm.weight": (hd,),
            p + "self_attn.k_norm.weight": (hd,),
            p + "mlp.gate_proj.weight": (inter, hidden),
            p + "mlp.up_proj.weight": (inter, hidden),
            p + "mlp.down_proj.weight": (hidden, inter),
        }
    total, shard, n = 0, {}, 0
    names = list(shapes)
    index = {}
    for name in names:
        arr = rng.standard_normal(shapes[name], dtype=np.float32) * 0.02
        shard[name] = torch.from_numpy(arr).to(torch.bfloat16)
        total += shard[name].numel() * 2
        if sum(t.numel() for t in shard.values()) > 500_000_000 or name == names[-1]:
            n += 1
            fname = f"model-{n:05d}.safetensors"
            save_file(shard, path / fname, metadata={"format": "pt"})
            index.update(dict.fromkeys(shard, fname))
            shard = {}
    (path / "model.safetensors.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": index})
    )
    return total


def measure(cmd: list[str]) -> tuple[float, float]:
    out = subprocess.run([sys.executable, "-c", _MEASURE, *cmd], capture_output=True, text=True, check=True)
    rc, wall, rss_kb = out.stdout.split()
    if rc != "0":
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return float(wall), int(rss_kb) / 2**20


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--layers", type=int, default=18)
    ap.add_argument("--hidden", type=int, default=2048)
    ap.add_argument("--intermediate", type=int, default=6144)
    ap.add_argument("--vocab", type=int, default=32000)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--workdir", type=Path, default=None)
    args = ap.parse_args()

    work = Path(args.workdir or tempfile.mkdtemp(prefix="merge-bench-"))
    try:
        a, b = work / "a", work / "b"
        size = make_model(a, 1, args.layers, args.hidden, args.intermediate, args.vocab)
        make_model(b, 2, args.layers, args.hidden, args.intermediate, args.vocab)
        grad = [0, 0.1, 0.2, 0.3, 0.5, 0.7, 0.8, 0.9, 1]
        config = work / "merge.yaml"
        config.write_text(
            json.dumps(
                {
                    "models": [{"model": str(a)}, {"model": str(b)}],
                    "merge_method": "slerp",
                    "base_model": str(a),
                    "parameters": {
                        "t": [
                            {"filter": "embed_tokens", "value": 1},
                            {"filter": "self_attn", "value": grad},
                            {"filter": "mlp", "value": grad},
                            {"value": 1},
                        ]
                    },
                    "dtype": "bfloat16",
                }
            )
        )
        bindir = Path(sys.executable).parent
        runs: dict[str, list[tuple[float, float]]] = {"mergekit": [], "hubkit": []}
        for i in range(args.repeats):
            for tool in ("mergekit", "hubkit"):
                out = work / f"out-{tool}-{i}"
                cmd = (
                    [
                        str(bindir / "mergekit-yaml"),
                        str(config),
                        str(out),
                        "--lazy-unpickle",
                        "--quiet",
                    ]
                    if tool == "mergekit"
                    else [str(bindir / "hubkit"), "merge", "run", str(config), "--out", str(out)]
                )
                runs[tool].append(measure(cmd))
                shutil.rmtree(out)
        params = size / 2
        print(f"inputs: 2 x {params / 1e9:.2f}B parameters ({size / 2**30:.2f} GiB each), {args.repeats} runs each")
        med = {k: (statistics.median(w for w, _ in v), statistics.median(r for _, r in v)) for k, v in runs.items()}
        for tool, (wall, rss) in med.items():
            print(f"{tool:9s} wall {wall:7.2f} s   peak RSS {rss:6.2f} GiB   {2 * size / 2**30 / wall:5.2f} GiB/s read")
        print(f"ratio hubkit/mergekit: wall {med['hubkit'][0] / med['mergekit'][0]:.3f} (target <= 1.1), "
              f"peak RSS {med['hubkit'][1] / med['mergekit'][1]:.3f} (target <= 1.1)")  # fmt: skip
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
