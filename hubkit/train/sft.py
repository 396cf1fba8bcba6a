"""Run one distillation: SFT with TRL, LoRA/QLoRA with PEFT or Unsloth, then merge into bf16.

Checkpoints go to `TrainJob.work` (the workspace journal), so a run killed at any point is
resumed by running the same command: the last complete checkpoint restores weights, optimizer,
scheduler, RNG and data position, and on CPU the result equals an uninterrupted run. Under
`accelerate launch` (DDP, FSDP) every process calls `train`; only the main one writes results.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from hubkit.config import TrainSpec
from hubkit.errors import UsageError
from hubkit.train.examples import Example, Lengths, choose_max_length, held_out, tokenize
from hubkit.train.launch import is_main_process, under_launcher
from hubkit.train.recipe import Recipe

KEY_FILE = "run_key.txt"
LIBRARIES = ("torch", "transformers", "trl", "peft", "accelerate", "datasets", "bitsandbytes", "unsloth")


@dataclass
class TrainJob:
    base: Path  # folder of the base model (a Hub snapshot or a fixture)
    rows: list[dict[str, Any]]  # dataset rows: id, prompt, reasoning, answer
    recipe: Recipe
    spec: TrainSpec
    work: Path  # checkpoints and the adapter; survives interrupted runs
    key: str  # fingerprint of everything that decides the result: a new key starts over
    report: Callable[[str], None] = print
    facts: dict[str, Any] = field(default_factory=dict)  # base revision, dataset repo, for metrics.json


def machine_problem(spec: TrainSpec) -> str | None:
    """Why this machine cannot run `spec` (one line, with what to do), or None."""
    import importlib.util

    import torch

    cuda, problems = torch.cuda.is_available(), []
    if spec.framework == "unsloth":
        if not cuda:
            problems.append("framework unsloth needs a CUDA GPU (on this machine: train.framework: peft)")
        elif importlib.util.find_spec("unsloth") is None:
            problems.append("framework unsloth is not installed (pip install 'hubkit[gpu]')")
    # QLoRA runs on CPU too: bitsandbytes ships a CPU library (nf4 quantisation, 4-bit matmul).
    if spec.method == "qlora" and importlib.util.find_spec("bitsandbytes") is None:
        problems.append("method qlora needs bitsandbytes, a hubkit dependency missing here (pip install bitsandbytes)")
    if spec.precision == "float16" and not cuda:
        problems.append("precision float16 needs a CUDA GPU (on CPU: float32 or bfloat16)")
    return "; ".join(problems) or None


def _complete(checkpoint: Path) -> bool:
    """A checkpoint is usable when its trainer state (written last) parses."""
    try:
        json.loads((checkpoint / "trainer_state.json").read_text())
    except (OSError, ValueError):
        return False
    return True


def last_checkpoint(folder: Path, report: Callable[[str], None] = print) -> Path | None:
    """The newest complete checkpoint; a half-written one (killed while saving) is removed."""
    found = sorted(
        (p for p in folder.glob("checkpoint-*") if p.is_dir() and p.name.split("-")[-1].isdigit()),
        key=lambda p: int(p.name.split("-")[-1]),
    )
    while found:
        newest = found.pop()
        if _complete(newest):
            return newest
        report(f"removing incomplete {newest.name} (interrupted while saving)")
        shutil.rmtree(newest, ignore_errors=True)
    return None


def _prepare_work(job: TrainJob, main: bool) -> None:
    key_file = job.work / KEY_FILE
    if main:
        if key_file.is_file() and key_file.read_text().strip() != job.key:
            job.report("recipe, base or data changed since the last run: starting over")
            shutil.rmtree(job.work)
        job.work.mkdir(parents=True, exist_ok=True)
        key_file.write_text(job.key + "\n")


def _examples(job: TrainJob, tokenizer, limit: int | None) -> tuple[list[Example], list[Example], Lengths, list[str]]:
    examples = [tokenize(tokenizer, r) for r in job.rows]
    lengths = choose_max_length(examples, job.recipe.max_length, limit)
    job.report(f"token lengths: {lengths.summary()}")
    dropped: list[str] = []
    if lengths.too_long:
        if job.recipe.too_long == "error":
            longest = max(lengths.lengths)
            raise UsageError(
                f"{len(lengths.too_long)} of {len(examples)} examples are longer than max_length "
                f"{lengths.max_length} (longest {longest} tokens) and their reasoning would be cut: "
                "raise sft.max_length, or set too_long: drop in the recipe to leave them out"
            )
        dropped = lengths.too_long
        job.report(f"leaving out {len(dropped)} examples longer than {lengths.max_length} tokens (too_long: drop)")
        examples = [e for e in examples if e.id not in set(dropped)]
    held = held_out([e.id for e in examples], job.recipe.eval_fraction, job.recipe.seed)
    train = [e for e in examples if e.id not in held]
    evals = [e for e in examples if e.id in held]
    return train, evals, lengths, dropped


def _dataset(examples: list[Example]):
    from datasets import Dataset

    return Dataset.from_list([e.features() for e in examples])


def load_model(job: TrainJob, max_length: int):
    """(model, peft_config or None): the base for LoRA in the recipe's precision, or 4-bit for QLoRA.

    QLoRA: every linear layer of the decoder becomes a bitsandbytes `Linear4bit` (nf4, double
    quantisation, bf16 compute); embeddings, norms and the head are not quantized.
    """
    import torch

    dtype = getattr(torch, job.spec.precision)
    lora = {"target_modules": "all-linear", **job.recipe.lora}
    if job.spec.framework == "unsloth":
        from unsloth import FastLanguageModel  # GPU extra, imported only when asked for

        model, _ = FastLanguageModel.from_pretrained(
            str(job.base), max_seq_length=max_length, dtype=dtype, load_in_4bit=job.spec.method == "qlora"
        )
        if lora["target_modules"] == "all-linear":
            lora["target_modules"] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
        model = FastLanguageModel.get_peft_model(
            model, use_gradient_checkpointing="unsloth", random_state=job.recipe.seed, **lora
        )
        return model, None

    from peft import LoraConfig
    from transformers import AutoModelForCausalLM

    kwargs: dict[str, Any] = {"dtype": dtype}
    if job.spec.method == "qlora":
        from accelerate import PartialState
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )  # fmt: skip
        kwargs["device_map"] = {"": str(PartialState().device)}  # one full copy per process (DDP), or the CPU
    model = AutoModelForCausalLM.from_pretrained(job.base, **kwargs)
    if job.spec.method == "qlora":
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model)
        _no_cpu_inference_packing(model)
    return model, LoraConfig(task_type="CAUSAL_LM", **lora)


def _float32_adapter(model) -> None:
    """The adapter trains in float32, as PEFT makes it (and as it trains in LoRA runs).

    TRL casts a quantized model's adapter to bf16, but a resumed run loads it back through
    PEFT's `load_adapter`, which makes it float32 again: the resumed run would go on in another
    precision than the uninterrupted one (and save another adapter). Before the optimizer exists.
    """
    import torch

    for p in model.parameters():
        if p.requires_grad:
            p.data = p.data.to(torch.float32)


def _no_cpu_inference_packing(model) -> None:
    """Keep every 4-bit layer in its training layout for the whole run.

    On a CPU with AVX512-BF16, bitsandbytes (0.50.2) repacks a `Linear4bit` for inference at its
    first forward in eval mode without grad (the Trainer's evaluation) and keeps it so: later
    training steps then run `gemv_4bit`, which has no autograd kernel (the gradient through the
    4-bit layers is silently wrong), and the scales lose their double quantisation to bf16 (a
    resumed run, which has not evaluated yet, would train on other weights). Evaluation takes
    the training path instead: the same numbers in both modes.
    """
    import bitsandbytes as bnb

    for m in model.modules():
        if isinstance(m, bnb.nn.Linear4bit):
            m.support_avx512bf16_for_cpu = False


def _sft_config(job: TrainJob, max_length: int, has_eval: bool):
    import torch
    from trl import SFTConfig

    sft = dict(job.recipe.sft)
    sft["max_length"] = max_length
    save_steps = sft.setdefault("save_steps", 50)
    defaults = {
        "logging_steps": 1, "save_strategy": "steps", "save_total_limit": 2, "report_to": "none",
        "disable_tqdm": True, "include_num_input_tokens_seen": "non_padding",
        "eval_strategy": "steps" if has_eval else "no", "eval_steps": save_steps,
        "per_device_eval_batch_size": sft.get("per_device_train_batch_size", 8),
        "use_cpu": not torch.cuda.is_available(),
        "ddp_find_unused_parameters": False,  # LoRA: every trainable weight is used in every step
    }  # fmt: skip
    for key, value in defaults.items():
        sft.setdefault(key, value)
    if not has_eval:
        sft["eval_strategy"] = "no"
    try:
        return SFTConfig(
            output_dir=str(job.work / "checkpoints"),
            bf16=job.spec.precision == "bfloat16" and torch.cuda.is_available(),
            fp16=job.spec.precision == "float16",
            **sft,
        )
    except (TypeError, ValueError) as exc:
        raise UsageError(f"training recipe: sft: {str(exc).splitlines()[0]}") from None


def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for name in LIBRARIES:
        with contextlib.suppress(PackageNotFoundError):  # optional ones (unsloth, bitsandbytes)
            out[name] = version(name)
    return out


def _hardware(world: int) -> str:
    import torch

    if torch.cuda.is_available():
        return f"{world} x {torch.cuda.get_device_name(0)}"
    return f"CPU ({platform.machine()}, {os.cpu_count()} cores), {world} process{'es' if world > 1 else ''}"


def train(job: TrainJob) -> dict[str, Any] | None:
    """Train (or resume) and save the adapter in `job.work/adapter`; the summary, on the main process."""
    if problem := machine_problem(job.spec):
        raise UsageError(problem)
    import torch
    from accelerate import PartialState
    from datasets.utils.logging import disable_progress_bar
    from transformers import AutoConfig, AutoTokenizer, set_seed
    from transformers.trainer_callback import PrinterCallback
    from transformers.utils import logging as hf_logging
    from trl import SFTTrainer

    disable_progress_bar()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()  # hubkit reports progress itself; library notices are noise here
    # The first PartialState fixes the backend for the process: on CPU, gloo DDP under torchrun.
    state = PartialState(cpu=not torch.cuda.is_available())
    main = is_main_process()
    _prepare_work(job, main)
    state.wait_for_everyone()

    tokenizer = AutoTokenizer.from_pretrained(job.base)
    limit = AutoConfig.from_pretrained(job.base).max_position_embeddings or tokenizer.model_max_length
    train_set, eval_set, lengths, dropped = _examples(job, tokenizer, limit)
    set_seed(job.recipe.seed)  # the LoRA init happens before the Trainer seeds anything
    model, peft_config = load_model(job, lengths.max_length)
    quantized = quantization(model)
    args = _sft_config(job, lengths.max_length, bool(eval_set))
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=_dataset(train_set),
        eval_dataset=_dataset(eval_set) if eval_set else None, processing_class=tokenizer, peft_config=peft_config,
    )  # fmt: skip
    if job.spec.method == "qlora" and job.spec.framework == "peft":
        _float32_adapter(trainer.model)
    trainer.remove_callback(PrinterCallback)  # prints every log dict; hubkit reports a line per save instead
    trainer.add_callback(_progress(job.report))
    checkpoint = last_checkpoint(job.work / "checkpoints", job.report) if main else None
    checkpoint = _broadcast(checkpoint)
    if checkpoint:
        job.report(f"resuming from {checkpoint.name}")
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    wall = time.monotonic() - started
    final_eval = trainer.evaluate()["eval_loss"] if eval_set else None
    if main:
        trainer.save_model(str(job.work / "adapter"))
    _leave_group(state, trainer)
    if not main:
        return None
    history = trainer.state.log_history
    steps = [h for h in history if "loss" in h]
    train_tokens = sum(len(e) for e in train_set)
    return {
        "rows": {"dataset": len(job.rows), "train": len(train_set), "eval": len(eval_set), "too_long": len(dropped)},
        "max_length": lengths.max_length,
        "lengths": {"min": min(lengths.lengths), "max": max(lengths.lengths), "total": sum(lengths.lengths)},
        "steps": trainer.state.global_step,
        "epochs": round(trainer.state.epoch or 0, 3),
        "train_tokens_per_epoch": train_tokens,
        "tokens_seen": int(trainer.state.num_input_tokens_seen or 0),
        "final_train_loss": steps[-1]["loss"] if steps else None,
        "final_eval_loss": final_eval,
        "resumed_from_step": int(checkpoint.name.split("-")[-1]) if checkpoint else None,
        "wall_time_s": round(wall, 1),
        "hardware": _hardware(state.num_processes),
        "processes": state.num_processes,
        "libraries": _versions(),
        "method": job.spec.method, "framework": job.spec.framework, "precision": job.spec.precision,
        "quantized": quantized,
        "recipe": job.recipe.model_dump(mode="json"),
        **job.facts,
        "history": [{k: v for k, v in h.items() if k != "total_flos"} for h in history],
    }  # fmt: skip


def quantization(model) -> dict[str, Any] | None:
    """What was really loaded in 4-bit (bitsandbytes `Linear4bit` layers), or None: read from the
    model, not the config, so metrics.json shows that a QLoRA run trained on 4-bit weights."""
    bnb = sys.modules.get("bitsandbytes")  # never imported: nothing is quantized
    layers = [m for m in model.modules() if bnb is not None and isinstance(m, bnb.nn.Linear4bit)]
    if not layers:
        return None
    states = [m.weight.quant_state for m in layers]
    return {
        "linear_4bit": len(layers), "quant_type": sorted({q.quant_type for q in states}),
        "double_quant": all(q.nested for q in states),
        "compute_dtype": sorted({str(m.compute_dtype).removeprefix("torch.") for m in layers}),
        "storage": sorted({str(m.weight.dtype).removeprefix("torch.") for m in layers}),
    }  # fmt: skip


def _progress(report: Callable[[str], None]):
    """A trainer callback that reports a line at every checkpoint: step, train and eval loss."""
    from transformers import TrainerCallback

    class Progress(TrainerCallback):
        def on_save(self, args, state, control, **kwargs):
            if state.is_world_process_zero:
                losses = [h["loss"] for h in state.log_history if "loss" in h]
                evals = [h["eval_loss"] for h in state.log_history if "eval_loss" in h]
                report(f"step {state.global_step}/{state.max_steps}: checkpoint saved"
                       + (f", train loss {losses[-1]:.3f}" if losses else "")
                       + (f", eval loss {evals[-1]:.3f}" if evals else ""))  # fmt: skip

    return Progress()


def _leave_group(state, trainer) -> None:
    """Every process drops its DDP wrapper, waits for the adapter, then closes its process group.

    A DDP wrapper's reducer holds the group: freed after a peer has exited (when the trainer goes
    out of scope), its gloo destructor joins threads that wait on that peer, and the process hangs
    (seen here) or aborts ("terminate called without an active exception"). So the wrappers go
    while every process is still there.
    """
    import torch.distributed as dist

    if state.num_processes > 1 and dist.is_available() and dist.is_initialized():
        trainer.model_wrapped = trainer.model
        trainer.accelerator.free_memory()  # its prepared models, optimizers, loaders; collects
        state.wait_for_everyone()
        dist.destroy_process_group()


def _broadcast(value: Path | None) -> Path | None:
    """The main process's choice, on every process (they must resume from the same step)."""
    from accelerate.utils import broadcast_object_list

    if not under_launcher():
        return value
    box = [str(value) if value else None]
    broadcast_object_list(box)
    return Path(box[0]) if box[0] else None


def merge_adapter(base: Path, adapter: Path, out: Path) -> None:
    """The adapter merged into a bf16 reload of the base (never the 4-bit weights), with its tokenizer."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM, AutoTokenizer

    model = AutoModelForCausalLM.from_pretrained(base, dtype=torch.bfloat16)
    merged = PeftModel.from_pretrained(model, adapter).merge_and_unload()
    merged.save_pretrained(out)
    AutoTokenizer.from_pretrained(base).save_pretrained(out)  # the base's own chat template
    for name in ("generation_config.json", "chat_template.jinja"):
        if (base / name).is_file():
            shutil.copyfile(base / name, out / name)


def completion_loss(model_dir: Path, rows: list[dict[str, Any]]) -> float:
    """Mean cross-entropy per completion token of a saved model on dataset rows (how well it fits them)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch.float32).eval()
    total, count = 0.0, 0
    with torch.no_grad():
        for row in rows:
            ex = tokenize(tokenizer, row).features()
            labels = torch.tensor([ex["labels"]])
            out = model(input_ids=torch.tensor([ex["input_ids"]]), labels=labels)
            n = int((labels[:, 1:] != -100).sum())
            total, count = total + float(out.loss) * n, count + n
    return total / count
