"""The family's models side by side: one question, every model's reasoning and answer.

hubkit publishes this folder (subfolders included) as the release's Gradio Space, adding
`space_config.json` (the models' Hub repo ids, the benchmark and evaluation-details datasets)
and `reasoning.py` (hubkit's one reasoning splitter). Models load on first use and stay cached.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import gradio as gr
from reasoning import OPEN, split_reasoning  # hubkit/llm/reasoning.py, copied in when hubkit builds the Space

CONFIG = json.loads((Path(__file__).parent / "space_config.json").read_text())
MODELS: list[str] = CONFIG["models"]


@cache
def load(model_id: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_id)
    model = AutoModelForCausalLM.from_pretrained(model_id, dtype="auto").eval()
    return tokenizer, model


def answer(model_id: str, question: str, max_new_tokens: int) -> tuple[str | None, str, bool]:
    """(reasoning, answer, closed) of one model's greedy answer."""
    import torch

    tokenizer, model = load(model_id)
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, tokenize=False
    )
    enc = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    torch.manual_seed(0)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=int(max_new_tokens), do_sample=False)
    text = tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=False)
    for special in {tokenizer.eos_token, tokenizer.pad_token, "<|im_end|>", "<|endoftext|>"} - {None}:
        text = text.replace(special, "")
    # Qwen3-Thinking's generation prompt opens <think> itself: the continuation starts inside it.
    return split_reasoning(text, opened=prompt.rstrip().endswith(OPEN))


def compare(question: str, max_new_tokens: int) -> list[str]:
    """For each model: its answer, then its reasoning (the order of the output components)."""
    if not question.strip():
        raise gr.Error("Ask a question first.")
    outputs = []
    for model_id in MODELS:
        reasoning, final, closed = answer(model_id, question, max_new_tokens)
        if not closed:
            final = "_(still reasoning when the token budget ran out: no final answer)_"
        outputs += [final or "_(empty answer)_", reasoning or "_(none)_"]
    return outputs


def build() -> gr.Blocks:
    with gr.Blocks(title=CONFIG.get("title", "Model comparison")) as demo:
        gr.Markdown(f"# {CONFIG.get('title', 'Model comparison')}\nThe same question to every model of the family.")
        question = gr.Textbox(label="Question", lines=3, elem_id="question")
        budget = gr.Slider(16, 4096, value=CONFIG.get("max_new_tokens", 1024), step=16, label="Max new tokens")
        go = gr.Button("Compare", variant="primary", elem_id="compare")
        outputs = []
        with gr.Row():
            for model_id in MODELS:
                with gr.Column():
                    gr.Markdown(f"### [{model_id}](https://huggingface.co/{model_id})")
                    final = gr.Markdown(elem_classes=["answer"])
                    with gr.Accordion("Reasoning", open=False):
                        reasoning = gr.Markdown()
                    outputs += [final, reasoning]
        go.click(compare, inputs=[question, budget], outputs=outputs, api_name="compare")
    return demo


demo = build()

if __name__ == "__main__":
    demo.launch()
