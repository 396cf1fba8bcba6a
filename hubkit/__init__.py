"""hubkit: release a reasoning-model family to the Hugging Face Hub from one config."""

__version__ = "0.1.0"
