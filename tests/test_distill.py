"""Distillation datasets: prompts, filters, decontamination, journaled generation, the artifact."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from hubkit.config import Filters
from hubkit.distill.filters import Contamination, Dedup, reason_kind, refusal
from hubkit.distill.generate import question_of, screen
from hubkit.distill.prompts import Prompt
from tests.conftest import ROOT, copy_project, free_port, run_cli, run_cli_process

# --- filters: the wrong inputs that would fool them --------------------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        "I'm sorry, but I can't help with that request.",
        "I cannot provide instructions for making explosives.",
        "Sorry, I won't assist with this.",
        "I\u2019m really sorry, but I am unable to comply.",
        "As an AI language model, I cannot help with that.",
        "Unfortunately, I must decline to answer this question.",
    ],
)
def test_refusals_are_caught(answer):
    assert refusal(answer)


@pytest.mark.parametrize(
    "answer",
    [
        "I can't stress enough how much the base case matters. The answer is 5.",
        "Sorry for the confusion above: the correct total is 12.",
        "We cannot divide by zero, so x = 3 is the only solution.",
        "I cannot help but notice the series telescopes; the sum is 1.",
        "The model says 'I cannot help with that' when it refuses; here the answer is 7.",
        "First, I can't assume independence here, so condition on B.",
    ],
)
def test_answers_that_only_sound_like_refusals_are_kept(answer):
    assert not refusal(answer)


def test_dedup_exact_near_and_different():
    d = Dedup(0.8)
    assert d.check("a", "Why does a hash table degrade to linear lookups, and how is it prevented?") is None
    assert d.check("b", "why does a HASH table degrade to linear lookups and how is it prevented") == "duplicate of a"
    near = d.check("c", "Why does a hash table degrade to linear lookups, and how is that prevented?")
    assert near and near.startswith("near-duplicate of a")
    # Same template, different numbers: different questions.
    assert d.check("x", "What is 128 * 64?") is None
    assert d.check("y", "What is 131 * 67?") is None
    exact_only = Dedup(None)
    assert exact_only.check("a", "Same words here") is None
    assert exact_only.check("b", "Same words, here!") == "duplicate of a"


@pytest.fixture(scope="module")
def bench_texts():
    from hubkit.bench.cases import load_cases

    return {c.id: c.message() for c in load_cases()}


def test_decontamination_catches_benchmark_cases_in_disguise(bench_texts):
    c = Contamination(bench_texts, n=8, threshold=0.5)
    case = bench_texts["sci-01"]
    assert c.check(case)[0] == "sci-01"
    assert c.check(case.upper().replace(",", " ;").replace("\n", "   "))[0] == "sci-01"
    assert c.check("Please help me with my homework. " + case + " Thanks a lot!")[0] == "sci-01"
    # Only the question part of a case, under another instruction.
    sql = bench_texts["sql-05"]
    assert c.check("Write a query for this. " + sql.split("block.", 1)[-1])[0] == "sql-05"
    # Short but verbatim.
    assert c.check("What is 17 times 23?")[0] == "math-01"


def test_decontamination_leaves_prompts_that_share_only_boilerplate(bench_texts):
    c = Contamination(bench_texts, n=8, threshold=0.5)
    # The benchmark's own instruction line with a new question is not a benchmark case.
    assert c.check("Solve the problem. Put the final answer in \\boxed{}.\n\nWhat is 41 times 59?") is None
    fix = (
        "Find and fix the bug. Answer with the complete corrected code in one ```python block.\n\n"
        "`mean(xs)` should return the average of xs.\n```python\ndef mean(xs):\n    return sum(xs)\n```"
    )
    assert c.check(fix) is None
    assert c.check("Why do onions make people cry, and which step of the chemistry could a cook interrupt?") is None


def test_screen_keeps_the_reason_of_every_prompt_it_drops(bench_texts):
    prompts = [Prompt("a", "How do vaccines train the immune system to recognise a virus?"),
               Prompt("b", "How do vaccines train the immune system to recognise a virus?"),
               Prompt("c", bench_texts["eth-01"]), Prompt("d", "What limits the speed of a sailing boat?")]  # fmt: skip
    kept, rejected, hits = screen(prompts, Filters(), bench_texts)
    assert [p.id for p in kept] == ["a", "d"]
    assert [(r["id"], reason_kind(r["reason"])) for r in rejected] == [
        ("b", "duplicate"), ("c", "contaminated")]  # fmt: skip
    assert hits == [{"prompt_id": "c", "case": "eth-01", "overlap": 1.0}]
    off = screen(prompts, Filters(decontaminate=False), bench_texts)
    assert [p.id for p in off[0]] == ["a", "c", "d"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("How would you price a bond when rates jump?", "How would you price a bond when rates jump?"),
        ("Question: How would you price a bond when rates jump?", "How would you price a bond when rates jump?"),
        ('1. "How would you price a bond when rates jump?"', "How would you price a bond when rates jump?"),
        ("\n\nOK\nWhy do tides come twice a day?", "Why do tides come twice a day?"),
        ("", None),
    ],
)
def test_question_of_a_synthesis_answer(text, expected):
    assert question_of(text) == expected


# --- the artifact, built for real over HTTP -------------------------------------------------------


def _release(tmp_path: Path, datasets: list[dict]) -> Path:
    configs = copy_project(tmp_path)
    cfg = {"version": "0.1.0", "namespace": "t", "datasets": datasets}
    path = configs / "t.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def _prompts_file(folder: Path, n: int, name: str = "p.jsonl", column: str = "prompt") -> Path:
    rows = [{"id": f"q{i:03d}", column: f"Question {i}: what is {i} + {3 * i + 1}, and why does the order not matter?",
             "reference": str(4 * i + 1)} for i in range(n)]  # fmt: skip
    path = folder / name
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _rows(ws: Path, name: str, split: str = "train") -> list[dict]:
    import pyarrow.parquet as pq

    return pq.read_table(next((ws / name / "data").glob(f"{split}-*.parquet"))).to_pylist()


class TeacherProcess:
    """The scripted teacher as its own process (it must outlive a killed `hubkit build`)."""

    def __init__(self, **options):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}/v1"
        cmd = [
            sys.executable,
            "-m",
            "hubkit.offline.teacher",
            "--port",
            str(self.port),
            "--options",
            json.dumps(options),
        ]
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        import httpx

        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/models", timeout=1)
                return
            except httpx.TransportError:
                time.sleep(0.1)
        raise RuntimeError("teacher did not start")

    def stats(self) -> dict:
        import httpx

        return httpx.get(self.url.removesuffix("/v1") + "/stats").json()

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def _dataset(url: str, prompts: str, size: int, **teacher) -> dict:
    return {"name": "d", "teacher": {"model": "teacher-x", "base_url": url, **teacher}, "domains": ["math"],
            "size": size, "prompts": prompts, "sampling": {"max_new_tokens": 300}}  # fmt: skip


def test_kill_9_then_resume_equals_an_uninterrupted_run_even_through_faults(tmp_path):
    _prompts_file(tmp_path, 60)
    clean = TeacherProcess(truncate_rate=0.1)  # truncation belongs to the prompt, not to the faults
    flaky = TeacherProcess(latency=0.05, faults={"429": 0.1, "500": 0.1, "drop": 0.1}, truncate_rate=0.1)
    try:
        ref_cfg = _release(tmp_path / "ref", [_dataset(clean.url, str(tmp_path / "p.jsonl"), 40,
                                                       concurrency=4, stream=True)])  # fmt: skip
        r = run_cli("build", "-c", str(ref_cfg), "-w", str(tmp_path / "ws-ref"))
        assert r.returncode == 0, r.stderr
        clean_cfg = _release(tmp_path / "cut", [_dataset(flaky.url, str(tmp_path / "p.jsonl"), 40,
                                                         concurrency=4, stream=True)])  # fmt: skip
        ws = tmp_path / "ws"
        env = {**os.environ, "HF_ENDPOINT": "http://127.0.0.1:9"}
        journal = ws / ".journal" / "d" / "answers.jsonl"
        proc = subprocess.Popen([sys.executable, "-m", "hubkit", "build", "-c", str(clean_cfg), "-w", str(ws)],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and (not journal.exists() or len(journal.read_text().splitlines()) < 12):
            time.sleep(0.02)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        before = len(journal.read_text().splitlines())
        assert 12 <= before < 40, before
        assert not (ws / "d").exists()  # nothing half-built was published as the artifact
        r = run_cli("build", "-c", str(clean_cfg), "-w", str(ws))
        assert r.returncode == 0, r.stderr
        assert "answers reused from the journal" in r.stdout
        stats = flaky.stats()
    finally:
        clean.stop()
        flaky.stop()
    # At most the requests in flight at the kill were asked twice.
    assert sum(n - 1 for n in stats["answered"].values()) <= 4
    keys = [json.loads(line)["key"] for line in journal.read_text().splitlines()]
    assert len(keys) == len(set(keys))  # no row journaled twice
    got, want = _rows(ws, "d"), _rows(tmp_path / "ws-ref", "d")
    assert len(got) == 40 and got == want
    assert _rows(ws, "d", "rejected") == _rows(tmp_path / "ws-ref", "d", "rejected")
    assert {r["reason"] for r in _rows(ws, "d", "rejected")} == {"truncated"}


def test_the_demo_datasets_are_generated_filtered_and_carded(tmp_path):
    from hubkit.config import load_release
    from hubkit.pipeline import build, cards
    from hubkit.workspace import Workspace

    cfg = copy_project(tmp_path) / "demo.yaml"
    rel, ws = load_release(cfg), Workspace(tmp_path / "ws")
    build(rel, ws, ["tiny-teacher-a-reasoning", "tiny-teacher-b-reasoning"], report=lambda _: None)
    rows = _rows(ws.root, "tiny-teacher-a-reasoning")
    assert len(rows) == 8
    for r in rows:
        assert r["reasoning"] and r["answer"] and r["finish_reason"] == "stop"
        user, assistant = r["messages"]
        assert (user["role"], user["content"]) == ("user", r["prompt"])
        assert (assistant["content"], assistant["reasoning_content"]) == (r["answer"], r["reasoning"])
    rejected = {r["id"]: r["reason"] for r in _rows(ws.root, "tiny-teacher-a-reasoning", "rejected")}
    assert rejected["dup-01"].startswith("duplicate of tech-02")
    assert rejected["near-01"].startswith("near-duplicate of tech-02")
    assert rejected["leak-01"].startswith("contaminated: overlaps benchmark case sci-01")
    assert rejected["unsafe-01"] == "refusal"
    assert "truncated" in rejected.values()
    assert all(r["id"] not in rejected for r in rows)
    # Inline <think>, stream-only teacher writing its own questions.
    b = _rows(ws.root, "tiny-teacher-b-reasoning")
    assert len(b) == 8 and all(r["source"] == "synthesized" and "<think>" not in r["answer"] for r in b)
    assert len({r["prompt"] for r in b}) == 8

    cards(rel, ws, report=lambda _: None, strict=True)
    card = (ws.path("tiny-teacher-a-reasoning") / "README.md").read_text()
    stats = json.loads((ws.path("tiny-teacher-a-reasoning") / "stats.json").read_text())
    assert stats["rejected_by_reason"]["contaminated"] == 1
    assert "| contaminated | 1 |" in card and "`leak-01` overlaps case `sci-01`" in card
    assert "![Token lengths of reasoning and answers](lengths.png)" in card
    assert (ws.path("tiny-teacher-a-reasoning") / "lengths.png").read_bytes()[:4] == b"\x89PNG"
    assert "split: rejected" in card and "hubkit-demo/tiny-qwen3-a-distilled" in card


def test_rebuild_asks_nothing_and_changes_that_matter_make_it_stale(tmp_path):
    _prompts_file(tmp_path, 12)
    server = TeacherProcess()
    try:
        cfg = _release(tmp_path, [_dataset(server.url, str(tmp_path / "p.jsonl"), 6)])
        ws = str(tmp_path / "ws")
        assert run_cli("build", "-c", str(cfg), "-w", ws).returncode == 0
        asked = server.stats()["requests"]
        data = yaml.safe_load(cfg.read_text())
        data["datasets"][0]["teacher"]["concurrency"] = 3  # how fast, not what: still up to date
        cfg.write_text(yaml.safe_dump(data))
        r = run_cli("status", "-c", str(cfg), "-w", ws)
        assert "up to date" in r.stdout
        data["datasets"][0]["sampling"]["temperature"] = 0.9
        cfg.write_text(yaml.safe_dump(data))
        r = run_cli("status", "-c", str(cfg), "-w", ws)
        assert "stale" in r.stdout and "config changed" in r.stdout
        _prompts_file(tmp_path, 13)  # the prompts file changed
        data["datasets"][0]["sampling"]["temperature"] = 0.6
        cfg.write_text(yaml.safe_dump(data))
        assert "config changed" in run_cli("status", "-c", str(cfg), "-w", ws).stdout
        # Rebuilding with the first 12 prompts unchanged: only their answers are reused.
        r = run_cli("build", "-c", str(cfg), "-w", ws)
        assert r.returncode == 0 and "6 answers reused from the journal" in r.stdout
        assert server.stats()["requests"] == asked
    finally:
        server.stop()


def test_verified_column_from_references(tmp_path):
    path = tmp_path / "p.jsonl"
    rows = [{"prompt": "What is 128 * 64? Explain the method.", "reference": "8192"},
            {"prompt": "What is 12 * 12? Relate it to squares.", "reference": "145"},
            {"prompt": "Why is the sky blue?"}]  # fmt: skip
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    server = TeacherProcess()
    try:
        cfg = _release(tmp_path, [_dataset(server.url, str(path), 3)])
        assert run_cli("build", "-c", str(cfg), "-w", str(tmp_path / "ws")).returncode == 0
    finally:
        server.stop()
    got = {r["prompt"][:15]: r["verified"] for r in _rows(tmp_path / "ws", "d")}
    assert got == {"What is 128 * 6": True, "What is 12 * 12": False, "Why is the sky ": None}


def test_prompts_that_run_out_are_one_line(tmp_path):
    _prompts_file(tmp_path, 5)
    server = TeacherProcess(truncate_rate=0.5)
    try:
        cfg = _release(tmp_path, [_dataset(server.url, str(tmp_path / "p.jsonl"), 5)])
        r = run_cli("build", "-c", str(cfg), "-w", str(tmp_path / "ws"))
    finally:
        server.stop()
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "the prompts ran out: " in r.stderr and "truncated" in r.stderr


def test_bad_configs_are_one_line_with_exit_2(tmp_path, monkeypatch):
    _prompts_file(tmp_path, 3, "q.jsonl", column="question")
    cases = [
        (_dataset("http://127.0.0.1:9/v1", str(tmp_path / "missing.jsonl"), 2), "datasets[0].prompts: file not found"),
        (_dataset("http://127.0.0.1:9/v1", str(tmp_path / "q.jsonl"), 2), "no column 'prompt' (columns: id, question"),
        (_dataset("http://127.0.0.1:9/v1", str(tmp_path / "q.jsonl"), 2, api_key_env="NOT_SET_KEY_VAR"),
         "environment variable NOT_SET_KEY_VAR is not set"),
        ({**_dataset("http://127.0.0.1:9/v1", str(tmp_path / "q.jsonl"), 2), "prompts": None},
         "needs 'prompts' (a file or a Hub dataset) or 'synthesize'"),
        (_dataset("http://127.0.0.1:9/v1", str(tmp_path / "q.jsonl"), 2, api_key_env="sk-live-abc123"),
         "api_key_env: must name an environment variable"),
    ]  # fmt: skip
    for i, (ds, expected) in enumerate(cases):
        cfg = _release(tmp_path / str(i), [ds])
        r = run_cli("build", "-c", str(cfg), "-w", str(tmp_path / "ws"), env={"NOT_SET_KEY_VAR": ""})
        assert r.returncode == 2, (expected, r.stderr)
        assert expected in r.stderr and r.stderr.count("\n") == 1, r.stderr
        assert "Traceback" not in r.stderr and "sk-live-abc123" not in r.stdout + r.stderr


def test_the_key_never_reaches_output_files_or_manifest(tmp_path):
    secret = "sk-teacher-secret-0123456789"
    _prompts_file(tmp_path, 4)
    server = TeacherProcess(api_key=secret)
    try:
        cfg = _release(tmp_path, [_dataset(server.url, str(tmp_path / "p.jsonl"), 3, api_key_env="TEACHER_KEY")])
        ws = tmp_path / "ws"
        ok = run_cli_process("build", "-c", str(cfg), "-w", str(ws), env={"TEACHER_KEY": secret})
        assert ok.returncode == 0, ok.stderr
        cards = run_cli_process("cards", "render", "-c", str(cfg), "-w", str(ws), env={"TEACHER_KEY": secret})
        assert cards.returncode == 0, cards.stderr
        # A fresh workspace: a forced rebuild of the first would take every answer from the journal.
        bad = run_cli_process("build", "-c", str(cfg), "-w", str(tmp_path / "ws2"), env={"TEACHER_KEY": secret[::-1]})
    finally:
        server.stop()
    assert bad.returncode == 1 and "HTTP 401" in bad.stderr and "check TEACHER_KEY" in bad.stderr
    for out in (ok.stdout, ok.stderr, cards.stdout, bad.stdout, bad.stderr):
        assert secret not in out and secret[::-1] not in out
    for f in ws.rglob("*"):
        if f.is_file():
            data = f.read_bytes()
            assert secret.encode() not in data and secret[::-1].encode() not in data, f


def test_synthesized_questions_are_journaled_and_resumed(tmp_path):
    seeds = tmp_path / "seeds.yaml"
    seeds.write_text(yaml.safe_dump({"math": ["How many primes are below 30, and how do you know?"],
                                     "physics": ["Why does a heavier pendulum not swing faster?"]}))  # fmt: skip
    server = TeacherProcess()
    try:
        ds = {"name": "d", "teacher": {"model": "teacher-x", "base_url": server.url}, "domains": ["math", "physics"],
              "size": 6, "synthesize": {"seeds": str(seeds), "per_domain": 5}}  # fmt: skip
        cfg = _release(tmp_path, [ds])
        ws = str(tmp_path / "ws")
        assert run_cli("build", "-c", str(cfg), "-w", ws).returncode == 0
        first = server.stats()["requests"]
        r = run_cli("build", "--force", "-c", str(cfg), "-w", ws)
        assert r.returncode == 0 and "synthesize:" not in r.stdout
        assert server.stats()["requests"] == first  # questions and answers both came from the journals
        ds["domains"] = ["math", "chemistry"]
        cfg.write_text(yaml.safe_dump({**yaml.safe_load(cfg.read_text()), "datasets": [ds]}))
        r = run_cli("build", "-c", str(cfg), "-w", ws)
        assert r.returncode == 2 and "no seed questions for domain 'chemistry'" in r.stderr
    finally:
        server.stop()
    rows = _rows(tmp_path / "ws", "d")
    assert len(rows) == 6 and {r["domain"] for r in rows} == {"math", "physics"}


def test_prompts_from_a_hub_dataset_at_a_pinned_revision(api, hub, tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    api.create_repo("org/prompts", repo_type="dataset")
    questions = [f"Question {i}: what is {i} + {i + 1}, and why?" for i in range(6)]
    pq.write_table(pa.table({"question": questions}), tmp_path / "p.parquet")
    info = api.upload_file(path_or_fileobj=str(tmp_path / "p.parquet"), repo_id="org/prompts", repo_type="dataset",
                           path_in_repo="data/train-00000-of-00001.parquet")  # fmt: skip
    server = TeacherProcess()
    env = {"HF_ENDPOINT": hub.url, "HF_HUB_DISABLE_XET": "1", "HF_HOME": str(tmp_path / "hf")}
    try:
        ds = _dataset(server.url, "unused", 4)
        ds["prompts"] = {"hub": "org/prompts", "revision": info.oid, "column": "question"}
        cfg = _release(tmp_path, [ds])
        r = run_cli("build", "-c", str(cfg), "-w", str(tmp_path / "ws"), env=env)
        assert r.returncode == 0, r.stderr
        ds["prompts"]["revision"] = "0" * 40
        cfg = _release(tmp_path / "bad", [ds])
        bad = run_cli("build", "-c", str(cfg), "-w", str(tmp_path / "ws2"), env=env)
    finally:
        server.stop()
    assert [r["prompt"] for r in _rows(tmp_path / "ws", "d")] == questions[:4]
    stats = json.loads((tmp_path / "ws" / "d" / "stats.json").read_text())
    assert stats["prompt_source"]["hub"] == {"repo": "org/prompts", "revision": info.oid, "split": "train",
                                             "column": "question"}  # fmt: skip
    assert bad.returncode == 2 and bad.stderr.count("\n") == 1
    assert bad.stderr.startswith(f"org/prompts@{'0' * 40} split train: cannot load prompts: ")


def test_prompt_files_in_every_format_and_their_wrong_inputs(tmp_path):
    import pyarrow as pa
    import pyarrow.parquet as pq

    from hubkit.distill.prompts import load_file
    from hubkit.errors import UsageError

    (tmp_path / "p.csv").write_text(
        'id,prompt,domain\na1,"Why, exactly, is the sky blue?",science\na2,What is 2 + 3?,math\n'
    )
    got = load_file(tmp_path / "p.csv")
    assert [(p.id, p.text, p.domain) for p in got] == [("a1", "Why, exactly, is the sky blue?", "science"),
                                                       ("a2", "What is 2 + 3?", "math")]  # fmt: skip
    pq.write_table(pa.table({"prompt": ["One?", "Two?"]}), tmp_path / "p.parquet")
    ids = [p.id for p in load_file(tmp_path / "p.parquet")]
    assert len(set(ids)) == 2 and all(i.startswith("p-") for i in ids)  # ids from the text when none is given
    wrong = {
        "empty.jsonl": ('{"prompt": "ok?"}\n{"prompt": "  "}\n', "row 2: 'prompt' is empty or not text"),
        "dup.jsonl": ('{"id": "x", "prompt": "a?"}\n{"id": "x", "prompt": "b?"}\n', "id 'x' is already used"),
        "num.jsonl": ('{"prompt": 5}\n', "row 1: 'prompt' is empty or not text"),
        "bad.jsonl": ('{"prompt": "a?"\n', "cannot read prompts"),
        "p.txt": ("What?\n", "prompts must be .jsonl, .csv or .parquet"),
    }
    for name, (text, expected) in wrong.items():
        (tmp_path / name).write_text(text)
        with pytest.raises(UsageError, match=re.escape(expected)):
            load_file(tmp_path / name)
