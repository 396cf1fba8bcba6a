"""The comparison Space as published: downloaded from the local hub, started, asked over HTTP."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from hubkit import pipeline
from hubkit.config import load_release
from hubkit.hub.publish import publish_release
from hubkit.workspace import Workspace
from tests.conftest import copy_project, fixture_models, free_port

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
                             "open": app.split_reasoning("still thinking")}))
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
    assert {"app.py", "requirements.txt", "space_config.json", "README.md"} <= set(os.listdir(space))
    env = {**os.environ, "HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1", "GRADIO_ANALYTICS_ENABLED": "False",
           "HF_HOME": str(tmp_path / "hf"), "NO_PROXY": "127.0.0.1,localhost"}  # fmt: skip
    r = subprocess.run([sys.executable, "-c", SCRIPT, str(free_port())], cwd=space, env=env,
                       capture_output=True, text=True, timeout=300)  # fmt: skip
    line = next((x for x in r.stdout.splitlines() if x.startswith("RESULT ")), None)
    assert line, r.stderr[-3000:]
    result = json.loads(line[len("RESULT ") :])
    assert len(result["out"]) == 2 * len(models) and all(isinstance(x, str) and x for x in result["out"])
    assert result["split"] == ["a", "b"] and result["open"] == ["still thinking", ""]
