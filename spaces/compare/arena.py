"""Blind A/B votes: kept in a dataset repo with `CommitScheduler`, scored with Bradley-Terry.

A vote is one JSON line (question, models, sampling, answers, vote, time; nothing about the
voter). The Space appends it to a local file under the scheduler's lock; the scheduler commits
the folder to the votes dataset every few minutes (and once more when the Space stops).
"""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from collections import defaultdict, deque
from pathlib import Path
from typing import Any

VOTES = ("a", "b", "tie", "both_bad")
SCALE, BASE = 400.0, 1000.0  # Elo-style points, for readers used to arena leaderboards


def valid(votes: list[dict], models: list[str]) -> list[dict]:
    """Votes that can count: a known verdict on two different models of the Space."""

    def ok(v: dict) -> bool:
        pair = v.get("models")
        two = isinstance(pair, list) and len(pair) == 2 and pair[0] != pair[1]
        return bool(v.get("id")) and v.get("vote") in VOTES and two and set(pair) <= set(models)

    return [v for v in votes if ok(v)]


def bradley_terry(votes: list[dict], models: list[str], iters: int = 200) -> dict[str, float]:
    """Strengths on an Elo-like scale (mean 1000) by the MM algorithm (Hunter, 2004).

    A tie or "both bad" is half a win each way. Every pair also gets one virtual tie, a prior
    that keeps an undefeated model's strength finite and ties unseen models at the mean.
    """
    import math

    index = {m: i for i, m in enumerate(models)}
    n = len(models)
    wins = [[0.0] * n for _ in range(n)]  # wins[i][j]: i beat j
    for i in range(n):
        for j in range(n):
            if i != j:
                wins[i][j] = 0.5
    for v in valid(votes, models):
        i, j = index[v["models"][0]], index[v["models"][1]]
        if v["vote"] == "a":
            wins[i][j] += 1
        elif v["vote"] == "b":
            wins[j][i] += 1
        else:
            wins[i][j] += 0.5
            wins[j][i] += 0.5
    p = [1.0] * n
    for _ in range(iters):
        new = []
        for i in range(n):
            w = sum(wins[i])
            d = sum((wins[i][j] + wins[j][i]) / (p[i] + p[j]) for j in range(n) if j != i)
            new.append(w / d if d else p[i])
        g = math.exp(sum(math.log(x) for x in new) / n)
        p = [x / g for x in new]
    return {m: BASE + SCALE * math.log10(p[index[m]]) for m in models}


def scoreboard(votes: list[dict], models: list[str], rounds: int = 200, seed: int = 0) -> list[dict[str, Any]]:
    """Rows (model, score, 95% bootstrap interval, votes) best first; a battle counts once."""
    unique: dict[str, dict] = {}
    for v in valid(votes, models):
        unique.setdefault(v["id"], v)  # the first record of a battle; a replay changes nothing
    unique = list(unique.values())
    point = bradley_terry(unique, models)
    rng = random.Random(seed)
    samples: dict[str, list[float]] = defaultdict(list)
    for _ in range(rounds if unique else 0):
        boot = bradley_terry([rng.choice(unique) for _ in unique], models, iters=100)
        for m, x in boot.items():
            samples[m].append(x)
    counts = defaultdict(int)
    for v in unique:
        for m in set(v["models"]):
            counts[m] += 1
    rows = []
    for m in models:
        xs = sorted(samples[m]) or [point[m]]
        lo, hi = xs[int(0.025 * (len(xs) - 1))], xs[int(0.975 * (len(xs) - 1))]
        rows.append({"model": m, "score": point[m], "low": lo, "high": hi, "votes": counts[m]})
    return sorted(rows, key=lambda r: -r["score"])


class RateLimit:
    """At most `limit` events per key in any `period` seconds."""

    def __init__(self, limit: int, period: float):
        self.limit, self.period = limit, period
        self.seen: dict[str, deque] = defaultdict(deque)
        self.lock = threading.Lock()

    def allow(self, key: str) -> bool:
        now = time.monotonic()
        with self.lock:
            q = self.seen[key]
            while q and now - q[0] >= self.period:
                q.popleft()
            if len(q) >= self.limit:
                return False
            q.append(now)
            return True


class VoteLog:
    """Votes on disk and, with a token, committed to the votes dataset by a CommitScheduler."""

    def __init__(self, repo_id: str, folder: Path, every_minutes: float, token: str | None):
        self.repo_id, self.folder = repo_id, folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.file = folder / f"votes-{uuid.uuid4().hex[:12]}.jsonl"  # one file per replica: no conflicts
        self.lock = threading.Lock()
        self.scheduler = None
        self.problem = None
        self.votes: list[dict] = []
        if not token:
            self.problem = "votes are not saved: this Space has no HF_TOKEN secret with write access"
            return
        from huggingface_hub import CommitScheduler

        try:
            self.votes = self._published(token)
            self.scheduler = CommitScheduler(
                repo_id=repo_id, repo_type="dataset", folder_path=folder, path_in_repo="data",
                every=every_minutes, token=token, allow_patterns=["*.jsonl"], squash_history=False,
            )  # fmt: skip
            self.lock = self.scheduler.lock
        except Exception as exc:  # the comparison must work even when the votes repo cannot be reached
            self.problem = f"votes are not saved: {repo_id}: {type(exc).__name__}: {str(exc)[:200]}"

    def _published(self, token: str) -> list[dict]:
        """Votes already in the dataset (earlier runs of the Space), so the scoreboard survives restarts."""
        from huggingface_hub import HfApi, hf_hub_download
        from huggingface_hub.errors import RepositoryNotFoundError

        api = HfApi(token=token)
        try:
            files = [f for f in api.list_repo_files(self.repo_id, repo_type="dataset") if f.endswith(".jsonl")]
        except RepositoryNotFoundError:
            return []
        out = []
        for f in files:
            path = hf_hub_download(self.repo_id, f, repo_type="dataset", token=token)
            # JSONL lines end at \n only: str.splitlines() would also cut a vote inside an answer that
            # holds U+2028 or U+0085 (written raw: ensure_ascii=False).
            out += [json.loads(line) for line in Path(path).read_text(encoding="utf-8").split("\n") if line.strip()]
        return out

    def add(self, vote: dict) -> None:
        with self.lock:
            with self.file.open("a") as fh:
                fh.write(json.dumps(vote, ensure_ascii=False) + "\n")
            self.votes.append(vote)
