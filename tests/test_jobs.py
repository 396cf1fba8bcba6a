"""Hugging Face Jobs: the local hub's Jobs API (driven only through huggingface_hub), and artifacts
placed on Jobs built there by the same hubkit, brought back, and never started twice.

The local hub runs a job as a process of its own environment: the demo student's Job runs this
checkout's `hubkit jobs work` (the image named in the config is recorded, not pulled).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from hubkit.errors import UsageError
from tests.conftest import NO_HUB, ROOT, copy_demo, run_cli, run_cli_process

PY = sys.executable
STUDENT = "tiny-qwen3-a-distilled"
IMAGE = "ghcr.io/acme/hubkit:test"  # recorded by the local hub; the job runs the hubkit installed here


@pytest.fixture
def hub(tmp_path):
    """A fresh local hub whose token (the only one that may run Jobs) is distinctive, to find it anywhere it leaks."""
    import secrets

    from tests.conftest import LocalHub

    h = LocalHub(tmp_path / "hub-data", token=f"jobs-token-{secrets.token_hex(8)}")
    yield h
    h.stop()


def wait_stage(api, job_id, namespace="acme", stages=("COMPLETED", "ERROR", "CANCELED"), timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = api.inspect_job(job_id=job_id, namespace=namespace)
        if info.status.stage in stages:
            return info
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {info.status.stage}")


def alive(pid: int) -> bool:
    """Running (a zombie, dead but not reaped by whoever adopted it, is not)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return False
    return state != "Z"


def files_holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


# --- the local hub's Jobs, through huggingface_hub ---------------------------------------------
def test_a_job_runs_its_command_with_its_environment_and_hidden_secrets(hub, api):
    secret = "job-secret-value-0123456789"
    code = ("import os; print('env', os.environ['GREETING']); print('secret length', len(os.environ['TOKEN']));"
            "print('home', os.environ['HOME'] == os.getcwd())")  # fmt: skip
    job = api.run_job(image="python:3.12", command=[PY, "-c", code], env={"GREETING": "hello"}, namespace="acme",
                      secrets={"TOKEN": secret}, flavor="cpu-basic", labels={"team": "x"})  # fmt: skip
    assert job.status.stage in ("SCHEDULING", "RUNNING") and job.owner.name == "acme"
    assert job.url == f"{hub.url}/jobs/acme/{job.id}"
    logs = list(api.fetch_job_logs(job_id=job.id, namespace="acme", follow=True))  # streams until the end
    assert logs == ["env hello", f"secret length {len(secret)}", "home True"]
    info = wait_stage(api, job.id)
    assert info.status.stage == "COMPLETED" and info.docker_image == "python:3.12"
    assert info.environment == {"GREETING": "hello"} and info.secrets == {"TOKEN": None}  # names only
    assert info.labels["team"] == "x" and info.durations.total_secs is not None
    assert info.started_at >= info.created_at and info.finished_at >= info.started_at
    assert secret not in json.dumps(api.inspect_job(job_id=job.id, namespace="acme").__dict__, default=str)
    assert files_holding(hub.root, secret) == []  # nowhere on the hub's disk
    assert not (hub.root / "jobs" / "scratch" / job.id).exists()  # the scratch folder is gone


def test_a_failing_job_is_an_error_with_its_exit_code_and_log(hub, api):
    job = api.run_job(image="x", command=[PY, "-c", "print('about to fail'); raise SystemExit(3)"], namespace="acme")
    info = wait_stage(api, job.id)
    assert (info.status.stage, info.status.message) == ("ERROR", "Job failed with exit code 3")
    assert "about to fail" in list(api.fetch_job_logs(job_id=job.id, namespace="acme"))
    missing = api.run_job(image="x", command=["no-such-command-here"], namespace="acme")
    info = wait_stage(api, missing.id)
    assert info.status.stage == "ERROR" and "cannot start 'no-such-command-here'" in info.status.message


def test_a_job_past_its_timeout_is_stopped_and_says_so(hub, api):
    job = api.run_job(image="x", command=["sleep", "30"], namespace="acme", timeout="1s")
    info = api.wait_for_job(job.id, namespace="acme", poll_interval=0.2, timeout=20)
    assert info.status.stage == "ERROR" and "timed out" in info.status.message
    assert info.durations.running_secs < 10


def test_cancel_stops_a_running_job_and_its_children(hub, api, tmp_path):
    marker = tmp_path / "child.pid"
    code = (f"import subprocess, pathlib; p = subprocess.Popen(['sleep', '60']); "
            f"pathlib.Path({str(marker)!r}).write_text(str(p.pid)); p.wait()")  # fmt: skip
    job = api.run_job(image="x", command=[PY, "-c", code], namespace="acme")
    deadline = time.monotonic() + 20
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    api.cancel_job(job_id=job.id, namespace="acme")
    info = api.inspect_job(job_id=job.id, namespace="acme")
    assert info.status.stage == "CANCELED"
    child = int(marker.read_text())
    time.sleep(0.5)
    assert not alive(child)  # the job's whole process group went
    api.cancel_job(job_id=job.id, namespace="acme")  # again: it stays as it is
    assert api.inspect_job(job_id=job.id, namespace="acme").status.stage == "CANCELED"


def test_list_pages_with_link_headers_and_filters_by_stage_and_label(hub, api):
    from hubkit.localhub.server import JOBS_PAGE

    ids = [api.run_job(image="x", command=["true"], namespace="many", labels={"n": str(i), "kind": "quick"}).id
           for i in range(JOBS_PAGE + 5)]  # fmt: skip
    slow = api.run_job(image="x", command=["sleep", "30"], namespace="many", labels={"kind": "slow"})
    for i in ids:
        wait_stage(api, i, "many")
    listed = list(api.list_jobs(namespace="many"))  # two pages: the client follows the Link header
    assert len(listed) == JOBS_PAGE + 6 and {j.id for j in listed} == {*ids, slow.id}
    assert [j.id for j in api.list_jobs(namespace="many", labels={"n": "3"})] == [ids[3]]
    assert [j.id for j in api.list_jobs(namespace="many", status=["RUNNING", "SCHEDULING"])] == [slow.id]
    assert len(list(api.list_jobs(namespace="many", labels={"kind": "quick"}, status="COMPLETED"))) == JOBS_PAGE + 5
    assert list(api.list_jobs(namespace="nobody")) == []
    relabelled = api.update_job_labels(job_id=slow.id, labels={"kind": "renamed"}, namespace="many")
    assert relabelled.labels == {"kind": "renamed"}
    assert [j.id for j in api.list_jobs(namespace="many", labels={"kind": "renamed"})] == [slow.id]
    api.cancel_job(job_id=slow.id, namespace="many")
    assert api.inspect_job(job_id=slow.id, namespace="many").labels == {"kind": "renamed"}  # kept to the end


def test_hardware_lists_flavors_with_prices_and_unknown_flavors_are_refused(hub, api):
    from huggingface_hub.errors import HfHubHTTPError

    hardware = {h.name: h for h in api.list_jobs_hardware()}
    assert hardware["a10g-large"].accelerator.model == "A10G" and hardware["cpu-basic"].accelerator is None
    a10g = hardware["a10g-large"]
    assert abs(a10g.unit_cost_usd * 60 - 1.50) < 0.001 and a10g.unit_label == "minute"
    with pytest.raises(HfHubHTTPError) as err:
        api.run_job(image="x", command=["true"], namespace="acme", flavor="gpu-of-dreams")
    assert err.value.response.status_code == 400 and "Unknown flavor" in str(err.value)


def test_a_stopping_hub_stops_its_jobs_and_the_next_one_sees_them_stopped(tmp_path):
    from hubkit.hub.auth import hf_api
    from tests.conftest import LocalHub

    first = LocalHub(tmp_path / "hub")
    api = hf_api(first.url, first.token)
    job = api.run_job(image="x", command=["sleep", "60"], namespace="acme")
    wait_stage(api, job.id, stages=("RUNNING",))
    first.stop()
    second = LocalHub(tmp_path / "hub")
    try:
        info = hf_api(second.url, second.token).inspect_job(job_id=job.id, namespace="acme")
        assert info.status.stage == "ERROR" and "stopped" in info.status.message
    finally:
        second.stop()


# --- placement in the config ---------------------------------------------------------------------
def place(config: Path, **jobs) -> Path:
    """Student A of a demo config placed on Jobs (a new base seed: a student to build again)."""
    data = yaml.safe_load(config.read_text())
    student = data["models"][0]
    student["base_fixture"]["seed"] = 11
    student["compute"] = {"jobs": {"flavor": "cpu-basic", "timeout": "10m", "image": IMAGE, **jobs}}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    return config


def test_placement_is_checked_at_load_and_is_not_part_of_the_fingerprint(demo_config, tmp_path):
    from hubkit import pipeline
    from hubkit.errors import ConfigError
    from hubkit.workspace import Workspace

    before = pipeline.plan(pipeline.load(demo_config), Workspace(tmp_path / "ws")).key(STUDENT)
    data = yaml.safe_load(demo_config.read_text())
    data["models"][0]["compute"] = {"jobs": {"flavor": "a10g-large", "timeout": "6h"}}
    demo_config.write_text(yaml.safe_dump(data, sort_keys=False))
    release = pipeline.load(demo_config)
    assert release.models[0].compute.jobs.seconds == 6 * 3600
    assert pipeline.plan(release, Workspace(tmp_path / "ws")).key(STUDENT) == before  # where it builds is not what
    bad = {
        "flavor": ({"flavor": "gpu-of-dreams"}, "unknown Jobs flavor 'gpu-of-dreams'"),
        "timeout": ({"flavor": "a10g-large", "timeout": "six hours"}, "compute.jobs.timeout: string should match"),
        "token": ({"flavor": "a10g-large", "token_env": "hf_abcdefghijklmnopqrstuvwx"}, "not hold a key"),
        "key": ({"flavor": "a10g-large", "gpus": 2}, "compute.jobs.gpus: unknown key"),
    }
    for jobs, message in bad.values():
        data["models"][0]["compute"] = {"jobs": jobs}
        demo_config.write_text(yaml.safe_dump(data, sort_keys=False))
        with pytest.raises(ConfigError) as err:
            pipeline.load(demo_config)
        assert message in str(err.value) and "hf_abcdefghijklmnopqrstuvwx" not in str(err.value), str(err.value)


def test_status_shows_where_each_artifact_builds_and_the_price_cap(demo_config, hub):
    data = yaml.safe_load(demo_config.read_text())
    data["models"][0]["compute"] = {"jobs": {"flavor": "a10g-large", "timeout": "6h"}}
    data["benchmark"]["compute"] = {"jobs": {"flavor": "a100-large", "timeout": 5400}}
    demo_config.write_text(yaml.safe_dump(data, sort_keys=False))
    ws = str(demo_config.parent / "ws")
    r = run_cli("status", "-c", str(demo_config), "-w", ws, "--hub", hub.url)
    assert r.returncode == 0, r.stderr
    rows = {line.split("│")[1].strip(): line for line in r.stdout.splitlines() if line.count("│") > 4}
    assert "Jobs a10g-large, timeout 6h, at most $9.00" in rows[STUDENT]  # $1.50/h x 6 h
    assert "Jobs a100-large, timeout 5400, at most $3.75" in rows["tiny-cmdr-bench-details"]  # $2.50/h x 1.5 h
    assert "here" in rows["tiny-qwen3-b-distilled"] and "here" in rows["tiny-cmdr-bench"]
    r = run_cli("status", "-c", str(demo_config), "-w", ws, "--hub", "http://127.0.0.1:9")
    assert r.returncode == 0 and "price unknown" in r.stdout


def test_the_default_job_installs_hubkit_at_this_commit_with_uv(demo_config, tmp_path, monkeypatch):
    from hubkit import pipeline
    from hubkit.hub import jobs
    from hubkit.workspace import Workspace

    data = yaml.safe_load(demo_config.read_text())
    data["models"][0]["compute"] = {"jobs": {"flavor": "a10g-large"}}
    data["models"][0]["train"]["method"] = "qlora"
    data["benchmark"]["compute"] = {"jobs": {"flavor": "a100-large"}}
    data["benchmark"]["backend"] = {"kind": "vllm"}
    demo_config.write_text(yaml.safe_dump(data, sort_keys=False))
    graph = pipeline.plan(pipeline.load(demo_config), Workspace(tmp_path / "ws"))
    student, evaluation = graph.nodes[STUDENT], graph.nodes["tiny-cmdr-bench-details"]
    monkeypatch.setenv("GITHUB_SERVER_URL", "https://github.com")
    monkeypatch.setenv("GITHUB_REPOSITORY", "acme/hubkit")
    monkeypatch.setenv("GITHUB_SHA", "0123456789abcdef0123456789abcdef01234567")
    assert jobs.job_command(student, student.jobs, "https://huggingface.co", "f" * 40) == [
        "uv", "run", "--with", "hubkit[gpu] @ git+https://github.com/acme/hubkit@0123456789abcdef0123456789abcdef01234567",
        "hubkit", "jobs", "work", "--hub", "https://huggingface.co", "--repo", f"model:hubkit-demo/{STUDENT}",
        "--revision", "f" * 40,
    ]  # fmt: skip
    assert "hubkit[vllm] @ git+" in jobs.job_command(evaluation, evaluation.jobs, "https://huggingface.co", "f" * 40)[3]
    for var in ("GITHUB_SERVER_URL", "GITHUB_REPOSITORY", "GITHUB_SHA"):
        monkeypatch.delenv(var)
    monkeypatch.setattr(jobs, "__file__", str(tmp_path / "not-a-checkout" / "jobs.py"))  # hubkit from a wheel
    with pytest.raises(UsageError, match=r"set compute\.jobs\.image to an image with hubkit"):
        jobs.launcher(student, student.jobs)


# --- building on Jobs -----------------------------------------------------------------------------
@pytest.fixture
def on_jobs(fixture_demo, tmp_path):
    """A copy of the built demo whose student A (stale: a new base) is placed on Jobs."""
    demo = copy_demo(fixture_demo, tmp_path / "demo")
    return place(demo / "configs" / "demo.yaml"), demo / "ws"


def jobs_env(token: str) -> dict[str, str]:
    return {**os.environ, **NO_HUB, "COLUMNS": "200", "HF_JOBS_TOKEN": token}


def start_build(config: Path, ws: Path, hub, log: Path) -> subprocess.Popen:
    cmd = [PY, "-m", "hubkit", "build", STUDENT, "-c", str(config), "-w", str(ws), "--hub", hub.url]
    return subprocess.Popen(cmd, cwd=ROOT, env=jobs_env(hub.token), stdout=log.open("wb"), stderr=subprocess.STDOUT)


def wait_for(log: Path, text: str, proc: subprocess.Popen, timeout: float = 120) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        said = log.read_text(errors="replace")
        if text in said:
            return said
        assert proc.poll() is None, said
        time.sleep(0.1)
    raise AssertionError(f"{text!r} not seen:\n{log.read_text()}")


def job_process_group(hub, timeout: float = 60) -> int:
    """The process group of the Job running on this local hub (each Job is a session of its own)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = subprocess.run(["pgrep", "-f", f"jobs work --hub {hub.url} "], capture_output=True,
                              text=True).stdout.split()  # fmt: skip
        if pids:
            return os.getpgid(int(pids[0]))
        time.sleep(0.1)
    raise AssertionError("the Job's process never started")


def job_id(said: str) -> str:
    return said.split(f"{STUDENT}: job ", 1)[1].split()[0]


@pytest.mark.e2e
def test_kill_9_while_its_job_runs_then_the_same_command_reattaches_one_job_in_all(on_jobs, hub, api, tmp_path):
    config, ws = on_jobs
    log = tmp_path / "first.log"
    first = start_build(config, ws, hub, log)
    said = wait_for(log, " started on cpu-basic", first)
    job = job_id(said)
    # The Job's processes are stopped (SIGSTOP) while the runner is killed and started again, so the
    # Job is surely still running when the second runner looks (a tiny student can otherwise finish
    # in between, and the second runner then only finds its output).
    group = job_process_group(hub)
    os.killpg(group, signal.SIGSTOP)
    try:
        first.send_signal(signal.SIGKILL)
        first.wait(10)
        assert api.inspect_job(job_id=job, namespace="hubkit-demo").status.stage == "RUNNING"
        log2 = tmp_path / "again.log"
        second = start_build(config, ws, hub, log2)
        wait_for(log2, f"re-attaching to job {job}", second)
    finally:
        os.killpg(group, signal.SIGCONT)
    assert second.wait(300) == 0, log2.read_text()
    again = log2.read_text()
    assert " started on " not in again
    assert "[job] " in again and "hashes checked" in again
    listed = list(api.list_jobs(namespace="hubkit-demo"))
    assert [(j.id, j.status.stage) for j in listed] == [(job, "COMPLETED")]  # one job in all

    # Up to date exactly as if built here: the graph judges it so, and nothing builds again.
    r = run_cli("status", "-c", str(config), "-w", str(ws))
    row = next(line for line in r.stdout.splitlines() if STUDENT in line)
    assert "up to date" in row and "Jobs cpu-basic" in row
    manifest = json.loads((ws / STUDENT / "manifest.json").read_text())
    assert manifest["job"]["id"] == job and manifest["fingerprint"]
    assert run_cli_process("build", STUDENT, "-c", str(config), "-w", str(ws), "--hub", hub.url,
                           env={"HF_JOBS_TOKEN": hub.token}).stdout.count("up to date, nothing to do") == 2  # fmt: skip
    # Staged on branches, never on main; the token that started the job is nowhere.
    assert api.list_repo_files(f"hubkit-demo/{STUDENT}") == [".gitattributes"]
    assert hub.token not in log.read_text() + again
    assert files_holding(ws.parent, hub.token) == [] and files_holding(hub.root, hub.token) == []


@pytest.mark.e2e
def test_ctrl_c_asks_nothing_leaves_the_job_running_and_prints_how_to_cancel_it(on_jobs, hub, api, tmp_path):
    config, ws = on_jobs
    log = tmp_path / "build.log"
    build = start_build(config, ws, hub, log)
    job = job_id(wait_for(log, " started on cpu-basic", build))
    wait_for(log, ": RUNNING", build)
    build.send_signal(signal.SIGINT)
    assert build.wait(30) == 130
    said = log.read_text()
    assert f"interrupted; job {job} keeps running" in said
    cancel = said.split("cancel it: ", 1)[1].split("\n")[0].split()
    assert cancel == ["hubkit", "jobs", "cancel", job, "--namespace", "hubkit-demo", "--hub", hub.url]
    assert api.inspect_job(job_id=job, namespace="hubkit-demo").status.stage == "RUNNING"
    r = run_cli_process(*cancel[1:], env={"HF_JOBS_TOKEN": hub.token})
    assert r.returncode == 0 and f"job {job}: CANCELED" in r.stdout, r.stderr
    assert hub.token not in said + r.stdout + r.stderr


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="float16 trains on CUDA")
def test_a_failed_job_shows_its_last_log_lines_id_and_url_and_exits_non_zero(fixture_demo, hub, tmp_path):
    demo = copy_demo(fixture_demo, tmp_path / "demo")
    config = place(demo / "configs" / "demo.yaml")
    data = yaml.safe_load(config.read_text())
    data["models"][0]["train"]["precision"] = "float16"  # the Job's machine (a CPU here) cannot
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    r = run_cli_process("build", STUDENT, "-c", str(config), "-w", str(demo / "ws"), "--hub", hub.url,
                        env={"HF_JOBS_TOKEN": hub.token})  # fmt: skip
    assert r.returncode == 1, r.stdout + r.stderr
    assert "its last" in r.stdout and "precision float16 needs a CUDA GPU" in r.stdout
    line = r.stderr.splitlines()[-1]  # (above it, only what libraries print on import)
    job = line.split("job ", 1)[1].split()[0]
    assert f"failed (ERROR: Job failed with exit code 2): {hub.url}/jobs/hubkit-demo/{job}" in line
    assert f"hubkit jobs logs {job}" in line and "Traceback" not in r.stderr


def test_a_job_past_its_timeout_says_so(fixture_demo, hub, tmp_path):
    demo = copy_demo(fixture_demo, tmp_path / "demo")
    config = place(demo / "configs" / "demo.yaml", timeout="2s")
    r = run_cli_process("build", STUDENT, "-c", str(config), "-w", str(demo / "ws"), "--hub", hub.url,
                        env={"HF_JOBS_TOKEN": hub.token})  # fmt: skip
    assert r.returncode == 1
    assert "timed out after 2s (compute.jobs.timeout; raise it and build again)" in r.stderr, r.stdout + r.stderr


def test_a_completed_job_without_output_is_an_error(fixture_demo, hub, api, tmp_path):
    """A Job of this fingerprint (found by its labels, as after a lost journal) exits 0 but leaves nothing."""
    from hubkit import pipeline
    from hubkit.hub.jobs import ARTIFACT_LABEL, KEY_LABEL
    from hubkit.workspace import Workspace

    demo = copy_demo(fixture_demo, tmp_path / "demo")
    config, ws = place(demo / "configs" / "demo.yaml"), demo / "ws"
    key = pipeline.plan(pipeline.load(config), Workspace(ws)).key(STUDENT)
    go = tmp_path / "go"  # the job exits 0 once the build has re-attached to it
    code = f"import pathlib, time\nwhile not pathlib.Path({str(go)!r}).exists(): time.sleep(0.1)"
    lost = api.run_job(image=IMAGE, command=[PY, "-c", code], namespace="hubkit-demo",
                       labels={KEY_LABEL: key, ARTIFACT_LABEL: STUDENT})  # fmt: skip
    log = tmp_path / "build.log"
    build = start_build(config, ws, hub, log)
    wait_for(log, f"re-attaching to job {lost.id}", build)
    go.write_text("")
    assert build.wait(60) == 1
    said = log.read_text()
    assert f"job {lost.id} COMPLETED but left no output for fingerprint {key[:12]}" in said
    assert [j.id for j in api.list_jobs(namespace="hubkit-demo")] == [lost.id]  # none started besides


def test_no_token_for_jobs_stops_before_anything_builds(fixture_demo, tmp_path, hub):
    demo = copy_demo(fixture_demo, tmp_path / "demo")
    config = place(demo / "configs" / "demo.yaml")
    r = run_cli("build", "-c", str(config), "-w", str(demo / "ws"), "--hub", hub.url)
    assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
    assert "compute.jobs: no token to start Jobs: set HF_JOBS_TOKEN" in r.stderr
    assert "building" not in r.stdout  # not even the models built here


# --- source: hub ----------------------------------------------------------------------------------
def test_a_model_and_a_dataset_taken_from_the_hub_at_a_pinned_commit(fixture_demo, tmp_path, hub_endpoint, api):
    """A release reuses a student trained earlier: its repo at a commit is an input like any artifact."""
    from hubkit import pipeline
    from hubkit.workspace import Workspace, list_files

    demo = copy_demo(fixture_demo, tmp_path / "demo")
    config, ws = demo / "configs" / "demo.yaml", demo / "ws"
    api.create_repo(f"hubkit-demo/{STUDENT}")
    sha = api.upload_folder(folder_path=ws / STUDENT, repo_id=f"hubkit-demo/{STUDENT}",
                            ignore_patterns=["manifest.json", "adapter/*"]).oid  # fmt: skip
    data_repo = "someone/earlier-dataset"
    api.create_repo(data_repo, repo_type="dataset")
    data_sha = api.upload_folder(folder_path=ws / "tiny-teacher-b-reasoning", repo_id=data_repo, repo_type="dataset",
                                 ignore_patterns=["manifest.json"]).oid  # fmt: skip
    data = yaml.safe_load(config.read_text())
    data["models"][0] |= {"source": "hub", "revision": sha}
    data["datasets"][1] |= {"source": "hub", "repo": data_repo, "revision": data_sha}
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    release = pipeline.load(config)
    said: list[str] = []
    n = len([p for p in list_files(ws / STUDENT) if not p.startswith("adapter/")])
    pipeline.build(release, Workspace(ws), [STUDENT, "tiny-teacher-b-reasoning"], report=said.append)
    assert f"{STUDENT}: {n} files of hubkit-demo/{STUDENT} at {sha[:12]} (source: hub)" in said
    assert list_files(ws / STUDENT)["model.safetensors"] == list_files(fixture_demo / "ws" / STUDENT)[
        "model.safetensors"]  # fmt: skip
    graph = pipeline.plan(release, Workspace(ws))
    assert graph.built(STUDENT) and graph.built("tiny-teacher-b-reasoning") and graph.nodes[STUDENT].inputs == ()
    assert graph.state("tiny-qwen3-b-distilled").status == "stale"  # its dataset is now another input
    # Pinned means a commit: a branch name moves, so it is refused at load.
    data["models"][0]["revision"] = "main"
    config.write_text(yaml.safe_dump(data, sort_keys=False))
    from hubkit.errors import ConfigError

    with pytest.raises(ConfigError, match=r"models\[0\].revision: string should match pattern"):
        pipeline.load(config)


def test_jobs_list_logs_and_hardware_from_the_command_line(hub, api):
    job = api.run_job(image=IMAGE, command=[PY, "-c", "print('one'); print('two')"], namespace="acme",
                      labels={"hubkit-artifact": "some-model"})  # fmt: skip
    other = api.run_job(image=IMAGE, command=["true"], namespace="acme")  # not a build of hubkit's
    wait_stage(api, job.id), wait_stage(api, other.id)
    env = {"MY_JOBS_TOKEN": hub.token}
    where = ["--namespace", "acme", "--hub", hub.url, "--token-env", "MY_JOBS_TOKEN"]
    r = run_cli("jobs", "logs", job.id, *where, env=env)
    assert r.returncode == 0 and r.stdout == "one\ntwo\n", r.stderr
    r = run_cli("jobs", "list", *where, env=env)
    assert r.returncode == 0 and job.id in r.stdout and "some-model" in r.stdout and other.id not in r.stdout
    assert other.id in run_cli("jobs", "list", *where, "--all", env=env).stdout
    r = run_cli("jobs", "hardware", "--hub", hub.url)
    assert r.returncode == 0 and "a10g-large" in r.stdout and "1.50" in r.stdout
    r = run_cli("jobs", "list", *where)  # no token in MY_JOBS_TOKEN, none in HF_TOKEN
    assert r.returncode == 2
    assert r.stderr == "no token for Jobs: set MY_JOBS_TOKEN or HF_TOKEN (or run `hf auth login`)\n"
    assert hub.token not in r.stdout + r.stderr
