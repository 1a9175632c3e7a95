"""Encoders: the embedded default model, loading Hugging Face models, task heads."""
