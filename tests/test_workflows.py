"""The GitHub Actions workflows: actionlint and zizmor find nothing, and the release policy holds."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
BIN = Path(sys.executable).parent


def tool(name: str) -> str:
    found = shutil.which(name, path=str(BIN)) or shutil.which(name)
    assert found, f"{name} is not installed (pip install -e '.[dev]')"
    return found


def actionlint(folder: Path) -> subprocess.CompletedProcess:
    files = sorted(str(p) for p in folder.glob("*.yml"))
    return subprocess.run([tool("actionlint"), "-no-color", *files], capture_output=True, text=True, timeout=120)


def zizmor(folder: Path) -> subprocess.CompletedProcess:
    # --offline: audits that need the GitHub API (e.g. known-vulnerable action versions) are skipped.
    files = sorted(str(p) for p in folder.glob("*.yml"))
    cmd = [tool("zizmor"), "--offline", "--no-progress", "--format", "plain", *files]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120)


def test_actionlint_and_zizmor_find_nothing():
    lint = actionlint(WORKFLOWS)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    audit = zizmor(WORKFLOWS)
    assert audit.returncode == 0, audit.stdout + audit.stderr


BAD = """
name: bad
on:
  issues:
    types: [opened]
jobs:
  greet:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
      - run: echo "${{ github.event.issue.title }}"
      - run: echo ${{ github.evnt.name }}
"""


def test_the_linters_do_fail_on_a_bad_workflow(tmp_path):
    (tmp_path / "bad.yml").write_text(BAD)
    lint = actionlint(tmp_path)
    assert lint.returncode != 0 and "evnt" in lint.stdout
    audit = zizmor(tmp_path)
    assert audit.returncode != 0 and "template-injection" in audit.stdout


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


@pytest.mark.parametrize("name", sorted(p.name for p in WORKFLOWS.glob("*.yml")))
def test_every_workflow_is_read_only_by_default_and_runs_no_expression_in_shell(name):
    wf = load(name)
    assert wf["permissions"] == {}, "top-level permissions must be empty; jobs ask for what they need"
    for job_name, job in wf["jobs"].items():
        perms = job.get("permissions", {})
        assert perms.get("contents") in (None, "read") and set(perms) <= {"contents", "id-token"}
        if perms.get("id-token") == "write":
            assert (name, job_name) == ("release.yml", "publish"), "only the publish job may mint id tokens"
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), f"{job_name}: inputs reach shell through env:"
            if step.get("uses", "").startswith("actions/checkout"):
                assert step["with"]["persist-credentials"] is False


def test_release_runs_on_tags_one_at_a_time_in_a_protected_environment():
    wf = load("release.yml")
    on = wf[True] if True in wf else wf["on"]  # YAML 1.1 reads the key `on` as True
    assert on["push"]["tags"] == ["v*"] and "workflow_dispatch" in on
    assert wf["concurrency"]["cancel-in-progress"] is False and wf["concurrency"]["group"]
    publish = wf["jobs"]["publish"]
    assert publish["environment"] == "hub" and publish["needs"] == "build"
    assert "id-token" not in wf["jobs"]["build"]["permissions"]
    assert publish["env"]["HF_OIDC_RESOURCE"]


def test_pull_requests_get_a_plan_for_configs_cards_and_the_space():
    wf = load("plan.yml")
    on = wf[True] if True in wf else wf["on"]
    assert {"configs/**", "cards/**", "spaces/**"} <= set(on["pull_request"]["paths"])
    runs = " ".join(s.get("run", "") for s in wf["jobs"]["plan"]["steps"])
    assert "hubkit plan" in runs and "GITHUB_STEP_SUMMARY" in runs
