"""The `hubkit` entry point: exit codes, one-line errors, the demo job end to end."""

from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from tests.conftest import ROOT, copy_demo, run_cli

HEAVY = ("torch", "transformers", "datasets", "gradio", "mergekit", "peft", "trl", "matplotlib")


def test_help_imports_nothing_heavy():
    code = (
        "import sys; from hubkit.cli import app; import typer.testing as t;"
        "r = t.CliRunner().invoke(app, ['--help']); assert r.exit_code == 0, r.output;"
        f"print([m for m in {HEAVY!r} if m in sys.modules])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_help_lists_the_commands():
    r = run_cli("--help")
    assert r.returncode == 0
    for cmd in ("status", "build", "release"):
        assert cmd in r.stdout


def test_missing_config_is_one_line_exit_2(tmp_path):
    r = run_cli("status", "--config", str(tmp_path / "nope.yaml"))
    assert r.returncode == 2
    assert r.stderr == f"{tmp_path / 'nope.yaml'}: file not found\n"


def test_invalid_config_is_one_line_per_problem_exit_2(demo_config):
    data = yaml.safe_load(demo_config.read_text())
    del data["models"][1]["base_model"]
    demo_config.write_text(yaml.safe_dump(data, sort_keys=False))
    r = run_cli("build", "--config", str(demo_config))
    assert r.returncode == 2
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in r.stderr
    assert lines[0].startswith(f"{demo_config}: models[1].base_model: field required")


def test_unknown_artifact_exit_2(demo_config, tmp_path):
    r = run_cli("build", "nope", "-c", str(demo_config), "-w", str(tmp_path / "ws"))
    assert r.returncode == 2
    assert r.stderr.startswith("unknown artifact 'nope' (known: ")


def test_default_config_is_release_yaml(tmp_path):
    r = run_cli("status", "-w", str(tmp_path / "ws"))
    assert r.returncode == 0, r.stderr
    assert "Qwen3-4B-Kimi2.5-Reasoning-" in r.stdout


@pytest.mark.e2e
def test_demo_build_status_and_release(trained_demo, tmp_path):
    # The build is the session's shared trained demo: `hubkit build` run by the real entry point.
    built = (trained_demo / "build.log").read_text()
    assert "tiny-qwen3-a-distilled: built" in built
    assert "tiny-qwen3-a-distilled: training lora (peft) on 8 rows of tiny-teacher-a-reasoning" in built
    assert "tiny-teacher-a-reasoning: built" in built  # generated over HTTP by the scripted teacher
    assert "evaluate: hubkit-demo/tiny-qwen3-slerp: 100 new samples" in built  # the evaluation artifact

    demo = copy_demo(trained_demo, tmp_path / "demo")
    config, ws = str(demo / "configs" / "demo.yaml"), str(demo / "ws")
    r = run_cli("status", "-c", config, "-w", ws)
    assert r.returncode == 0
    row = next(line for line in r.stdout.splitlines() if "tiny-qwen3-b-distil" in line)
    assert "up to date" in row

    r = run_cli("release", "-c", config, "-w", ws)
    assert r.returncode == 0, r.stderr
    assert "tiny-qwen3-a-distilled: up to date, nothing to do" in r.stdout
    assert "tiny-cmdr-bench-details: up to date, nothing to do" in r.stdout
    assert (
        "tiny-qwen3-slerp: card rendered (.eval_results/cmdr_bench.yaml, README.md, benchmark/cmdr_bench.png)"
        in r.stdout
    )
    assert "model:hubkit-demo/tiny-qwen3-slerp: committed " in r.stdout  # to the embedded local hub
    assert (demo / "ws" / ".hub" / "repos" / "model" / "hubkit-demo" / "tiny-qwen3-slerp").is_dir()

    # The students were trained for real, and their cards say how.
    card = (demo / "ws" / "tiny-qwen3-a-distilled" / "README.md").read_text()
    assert "## Training" in card and "| optimizer steps | 40 |" in card


def test_errors_never_show_a_secret(tmp_path):
    """The CLI's error path redacts: a user's mistake that echoes a secret prints *** instead."""
    secret = "hf_abcdefghijklmnop"
    missing = tmp_path / f"pasted-{secret}" / "release.yaml"
    r = run_cli("status", "--config", str(missing), env={"HF_TOKEN": secret})
    assert r.returncode == 2
    assert r.stderr == f"{tmp_path}/pasted-***/release.yaml: file not found\n"
