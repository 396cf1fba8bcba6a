"""The comparison Space as published: downloaded from the local hub, started, asked over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hubkit import pipeline
from hubkit.config import load_release
from hubkit.hub.publish import publish_release
from hubkit.workspace import Workspace
from tests.conftest import ROOT, copy_project, fixture_models, free_port

SCRIPT = """
import json, sys
sys.path.insert(0, ".")
import app
port = int(sys.argv[1])
app.demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
from gradio_client import Client
client = Client(f"http://127.0.0.1:{port}/", verbose=False)
out = client.predict("What is 6 times 7?", 16, api_name="/compare")
print("RESULT " + json.dumps({"out": list(out), "split": app.split_reasoning("<think>a</think> b"),
                             "open": app.split_reasoning("still thinking", opened=True)}))
app.demo.close()
"""


@pytest.mark.e2e
def test_the_published_space_answers_with_every_model(tmp_path, hub):
    from huggingface_hub import snapshot_download

    config = fixture_models(copy_project(tmp_path) / "demo.yaml")  # the Space is the subject, not training
    rel, ws = load_release(config), Workspace(tmp_path / "ws")
    out = pipeline.build(rel, ws, ["tiny-qwen3-compare", *(m.name for m in rel.models), rel.merge.name],
                         report=lambda m: None)  # fmt: skip
    assert out["tiny-qwen3-compare"] == "built"
    cfg = json.loads((ws.path("tiny-qwen3-compare") / "space_config.json").read_text())
    models = [
        "hubkit-demo/tiny-qwen3-a-distilled",
        "hubkit-demo/tiny-qwen3-b-distilled",
        "hubkit-demo/tiny-qwen3-slerp",
    ]
    assert cfg["models"] == models and cfg["max_new_tokens"] == 32
    pipeline.cards(rel, ws, report=lambda m: None)
    publish_release(rel, ws, hub.url, hub.token, report=lambda m: None)

    space = snapshot_download("hubkit-demo/tiny-qwen3-compare", repo_type="space", endpoint=hub.url,
                              cache_dir=str(tmp_path / "cache"))  # fmt: skip
    assert {"app.py", "requirements.txt", "space_config.json", "README.md", "reasoning.py"} <= set(os.listdir(space))
    # The splitter is hubkit's own file, byte for byte, not a second copy kept by hand.
    assert (Path(space) / "reasoning.py").read_bytes() == (ROOT / "hubkit" / "llm" / "reasoning.py").read_bytes()
    assert cfg["benchmark"] == "hubkit-demo/tiny-cmdr-bench" and cfg["details"] == "hubkit-demo/tiny-cmdr-bench-details"
    from importlib.metadata import version

    card = (Path(space) / "README.md").read_text()
    assert f"sdk_version: {version('gradio')}" in card and "suggested_hardware: cpu-basic" in card
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HOME": str(tmp_path / "hf"), "NO_PROXY": "127.0.0.1,localhost"}  # fmt: skip
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(free_port())], cwd=space, env=env,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, r.stderr[-3000:]
    result = json.loads(line[len("RESULT ") :])
    assert len(result["out"]) == 2 * len(models) and all(isinstance(x, str) and x for x in result["out"])
    assert result["split"] == ["a", "b", True] and result["open"] == ["still thinking", "", False]


def space_of(config):
    from hubkit.artifacts.space import artifacts

    return artifacts(load_release(config))[0]


def test_the_app_folder_is_copied_with_its_subfolders_and_nested_changes_rebuild(demo_config, tmp_path):
    from hubkit.artifacts.base import BuildContext

    app = demo_config.parent.parent / "spaces" / "compare"
    (app / "assets" / "nested").mkdir(parents=True)
    (app / "assets" / "nested" / "note.txt").write_text("one")
    (app / "__pycache__").mkdir()
    (app / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"\0")
    space = space_of(demo_config)
    assert space.inputs == ("tiny-cmdr-bench", "tiny-cmdr-bench-details")  # what its tabs read
    before = space.spec()
    out = tmp_path / "out"
    out.mkdir()
    space.build(BuildContext(space.release, out, {}, report=lambda m: None))
    built = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert {"app.py", "requirements.txt", "reasoning.py", "space_config.json", "assets/nested/note.txt"} <= built
    assert not any("__pycache__" in p for p in built)
    (app / "assets" / "nested" / "note.txt").write_text("two")
    assert space_of(demo_config).spec() != before  # a nested change makes the Space stale


@pytest.mark.parametrize("name", ["reasoning.py", "space_config.json"])
def test_an_app_file_hubkit_would_overwrite_is_refused(demo_config, tmp_path, name):
    from hubkit.artifacts.base import BuildContext
    from hubkit.errors import UsageError

    app = demo_config.parent.parent / "spaces" / "compare"
    (app / name).write_text("# a hand-kept copy\n")
    space = space_of(demo_config)
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(UsageError, match=f"{name}: hubkit writes this file"):
        space.build(BuildContext(space.release, out, {}, report=lambda m: None))


def test_unknown_space_hardware_is_a_config_error(demo_config):
    from hubkit.errors import ConfigError

    demo_config.write_text(demo_config.read_text().replace("hardware: cpu-basic", "hardware: h100-huge"))
    with pytest.raises(ConfigError, match="unknown Space hardware 'h100-huge'"):
        load_release(demo_config)
