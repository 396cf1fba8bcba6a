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


# --- the secrets each stage needs, to the step that uses them only --------------------------------
def secrets_by_step(workflow: dict) -> dict[tuple[str, str], set[str]]:
    """(job, step name or command) -> the `secrets.NAME` its environment receives (a workflow- or
    job-level env reaches every step below it)."""
    import re

    def named(env: dict | None) -> set[str]:
        return {m for v in (env or {}).values() for m in re.findall(r"secrets\.([A-Za-z_][A-Za-z0-9_]*)", str(v))}

    out = {}
    for job_name, job in workflow["jobs"].items():
        for step in job["steps"]:
            key = (job_name, step.get("name") or step.get("run") or step["uses"])
            out[key] = named(workflow.get("env")) | named(job.get("env")) | named(step.get("env"))
    return out


def step_running(workflow: dict, job: str, command: str) -> tuple[str, str]:
    (step,) = [s for s in workflow["jobs"][job]["steps"] if command in s.get("run", "")]
    return job, step.get("name") or step["run"]


def workflow_problems(workflow: dict, release) -> list[str]:
    """Every variable the config names must reach, as a secret of that name, the step that uses it and
    no other: teacher keys, a judge's or an endpoint's key and the Jobs token the build step, the Space's
    secrets the publish step."""
    from hubkit.config import variable_names

    given = secrets_by_step(workflow)
    step = {"build": step_running(workflow, "build", "hubkit build"),
            "publish": step_running(workflow, "publish", "hubkit publish")}  # fmt: skip
    problems, seen = [], set()
    for loc, name in variable_names(release):
        stage = "publish" if loc[0] == "space" else "build"
        if loc[:2] == ("space", "backend") or (name, stage) in seen:
            continue  # the Space's own secret is set in its settings, not by the workflow
        seen.add((name, stage))
        if name not in given[step[stage]]:
            problems.append(f"{name} ({'.'.join(map(str, loc))}) does not reach the {stage} step")
        elsewhere = sorted(k[1] for k, names in given.items() if name in names and k != step[stage])
        if elsewhere:
            problems.append(f"{name} also reaches {', '.join(elsewhere)}")
    return problems


def test_release_workflow_gives_each_step_the_secrets_the_config_names_and_no_other():
    from hubkit import pipeline

    workflow = load("release.yml")
    release = pipeline.load(ROOT / "configs" / "release.yaml")
    assert workflow_problems(workflow, release) == []
    given = secrets_by_step(workflow)
    build = step_running(workflow, "build", "hubkit build")
    publish = step_running(workflow, "publish", "hubkit publish")
    assert given[build] == {"MOONSHOT_API_KEY", "DASHSCOPE_API_KEY", "HF_JOBS_TOKEN"}
    assert given[publish] == {"HF_TOKEN", "HUBKIT_SPACE_TOKEN"}
    assert all(not names for k, names in given.items() if k not in (build, publish))


def test_a_config_naming_a_variable_the_workflow_does_not_pass_fails(tmp_path):
    import copy

    from hubkit import pipeline
    from tests.conftest import copy_project

    config = copy_project(tmp_path) / "release.yaml"
    data = yaml.safe_load(config.read_text())
    data["benchmark"]["judge"] = {"model": "judge", "base_url": "https://judge.example/v1", "api_key_env": "JUDGE_KEY"}
    data["models"][0]["compute"]["jobs"]["token_env"] = "OTHER_JOBS_TOKEN"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    workflow = load("release.yml")
    assert workflow_problems(workflow, pipeline.load(config)) == [
        "OTHER_JOBS_TOKEN (models.0.compute.jobs.token_env) does not reach the build step",
        "JUDGE_KEY (benchmark.judge.api_key_env) does not reach the build step",
    ]
    leaky = copy.deepcopy(workflow)  # a job-level env reaches every step of the job: `status` too
    leaky["jobs"]["build"]["env"]["HF_JOBS_TOKEN"] = "${{ secrets.HF_JOBS_TOKEN }}"
    (problem,) = workflow_problems(leaky, pipeline.load(ROOT / "configs" / "release.yaml"))
    assert problem.startswith("HF_JOBS_TOKEN also reaches ") and "status (what will be built" in problem


@pytest.mark.e2e
def test_the_release_workflow_runs_a_student_as_a_job_and_publishes_keyless(fixture_demo, tmp_path):
    """The release workflow's own commands against `hubkit hub serve` with local Jobs: the demo with one
    student placed on Jobs builds (that student as a Job, the rest here) and publishes keyless. The hub
    lists exactly one job, COMPLETED; the student is up to date and its card is a student's card like the
    other's; the token that starts Jobs appears in no output and no file."""
    import os
    import secrets
    import subprocess

    from hubkit.hub.auth import hf_api
    from hubkit.testing.oidc import OidcIssuer, github_claims
    from tests.conftest import HubProcess, copy_demo, run_cli
    from tests.test_trusted_publishing import RULE, github_expression

    student = "tiny-qwen3-a-distilled"
    project = copy_demo(fixture_demo, tmp_path / "p", ".hubkit")  # the checkout, with the workspace built before
    config = project / "configs" / "demo.yaml"
    data = yaml.safe_load(config.read_text())
    data["models"][0]["base_fixture"]["seed"] = 11  # a new student: to build again, as a Job
    data["models"][0]["compute"] = {"jobs": {"flavor": "cpu-basic", "timeout": "15m", "image": "ghcr.io/acme/hubkit:t"}}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    (project / ".venv").symlink_to(ROOT / ".venv")  # what `make install` made
    token = f"jobs-token-{secrets.token_hex(8)}"
    workflow = load("release.yml")
    issuer = OidcIssuer()
    with issuer.serve(github_claims(), "actions-request-token") as github:
        hub = HubProcess(tmp_path / "hub-data", token)
        trust = issuer.trust_file(tmp_path / "trust.yaml", hub.url, RULE, ["hubkit-demo"],
                                  jwks=f"{github.url}/.well-known/jwks")  # fmt: skip
        hub.extra = ("--trust", str(trust))
        hub.start()
        try:
            ctx = {
                "inputs": {"config": "configs/demo.yaml", "create_pr": False},
                "vars": {"HF_ENDPOINT": hub.url, "HF_OIDC_RESOURCE": "hubkit-demo"},
                "secrets": {"HF_JOBS_TOKEN": token},  # the only stored secret; no HF_TOKEN: publishing is keyless
                "github": {},
            }
            base = {k: v for k, v in os.environ.items() if not k.startswith(("HF_", "HUGGING"))}
            base |= {"GITHUB_ACTIONS": "true", "CI": "true", "GITHUB_REPOSITORY": "acme/hubkit", "COLUMNS": "200",
                     "GITHUB_REF": "refs/tags/v0.1.0", "GITHUB_WORKSPACE": str(project),
                     "HF_HUB_DISABLE_TELEMETRY": "1", "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}  # fmt: skip
            said, ran = "", []
            for job_name in ("build", "publish"):
                job = workflow["jobs"][job_name]
                env = base | {k: github_expression(v, ctx) for scope in (workflow.get("env", {}), job.get("env", {}))
                              for k, v in scope.items()}  # fmt: skip
                if job.get("permissions", {}).get("id-token") == "write":  # what GitHub gives such a job
                    env |= {"ACTIONS_ID_TOKEN_REQUEST_URL": f"{github.url}/token",
                            "ACTIONS_ID_TOKEN_REQUEST_TOKEN": "actions-request-token"}  # fmt: skip
                for step in job["steps"]:
                    if "run" not in step or step["run"].strip() == "make install":
                        continue
                    step_env = env | {k: github_expression(v, ctx) for k, v in step.get("env", {}).items()}
                    bash = ["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]]
                    r = subprocess.run(bash, cwd=project, env=step_env, capture_output=True, text=True, timeout=900)
                    said += r.stdout + r.stderr
                    assert r.returncode == 0, f"{step.get('name')}: {r.stdout[-3000:]}{r.stderr[-3000:]}"
                    ran.append(step["name"])
            assert [n.split(" (")[0] for n in ran] == ["status", "build", "plan", "publish"]
            assert f"{student}: building as a Hugging Face Job" in said and "hashes checked" in said
            assert "tiny-qwen3-b-distilled: up to date" in said  # the other student stays here, untouched

            api = hf_api(hub.url, token)
            (job,) = api.list_jobs(namespace="hubkit-demo")
            assert job.status.stage == "COMPLETED" and job.labels["hubkit-artifact"] == student
            assert job.secrets == {"HF_TOKEN": None} and token not in str(job.environment)
            status = run_cli("status", "-c", str(config), "-w", str(project / ".hubkit"))
            rows = {line.split("│")[1].strip(): line for line in status.stdout.splitlines() if line.count("│") > 4}
            assert all("up to date" in row for row in rows.values()), status.stdout
            assert "Jobs cpu-basic, timeout 15m" in rows[student]

            # Published from main as usual, tagged, with a student's card like the one built here.
            files = api.list_repo_files(f"hubkit-demo/{student}")
            assert {"model.safetensors", "README.md", "training/metrics.json"} <= set(files)
            assert "manifest.json" not in files and not any(f.startswith(("adapter/", "hubkit-job/")) for f in files)
            assert any(t.name == "v0.1.0" for t in api.list_repo_refs(f"hubkit-demo/{student}").tags)

            def headings(name: str) -> list[str]:
                card = (project / ".hubkit" / name / "README.md").read_text()
                return [line for line in card.splitlines() if line.startswith("#") and "tiny-qwen3" not in line]

            assert headings(student) == headings("tiny-qwen3-b-distilled") and "## Training" in headings(student)
            assert token not in said
            for root in (project, tmp_path / "hub-data"):
                leaked = [p for p in root.rglob("*") if p.is_file() and token.encode() in p.read_bytes()]
                assert leaked == []
        finally:
            hub.stop()
