"""Batched inference and zero-shot evaluation over every language of a task."""
