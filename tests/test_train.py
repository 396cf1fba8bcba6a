"""Training: recipes checked by TRL/PEFT, the loss mask, lengths, kill -9 resume, DDP, the demo's students."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from hubkit.errors import UsageError
from hubkit.offline import CHAT_TEMPLATE, tiny_tokenizer
from hubkit.train.examples import IGNORE, choose_max_length, held_out, inference_prompt, render, tokenize
from hubkit.train.recipe import load_recipe
from hubkit.train.sft import last_checkpoint
from tests.conftest import NO_HUB, ROOT, copy_project, run_cli

MODEL_A, DATA_A, DATA_B = "tiny-qwen3-a-distilled", "tiny-teacher-a-reasoning", "tiny-teacher-b-reasoning"
MODEL_B = "tiny-qwen3-b-distilled"  # the demo's QLoRA student (MODEL_A: LoRA)
ROW = {"id": "r1", "prompt": "What is 6 times 7?", "reasoning": "6 * 7 = 42.\nCheck: 42 / 7 = 6.", "answer": "42"}

# --- recipes: TRL's and PEFT's own fields decide ------------------------------------------------


def _recipe(tmp_path: Path, doc: dict) -> Path:
    path = tmp_path / "recipe.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


def test_shipped_recipes_are_valid():
    for path in sorted((ROOT / "configs" / "train").glob("*.yaml")):
        recipe = load_recipe(path)
        assert recipe.lora and recipe.sft, path


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        ({"sft": {"learnin_rate": 1e-4}}, "sft.learnin_rate: not a SFTConfig option; did you mean learning_rate?"),
        ({"lora": {"rank": 8}}, "lora.rank: not a LoraConfig option"),
        ({"sft": {"output_dir": "/tmp/x"}}, "sft.output_dir: set by hubkit"),
        ({"sft": {"bf16": True}}, "sft.bf16: set by hubkit (set models[].train.precision instead)"),
        ({"sft": {"assistant_only_loss": True}}, "sft.assistant_only_loss: set by hubkit"),
        ({"lora": {"task_type": "SEQ_CLS"}}, "lora.task_type: set by hubkit"),
        ({"sft": {"max_length": -3}}, "sft.max_length: a positive number of tokens or 'auto'"),
        ({"eval_fraction": 1.5}, "eval_fraction: Input should be less than 1"),
        ({"epochs": 3}, "epochs: Extra inputs are not permitted"),
    ],
)
def test_bad_recipes_are_one_line_with_the_file_and_key(tmp_path, doc, message):
    path = _recipe(tmp_path, doc)
    with pytest.raises(UsageError) as err:
        load_recipe(path)
    assert str(err.value).startswith(f"{path}: ")
    assert message in str(err.value)
    assert "\n" not in str(err.value)


def test_a_bad_recipe_stops_the_build_before_any_data_is_made(tmp_path):
    config = copy_project(tmp_path) / "demo.yaml"
    (config.parent / "train" / "demo-lora.yaml").write_text("sft:\n  learning_rat: 0.1\n")
    r = run_cli("build", "-c", str(config), "-w", str(tmp_path / "ws"))
    assert r.returncode == 2
    assert "sft.learning_rat: not a SFTConfig option; did you mean learning_rate?" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout
    assert not (tmp_path / "ws" / DATA_A).exists()  # checked before the teachers were asked


@pytest.mark.parametrize(
    ("train", "needs"),
    [
        ({"method": "lora", "framework": "unsloth"}, "framework unsloth needs a CUDA GPU"),
        ({"method": "qlora", "framework": "unsloth"}, "framework unsloth needs a CUDA GPU"),
        ({"method": "lora", "framework": "peft", "precision": "float16"}, "precision float16 needs a CUDA GPU"),
        ({"method": "qlora", "framework": "peft", "precision": "float16"}, "precision float16 needs a CUDA GPU"),
    ],
)
def test_asking_for_what_this_machine_cannot_do_is_refused_not_downgraded(tmp_path, train, needs):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    config = copy_project(tmp_path) / "demo.yaml"
    data = yaml.safe_load(config.read_text())
    data["models"][0]["train"].update(train)
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    r = run_cli("build", MODEL_A, "-c", str(config), "-w", str(tmp_path / "ws"))
    assert r.returncode == 2, r.stdout + r.stderr
    assert r.stderr.strip().count("\n") == 0
    assert f"{MODEL_A}: {needs}" in r.stderr


def test_qlora_without_bitsandbytes_is_refused_not_downgraded(tmp_path, monkeypatch):
    import importlib.util

    config = copy_project(tmp_path) / "demo.yaml"
    assert yaml.safe_load(config.read_text())["models"][1]["train"]["method"] == "qlora"
    monkeypatch.setitem(sys.modules, "bitsandbytes", None)  # Python's own "not importable"
    assert importlib.util.find_spec("bitsandbytes") is None
    r = run_cli("build", MODEL_B, "-c", str(config), "-w", str(tmp_path / "ws"))
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0, r.stderr
    assert f"{MODEL_B}: method qlora needs bitsandbytes" in r.stderr
    assert not (tmp_path / "ws" / DATA_B).exists()  # refused before anything was built


def _tiny_job(tmp_path: Path, method: str, layers: int = 2):
    from hubkit.config import TrainSpec
    from hubkit.offline import save_tiny_qwen3
    from hubkit.train.recipe import Recipe
    from hubkit.train.sft import TrainJob

    base = save_tiny_qwen3(tmp_path / "base", seed=3, layers=layers, initializer_range=0.3)
    spec = TrainSpec(method=method, framework="peft", precision="bfloat16")
    return TrainJob(base=base, rows=[ROW], recipe=Recipe(lora={"r": 4}), spec=spec, work=tmp_path / "w", key="k")


def test_qlora_loads_every_linear_layer_of_the_decoder_in_4bit_nf4(tmp_path):
    import bitsandbytes as bnb
    import torch
    from bitsandbytes.functional import dequantize_4bit
    from safetensors.torch import load_file

    from hubkit.train.sft import load_model, quantization

    job = _tiny_job(tmp_path, "qlora")
    model, peft_config = load_model(job, 64)
    layers = {n: m for n, m in model.named_modules() if isinstance(m, torch.nn.Linear)}
    decoder = {n: m for n, m in layers.items() if ".layers." in n}
    assert len(decoder) == 2 * 7  # q, k, v, o, gate, up, down in each of 2 layers
    assert all(isinstance(m, bnb.nn.Linear4bit) for m in decoder.values())
    assert not isinstance(layers["lm_head"], bnb.nn.Linear4bit)  # the (tied) head and embeddings stay
    original = load_file(str(job.base / "model.safetensors"))
    for name, m in decoder.items():
        w, state = m.weight, m.weight.quant_state
        assert w.dtype == torch.uint8 and w.numel() == m.in_features * m.out_features // 2  # two 4-bit codes a byte
        assert (state.quant_type, state.nested, m.compute_dtype) == ("nf4", True, torch.bfloat16)
        # The codes decode to the base's weights up to 4-bit rounding: quantized, not a copy.
        error = (dequantize_4bit(w.data, state).float() - original[f"{name}.weight"].float()).abs()
        assert 0 < error.mean() < 0.1 * original[f"{name}.weight"].float().abs().mean()
    assert peft_config.target_modules == "all-linear"
    assert quantization(model) == {"linear_4bit": 14, "quant_type": ["nf4"], "double_quant": True,
                                   "compute_dtype": ["bfloat16"], "storage": ["uint8"]}  # fmt: skip

    lora, _ = load_model(_tiny_job(tmp_path / "lora", "lora"), 64)
    assert quantization(lora) is None
    assert not any(isinstance(m, bnb.nn.Linear4bit) for m in lora.modules())


def test_an_evaluation_between_qlora_steps_changes_neither_the_4bit_layers_nor_the_gradients(tmp_path):
    """The Trainer evaluates every save_steps. On an AVX512-BF16 CPU, bitsandbytes 0.50.2 would
    repack the 4-bit layers for inference there and train on through an op without a backward:
    gradients through the base silently wrong after the first evaluation (this machine has it;
    elsewhere the test holds trivially)."""
    import torch
    from peft import get_peft_model

    from hubkit.train.sft import load_model

    model, config = load_model(_tiny_job(tmp_path, "qlora", layers=3), 64)
    model = get_peft_model(model, config)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:  # zero at init: without it no gradient would cross a base layer
                p.normal_(std=0.1, generator=torch.Generator().manual_seed(len(name)))
    ids = torch.randint(0, 400, (2, 48), generator=torch.Generator().manual_seed(0))

    def gradients() -> dict:
        model.train()
        model.zero_grad()
        model(input_ids=ids, labels=ids).loss.backward()
        return {n: p.grad.clone() for n, p in model.named_parameters() if p.requires_grad}

    before = gradients()
    model.eval()
    with torch.no_grad():
        model(input_ids=ids)
    after = gradients()
    assert before.keys() == after.keys() and len(before) == 2 * 3 * 7
    changed = [n for n in before if not torch.equal(before[n], after[n])]
    assert not changed, changed[:3]
    # The layers are still in their training layout (scales double-quantized, not repacked).
    assert all(m.weight.quant_state.nested for m in model.modules() if type(m).__name__ == "Linear4bit"
               and hasattr(m.weight, "quant_state"))  # fmt: skip


# --- examples: the prompt is the inference prompt, the loss is the completion -------------------


def test_prompt_tokens_are_the_inference_prompt_and_only_the_completion_is_in_the_loss():
    tok = tiny_tokenizer()
    ex = tokenize(tok, ROW)
    feats = ex.features()
    inference_ids = tok(inference_prompt(tok, ROW["prompt"]), add_special_tokens=False)["input_ids"]
    assert feats["input_ids"][: len(inference_ids)] == inference_ids  # what generation starts from
    assert feats["labels"][: len(inference_ids)] == [IGNORE] * len(inference_ids)
    completion = feats["labels"][len(inference_ids) :]
    assert IGNORE not in completion and completion == ex.completion_ids
    # The template's generation prompt opened <think>: the completion is the rest, to <|im_end|>.
    assert tok.decode(completion) == f"{ROW['reasoning']}\n</think>\n\n{ROW['answer']}<|im_end|>"
    assert tok.decode(feats["input_ids"]).endswith("<|im_start|>assistant\n<think>\n" + tok.decode(completion))


def test_a_template_that_does_not_open_think_gets_it_in_the_completion():
    tok = tiny_tokenizer()
    tok.chat_template = CHAT_TEMPLATE.replace("'<|im_start|>assistant\\n<think>\\n' }}{%- endif %}",
                                              "'<|im_start|>assistant\\n' }}{%- endif %}")  # fmt: skip
    prompt, completion = render(tok, ROW)
    assert prompt.endswith("<|im_start|>assistant\n")
    assert completion.startswith("<think>\n6 * 7 = 42.") and completion.endswith("</think>\n\n42<|im_end|>")


def test_a_template_that_renders_the_answer_differently_is_refused():
    tok = tiny_tokenizer()
    # This template drops reasoning from every assistant turn: training on <think> would teach a
    # format the published template never shows.
    tok.chat_template = (
        "{%- for m in messages %}{{- '<|im_start|>' + m.role + '\\n' + m.content + '<|im_end|>\\n' }}{%- endfor %}"
        "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n<think>\\n' }}{%- endif %}"
    )
    with pytest.raises(UsageError, match="renders this conversation differently"):
        render(tok, ROW)


def test_max_length_is_chosen_from_the_data_and_never_cuts_silently():
    tok = tiny_tokenizer()
    rows = [ROW, {**ROW, "id": "long", "reasoning": "step. " * 200}]
    examples = [tokenize(tok, r) for r in rows]
    auto = choose_max_length(examples, "auto", 1024)
    assert auto.max_length == max(len(e) for e in examples) and not auto.too_long
    tight = choose_max_length(examples, len(examples[0]) + 1, 1024)
    assert tight.too_long == ["long"]
    assert "1 longer" in tight.summary()
    with pytest.raises(UsageError, match="more than the model's 64 positions"):
        choose_max_length(examples, 100, 64)


def test_held_out_rows_are_stable_and_never_all():
    ids = [f"q{i}" for i in range(40)]
    held = held_out(ids, 0.05, seed=0)
    assert len(held) == 2
    assert held == held_out(list(reversed(ids)), 0.05, seed=0)  # row order does not matter
    assert held != held_out(ids, 0.05, seed=1)
    assert held_out(["a", "b"], 0.9, seed=0) != {"a", "b"}  # something is left to train on
    assert held_out(["a"], 0.5, seed=0) == set()


def test_a_half_written_checkpoint_is_skipped(tmp_path):
    good, torn = tmp_path / "checkpoint-10", tmp_path / "checkpoint-20"
    good.mkdir(), torn.mkdir()
    (good / "trainer_state.json").write_text('{"global_step": 10}')
    (torn / "trainer_state.json").write_text('{"global_st')  # killed while writing
    said = []
    assert last_checkpoint(tmp_path, said.append) == good
    assert not torn.exists() and "checkpoint-20" in said[0]


# --- training for real: demo datasets, kill -9, DDP ----------------------------------------------


@pytest.fixture(scope="module")
def data_ws(trained_demo, tmp_path_factory) -> tuple[Path, Path]:
    """(config, workspace) with only the two demo datasets built (the session's trained demo
    made them), copied by each test that trains."""
    root = tmp_path_factory.mktemp("train")
    config = copy_project(root) / "demo.yaml"
    ws = root / "ws"
    for name in (DATA_A, DATA_B):
        shutil.copytree(trained_demo / "ws" / name, ws / name)
    return config, ws


def _copy_ws(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _longer_recipe(config: Path, steps: int, save_steps: int) -> None:
    path = config.parent / "train" / "demo-lora.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["sft"].update(max_steps=steps, save_steps=save_steps)
    path.write_text(yaml.safe_dump(doc))


def _safetensors(path: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(str(path))


@pytest.mark.parametrize(("model", "method"), [(MODEL_A, "lora"), (MODEL_B, "qlora")])
def test_kill_9_then_the_same_command_resumes_and_matches_an_uninterrupted_run(
    data_ws, trained_demo, tmp_path, model, method
):
    _, src_ws = data_ws
    config = copy_project(tmp_path / "p") / "demo.yaml"
    recipe = yaml.safe_load((config.parent / "train" / "demo-lora.yaml").read_text())["sft"]
    assert (recipe["max_steps"], recipe["save_steps"]) == (40, 10)  # checkpoints at 10, 20, 30
    ws_full = trained_demo / "ws"  # the uninterrupted run: the demo's own, same recipe and data (read only)
    ws_killed = _copy_ws(src_ws, tmp_path / "killed")

    env = {**os.environ, **NO_HUB}
    proc = subprocess.Popen(
        [sys.executable, "-m", "hubkit", "build", model, "-c", str(config), "-w", str(ws_killed)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
    )  # fmt: skip
    checkpoints = ws_killed / ".journal" / model / "run" / "checkpoints"
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and proc.poll() is None:
        done = [p for p in checkpoints.glob("checkpoint-*") if (p / "trainer_state.json").is_file()]
        if any(int(p.name.split("-")[1]) >= 10 for p in done):
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    assert proc.wait() == -signal.SIGKILL, "training ended before it could be killed"
    assert not (ws_killed / model).exists()

    r = run_cli("build", model, "-c", str(config), "-w", str(ws_killed))
    assert r.returncode == 0, r.stderr
    resumed = [line for line in r.stdout.splitlines() if "resuming from checkpoint-" in line]
    assert resumed, r.stdout
    step = int(resumed[0].rsplit("-", 1)[1])
    assert 10 <= step < 40
    metrics = json.loads((ws_killed / model / "training" / "metrics.json").read_text())
    assert metrics["resumed_from_step"] == step and metrics["steps"] == 40
    assert metrics["method"] == method and bool(metrics["quantized"]) == (method == "qlora")
    full_metrics = json.loads((ws_full / model / "training" / "metrics.json").read_text())
    assert [h.get("loss") for h in metrics["history"]] == [h.get("loss") for h in full_metrics["history"]]

    a = _safetensors(ws_full / ".journal" / model / "run" / "adapter" / "adapter_model.safetensors")
    b = _safetensors(ws_killed / ".journal" / model / "run" / "adapter" / "adapter_model.safetensors")
    assert a.keys() == b.keys() and all((a[k] == b[k]).all() for k in a)
    merged_a, merged_b = (_safetensors(w / model / "model.safetensors") for w in (ws_full, ws_killed))
    assert all((merged_a[k] == merged_b[k]).all() for k in merged_a)


def test_a_changed_recipe_starts_over_and_a_new_dataset_makes_the_model_stale(data_ws, tmp_path):
    _, src_ws = data_ws
    config = copy_project(tmp_path / "p") / "demo.yaml"
    ws = _copy_ws(src_ws, tmp_path / "ws")
    _longer_recipe(config, steps=10, save_steps=5)
    assert run_cli("build", MODEL_A, "-c", str(config), "-w", str(ws)).returncode == 0

    _longer_recipe(config, steps=12, save_steps=5)
    r = run_cli("status", "-c", str(config), "-w", str(ws))
    assert f"{MODEL_A}" in r.stdout and "config changed" in r.stdout
    r = run_cli("build", MODEL_A, "-c", str(config), "-w", str(ws))
    assert "starting over" in r.stdout and "resuming" not in r.stdout

    data = yaml.safe_load(config.read_text())
    data["datasets"][0]["sampling"]["seed"] = 5  # other answers: other training data
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    assert run_cli("build", DATA_A, "-c", str(config), "-w", str(ws)).returncode == 0
    r = run_cli("status", "-c", str(config), "-w", str(ws))
    line = next(x for x in r.stdout.splitlines() if MODEL_A in x)
    assert "stale" in line and f"input {DATA_A} was rebuilt" in line


def test_too_long_examples_stop_the_run_or_are_dropped_when_asked(data_ws, tmp_path):
    _, src_ws = data_ws
    config = copy_project(tmp_path / "p") / "demo.yaml"
    ws = _copy_ws(src_ws, tmp_path / "ws")
    path = config.parent / "train" / "demo-lora.yaml"
    doc = yaml.safe_load(path.read_text())
    doc["sft"].update(max_length=400, max_steps=4, save_steps=4)
    path.write_text(yaml.safe_dump(doc))
    r = run_cli("build", MODEL_A, "-c", str(config), "-w", str(ws))
    assert r.returncode == 2
    assert "longer than max_length 400" in r.stderr and "reasoning would be cut" in r.stderr
    assert "Traceback" not in r.stderr

    doc["too_long"] = "drop"
    path.write_text(yaml.safe_dump(doc))
    r = run_cli("build", MODEL_A, "-c", str(config), "-w", str(ws))
    assert r.returncode == 0, r.stderr
    metrics = json.loads((ws / MODEL_A / "training" / "metrics.json").read_text())
    assert metrics["rows"]["too_long"] > 0 and metrics["max_length"] == 400
    rows = metrics["rows"]
    assert rows["train"] + rows["eval"] + rows["too_long"] == rows["dataset"]


OPEN_GROUP_AT_EXIT = """
import atexit, os, sys


def _record_open_group():
    dist = sys.modules.get("torch.distributed")
    if dist is not None and dist.is_available() and dist.is_initialized():
        open(os.path.join(os.environ["HUBKIT_TEST_OPEN_GROUPS"], "rank-" + os.environ.get("RANK", "?")), "w").close()


atexit.register(_record_open_group)  # registered first, so it runs after every other exit handler
"""


def test_training_runs_unchanged_under_accelerate_launch_with_two_processes(data_ws, tmp_path):
    _, src_ws = data_ws
    config = copy_project(tmp_path / "p") / "demo.yaml"
    _longer_recipe(config, steps=6, save_steps=3)
    ws = _copy_ws(src_ws, tmp_path / "ws")
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    # A process that exits with its gloo group open aborts now and then at interpreter shutdown
    # (SIGABRT, about 1 run in 25 here): every process records at exit whether its group is open.
    hooks, open_groups = tmp_path / "hooks", tmp_path / "open-groups"
    hooks.mkdir()
    open_groups.mkdir()
    (hooks / "sitecustomize.py").write_text(OPEN_GROUP_AT_EXIT)
    pythonpath = os.pathsep.join(filter(None, [str(hooks), os.environ.get("PYTHONPATH")]))
    # On a CPU machine `--cpu` starts one process unless MPI is set up; `--multi_gpu` launches
    # through torchrun, and each process then joins a gloo (CPU) process group.
    r = subprocess.run(
        [accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
         "--mixed_precision", "no", "--dynamo_backend", "no",
         "-m", "hubkit", "train", MODEL_A, "-c", str(config), "-w", str(ws)],
        cwd=ROOT, env={**os.environ, **NO_HUB, "PYTHONPATH": pythonpath, "HUBKIT_TEST_OPEN_GROUPS": str(open_groups)},
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert sorted(p.name for p in open_groups.iterdir()) == [], "a process exited with its process group open"
    metrics = json.loads((ws / MODEL_A / "training" / "metrics.json").read_text())
    assert metrics["processes"] == 2 and "2 processes" in metrics["hardware"]
    assert r.stdout.count(f"{MODEL_A}: built") == 1  # only the main process writes the artifact


def test_build_under_a_launcher_points_to_train(tmp_path):
    config = copy_project(tmp_path) / "demo.yaml"
    r = run_cli("build", "-c", str(config), "-w", str(tmp_path / "ws"), env={"WORLD_SIZE": "2"})
    assert r.returncode == 2 and "use `hubkit train MODEL`" in r.stderr


def test_train_needs_its_dataset_built_first(tmp_path):
    config = copy_project(tmp_path) / "demo.yaml"
    r = run_cli("train", MODEL_A, "-c", str(config), "-w", str(tmp_path / "ws"))
    assert r.returncode == 2
    assert f"its dataset {DATA_A} is not built; build it first: hubkit build {DATA_A}" in r.stderr
    r = run_cli("train", "tiny-qwen3-slerp", "-c", str(config), "-w", str(tmp_path / "ws"))
    assert r.returncode == 2 and "not a distilled model to train" in r.stderr


def test_each_demo_student_fits_its_own_teachers_data_better_than_the_other_student(trained_demo):
    from hubkit.artifacts.distill_model import dataset_rows
    from hubkit.train.sft import completion_loss

    ws = trained_demo / "ws"  # both students as `hubkit build` trained them (read only)
    rows = {d: dataset_rows(ws / f"tiny-teacher-{d}-reasoning") for d in "ab"}
    loss = {(m, d): completion_loss(ws / f"tiny-qwen3-{m}-distilled", rows[d]) for m in "ab" for d in "ab"}
    assert loss["a", "a"] < loss["b", "a"] - 0.1, loss
    assert loss["b", "b"] < loss["a", "b"] - 0.1, loss
    # And the merged weights are the trained ones: bf16, the base's tokenizer and chat template.
    cfg = json.loads((ws / MODEL_A / "config.json").read_text())
    assert cfg["dtype"] == "bfloat16"
    (base,) = (ws / ".journal" / MODEL_A).glob("base-*")  # made offline once per base_fixture
    assert (ws / MODEL_A / "tokenizer.json").read_bytes() == (base / "tokenizer.json").read_bytes()
    assert (ws / MODEL_A / "generation_config.json").read_bytes() == (base / "generation_config.json").read_bytes()
    metrics = json.loads((ws / MODEL_A / "training" / "metrics.json").read_text())
    assert metrics["final_eval_loss"] is not None and metrics["rows"]["eval"] == 1
    assert metrics["method"] == "lora" and metrics["quantized"] is None


def test_the_qlora_student_trained_on_4bit_layers_and_is_merged_into_a_bf16_reload_of_its_base(trained_demo):
    """The adapter goes onto the base's own bf16 weights: merging into the dequantized 4-bit
    weights instead would carry nf4's rounding (far larger than bf16's) into the published model."""
    import torch
    from bitsandbytes.functional import dequantize_4bit, quantize_4bit

    ws = trained_demo / "ws"
    metrics = json.loads((ws / MODEL_B / "training" / "metrics.json").read_text())
    assert (metrics["method"], metrics["framework"]) == ("qlora", "peft")
    assert metrics["quantized"] == {"linear_4bit": 9 * 7, "quant_type": ["nf4"], "double_quant": True,
                                    "compute_dtype": ["bfloat16"], "storage": ["uint8"]}  # fmt: skip
    assert metrics["final_train_loss"] < metrics["history"][0]["loss"] - 1  # it learned

    (base_dir,) = (ws / ".journal" / MODEL_B).glob("base-*")
    base = _safetensors(base_dir / "model.safetensors")
    adapter_dir = ws / ".journal" / MODEL_B / "run" / "adapter"
    cfg = json.loads((adapter_dir / "adapter_config.json").read_text())
    scale = cfg["lora_alpha"] / cfg["r"]
    adapter = _safetensors(adapter_dir / "adapter_model.safetensors")
    assert {t.dtype for t in adapter.values()} == {torch.float32}  # as trained, and as a resumed run reloads it
    merged = _safetensors(ws / MODEL_B / "model.safetensors")
    assert {t.dtype for t in merged.values()} == {torch.bfloat16}
    layers = sorted(k.removeprefix("base_model.model.").removesuffix(".lora_A.weight")
                    for k in adapter if k.endswith(".lora_A.weight"))  # fmt: skip
    assert len(layers) == 9 * 7
    for name in layers:
        delta = scale * adapter[f"base_model.model.{name}.lora_B.weight"].float() @ \
            adapter[f"base_model.model.{name}.lora_A.weight"].float()  # fmt: skip
        w = base[f"{name}.weight"]
        codes, state = quantize_4bit(w, blocksize=64, compress_statistics=True, quant_type="nf4")
        from_bf16 = (merged[f"{name}.weight"].float() - (w.float() + delta)).abs().max()
        from_4bit = (merged[f"{name}.weight"].float() - (dequantize_4bit(codes, state).float() + delta)).abs().max()
        assert delta.abs().max() > 10 * from_bf16, name  # the adapter is in the merged weights
        assert from_bf16 < 0.1 * from_4bit, (name, float(from_bf16), float(from_4bit))


def test_release_status_judges_the_distilled_models_without_a_gpu(tmp_path):
    """`status` on a CPU machine says where the 4B QLoRA students stand; only `build` asks for CUDA."""
    r = run_cli("status", "-c", str(ROOT / "configs" / "release.yaml"), "-w", str(tmp_path / "ws"))
    assert r.returncode == 0, r.stderr
    for name in ("Qwen3-4B-Kimi2.5-Reasoning-Distilled", "Qwen3-4B-Qwen3.6-plus-Reasoning-Distilled"):
        cells = [c.strip() for c in next(x for x in r.stdout.splitlines() if name[:20] in x).split("│")]
        assert cells[2:5] == ["distill-model", "not built", ""], cells


def test_publish_adapter_is_its_own_repo_and_the_merged_model_repo_has_no_adapter(data_ws, tmp_path, hub, api):
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    _, src_ws = data_ws
    config = copy_project(tmp_path / "p") / "demo.yaml"
    _longer_recipe(config, steps=6, save_steps=3)
    data = yaml.safe_load(config.read_text())
    data["models"][0]["publish_adapter"] = True
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    ws = _copy_ws(src_ws, tmp_path / "ws")
    adapter = f"{MODEL_A}-adapter"
    assert run_cli("build", adapter, "-c", str(config), "-w", str(ws)).returncode == 0
    r = run_cli("publish", "-c", str(config), "-w", str(ws), "--hub", hub.url, env={"HF_TOKEN": hub.token})
    assert r.returncode == 0, r.stderr

    model_files = set(api.list_repo_files(f"hubkit-demo/{MODEL_A}"))
    adapter_files = set(api.list_repo_files(f"hubkit-demo/{adapter}"))
    assert "model.safetensors" in model_files and not any(f.startswith("adapter") for f in model_files)
    assert {"adapter_model.safetensors", "adapter_config.json", "README.md", "training/loss.png"} <= adapter_files
    card = api.hf_hub_download(f"hubkit-demo/{adapter}", "README.md", cache_dir=str(tmp_path / "c"))
    text = Path(card).read_text()
    assert "base_model_relation: adapter" in text and "library_name: peft" in text
    assert "base_model: hubkit-testing/tiny-qwen3" in text
    cfg = json.loads((ws / adapter / "adapter_config.json").read_text())
    assert cfg["base_model_name_or_path"] == "hubkit-testing/tiny-qwen3"  # no local path leaks out

    # The adapter on the base gives the merged model's outputs (up to bf16 rounding of the merge),
    # far closer than the base alone does.
    (folder,) = (ws / ".journal" / MODEL_A).glob("base-*")
    base = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    ids = torch.tensor([[1, 5, 9, 40, 77, 3]])
    with torch.no_grad():
        untrained = base(input_ids=ids).logits
        a = PeftModel.from_pretrained(base, ws / adapter).eval()(input_ids=ids).logits
        b = AutoModelForCausalLM.from_pretrained(ws / MODEL_A, dtype=torch.float32).eval()(input_ids=ids).logits
    assert (a - b).abs().max() < 0.25 * (untrained - b).abs().max()


def test_the_gpu_check_says_per_path_that_this_machine_has_no_cuda():
    """benchmarks/gpu_check.py as a Job runs it (a plain `python`): here, no GPU, one line a path, exit 3."""
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: run benchmarks/gpu_check.py itself")
    r = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py")], capture_output=True, text=True,
                       env={**os.environ, **NO_HUB}, timeout=120)  # fmt: skip
    assert r.returncode == 3, r.stdout + r.stderr
    paths = ["peft-lora", "peft-qlora", "space-local", "vllm-eval", "unsloth-lora", "unsloth-qlora"]
    lines = r.stdout.splitlines()
    assert lines[0].startswith("gpu_check: no CUDA GPU on this machine") and len(lines) == 1 + len(paths)
    assert [line.split()[0] for line in lines[1:]] == paths
    assert all("not run" in line and "no CUDA GPU" in line for line in lines[1:])
    assert "Traceback" not in r.stderr
