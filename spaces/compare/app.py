"""The family's models side by side: streamed at once, blind votes, and why each benchmark verdict.

hubkit publishes this folder (subfolders included) as the release's Gradio Space, adding
`space_config.json` (models, backend, limits, arena, the benchmark and evaluation-details
datasets, example questions) and `reasoning.py` (hubkit's one reasoning splitter).
Tabs: Compare (2-4 models streamed together), Arena (blind A/B votes), Benchmark (CMDR-Bench
with intervals, the vote scoreboard) and Cases (each model's answer and verdict per case).
"""

from __future__ import annotations

import json
import os
import random
import threading
import uuid
from datetime import datetime, timezone
from pathlib import Path

import gradio as gr
from arena import RateLimit, VoteLog, scoreboard
from board import benchmark_markdown, case_html, find_cases, load_board
from engines import Column, Sampling, make_engine, stream_columns

HERE = Path(__file__).parent
CONFIG = json.loads((HERE / "space_config.json").read_text())
MODELS: list[str] = CONFIG["models"]
LIMITS = CONFIG["limits"]  # hubkit writes every field (defaults live in hubkit's config, once)
MAX_COLUMNS = 4
LOCAL = (CONFIG.get("backend") or {}).get("kind", "local") == "local"
TOKEN = os.environ.get("HF_TOKEN")  # a Space secret: reads private repos, writes the votes

ENGINE = make_engine(CONFIG, MODELS)
ENGINE.warm()  # worker processes load their models while the page is first opened
BOARD = load_board(CONFIG.get("details"), CONFIG.get("benchmark"), TOKEN)
ARENA = CONFIG.get("arena")
VOTES = VoteLog(ARENA["votes"], HERE / "votes", ARENA["every_minutes"], TOKEN) if ARENA else None
ASKS = RateLimit(LIMITS["requests_per_minute"], 60.0)
BALLOTS = RateLimit(LIMITS["votes_per_hour"], 3600.0)
STOPS: dict[str, threading.Event] = {}


def short(model: str) -> str:
    return model.split("/")[-1]


def render(c: Column | None, live: bool = True) -> tuple[str, str, str]:
    """(stats, reasoning, answer) markdown of one column."""
    if c is None:
        return "", "", ""
    reasoning, answer, closed = c.parts()
    if c.error:
        status = f"⚠️ {c.error}"
    elif not c.done:
        status = "⏳ generating"
    else:
        status = {"cancelled": "⏹ stopped", "length": "✂️ token limit reached"}.get(c.finish, "✅ done")
    if c.forced_close:
        status += " · thinking budget reached"
    stats = f"{status} · {c.stats()}" if c.stats() else status
    if c.done and not closed:
        answer = "_No answer: the model was still reasoning (inside `<think>`) when it stopped._"
    return stats, reasoning or ("…" if live and not c.done else "_(no reasoning)_"), answer


def sampling(temperature: float, top_p: float, max_new_tokens: float, budget: float) -> Sampling:
    return Sampling(float(temperature), float(top_p), int(max_new_tokens), int(budget) or None)


def check(question: str, session: str) -> str:
    """The question, or a friendly error (shown as a toast, never a traceback)."""
    question = (question or "").strip()
    if not question:
        raise gr.Error("Ask a question first.")
    if len(question) > LIMITS["max_prompt_chars"]:
        raise gr.Error(f"Your question has {len(question):,} characters; this Space takes up to "
                       f"{LIMITS['max_prompt_chars']:,}.")  # fmt: skip
    if not ASKS.allow(session):
        raise gr.Error(f"Easy there: up to {LIMITS['requests_per_minute']} questions a minute. Try again shortly.")
    return question


def compare(chosen, question, temperature, top_p, max_new_tokens, budget, request: gr.Request):
    """Every chosen model streams into its column at once."""
    chosen = [m for m in MODELS if m in (chosen or [])]
    lo = min(2, len(MODELS))
    if not lo <= len(chosen) <= MAX_COLUMNS:
        raise gr.Error(f"Pick {lo} to {MAX_COLUMNS} models.")
    session = request.session_hash or "anonymous"
    question = check(question, session)
    stop = STOPS[session] = threading.Event()
    messages = [{"role": "user", "content": question}]
    s = sampling(temperature, top_p, max_new_tokens, budget)
    try:
        for cols in stream_columns(ENGINE, chosen, messages, s, stop):
            by_model = {c.model: c for c in cols}
            out = []
            for m in MODELS:
                out += [gr.update(visible=m in by_model), *render(by_model.get(m))]
            yield out
    finally:
        stop.set()  # a closed page or a cancelled event stops the workers too


def stop_generation(request: gr.Request) -> None:
    if (event := STOPS.get(request.session_hash or "anonymous")) is not None:
        event.set()


# -- arena --------------------------------------------------------------------------------


def arena_ask(question, temperature, top_p, max_new_tokens, budget, request: gr.Request):
    session = request.session_hash or "anonymous"
    question = check(question, session)
    pair = random.sample(MODELS, 2)
    s = sampling(temperature, top_p, max_new_tokens, budget)
    battle = {"id": uuid.uuid4().hex, "models": pair, "question": question, "sampling": s.__dict__, "done": False}
    stop = STOPS[session] = threading.Event()
    hidden = gr.update(interactive=False)
    try:
        for cols in stream_columns(ENGINE, pair, [{"role": "user", "content": question}], s, stop):
            done = all(c.done for c in cols)
            if done:
                battle["answers"] = [dict(zip(("reasoning", "answer", "closed"), c.parts(), strict=True)) for c in cols]
                battle["done"] = True
            buttons = [gr.update(interactive=done)] * 4
            yield [battle, *render(cols[0]), *render(cols[1]), *buttons, "_Vote once both answers are complete._"]
    finally:
        stop.set()
    if not battle["done"]:
        yield [battle, *render(None), *render(None), *[hidden] * 4, "_Stopped before both answers were complete._"]


def arena_vote(choice: str, battle: dict | None, request: gr.Request):
    if not battle or not battle.get("done"):
        raise gr.Error("Ask a question and wait for both answers first.")
    if battle.get("voted"):
        raise gr.Error("You already voted on this pair: ask another question for a new one.")
    if not BALLOTS.allow(request.session_hash or "anonymous"):
        raise gr.Error(f"Up to {LIMITS['votes_per_hour']} votes an hour, please.")
    vote = {
        "id": battle["id"], "time": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "question": battle["question"], "models": battle["models"], "sampling": battle["sampling"],
        "answers": battle["answers"], "vote": choice,
    }  # fmt: skip
    VOTES.add(vote)
    battle = {**battle, "voted": True}
    a, b = (short(m) for m in battle["models"])
    saved = f" ({VOTES.problem})" if VOTES.problem else " Thank you: your vote is saved."
    reveal = f"**Model A was {a}, model B was {b}.**{saved}"
    return [battle, reveal, *[gr.update(interactive=False)] * 4]


def voter(choice: str):
    def vote(battle: dict | None, request: gr.Request):
        return arena_vote(choice, battle, request)

    return vote


def scoreboard_markdown() -> str:
    if not ARENA:
        return ""
    votes = VOTES.votes
    need = ARENA["min_votes"]
    unique = len({v["id"] for v in votes})
    if unique < need:
        return f"#### Human preference (Arena)\n_The scoreboard appears after {need} votes ({unique} so far)._"
    rows = scoreboard(votes, MODELS)
    table = "| Model | Score (Bradley-Terry) | 95% interval | Votes |\n|---|---|---|---|\n"
    table += "".join(f"| {short(r['model'])} | {r['score']:.0f} | {r['low']:.0f}-{r['high']:.0f} | {r['votes']} |\n"
                     for r in rows)  # fmt: skip
    votes_text = f"{unique} blind vote{'s' if unique != 1 else ''}"
    return (f"#### Human preference (Arena)\n{votes_text}; a tie or \"both bad\" counts as half a win "
            f"each way; intervals from 200 bootstrap resamples.\n\n{table}")  # fmt: skip


# -- cases --------------------------------------------------------------------------------


def pick_cases(category, level, search):
    ids = find_cases(BOARD, category, int(level) if level else None, search or "")
    first = ids[0] if ids else None
    return gr.update(choices=ids, value=first), case_html(BOARD, first)


# -- the page -----------------------------------------------------------------------------

UI = "undocumented"  # events of the page itself, left out of the API docs
CSS = ".column-stats p { font-size: 0.85em; color: var(--body-text-color-subdued); }"


def build() -> gr.Blocks:
    title = CONFIG.get("title", "Model comparison")
    with gr.Blocks(title=title) as demo:
        gr.Markdown(f"# {title}\nOne question to the family's models, streamed side by side: reasoning, answer, "
                    "speed. Vote blind in the Arena; see why each benchmark case passed or failed.")  # fmt: skip
        with gr.Tab("Compare", id="compare-tab"):
            chosen = gr.CheckboxGroup(MODELS, value=MODELS[:MAX_COLUMNS], label=f"Models (2-{MAX_COLUMNS})",
                                      elem_id="models")  # fmt: skip
            question = gr.Textbox(label="Question", lines=3, elem_id="question", max_length=LIMITS["max_prompt_chars"])
            with gr.Accordion("Sampling", open=False), gr.Row():
                temperature = gr.Slider(0, 1.5, value=0.6, step=0.05, label="Temperature (0: greedy)")
                top_p = gr.Slider(0.05, 1, value=0.95, step=0.05, label="Top-p")
                limit = CONFIG.get("max_new_tokens", 1024)
                max_new = gr.Slider(16, max(limit, 16), value=limit, step=16, label="Max new tokens")
                budget = gr.Slider(0, max(limit, 16), value=0, step=16, visible=LOCAL,
                                   label="Thinking budget (tokens; 0: none)")  # fmt: skip
            if CONFIG.get("examples"):
                gr.Examples([[q] for q in CONFIG["examples"]], inputs=[question], label="From CMDR-Bench")
            with gr.Row():
                go = gr.Button("Compare", variant="primary", elem_id="compare")
                stop = gr.Button("Stop", variant="stop", elem_id="stop")
            outputs = []
            with gr.Row():
                for i, model in enumerate(MODELS):
                    with gr.Column(visible=i < MAX_COLUMNS, elem_classes=["model-column"]) as col:
                        gr.Markdown(f"### [{short(model)}](https://huggingface.co/{model})")
                        stats = gr.Markdown(elem_classes=["column-stats"])
                        with gr.Accordion("Reasoning", open=False, elem_classes=["reasoning-panel"]):
                            reasoning = gr.Markdown(elem_classes=["reasoning"])
                        answer = gr.Markdown(elem_classes=["answer"])
                    outputs += [col, stats, reasoning, answer]
            asked = [chosen, question, temperature, top_p, max_new, budget]
            go.click(compare, asked, outputs, api_name="compare")
            question.submit(compare, asked, outputs, api_visibility=UI)
            stop.click(stop_generation, None, None, api_name="stop", queue=False)

        if ARENA:
            with gr.Tab("Arena", id="arena-tab"):
                gr.Markdown("Two models drawn at random answer as **A** and **B**. Vote, then see who they were.")
                if VOTES.problem:  # said before anyone votes, not only after
                    gr.Markdown(f"_Note: {VOTES.problem}_", elem_id="votes-problem")
                battle = gr.State(None)
                a_question = gr.Textbox(label="Question", lines=2, elem_id="arena-question",
                                        max_length=LIMITS["max_prompt_chars"])  # fmt: skip
                ask = gr.Button("Ask A and B", variant="primary", elem_id="arena-ask")
                sides = []
                with gr.Row():
                    for label in ("A", "B"):
                        with gr.Column():
                            gr.Markdown(f"### Model {label}")
                            s_ = gr.Markdown(elem_classes=["column-stats"])
                            with gr.Accordion("Reasoning", open=False):
                                r_ = gr.Markdown()
                            a_ = gr.Markdown(elem_classes=[f"arena-answer-{label.lower()}"])
                            sides += [s_, r_, a_]
                with gr.Row():
                    buttons = [gr.Button(text, interactive=False, elem_id=f"vote-{key}")
                               for key, text in (("a", "A is better"), ("b", "B is better"), ("tie", "Tie"),
                                                 ("both_bad", "Both are bad"))]  # fmt: skip
                reveal = gr.Markdown(elem_id="reveal")
                ask.click(arena_ask, [a_question, temperature, top_p, max_new, budget],
                          [battle, *sides, *buttons, reveal])  # fmt: skip
                for key, button in zip(("a", "b", "tie", "both_bad"), buttons, strict=True):
                    button.click(voter(key), [battle], [battle, reveal, *buttons], api_name=f"vote_{key}")

        with gr.Tab("Benchmark", id="benchmark-tab"):
            gr.Markdown(benchmark_markdown(BOARD), elem_id="benchmark")
            if BOARD.chart:
                gr.Image(BOARD.chart, show_label=False, elem_id="benchmark-chart")
            board_votes = gr.Markdown(scoreboard_markdown(), elem_id="scoreboard")
            if ARENA:
                refresh = gr.Button("Refresh the scoreboard", size="sm")
                refresh.click(scoreboard_markdown, None, board_votes, api_visibility=UI)

        with gr.Tab("Cases", id="cases-tab"):
            if BOARD.problem:
                gr.Markdown(f"_{BOARD.problem}_", elem_id="cases")
            else:
                gr.Markdown("Pick a category and level, or search; every model's reasoning, answer and verdict.")
                with gr.Row():
                    category = gr.Dropdown(BOARD.categories, value=BOARD.categories[0], label="Category")
                    levels = sorted({r["level"] for r in BOARD.rows})
                    level = gr.Dropdown(levels, value=levels[0], label="Level")
                    search = gr.Textbox(label="…or search (case id or text)")
                ids = find_cases(BOARD, BOARD.categories[0], levels[0])
                case = gr.Dropdown(ids, value=ids[0] if ids else None, label="Case")
                view = gr.HTML(case_html(BOARD, ids[0] if ids else None), elem_id="cases")
                for source in (category, level):
                    source.change(pick_cases, [category, level, search], [case, view], api_visibility=UI)
                search.submit(pick_cases, [category, level, search], [case, view], api_visibility=UI)
                case.change(lambda c: case_html(BOARD, c), [case], [view], api_visibility=UI)
    demo.queue(max_size=LIMITS["queue_size"], default_concurrency_limit=LIMITS["concurrency"])
    return demo


demo = build()

if __name__ == "__main__":
    demo.launch(css=CSS)
