"""Distillation training: SFT on reasoning traces with TRL + PEFT (Unsloth, QLoRA on CUDA).

`recipe` reads and checks the YAML recipe, `examples` turns dataset rows into prompt/completion
tokens, `sft` runs the trainer (checkpoints, resume, several processes) and merges the adapter.
Nothing here imports the artifact graph.
"""
