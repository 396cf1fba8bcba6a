from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    # Any accidental Hub access fails fast instead of hanging on the closed network.
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")


@pytest.fixture
def demo_config(tmp_path: Path) -> Path:
    """A private copy of configs/ so a test can edit the demo profile freely."""
    shutil.copytree(CONFIGS, tmp_path / "configs")
    return tmp_path / "configs" / "demo.yaml"


def run_cli(
    *args: str, cwd: Path | None = None, env: dict | None = None
) -> subprocess.CompletedProcess:
    """The real `hubkit` entry point in a subprocess: real exit codes, real stderr."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "COLUMNS": "200", **(env or {})}
    return subprocess.run(
        [sys.executable, "-m", "hubkit", *args],
        cwd=cwd or ROOT, env=full_env, capture_output=True, text=True, timeout=600,
    )  # fmt: skip


KIMI = "khazarai/Qwen3-4B-Kimi2.5-Reasoning-Distilled"
QWEN = "khazarai/Qwen3-4B-Qwen3.6-plus-Reasoning-Distilled"


@pytest.fixture(scope="session")
def tiny_pair(tmp_path_factory) -> dict[str, Path]:
    """Two tiny 9-layer Qwen3 models standing in for the seed's two distilled models."""
    from hubkit.testing import save_tiny_qwen3

    root = tmp_path_factory.mktemp("pair")
    return {
        KIMI: save_tiny_qwen3(root / "kimi", seed=1, layers=9),
        QWEN: save_tiny_qwen3(root / "qwen", seed=2, layers=9),
    }
