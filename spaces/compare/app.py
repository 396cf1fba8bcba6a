"""The family's models side by side: one question, every model's reasoning and answer.

hubkit publishes this folder as the release's Gradio Space, with `space_config.json` naming
the models (Hub repo ids). Models load on first use and stay cached.
"""

from __future__ import annotations

import json
import re
from functools import cache
from pathlib import Path

import gradio as gr

CONFIG = json.loads((Path(__file__).parent / "space_config.json").read_text())
MODELS: list[str] = CONFIG["models"]


def split_reasoning(text: str) -> tuple[str, str]:
    """(reasoning, answer) of a thinking model's output; an unfinished <think> is all reasoning."""
    text = text.replace("<|im_end|>", "").replace("<|endoftext|>", "")
    if "</think>" in text:
        reasoning, answer = text.split("</think>", 1)
        return reasoning.replace("<think>", "").strip(), answer.strip()
    if "<think>" in text or CONFIG.get("thinking", True):
        return re.sub(r"^\s*<think>", "", text).strip(), ""
    return "", text.strip()


@cache
def load(model_id: str):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_id)
    model = AutoModelForCausalLM.from_pretrained(model_id, dtype="auto").eval()
    return tokenizer, model


def answer(model_id: str, question: str, max_new_tokens: int) -> tuple[str, str]:
    import torch

    tokenizer, model = load(model_id)
    enc = tokenizer.apply_chat_template(
        [{"role": "user", "content": question}], add_generation_prompt=True, return_tensors="pt", return_dict=True
    )
    torch.manual_seed(0)
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=int(max_new_tokens), do_sample=False)
    # The generation prompt already opened <think>: the continuation is reasoning until </think>.
    return split_reasoning(tokenizer.decode(out[0, enc["input_ids"].shape[1] :], skip_special_tokens=False))


def compare(question: str, max_new_tokens: int) -> list[str]:
    """For each model: its answer, then its reasoning (the order of the output components)."""
    if not question.strip():
        raise gr.Error("Ask a question first.")
    outputs = []
    for model_id in MODELS:
        reasoning, final = answer(model_id, question, max_new_tokens)
        outputs += [final or "_(no final answer within the token budget)_", reasoning or "_(none)_"]
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
